"""Search latency per stage over the development set's 148 questions, twice, in one process (five warm-up
questions first). FP32=1: questions embedded in float32 (else bfloat16 where the CPU has it); MQS=n:
max_question_sentences. Prints p50/p95 per stage; run alone on the machine."""
import os, sys, time, json
sys.path.insert(0, "/work/main"); os.chdir("/work/main")
import wijzer.settings
if os.environ.get("FP32"):
    import ingest.e5_torch; ingest.e5_torch.native_bf16 = lambda: False
import numpy as np
from wijzer.settings import Settings
from rag.retrieve import HybridRetriever
from evals.dataset import load_dataset
if os.environ.get("TT"):
    import torch; torch.set_num_threads(int(os.environ["TT"]))
s = Settings(); ret = HybridRetriever.from_settings(s)
if os.environ.get("MQS"): ret.config.max_question_sentences = int(os.environ["MQS"])
qs = [it.question for it in load_dataset("evals/datasets/dev.jsonl")]
for q in qs[:5]: ret.run(q, top_k=10)
out = {}
for rep in range(2):
    for q in qs:
        r = ret.run(q, top_k=10)
        for k, v in r.timings_ms.items(): out.setdefault(k, []).append(v)
print(os.environ.get("TAG"), {k: (round(np.percentile(v, 50), 1), round(np.percentile(v, 95), 1)) for k, v in out.items()})
