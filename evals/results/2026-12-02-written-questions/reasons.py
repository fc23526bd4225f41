"""Per unanswerable item of a set: refused or not and the coverage reason, old vs new adapters (no question text)."""
import os, sys, json
sys.path.insert(0, "/work/main"); os.chdir("/work/main")
import wijzer.settings
from evals.runner import run_eval
from wijzer.settings import Settings
for tag, ad in (("old", "/tmp/s32/oldad"), ("new", "auto")):
    s = Settings(query_adapter=ad)
    rep = run_eval(f"evals/datasets/{sys.argv[1]}.jsonl", s, configs=["default"])
    items = rep["configs"]["default"]["items"]
    print(tag, [(it["id"], it.get("refused"), (it.get("coverage") or {}).get("reason") if isinstance(it.get("coverage"), dict) else it.get("reason")) for it in items if not it["answerable"]])
    print(tag, "keys", sorted(items[0].keys()))
