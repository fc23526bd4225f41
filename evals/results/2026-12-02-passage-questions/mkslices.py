"""Rebuild session 32's passage selection (keep.json) and seven reading-order slices, with the two earlier
rounds' questions of each slice (their passage found by the gold quotes)."""
import sys, os, json, re
sys.path.insert(0, "/work/main"); os.chdir("/work/main")
import wijzer.settings
from wijzer.settings import Settings
from rag.retrieve import HybridRetriever
ret = HybridRetriever.from_settings(Settings())
ch = [c for c, k in zip(ret.chunks, ret.retrievable) if k]
skip_parts = {"voorwerk", "front", "colofon", "referenties", "literatuur"}
print(sorted({c.part for c in ch}), sorted({c.kind for c in ch}))
keep = [c for c in ch if len(c.text) >= 200 and c.part != "infographic"]
print(len(ch), len(keep))
def norm(s): return re.sub(r"\s+", " ", s).strip()
json.dump({c.id: {"part": c.part, "kind": c.kind, "text": c.text} for c in keep}, open("/tmp/s33/keep.json", "w"), ensure_ascii=False)
prev = {}
for f in ("evals/training/passage-questions.jsonl", "evals/training/passage-questions-2.jsonl"):
    for l in open(f):
        r = json.loads(l)
        for c in keep:
            if all(norm(q) in norm(c.text) for q in r["gold_quotes"]):
                prev.setdefault(c.id, []).append(r["question"]); break
print("prev mapped", sum(map(len, prev.values())))
n = 7; size = -(-len(keep) // n)
for k in range(1, n + 1):
    part = keep[(k - 1) * size: k * size]
    out = []
    for c in part:
        loc = " › ".join(x for x in [c.chapter_title, " › ".join(c.section_path or []), c.textbox_title] if x)
        out.append(f"## chunk_id: {c.id}\ngold_section: {c.part}\nkind: {c.kind}\nlocation: {loc}\n\n{c.text}\n\n"
                   "Questions already written for this passage (earlier rounds):\n" + "".join(f"- {q}\n" for q in prev.get(c.id, [])) + "\n")
    open(f"/tmp/s33/slices/slice{k}.md", "w").write("".join(out))
    print(k, len(part))
