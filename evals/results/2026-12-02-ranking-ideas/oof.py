"""Pooled ranks as the runner gives them (diversity step included): the 29 read sets out of fold (fold adapters
and fold question memory from /tmp/s29/pairs.pkl), the four measuring sets with the shipped adapters.
python oof.py TAG   (FP32=1: questions embedded in float32, not bfloat16; MQS=n: max_question_sentences)"""
import os, sys, pickle, time
sys.path.insert(0, "/work/main"); os.chdir("/work/main")
import wijzer.settings
if os.environ.get("FP32"):
    import ingest.e5_torch; ingest.e5_torch.native_bf16 = lambda: False
import numpy as np
from evals.dataset import load_dataset
from evals.runner import run_eval
from wijzer.settings import Settings
from rag.retrieve import HybridRetriever
from rag.adapter import QuestionMemory
SETS = ["holdout"] + [f"holdout{i}" for i in range(2, 31) if i != 10]
FOLDS = [SETS[i::5] for i in range(5)]
MEAS = ["dev", "holdout10", "holdout31", "holdout32"]
s = Settings(); ret = HybridRetriever.from_settings(s)
if os.environ.get("MQS"): ret.config.max_question_sentences = int(os.environ["MQS"])
shipped, shipped_mem = dict(ret.adapters), ret.memory
X, G, ids, SET, ADAPTERS = pickle.load(open("/tmp/s29/pairs.pkl", "rb"))
keep = ret.retrievable; allpos = np.flatnonzero(keep)
_tf = {it.id: bool(it.turn_of) for n in SETS for it in load_dataset(f"evals/datasets/{n}.jsonl")}
FOLLOW = np.array([_tf[i] for i in ids]); Gfull = np.zeros((len(ids), len(keep)), bool); Gfull[:, allpos] = G
def install(fold):
    if fold == "shipped": ret.adapters, ret.memory = shipped, shipped_mem
    else:
        ret.adapters = ADAPTERS[fold]; tr = ~np.isin(SET, FOLDS[fold]) & ~FOLLOW
        ret.memory = QuestionMemory(X[s.embedder][tr].astype(np.float32), Gfull[tr], int(tr.sum()))
    ret._lists_cache.clear()
res = {}
def ranks(n):
    rep = run_eval(f"evals/datasets/{n}.jsonl", s, configs=["default"], retriever=ret, answers=False)
    return {it["id"]: (it["rank"], "fu" if it.get("followup") else it["lang"]) for it in rep["configs"]["default"]["items"] if it["answerable"]}
for i, f in enumerate(FOLDS):
    install(i)
    for n in f: res[n] = ranks(n)
install("shipped")
for n in MEAS: res[n] = ranks(n)
def summ(rows):
    r = [v[0] for v in rows]
    return len(r), sum(1 for x in r if x and x <= 5), round(sum(1 / x for x in r if x and x <= 10) / max(1, len(r)), 4)
oof = [v for n in SETS for v in res[n].values()]
print(sys.argv[1] if len(sys.argv) > 1 else "", "OOF", summ(oof), "EN", summ([v for v in oof if v[1] == "en"]), "FU", summ([v for v in oof if v[1] == "fu"]),
      {n: summ(res[n].values()) for n in MEAS}, flush=True)
pickle.dump(res, open(f"/tmp/s31/oof_{sys.argv[1] if len(sys.argv) > 1 else 'x'}.pkl", "wb"))
