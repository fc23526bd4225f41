"""Check a synthetic question file: python3 /tmp/s33/check3.py FILE.jsonl SLICE_NUMBER

Prints one line per problem and a summary; exit code 1 when any hard problem remains."""
import json, re, sys
from pathlib import Path

CORPUS = Path("/work/main/corpus/werken-aan-transformatie.txt").read_text(encoding="utf-8")
LINES = CORPUS.splitlines()
KEEP = json.load(open("/tmp/s33/keep.json"))
SECTIONS = {"voorwoord", "samenvatting", "conclusie", "inleiding", "h1", "h2", "h3", "h4", "h5", "h6",
            "reflectie", "verantwoording"}
STOP = set("""de het een en van in op te dat die voor met is zijn aan er als bij ook om of door naar over
maar niet nog wel dan dit deze worden wordt kan kunnen moet moeten zou hoe wat wie waar welke mijn onze ons
wij we ik je jij u hun hen zij ze the and of to in for with is are a an on how what which our my we i be
can does do that this at by from as it its not or""".split())

def norm(s): return re.sub(r"\s+", " ", s).strip()
def words(s): return re.findall(r"[a-zà-ÿ]+", s.lower())

path, k = sys.argv[1], int(sys.argv[2])
slice_ids = set(re.findall(r"^## chunk_id: (\S+)", Path(f"/tmp/s33/slices/slice{k}.md").read_text(), re.M))
hard, warn, seen, per_chunk = [], [], set(), {}
lines = [l for l in Path(path).read_text(encoding="utf-8").splitlines() if l.strip()]
for n, line in enumerate(lines, 1):
    try:
        it = json.loads(line)
    except Exception as e:
        hard.append(f"line {n}: not JSON ({e})"); continue
    iid = it.get("id", f"line{n}")
    need = {"id", "persona", "lang", "question", "answerable", "gold_quotes", "gold_section", "must_mention",
            "turn_of", "source_chunk"}
    if set(it) != need:
        hard.append(f"{iid}: fields {sorted(set(it) ^ need)} missing/extra")
        continue
    if iid in seen: hard.append(f"{iid}: duplicate id")
    seen.add(iid)
    if not str(iid).startswith(f"u{k}-"): hard.append(f"{iid}: id must start with u{k}-")
    if it["persona"] not in ("civil_servant", "trainer", "evaluator"): hard.append(f"{iid}: persona")
    if it["lang"] not in ("nl", "en"): hard.append(f"{iid}: lang")
    if it["answerable"] is not True: hard.append(f"{iid}: answerable must be true")
    if it["turn_of"] is not None: hard.append(f"{iid}: turn_of must be null")
    cid = it["source_chunk"]
    if cid not in slice_ids:
        hard.append(f"{iid}: source_chunk {cid} is not in slice {k}"); continue
    chunk = KEEP[cid]
    per_chunk[cid] = per_chunk.get(cid, 0) + 1
    if it["gold_section"] != chunk["part"]: hard.append(f"{iid}: gold_section should be {chunk['part']}")
    q = it["question"]
    if not isinstance(q, str) or len(q) < 15: hard.append(f"{iid}: question too short"); continue
    if not it["gold_quotes"]: hard.append(f"{iid}: no gold_quotes")
    for quote in it["gold_quotes"]:
        nw = len(quote.split())
        if nw < 6 or nw > 40: hard.append(f"{iid}: quote of {nw} words (6-40): {quote[:50]!r}")
        if not any(quote in L for L in LINES):
            hard.append(f"{iid}: quote not verbatim inside one line of the corpus file: {quote[:60]!r}")
        if norm(quote) not in norm(chunk["text"]):
            hard.append(f"{iid}: quote not in its source_chunk's text: {quote[:60]!r}")
    for t in it["must_mention"]:
        if t != t.lower(): hard.append(f"{iid}: must_mention {t!r} not lower-case")
        elif t not in chunk["text"].lower(): warn.append(f"{iid}: must_mention {t!r} not in the passage")
    if not it["must_mention"]: hard.append(f"{iid}: must_mention empty")
    qw = [w for w in words(q) if w not in STOP and len(w) >= 4]
    cw = set(words(chunk["text"]))
    if qw:
        share = sum(1 for w in qw if w in cw or w[:6] in {c[:6] for c in cw if len(c) >= 6}) / len(qw)
        if share > 0.5 and len(qw) >= 4:
            warn.append(f"{iid}: {share:.0%} of the question's content words stand in the passage - paraphrase more")
langs = [json.loads(l).get("lang") for l in lines if l.strip().startswith("{")]
print("\n".join(hard)); print("\n".join("warn " + w for w in warn))
missing = sorted(slice_ids - set(per_chunk))
print(f"\n{len(lines)} questions, {len(hard)} hard problems, {len(warn)} warnings; "
      f"en {langs.count('en')}; passages covered {len(per_chunk)}/{len(slice_ids)}"
      + (f"; not covered: {missing}" if missing else ""))
sys.exit(1 if hard else 0)
