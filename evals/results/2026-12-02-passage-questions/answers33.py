"""Answers on all 33 question sets with the shipped composer: python answers33.py TAG ADAPTER_FOLDER|auto
-> /tmp/s33/ans_TAG.json (per set: must_mention, support, validity; per item rank, refusal, terms, answer).
Session 30's answers_by_duplicate_rule.py with the rule as shipped and the adapter folder as the variable."""
import sys, os, json, time
sys.path.insert(0, "/work/main"); os.chdir("/work/main")
import wijzer.settings
from evals.runner import run_eval
from wijzer.settings import Settings
from rag.advisor import Advisor
s = Settings(query_adapter=sys.argv[2]); adv = Advisor(s)
print(adv.retriever.passage_questions_info(), flush=True)
sets = ["dev"] + ["holdout"] + [f"holdout{i}" for i in range(2, 33)]
out = {}
for n in sets:
    t = time.time()
    rep = run_eval(f"evals/datasets/{n}.jsonl", s, configs=["default"], retriever=adv.retriever, advisor=adv)
    c = rep["configs"]["default"]
    items = {it["id"]: {"rank": it["rank"], "refused": it.get("refused"), "mentioned": it.get("mentioned"),
                        "chars": it.get("answer_chars"), "answer": it.get("answer")} for it in c["items"]}
    out[f"x|{n}"] = {"must_mention": c.get("must_mention"), "median": c.get("answer_chars_median"),
                     "support": c.get("citation_support"), "validity": c.get("citation_validity"), "items": items}
    print(n, c.get("must_mention"), c.get("citation_support"), c.get("citation_validity"), f"{time.time()-t:.0f}s", flush=True)
json.dump(out, open(f"/tmp/s33/ans_{sys.argv[1]}.json", "w"))
