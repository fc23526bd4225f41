"""Answers on the measuring sets with the memory off / at a weight / as shipped (session 29).
python answers_on_measuring_sets.py off|cur|w1.0 dev holdout10 holdout31 holdout32 -> figures, /tmp/s29/ans_<mode>.json
"""
import sys, os, json
sys.path.insert(0, "/work/main"); os.chdir("/work/main")
from evals.runner import run_eval
from wijzer.settings import Settings
from rag.advisor import Advisor
mode = sys.argv[1]
s = Settings(); adv = Advisor(s)
if mode == "off":
    adv.retriever.memory = None
elif mode.startswith("w"):
    adv.retriever.config.weights["memory"] = float(mode[1:])
out = {}
for n in sys.argv[2:]:
    rep = run_eval(f"evals/datasets/{n}.jsonl", s, configs=["default"], retriever=adv.retriever, advisor=adv)
    c = rep["configs"]["default"]
    keys = ["hit@1", "hit@5", "mrr@10", "must_mention", "refusal_correct", "false_refusal", "answer_chars_median", "citation_validity", "citation_support"]
    out[n] = {k: c.get(k) for k in keys}
    out[n]["items"] = {it["id"]: {"rank": it["rank"], "refused": it.get("refused"), "mentioned": it.get("mentioned")} for it in c["items"]}
    print(mode, n, {k: c.get(k) for k in keys}, flush=True)
json.dump(out, open(f"/tmp/s29/ans_{mode}.json", "w"))
