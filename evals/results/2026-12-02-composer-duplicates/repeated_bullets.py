"""Bullet pairs in one answer sharing at least half their word stems, per rule; python repeated_bullets.py FILE…"""
import json, sys, re
sys.path.insert(0, "/work/main")
from rag.query import tokenize
out = {}
for f in sys.argv[1:]:
    out.update(json.load(open(f)))
res = {}
for k, v in out.items():
    val, n = k.split('|')
    r = res.setdefault(val, [0, 0, 0])
    for it in v['items'].values():
        if it['refused'] or not it['answer']: continue
        bullets = [re.sub(r"\[\d+\]", "", l[2:]) for l in it['answer'].split('\n') if l.startswith('- ')]
        W = [set(tokenize(b)) for b in bullets]
        pairs = sum(1 for i in range(len(W)) for j in range(i) if W[i] and W[j] and len(W[i]&W[j]) >= 0.5*min(len(W[i]),len(W[j])))
        r[0] += pairs; r[1] += 1; r[2] += len(bullets)
for val, r in sorted(res.items()):
    print(val, "bullet pairs sharing >=50% stems:", r[0], "answers", r[1], "bullets", r[2])
