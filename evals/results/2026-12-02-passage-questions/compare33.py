"""Answers on the 33 sets, session 32's adapters without the questions list (/tmp/s33/ans_old.json) against
this session's (/tmp/s33/ans_new.json), both by answers33.py: ranks, refusals, must_mention terms. Per-item
lines only for the read sets and the development set; the unread sets (holdout10, 31, 32) in counts only."""
import json
a = json.load(open("/tmp/s33/ans_old.json")); b = json.load(open("/tmp/s33/ans_new.json"))
meas = ["dev", "holdout10", "holdout31", "holdout32"]; unread = {"holdout10", "holdout31", "holdout32"}
tot = {"meas": [0, 0], "read": [0, 0]}; rank = {"meas": [0, 0, 0, 0], "read": [0, 0, 0, 0]}; ref = {"meas": [0, 0], "read": [0, 0]}
changed = gained = lost = 0; diff_sets = {}; moves = {}
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
        if x["rank"] != y["rank"]:
            up = (y["rank"] or 99) < (x["rank"] or 99)
            moves.setdefault(n, [0, 0])[0 if up else 1] += 1
            if n not in unread: print("rank", n, i, x["rank"], "->", y["rank"])
        if x["refused"] != y["refused"]:
            print("refusal", n, i if n not in unread else "(unread set)", x["refused"], "->", y["refused"])
print("terms", tot, "hit5 / sum RR (old, new)", {g: [round(v, 2) for v in r] for g, r in rank.items()}, "refused", ref)
print("answers changed", changed, "terms gained", gained, "lost", lost, diff_sets)
print("rank moves (up, down) per set", moves)
for k in sorted(a):
    print(k.split("|")[1], "support", a[k]["support"], "->", b[k]["support"], "validity", a[k]["validity"], "->", b[k]["validity"])
