"""Questions written for training, measured (session 32): out of fold on the 29 read sets (five folds by set;
each fold's adapters and memory from the other folds' questions, plus the written ones as chosen), then on the
four measuring sets (all 29 read sets, plus the written ones). Scratch paths under /tmp/s32, as run.
python measure.py TAG ADAPTER MEMORY   (ADAPTER / MEMORY: 1 = the written questions teach the matrix / are
remembered). Environment: SYN_GLOB (comma-separated globs of the helpers' files, with their source_chunk field;
default the first round), SYNPAIRS (cache of their vectors), SYN_W (their weight), SYN_FILTER=long (only those
of 150 characters or more), L2 (penalty), WEIGHTS (fusion weights to change, JSON). With ADAPTER 0 the folds
use session 29's fold adapters (/tmp/s29/pairs.pkl). The first run of the session was an earlier form of this
script (weight 1 only); SYN_W=1 reproduces its lines.
"""
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
if os.environ.get("WEIGHTS"):
    ret.config.weights.update(json.loads(os.environ["WEIGHTS"])); print("weights", ret.config.weights, flush=True)
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
    for f in sorted(sum((glob.glob(g) for g in os.environ.get("SYN_GLOB", "/tmp/s32/synth/slice*.jsonl").split(",")), [])):
        out = Path("/tmp/s32/synclean") / (Path(f).parent.name + "-" + Path(f).name); out.parent.mkdir(exist_ok=True)
        rows = [json.loads(l) for l in open(f) if l.strip()]
        out.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "source_chunk"}, ensure_ascii=False) + "\n" for r in rows))
        files.append(out)
    off = HybridRetriever.from_settings(s.model_copy(update={"query_adapter": "off"}))
    XS, GS, idsS = training_pairs(files, off)
    pickle.dump((XS, GS, idsS), open(SP, "wb"))
    print("synthetic pairs", len(idsS), round(time.time() - t), "s", flush=True)

import torch
def wtrain(questions, gold, C_, S_, owner_, w, l2=float(os.environ.get("L2", "0.01")), epochs=200, tau=0.02, lr=1e-3, seed=0):
    torch.manual_seed(seed)
    X = torch.tensor(np.asarray(questions, dtype=np.float32)); G_ = torch.tensor(np.asarray(gold, dtype=bool))
    C = torch.tensor(np.asarray(C_, dtype=np.float32)); S = torch.tensor(np.asarray(S_, dtype=np.float32))
    wt = torch.tensor(np.asarray(w, dtype=np.float32)); wt = wt / wt.mean()
    owner = torch.tensor(np.asarray(owner_, dtype=np.int64))
    has_sentence = (G_ & torch.isin(torch.arange(len(C)), owner)).any(dim=1)
    owner = owner.expand(len(X), -1)
    W = torch.zeros(X.shape[1], X.shape[1], requires_grad=True); opt = torch.optim.Adam([W], lr=lr)
    def gls(logits): return logits.masked_fill(~G_, -1e9).logsumexp(1) - logits.logsumexp(1)
    for _ in range(epochs):
        q = X + X @ W; q = q / q.norm(dim=1, keepdim=True)
        loss = -(wt * gls(q @ C.T / tau)).mean()
        best = torch.full((len(X), len(C)), -1e9).scatter_reduce(1, owner, q @ S.T / tau, reduce="amax")
        share = gls(best)
        loss = loss - (wt * torch.where(has_sentence, share, torch.zeros_like(share))).mean()
        loss = loss + l2 * (W ** 2).sum()
        opt.zero_grad(); loss.backward(); opt.step()
    return W.detach().numpy().astype(np.float32)
SYN_W = float(os.environ.get("SYN_W", "1"))
FILT = os.environ.get("SYN_FILTER", "all")
if FILT != "all":
    qtext = {}
    for f in sum((glob.glob(g) for g in os.environ.get("SYN_GLOB", "/tmp/s32/synth/slice*.jsonl").split(",")), []):
        for l in open(f):
            r = json.loads(l); qtext[r["id"]] = r["question"]
    sel = np.array([(len(qtext[i]) >= 150) == (FILT == "long") for i in idsS])
    XS = {k: v[sel] for k, v in XS.items()}; GS = GS[sel]; idsS = [i for i, k in zip(idsS, sel) if k]
    print("synthetic kept", len(idsS), flush=True)
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
    ck = f"/tmp/s32/foldad_{os.path.basename(SP)}_{SYN_W}_{os.environ.get('L2','0.01')}_{FILT}_{FOLDS_IDX}.pkl"
    if USE_AD and os.path.exists(ck):
        ret.adapters = pickle.load(open(ck, "rb"))
    elif USE_AD:
        ad = {}
        for name in s.embedders:
            S = snap.sentence_vectors if name == s.embedder else snap.other_sentence_vectors[name]
            Xa = np.concatenate([X[name][tr], XS[name]]); Ga = np.concatenate([G[tr], GS])
            wv = np.concatenate([np.ones(int(tr.sum())), np.full(len(XS[name]), SYN_W)])
            ad[name] = QueryAdapter(wtrain(Xa, Ga, snap.chunk_vectors[name][keep], S[own], position[sc[own]], wv), name, documents, {})
        ret.adapters = ad
        pickle.dump(ad, open(ck, "wb"))
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
