"""Per question, every list's scores, the fused score and the fused order (first 50) -> /tmp/s31/traces.pkl.

The 29 read sets out of fold (each fold's sets ranked with query adapters and a question memory from the
other four folds' questions: /tmp/s29/pairs.pkl, made by ../2026-12-02-question-memory/), the four
measuring sets with the shipped adapters. Needs, for the run, one line in HybridRetriever.run after
``order = …``: ``self._trace = (lists, fused, order, q, mask)`` (not shipped)."""
import os, sys, pickle, time
sys.path.insert(0, "/work/main"); os.chdir("/work/main")
import numpy as np
from evals.dataset import load_dataset, passage_hits
from evals.runner import run_eval
from wijzer.settings import Settings
from rag.retrieve import HybridRetriever
from rag.adapter import QuestionMemory

SETS = ["holdout"] + [f"holdout{i}" for i in range(2, 31) if i != 10]
FOLDS = [SETS[i::5] for i in range(5)]
MEAS = ["dev", "holdout10", "holdout31", "holdout32"]
s = Settings()
ret = HybridRetriever.from_settings(s)
shipped, shipped_mem = dict(ret.adapters), ret.memory
X, G, ids, SET, ADAPTERS = pickle.load(open("/tmp/s29/pairs.pkl", "rb"))
keep = ret.retrievable; allpos = np.flatnonzero(keep)
_tf = {it.id: bool(it.turn_of) for n in SETS for it in load_dataset(f"evals/datasets/{n}.jsonl")}
FOLLOW = np.array([_tf[i] for i in ids])
Gfull = np.zeros((len(ids), len(keep)), bool); Gfull[:, allpos] = G

TRACES = {}
orig_run = HybridRetriever.run
def run(self, query, top_k=None, filters=None, history=None):
    r = orig_run(self, query, top_k, filters, history)
    lists, fused, order, q, mask = self._trace
    TRACES[(query if isinstance(query, str) else query.text, tuple(history or ()))] = (
        {k: np.asarray(v, dtype=np.float32) for k, v in lists.items()}, np.asarray(fused), list(order), q, mask,
        [p.chunk.id for p in r.passages])
    return r
HybridRetriever.run = run

def install(fold):
    if fold == "shipped":
        ret.adapters, ret.memory = shipped, shipped_mem
    else:
        ret.adapters = ADAPTERS[fold]
        tr = ~np.isin(SET, FOLDS[fold]) & ~FOLLOW
        ret.memory = QuestionMemory(X[s.embedder][tr].astype(np.float32), Gfull[tr], int(tr.sum()))
    ret._lists_cache.clear()

out = {}
def collect(name):
    items = load_dataset(f"evals/datasets/{name}.jsonl")
    TRACES.clear()
    rep = run_eval(f"evals/datasets/{name}.jsonl", s, configs=["default"], retriever=ret, answers=False)
    rows = {it["id"]: it for it in rep["configs"]["default"]["items"]}
    from evals.runner import Conversation  # noqa
    recs = []
    for it in items:
        if not it.answerable: continue
        row = rows[it.id]
        # find the trace for this question (history from the runner's conversation)
        cands = [k for k in TRACES if k[0] == it.question]
        key = max(cands, key=lambda k: len(k[1]) if bool(it.turn_of) else -len(k[1]))
        lists, fused, order, q, mask, top = TRACES[key]
        gold = [bool(passage_hits(ret.chunks[i].text, it.gold_quotes)) for i in order]
        recs.append(dict(id=it.id, set=name, lang=it.lang, follow=bool(it.turn_of), rank=row["rank"],
                         lists=lists, fused=fused, order=order, q=q, mask=mask, gold=gold, top=top,
                         history=key[1]))
    out[name] = recs
    print(name, len(recs), sum(1 for r in recs if r["rank"] and r["rank"] <= 5), flush=True)

t = time.time()
for i, f in enumerate(FOLDS):
    install(i)
    for n in f: collect(n)
install("shipped")
for n in MEAS: collect(n)
pickle.dump(out, open("/tmp/s31/traces.pkl", "wb"))
print("done", round(time.time() - t))
