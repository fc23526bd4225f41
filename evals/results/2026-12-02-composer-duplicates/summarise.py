"""Terms found per rule, on the four measuring sets and the 29 read sets; python summarise.py FILE…"""
import json, sys, glob, statistics
out = {}
for f in sys.argv[1:]:
    out.update(json.load(open(f)))
sets = {}
for k, v in out.items():
    val, n = k.split("|"); sets.setdefault(val, {})[n] = v
meas = ["dev", "holdout10", "holdout31", "holdout32"]
mm = {}
for n in meas:
    for l in open(f"/work/main/evals/datasets/{n}.jsonl"):
        d = json.loads(l); mm[(n, d["id"])] = d.get("must_mention", []) if d.get("answerable", True) else []
import os
for val, ss in sorted(sets.items()):
    row = []
    for group, names in (("meas", meas), ("read", [n for n in ss if n not in meas])):
        names = [n for n in names if n in ss]
        got = sum(len(it["mentioned"] or []) for n in names for it in ss[n]["items"].values())
        chars = [it["chars"] for n in names for it in ss[n]["items"].values() if it["chars"] and not it["refused"]]
        row.append(f"{group}: terms {got} ({len(names)} sets) median {statistics.median(chars) if chars else 0:.0f} over2500 {sum(c>2500 for c in chars)}/{len(chars)}")
    print(val, " | ".join(row), "| dev", ss.get("dev", {}).get("must_mention"))
