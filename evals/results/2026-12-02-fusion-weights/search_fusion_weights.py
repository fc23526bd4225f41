"""Fusion weights learned out of fold.
python fuse.py data   -> trains 5 fold adapters (both embedders) on read sets by set, caches score lists
python fuse.py search -> coordinate search of fusion weights on OOF read-set ranks (pooled MRR@10)
python fuse.py check W.json -> dev/h10/h31 with shipped adapters and the given weights
"""
import json, os, sys, time, pickle, dataclasses
sys.path.insert(0, "/work/main"); os.chdir("/work/main")
import numpy as np
from pathlib import Path
from evals.dataset import load_dataset
from evals.adapter import training_pairs
from evals.runner import run_eval
from wijzer.settings import Settings
from rag.retrieve import HybridRetriever, RetrievalConfig
from rag.adapter import QueryAdapter, train
import rag.retrieve as rr

SETS = ["holdout"] + [f"holdout{i}" for i in range(2, 31) if i != 10]
FOLDS = [SETS[i::5] for i in range(5)]
s = Settings()
ret = HybridRetriever.from_settings(s)
shipped = dict(ret.adapters)
MEMO = {}
STATE = {"fold": "shipped"}
orig_score_lists = HybridRetriever.score_lists

def score_lists(self, query, cached=False):
    key = (STATE["fold"], query.match_text, tuple(query.match_sentences), query.lexical_text)
    if key not in MEMO:
        self._lists_cache.clear()
        MEMO[key] = orig_score_lists(self, query)
    r = MEMO[key]
    return dict(r[0]), r[1], {}, r[3]
HybridRetriever.score_lists = score_lists

def install(fold):
    STATE["fold"] = fold
    ret.adapters = shipped if fold == "shipped" else ADAPTERS[fold]

def ranks(names):
    out = {}
    for name in names:
        rep = run_eval(f"evals/datasets/{name}.jsonl", s, configs=["default"], retriever=ret, answers=False)
        out[name] = {it["id"]: (it["rank"], it["lang"]) for it in rep["configs"]["default"]["items"] if it["answerable"]}
    return out

def summ(out):
    r = [v[0] for d in out.values() for v in d.values()]
    en = [v[0] for d in out.values() for v in d.values() if v[1] == "en"]
    f = lambda r: (len(r), sum(1 for x in r if x and x <= 5), round(sum(1/x for x in r if x and x <= 10)/max(1, len(r)), 4))
    return f(r), f(en)

def oof():
    out = {}
    for i, f in enumerate(FOLDS):
        install(i); out.update(ranks(f))
    return out

mode = sys.argv[1]
if mode in ("data", "search", "oof"):
    if os.path.exists("/tmp/s28/adapters.pkl"):
        ADAPTERS = pickle.load(open("/tmp/s28/adapters.pkl", "rb"))
    else:
        t = time.time()
        paths = [Path(f"evals/datasets/{n}.jsonl") for n in SETS]
        off = HybridRetriever.from_settings(s.model_copy(update={"query_adapter": "off"}))
        X, G, ids = training_pairs(paths, off)
        setof = {it.id: n for n in SETS for it in load_dataset(f"evals/datasets/{n}.jsonl")}
        SET = np.array([setof[i] for i in ids])
        print("pairs", len(ids), round(time.time() - t), flush=True)
        snap = ret.snapshot; keep = ret.retrievable
        position = np.cumsum(keep) - 1
        sc = np.array([x.chunk_index for x in snap.sentences]); own = keep[sc]
        documents = {d: v["sha256"] for d, v in snap.state["documents"].items()}
        ADAPTERS = {}
        for i, f in enumerate(FOLDS):
            tr = ~np.isin(SET, f)
            ADAPTERS[i] = {}
            for name in s.embedders:
                S = snap.sentence_vectors if name == s.embedder else snap.other_sentence_vectors[name]
                W = train(X[name][tr], G[tr], snap.chunk_vectors[name][keep], S[own], position[sc[own]])
                ADAPTERS[i][name] = QueryAdapter(W, name, documents, {})
            print("fold", i, round(time.time() - t), flush=True)
        pickle.dump(ADAPTERS, open("/tmp/s28/adapters.pkl", "wb"))
    t = time.time()
    base = oof()
    print("base OOF", summ(base), round(time.time() - t), "s", flush=True)
    t = time.time(); base = oof(); print("again", summ(base), round(time.time() - t), "s", flush=True)
if mode == "oof":
    for f in sys.argv[2:]:
        ret.config = RetrievalConfig()
        for k, v in json.load(open(f)).items():
            if k == "weights": ret.config.weights.update(v)
            else: setattr(ret.config, k, v)
        print(f, summ(oof()), flush=True)
if mode == "search":
    cfg = ret.config
    PARAMS = [("w", k) for k in cfg.weights] + [("a", "usem3_weight_en"), ("a", "lexical_weight_en"), ("a", "ngram_weight_en"),
              ("a", "section_ngram_weight_en"), ("a", "intent_bonus")]
    def get(p): return cfg.weights[p[1]] if p[0] == "w" else getattr(cfg, p[1])
    def put(p, v):
        if p[0] == "w": cfg.weights[p[1]] = v
        else: setattr(cfg, p[1], v)
    def obj():
        (n, h5, mrr), _ = summ(oof())
        return mrr + 0.5 * h5 / n, (n, h5, mrr)
    best, info = obj(); print("start", best, info, flush=True)
    for rnd in range(2):
        for p in PARAMS:
            cur = get(p)
            for mult in (0.0, 0.5, 0.75, 1.33, 2.0):
                v = round(cur * mult, 3) if cur else (0.2 if mult == 2.0 else None)
                if v is None or v == cur: continue
                put(p, v); o, inf = obj()
                if o > best + 1e-4:
                    best, info, cur = o, inf, v
                    print("  better", p, v, info, flush=True)
                put(p, cur)
            print("round", rnd, p, get(p), info, flush=True)
        json.dump({"weights": cfg.weights, **{p[1]: get(p) for p in PARAMS if p[0] == "a"}}, open("/tmp/s28/w.json", "w"))
    print("final", info, json.load(open("/tmp/s28/w.json")))
if mode == "check":
    w = json.load(open(sys.argv[2])) if len(sys.argv) > 2 else {}
    for k, v in w.items():
        if k == "weights": ret.config.weights.update(v)
        else: setattr(ret.config, k, v)
    install("shipped")
    for n in ["dev", "holdout10", "holdout31"]:
        print(n, summ(ranks([n])), flush=True)
