"""Answers of every set under composer duplicate rules (session 30; run in session 32 with the rule as shipped, 0.9:0.4, to get every answer with the new adapters).

python answers_by_duplicate_rule.py COS:SHARED[,COS:SHARED…] TAG SET… -> /tmp/s32/ans_TAG.json
COS:SHARED sets ComposeConfig.duplicate_cosine and duplicate_shared; SHARED 0 is the cosine alone (the
rule before session 30: 0.9:0). Per rule and set: must_mention, median length, and per item the rank,
refusal, terms mentioned and the answer. Summarise with summarise.py and repeated_bullets.py.
"""
import sys, os, json, dataclasses, time
sys.path.insert(0, "/work/main"); os.chdir("/work/main")
from evals.runner import run_eval
from wijzer.settings import Settings
from rag.advisor import Advisor
s = Settings(); adv = Advisor(s)
if os.environ.get("MQS"): adv.retriever.config.max_question_sentences = int(os.environ["MQS"])
vals = [tuple(float(x) for x in v.split(":")) for v in sys.argv[1].split(",")]
sets = sys.argv[3:]
base = adv.composer.config
out = {}
for c_, sh in vals:
    v = f"{c_}:{sh}"
    adv.composer.config = dataclasses.replace(base, duplicate_cosine=c_, duplicate_shared=sh)
    for n in sets:
        t = time.time()
        rep = run_eval(f"evals/datasets/{n}.jsonl", s, configs=["default"], retriever=adv.retriever, advisor=adv)
        c = rep["configs"]["default"]
        items = {it["id"]: {"rank": it["rank"], "refused": it.get("refused"), "mentioned": it.get("mentioned"),
                            "chars": it.get("answer_chars"), "answer": it.get("answer")} for it in c["items"]}
        out[f"{v}|{n}"] = {"must_mention": c.get("must_mention"), "median": c.get("answer_chars_median"),
                          "support": c.get("citation_support"), "validity": c.get("citation_validity"), "items": items}
        print(v, n, c.get("must_mention"), c.get("answer_chars_median"), c.get("citation_support"), f"{time.time()-t:.0f}s", flush=True)
    json.dump(out, open(f"/tmp/s32/ans_{sys.argv[2]}.json", "w"))
