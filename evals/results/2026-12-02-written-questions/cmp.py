# Answers on all 33 sets before (session 31 adapters, /tmp/s30/dup3_bf16.json) and after (this session, answers.py new -> /tmp/s32/ans_new.json).
import json
a = json.load(open("/tmp/s30/dup3_bf16.json")); b = json.load(open("/tmp/s32/ans_new.json"))
meas = ["dev", "holdout10", "holdout31", "holdout32"]
tot = {"meas": [0, 0], "read": [0, 0]}; rank = {"meas": [0, 0, 0, 0], "read": [0, 0, 0, 0]}; ref = {"meas": [0, 0], "read": [0, 0]}
changed = gained = lost = 0; diff_sets = {}
for k in sorted(a):
    n = k.split("|")[1]; g = "meas" if n in meas else "read"
    for i, x in a[k]["items"].items():
        y = b[k]["items"][i]
        tot[g][0] += len(x["mentioned"] or []); tot[g][1] += len(y["mentioned"] or [])
        for j, it in enumerate((x, y)):
            r = it["rank"]
            if r: rank[g][j] += r <= 5; rank[g][2 + j] += 1 / r if r <= 10 else 0
            ref[g][j] += bool(it["refused"])
        if x["answer"] != y["answer"]: changed += 1
        gm = set(y["mentioned"] or []) - set(x["mentioned"] or []); lm = set(x["mentioned"] or []) - set(y["mentioned"] or [])
        gained += len(gm); lost += len(lm)
        if gm or lm: diff_sets[n] = diff_sets.get(n, 0) + len(gm) - len(lm)
        if x["rank"] != y["rank"]: print("rank", n, i, x["rank"], "->", y["rank"])
        if x["refused"] != y["refused"]: print("refusal", n, i, x["refused"], "->", y["refused"])
print("terms", tot, "hit5 / sum RR (before, after)", {g: [round(v, 2) for v in r] for g, r in rank.items()}, "refused", ref)
print("answers changed", changed, "terms gained", gained, "lost", lost, diff_sets)
