"""Synthetic training questions, measured: out of fold on the 29 read sets (each fold: adapters and memory from
the other folds' questions, plus the synthetic ones as chosen), and on the four measuring sets (all 29 read sets,
plus the synthetic ones). python syn.py TAG ADAPTER MEMORY  (ADAPTER/MEMORY: 1 = synthetic questions included)
Synthetic pairs are cached in /tmp/s32/synpairs.pkl (from /tmp/s32/synth/*.jsonl, source_chunk stripped)."""
import os, sys, pickle, time, json, glob
sys.path.insert(0, "/work/main"); os.chdir("/work/main")
import wijzer.settings
import numpy as np
from pathlib import Path
from evals.dataset import load_dataset
from evals.adapter import training_pairs
from evals.runner import run_eval
from wijzer.settings import Settings
from rag.retrieve import HybridRetriever
from rag.adapter import QuestionMemory, QueryAdapter, train
TAG, USE_AD, USE_MEM = sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1"
SETS = ["holdout"] + [f"holdout{i}" for i in range(2, 31) if i != 10]
FOLDS = [SETS[i::5] for i in range(5)]
MEAS = ["dev", "holdout10", "holdout31", "holdout32"]
s = Settings(); ret = HybridRetriever.from_settings(s)
shipped, shipped_mem = dict(ret.adapters), ret.memory
X, G, ids, SET, ADAPTERS = pickle.load(open("/tmp/s29/pairs.pkl", "rb"))
keep = ret.retrievable; allpos = np.flatnonzero(keep)
_tf = {it.id: bool(it.turn_of) for n in SETS for it in load_dataset(f"evals/datasets/{n}.jsonl")}
FOLLOW = np.array([_tf[i] for i in ids])
SP = os.environ.get("SYNPAIRS", "/tmp/s32/synpairs.pkl")
if os.path.exists(SP):
    XS, GS, idsS = pickle.load(open(SP, "rb"))
else:
    t = time.time()
    files = []
    for f in sorted(glob.glob("/tmp/s32/synth/slice*.jsonl")):
        out = Path("/tmp/s32/synclean") / Path(f).name; out.parent.mkdir(exist_ok=True)
        rows = [json.loads(l) for l in open(f) if l.strip()]
        out.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "source_chunk"}, ensure_ascii=False) + "\n" for r in rows))
        files.append(out)
    off = HybridRetriever.from_settings(s.model_copy(update={"query_adapter": "off"}))
    XS, GS, idsS = training_pairs(files, off)
    pickle.dump((XS, GS, idsS), open(SP, "wb"))
    print("synthetic pairs", len(idsS), round(time.time() - t), "s", flush=True)
snap = ret.snapshot
position = np.cumsum(keep) - 1
sc = np.array([x.chunk_index for x in snap.sentences]); own = keep[sc]
documents = {d: v["sha256"] for d, v in snap.state["documents"].items()}
def full(g):
    out = np.zeros((len(g), len(keep)), bool); out[:, allpos] = g; return out
def install(tr):
    """tr: mask over the read-set pairs trained on (None = the shipped adapters and memory)."""
    if tr is None and not USE_AD and not USE_MEM:
        ret.adapters, ret.memory = shipped, shipped_mem; ret._lists_cache.clear(); return
    if tr is None: tr = np.ones(len(ids), bool)
    if USE_AD:
        ad = {}
        for name in s.embedders:
            S = snap.sentence_vectors if name == s.embedder else snap.other_sentence_vectors[name]
            Xa = np.concatenate([X[name][tr], XS[name]]); Ga = np.concatenate([G[tr], GS])
            ad[name] = QueryAdapter(train(Xa, Ga, snap.chunk_vectors[name][keep], S[own], position[sc[own]]), name, documents, {})
        ret.adapters = ad
    else:
        ret.adapters = shipped if tr.all() else ADAPTERS[FOLDS_IDX]
    m = tr & ~FOLLOW
    Xm, Gm = X[s.embedder][m].astype(np.float32), full(G[m])
    if USE_MEM:
        Xm = np.concatenate([Xm, XS[s.embedder].astype(np.float32)]); Gm = np.concatenate([Gm, full(GS)])
    ret.memory = QuestionMemory(Xm, Gm, len(Xm))
    ret._lists_cache.clear()
res = {}
def ranks(n):
    rep = run_eval(f"evals/datasets/{n}.jsonl", s, configs=["default"], retriever=ret, answers=False)
    return {it["id"]: (it["rank"], "fu" if it.get("followup") else it["lang"]) for it in rep["configs"]["default"]["items"] if it["answerable"]}
t = time.time()
if os.environ.get("SKIP_OOF") is None:
    for i, f in enumerate(FOLDS):
        FOLDS_IDX = i
        install(~np.isin(SET, f))
        for n in f: res[n] = ranks(n)
        print("fold", i, round(time.time() - t), flush=True)
FOLDS_IDX = None
install(None)
for n in MEAS: res[n] = ranks(n)
if USE_AD or USE_MEM:
    pickle.dump({"adapters": ret.adapters, "memory": ret.memory}, open(f"/tmp/s32/final_{TAG}.pkl", "wb"))
def summ(rows):
    r = [v[0] for v in rows]
    return len(r), sum(1 for x in r if x and x <= 5), round(sum(1 / x for x in r if x and x <= 10) / max(1, len(r)), 4)
oof = [v for n in SETS if n in res for v in res[n].values()]
print(TAG, "OOF", summ(oof), "EN", summ([v for v in oof if v[1] == "en"]), "FU", summ([v for v in oof if v[1] == "fu"]),
      {n: summ(res[n].values()) for n in MEAS}, flush=True)
pickle.dump(res, open(f"/tmp/s32/oof_{TAG}.pkl", "wb"))
