"""The evaluation report: ``results.json``, ``summary.json``, a readable ``report.md`` and PNG plots, from a ``run_eval`` report.

``write_report(report, out_dir)`` writes into ``out_dir``:

- ``results.json`` — the full report as ``run_eval`` returned it;
- ``summary.json`` — the same without passage texts (metrics, and per item its outcome and the ids
  retrieved): small enough to keep dated results in git;
- ``report.md`` — dataset, date, machine and corpus version; the configurations side by side
  (hit@1/3/5/10, MRR@10, hit@4000c, search p50/p95); the difference to the naive baseline; the answer
  metrics when answers were asked; tables per ``gold_section``, persona, language and turn; latency per
  stage; the plots; and the missed items of the first configuration (answerable items whose gold passage
  is not in the top 5, with the top 3 passages retrieved instead), plus refusal errors;
- ``hit_at_k.png``, ``hit5_by_section.png``, ``latency.png`` and, when answers were asked,
  ``support_scores.png``.

Plots are drawn with matplotlib's Agg canvas directly (no pyplot, no global backend switch).
``missed_items`` and ``refusal_errors`` are the same selection the ``wijzer eval`` console output uses.

### Usage example

```python
from evals.runner import run_eval
from evals.report import write_report
report = run_eval("evals/datasets/dev.jsonl", Settings(), configs=["default", "baseline"])
write_report(report, Path("/tmp/eval-out"))   # [.../results.json, .../report.md, .../hit_at_k.png, ...]
```

Re-render from a saved run: ``python -m evals.report results.json OUT_DIR``.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

KS = (1, 3, 5, 10)
RETRIEVAL_KEYS = ("hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "hit@4000c")
ANSWER_KEYS = (
    ("refusal_correct", "unanswerable questions answered with “not covered” (higher is better)"),
    ("false_refusal", "answerable questions wrongly refused (lower is better)"),
    ("citation_validity", "citations whose marker, passage and verbatim quote check out"),
    ("citation_support", "answer sentences the groundedness checker labels supported"),
    ("must_mention", "key terms of the answerable questions that their answers contain"),
    ("answer_chars_median", "median length of a (non-refused) answer, characters"),
)
SECTION_ORDER = ["voorwoord", "samenvatting", "inleiding", *(f"h{i}" for i in range(1, 7)),
                 "conclusie", "reflectie", "verantwoording"]
COLOURS = {"default": "#1f5f99", "dense": "#e08a1e", "lexical": "#3a9a5b", "baseline": "#8c8c8c"}
LABEL_COLOURS = {"supported": "#3a9a5b", "weak": "#e0a21e", "unsupported": "#c0392b"}
SUPPORTED, WEAK = 0.75, 0.5  # label borders of rag.grounding (drawn as guide lines)


# --------------------------------------------------------------------------- selections


def missed_items(items: list[dict], k: int = 5) -> list[dict]:
    """Answerable items whose gold passage is not among the top ``k`` retrieved."""
    return [r for r in items if r.get("answerable") and not (r.get("rank") and r["rank"] <= k)]


def refusal_errors(items: list[dict]) -> tuple[list[dict], list[dict]]:
    """(unanswerable items that were answered, answerable items that were refused); answer mode only."""
    asked = [r for r in items if "refused" in r]
    return ([r for r in asked if not r["answerable"] and not r["refused"]],
            [r for r in asked if r["answerable"] and r["refused"]])


def _answer_config(report: dict) -> str | None:
    """The configuration whose items carry answers (the runner answers with ``default`` only)."""
    for name, summary in report.get("configs", {}).items():
        if any("refused" in r for r in summary.get("items", [])):
            return name
    return None


def _earlier_turns(report: dict) -> dict[str, str]:
    """id → id of the earlier question of its conversation, read from the question set when it is at hand."""
    try:
        from evals.dataset import load_dataset

        return {i.id: i.turn_of for i in load_dataset(report["dataset"]) if i.turn_of}
    except Exception:  # the set moved or changed since the run: the report goes without the context
        return {}


def _coverage(r: dict) -> str:
    c = r.get("coverage") or {}
    if c.get("score") is None:
        return ""
    reason = f", {c['reason']}" if c.get("reason") else ""
    return f" (coverage {c['score']:.3f} against threshold {c.get('threshold', 0):.3f}{reason})"


def _fused(passage: dict) -> tuple[str, float | None]:
    scores = passage.get("scores") or {}
    if "fused" in scores:
        return "fused", scores["fused"]
    for name, value in scores.items():
        return name, value
    return "score", None


# --------------------------------------------------------------------------- Markdown helpers


def _cell(value) -> str:
    """One table cell: on one line, pipes escaped."""
    text = "" if value is None else str(value)
    return re.sub(r"\s+", " ", text).strip().replace("|", "\\|")


def _inline(text: str) -> str:
    """Corpus or user text as inline Markdown: one line, markup characters escaped."""
    text = re.sub(r"\s+", " ", text or "").strip()
    return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", text)


def _clip(text: str, n: int = 160) -> str:
    text = re.sub(r"\s+", " ", text or "").strip()
    if len(text) <= n:
        return text
    cut = text[:n].rsplit(" ", 1)[0] if " " in text[:n] else text[:n]
    return cut + " …"


def _table(header: list[str], rows: list[list], align: str | None = None) -> str:
    """A Markdown table; ``align`` is one letter per column (l/r), numbers right-aligned by default."""
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _f(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def _delta(value) -> str:
    return "–" if value is None else f"{value:+.3f}"


def _ms(value) -> str:
    return "–" if value is None else (f"{value:.1f}" if value < 10 else f"{value:.0f}")


def _group_label(field: str, key: str) -> str:
    if field == "followup":
        return {"True": "follow-up", "False": "first turn"}.get(key, key)
    if field == "persona":
        return key.replace("_", " ")
    if key == "None":
        return "(not answerable)"
    return key


def _ordered_sections(keys) -> list[str]:
    keys = list(keys)
    return [s for s in SECTION_ORDER if s in keys] + sorted(k for k in keys if k not in SECTION_ORDER)


# --------------------------------------------------------------------------- machine


def machine_info() -> dict:
    info = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    if hasattr(os, "getloadavg"):
        info["load_average"] = round(os.getloadavg()[0], 2)
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return info


# --------------------------------------------------------------------------- plots


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=130, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _style(ax) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_axisbelow(True)


def _colour(name: str, i: int) -> str:
    fallback = ["#6a4c93", "#1982c4", "#8ac926", "#ff595e"]
    return COLOURS.get(name, fallback[i % len(fallback)])


def plot_hit_at_k(report: dict, path: Path) -> Path:
    configs = report["configs"]
    names = list(configs)
    metrics = [f"hit@{k}" for k in KS] + ["mrr@10"]
    fig = _figure(9.5, 4.8)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        vals = [configs[name].get(m) or 0.0 for m in metrics]
        xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(metrics))]
        bars = ax.bar(xs, vals, width * 0.92, label=name, color=_colour(name, i))
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in vals], padding=2, fontsize=7.5)
    ax.set_xticks(range(len(metrics)), [m.replace("mrr", "MRR") for m in metrics])
    ax.set_ylim(0, 1.1)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.yaxis.grid(True, color="#dddddd")
    ax.set_ylabel("share of answerable questions (MRR: mean 1/rank)")
    n = next(iter(configs.values())).get("n", 0)
    ax.set_title(f"Retrieval: gold passage within the top k — {n} answerable questions", fontsize=11)
    ax.legend(title="configuration", ncols=len(names), loc="upper left", fontsize=8, title_fontsize=8,
              frameon=False)
    _style(ax)
    fig.savefig(path)
    return path


def plot_hit5_by_section(report: dict, path: Path) -> Path:
    configs = report["configs"]
    names = list(configs)
    first = next(iter(configs.values()))
    sections = [s for s in _ordered_sections(first.get("by_gold_section", {}))
                if first["by_gold_section"][s].get("n")]
    sections = sections or ["(none)"]
    fig = _figure(9.5, max(4.0, 0.22 * len(sections) * len(names) + 1.6))
    ax = fig.add_subplot()
    height = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        groups = configs[name].get("by_gold_section", {})
        vals = [groups.get(s, {}).get("hit@5") or 0.0 for s in sections]
        ys = [j + (i - (len(names) - 1) / 2) * height for j in range(len(sections))]
        bars = ax.barh(ys, vals, height * 0.9, label=name, color=_colour(name, i))
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in vals], padding=2, fontsize=7)
    labels = [f"{s}  (n={first['by_gold_section'].get(s, {}).get('n', 0)})" for s in sections]
    ax.set_yticks(range(len(sections)), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12)
    ax.set_xticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.xaxis.grid(True, color="#dddddd")
    ax.set_xlabel("hit@5 (share of the section's answerable questions with the gold passage in the top 5)")
    ax.set_title("hit@5 per gold section, in report order", fontsize=11)
    ax.legend(title="configuration", loc="lower right", fontsize=8, title_fontsize=8, framealpha=0.9)
    _style(ax)
    fig.savefig(path)
    return path


def _stage_order(stages) -> list[str]:
    retrieval = [s for s in stages if not s.startswith("answer:") and s not in ("total", "search")]
    order = sorted(retrieval, key=lambda s: (not s.startswith("dense:"), s))
    order += [s for s in ("total", "search") if s in stages]
    order += [s for s in ("answer:retrieval", "answer:coverage", "answer:compose", "answer:generate",
                          "answer:grounding") if s in stages]
    order += sorted(s for s in stages if s.startswith("answer:") and s not in order and s != "answer:total")
    order += [s for s in ("answer:total",) if s in stages]
    return order


def _stage_label(stage: str) -> str:
    labels = {"total": "retrieval total", "search": "search (end to end)", "answer:total": "answer total"}
    return labels.get(stage, stage.replace("answer:", "answer · "))


def plot_latency(report: dict, path: Path) -> Path:
    """Per-stage latency distributions of the first configuration, and end-to-end search per config."""
    configs = report["configs"]
    names = list(configs)
    first_name = names[0]
    first = configs[first_name]
    samples = first.get("latency_samples")
    fig = _figure(11, 5.2)
    left, right = fig.subplots(1, 2, width_ratios=[1.7, 1])
    if samples:
        # A stage a question skipped (grounding of a refusal) counts 0 ms: left out of the log-scale plot.
        stages = [s for s in _stage_order(samples) if any(v > 0 for v in samples[s])]
        data = [[v for v in samples[s] if v > 0] for s in stages]
        box = left.boxplot(data, orientation="horizontal", widths=0.6, patch_artist=True, showfliers=True,
                           flierprops={"markersize": 2.5, "alpha": 0.5},
                           medianprops={"color": "black"})
        for patch, s in zip(box["boxes"], stages):
            patch.set_facecolor("#f2c38b" if s.startswith("answer:") else "#9cc3e4")
        for j, vals in enumerate(data, start=1):
            med = statistics.median(vals)
            p95 = sorted(vals)[min(len(vals) - 1, int(round(0.95 * (len(vals) - 1))))]
            left.annotate(f"p50 {_ms(med)} · p95 {_ms(p95)}", (1, j), xycoords=("axes fraction", "data"),
                          xytext=(4, 0), textcoords="offset points", va="center", fontsize=7.5)
        left.set_yticks(range(1, len(stages) + 1), [_stage_label(s) for s in stages])
    else:  # a report from before the runner kept raw values: p50 and p95 only
        lat = first.get("latency", {})
        stages = [s for s in _stage_order(lat) if lat[s]]
        ys = range(len(stages))
        left.barh(ys, [lat[s]["p95_ms"] for s in stages], color="#9cc3e4", label="p95")
        left.barh(ys, [lat[s]["p50_ms"] for s in stages], color="#1f5f99", label="p50")
        left.set_yticks(list(ys), [_stage_label(s) for s in stages])
        left.legend(fontsize=8)
    left.invert_yaxis()
    left.set_xscale("log")
    left.xaxis.grid(True, which="major", color="#dddddd")
    left.set_xlabel("milliseconds per question (log scale; skipped stages, 0 ms, left out)")
    left.set_title(f"Per stage — {first_name} (blue: retrieval, orange: answer)", fontsize=10)
    _style(left)

    search = [(n, (configs[n].get("latency_samples") or {}).get("search")) for n in names]
    search = [(n, v) for n, v in search if v]
    if search:
        box = right.boxplot([[x for x in v if x > 0] or [0.01] for _, v in search], orientation="horizontal",
                            widths=0.6, patch_artist=True, flierprops={"markersize": 2.5, "alpha": 0.5},
                            medianprops={"color": "black"})
        for i, (patch, (n, _)) in enumerate(zip(box["boxes"], search)):
            patch.set_facecolor(_colour(n, i))
            patch.set_alpha(0.75)
        right.set_yticks(range(1, len(search) + 1), [n for n, _ in search])
        right.set_xscale("log")
    else:
        lat = [(n, configs[n].get("latency", {}).get("search", {})) for n in names]
        right.barh(range(len(lat)), [v.get("p50_ms", 0) for _, v in lat],
                   color=[_colour(n, i) for i, (n, _) in enumerate(lat)])
        right.set_yticks(range(len(lat)), [n for n, _ in lat])
    right.invert_yaxis()
    right.xaxis.grid(True, which="major", color="#dddddd")
    right.set_xlabel("milliseconds per question (log scale)")
    right.set_title("Search, end to end, per configuration", fontsize=10)
    _style(right)
    fig.suptitle("Latency", fontsize=12)
    fig.savefig(path)
    return path


def plot_support_scores(report: dict, path: Path) -> Path | None:
    """Histogram of the support scores of all (non-frame) answer sentences, stacked by label."""
    name = _answer_config(report)
    if name is None:
        return None
    verdicts = [v for r in report["configs"][name]["items"] for v in r.get("support") or []
                if v.get("label") in LABEL_COLOURS]
    if not verdicts:
        return None
    scores = [v["score"] for v in verdicts]
    lo, hi = min(0.0, min(scores)), max(1.0, max(scores))
    bins = [lo + (hi - lo) * i / 40 for i in range(41)]
    fig = _figure(9.5, 4.6)
    ax = fig.add_subplot()
    labels = list(LABEL_COLOURS)
    data = [[v["score"] for v in verdicts if v["label"] == lab] for lab in labels]
    counts, _, _ = ax.hist(data, bins=bins, stacked=True, color=[LABEL_COLOURS[lab] for lab in labels],
                           label=[f"{lab}: {len(d)} ({len(d) / len(verdicts):.0%})" for lab, d in zip(labels, data)],
                           edgecolor="white", linewidth=0.4)
    totals = counts[-1]
    if sum(1 for c in totals if c) <= 12:  # few bars: write the count on each
        for i, c in enumerate(totals):
            if c:
                ax.annotate(f"{int(c)}", ((bins[i] + bins[i + 1]) / 2, c), xytext=(0, 2),
                            textcoords="offset points", ha="center", fontsize=8)
    ax.set_ylim(0, max(totals) * 1.12)
    for x, text in ((WEAK, "weak ≥ 0.5"), (SUPPORTED, "supported ≥ 0.75")):
        ax.axvline(x, color="#555555", linestyle="--", linewidth=0.9)
        ax.annotate(text, (x, 1), xycoords=("data", "axes fraction"), xytext=(3, -12),
                    textcoords="offset points", fontsize=8, color="#555555")
    ax.set_xlabel("support score (groundedness checker)")
    ax.set_ylabel("answer sentences")
    ax.yaxis.grid(True, color="#dddddd")
    answers = sum(1 for r in report["configs"][name]["items"] if r.get("support"))
    ax.set_title(f"Support of answer sentences — {len(verdicts)} sentences in {answers} answers ({name})",
                 fontsize=11)
    ax.legend(title="label (checker's verdict)", loc="upper left", fontsize=8, title_fontsize=8, frameon=False)
    _style(ax)
    fig.savefig(path)
    return path


# --------------------------------------------------------------------------- Markdown


def _dataset_lines(report: dict) -> list[str]:
    items = next(iter(report["configs"].values()))["items"]
    ans = sum(1 for r in items if r["answerable"])
    langs = {}
    for r in items:
        langs[r["lang"]] = langs.get(r["lang"], 0) + 1
    follow = sum(1 for r in items if r.get("followup"))
    return [f"{len(items)} questions: {ans} answerable, {len(items) - ans} not answerable; "
            f"{follow} follow-ups; languages " + ", ".join(f"{k} {v}" for k, v in sorted(langs.items()))]


def _retrieval_section(report: dict, images: dict) -> list[str]:
    configs = report["configs"]
    best = {k: max((m.get(k) or 0) for m in configs.values()) for k in RETRIEVAL_KEYS}
    rows = []
    for name, m in configs.items():
        lat = m.get("latency", {}).get("search", {})
        cells = [("**" + _f(m.get(k)) + "**") if len(configs) > 1 and m.get(k) == best[k] else _f(m.get(k))
                 for k in RETRIEVAL_KEYS]
        rows.append([name, m.get("n", 0), *cells, _ms(lat.get("p50_ms")), _ms(lat.get("p95_ms"))])
    out = ["## Retrieval", "",
           "Answerable questions only. hit@k: the gold passage is among the top k; MRR@10: mean of 1/rank "
           "(0 beyond 10); hit@4000c: a hit within the top passages that together hold at most 4,000 characters. "
           "Best value per column in bold.", "",
           _table(["configuration", "n", "hit@1", "hit@3", "hit@5", "hit@10", "MRR@10", "hit@4000c",
                   "search p50 ms", "search p95 ms"], rows), ""]
    if "hit_at_k" in images:
        out += [f"![hit@k per configuration]({images['hit_at_k']})", ""]
    out += ["### Difference to the naive baseline", ""]
    if "baseline" not in configs:
        out += ["The naive baseline was not run (add `--configs baseline`).", ""]
        return out
    base = configs["baseline"]
    others = [n for n in configs if n != "baseline"]
    if not others:
        out += ["Only the baseline was run.", ""]
        return out
    rows = [[name, *(_delta((configs[name].get(k) or 0) - (base.get(k) or 0)) for k in RETRIEVAL_KEYS)]
            for name in others]
    out += ["Positive: better than the baseline (the naive LangChain recipe), in absolute points of share.", "",
            _table(["configuration", "Δ hit@1", "Δ hit@3", "Δ hit@5", "Δ hit@10", "Δ MRR@10", "Δ hit@4000c"],
                   rows), ""]
    first = others[0]
    n = configs[first].get("n") or 0
    if n:
        a, b = configs[first].get("hit@5") or 0, base.get("hit@5") or 0
        diff = round((a - b) * n)
        word = "more" if diff >= 0 else "fewer"
        out += [f"`{first}` finds the gold passage in the top 5 for {abs(diff)} {word} of the {n} answerable "
                f"questions than the baseline (hit@5 {a:.3f} against {b:.3f}).", ""]
    return out


def _answer_section(report: dict, images: dict) -> list[str]:
    name = _answer_config(report)
    if name is None:
        return ["## Answers", "", "Retrieval only: no answers were asked in this run.", ""]
    m = report["configs"][name]
    rows = [[key, _f(m.get(key)), meaning] for key, meaning in ANSWER_KEYS]
    items = m["items"]
    asked = [r for r in items if "refused" in r]
    out = ["## Answers", "",
           f"Every question asked through the advisor with the `{name}` retrieval configuration "
           f"({len(asked)} answers, follow-ups in their conversation).", "",
           _table(["metric", "value", "meaning"], rows, align="lrl"), ""]
    lat = m.get("latency", {})
    stages = [s for s in _stage_order(lat) if s.startswith("answer:")]
    if stages:
        out += ["Answer latency: " + " · ".join(
            f"{s.removeprefix('answer:')} p50 {_ms(lat[s].get('p50_ms'))} / p95 {_ms(lat[s].get('p95_ms'))} ms"
            for s in stages if lat[s]) + ".", ""]
    if "support_scores" in images:
        out += [f"![support scores of answer sentences]({images['support_scores']})", ""]
    return out


def _breakdown_section(report: dict, images: dict) -> list[str]:
    configs = report["configs"]
    names = list(configs)
    answer_name = _answer_config(report)
    out = ["## Breakdown", "", f"hit@5 per configuration and MRR@10 of `{names[0]}`, per group of answerable "
           "questions" + (f"; false_refusal and must_mention from the `{answer_name}` answers." if answer_name
                          else "."), ""]
    titles = {"gold_section": "Per gold section", "persona": "Per persona", "lang": "Per language",
              "followup": "First turn and follow-up"}
    for field, title in titles.items():
        first = configs[names[0]].get(f"by_{field}", {})
        keys = _ordered_sections(first) if field == "gold_section" else sorted(first)
        extra = ("false_refusal", "must_mention") if answer_name and field != "followup" else ()
        header = [title.removeprefix("Per ").replace("First turn and follow-up", "turn"), "n"]
        header += [f"hit@5 {n}" for n in names] if len(names) > 1 else ["hit@5"]
        header += [f"MRR@10 {names[0]}" if len(names) > 1 else "MRR@10", *extra]
        rows = []
        for key in keys:
            g = first[key]
            answer_group = configs[answer_name].get(f"by_{field}", {}).get(key, {}) if answer_name else {}
            if not g.get("n") and not any(answer_group.get(e) is not None for e in extra):
                continue
            row = [_group_label(field, key), g.get("n", 0)]
            row += [_f(configs[n].get(f"by_{field}", {}).get(key, {}).get("hit@5")) for n in names]
            row += [_f(g.get("mrr@10")), *(_f(answer_group.get(e)) for e in extra)]
            rows.append(row)
        out += [f"### {title}", "", _table(header, rows), ""]
        if field == "gold_section" and "hit5_by_section" in images:
            out += [f"![hit@5 per gold section]({images['hit5_by_section']})", ""]
    return out


def _latency_section(report: dict, images: dict) -> list[str]:
    configs = report["configs"]
    names = list(configs)
    stages = _stage_order({s for m in configs.values() for s in m.get("latency", {})})
    header = ["stage"] + [f"{n} p50 / p95 ms" for n in names]
    rows = []
    for s in stages:
        row = [_stage_label(s)]
        for n in names:
            v = configs[n].get("latency", {}).get(s) or {}
            row.append(f"{_ms(v['p50_ms'])} / {_ms(v['p95_ms'])}" if v else "–")
        rows.append(row)
    out = ["## Latency", "",
           f"Milliseconds per question on this machine ({os.cpu_count()} CPUs), one question at a time. "
           "Retrieval stages run inside `search`; `answer ·` stages are the advisor's (default configuration).",
           "", _table(header, rows), ""]
    if "latency" in images:
        out += [f"![latency per stage]({images['latency']})", ""]
    return out


def _missed_section(report: dict, k: int = 5) -> list[str]:
    configs = report["configs"]
    name = next(iter(configs))
    items = configs[name]["items"]
    misses = missed_items(items, k)
    n_ans = sum(1 for r in items if r["answerable"])
    out = [f"## Missed items ({name})", "",
           f"Answerable questions whose gold passage is not in the top {k} of `{name}`: "
           f"**{len(misses)} of {n_ans}**.", ""]
    if misses:
        rows = [[r["id"], _group_label("gold_section", str(r["gold_section"])), r["lang"],
                 "follow-up" if r.get("followup") else "", r["rank"] or "not in top 10", _clip(r["question"], 110)]
                for r in misses]
        out += [_table(["id", "gold section", "lang", "turn", "gold rank", "question"], rows, align="llllrl"), ""]
        earlier = _earlier_turns(report)
        questions = {r["id"]: r["question"] for r in items}
        for r in misses:
            rank = f"gold passage at rank {r['rank']}" if r["rank"] else "gold passage not in top 10"
            follow = " · follow-up" if r.get("followup") else ""
            out += [f"#### {r['id']} · {_group_label('gold_section', str(r['gold_section']))} · {r['lang']}"
                    f"{follow} — {rank}", ""]
            if earlier.get(r["id"]) in questions:
                out += [f"> *after {earlier[r['id']]}:* {_inline(_clip(questions[earlier[r['id']]], 200))}  "]
            out += [f"> {_inline(r['question'])}", ""]
            rows = []
            for i, p in enumerate(r.get("retrieved", [])[:3], start=1):
                score_name, score = _fused(p)
                rows.append([i, p.get("location") or p.get("chunk_id", ""), _f(score), _clip(p.get("text", ""))])
            score_name = _fused(r["retrieved"][0])[0] if r.get("retrieved") else "score"
            out += [_table(["#", "location", score_name, "passage (start)"], rows, align="rlrl"), ""]
    answer_name = _answer_config(report)
    if answer_name:
        answered, refused = refusal_errors(configs[answer_name]["items"])
        out += [f"### Refusal errors ({answer_name})", ""]
        out += [f"Not answerable but answered: **{len(answered)}**", ""]
        out += [f"- {r['id']}: {_inline(r['question'])} — answered{_coverage(r)}, {r.get('answer_chars', 0)} "
                f"characters: “{_inline(_clip(r.get('answer', ''), 160))}”" for r in answered]
        out += [""] if answered else []
        out += [f"Answerable but refused: **{len(refused)}**", ""]
        out += [f"- {r['id']} [{r['gold_section']}]: {_inline(r['question'])} — refused{_coverage(r)}; gold passage "
                + (f"at rank {r['rank']}" if r["rank"] else "not in top 10") for r in refused]
        out += [""] if refused else []
    return out


def render_markdown(report: dict, images: dict[str, str] | None = None, machine: dict | None = None,
                    date: str | None = None) -> str:
    """``report.md`` as text; ``images`` maps plot names (hit_at_k, …) to relative file names."""
    images = images or {}
    machine = machine or machine_info()
    date = date or datetime.now(timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M %Z")
    configs = report["configs"]
    mem = f", {machine['memory_gib']} GiB memory" if machine.get("memory_gib") else ""
    if machine.get("load_average") is not None:
        mem += f", load average {machine['load_average']} when the report was written"
    head = [
        f"# Evaluation report — {Path(str(report.get('dataset', 'dataset'))).name}", "",
        f"- **Dataset**: `{report.get('dataset')}` — " + _dataset_lines(report)[0],
        f"- **Date**: {date}",
        f"- **Machine**: {machine['platform']} ({machine['machine']}), {machine['cpus']} CPUs{mem}, "
        f"Python {machine['python']}",
        f"- **Corpus version**: `{report.get('corpus_version')}`",
        *_adapter_lines(report),
        "- **Configurations**: " + ", ".join(f"`{n}`" for n in configs)
        + f" (missed items and per-stage latency for `{next(iter(configs))}`)",
        "- **Mode**: " + ("retrieval and answers" if _answer_config(report) else "retrieval only"), "",
    ]
    parts = [head, _retrieval_section(report, images), _answer_section(report, images),
             _breakdown_section(report, images), _latency_section(report, images), _missed_section(report)]
    return "\n".join(line for part in parts for line in part).rstrip() + "\n"


def _adapter_lines(report: dict) -> list[str]:
    info = report.get("query_adapter")
    if not info:
        return []
    parts = [f"{name} `{a['note']}` ({a.get('items')} questions of {len(a.get('trained_on', []))} sets"
             + (f", {a['written_items']} of them written for training" if a.get("written_items") else "") + ")"
             if a.get("applied") else f"{name} none ({a.get('note')})" for name, a in info.get("embedders", {}).items()]
    line = "- **Query adapters**: " + "; ".join(parts)
    pq = info.get("passage_questions") or {}
    line += (f"; training questions' words (`questions` list): `{pq['note']}` ({pq.get('questions')} questions)"
             if pq.get("applied") else f"; training questions' words: none ({pq.get('note')})" if pq else "")
    if info.get("trained_on_this_set"):
        line += " — **trained on this set: its ranking figures are in-sample**"
    return [line]


_ITEM_KEYS = ("id", "lang", "persona", "gold_section", "followup", "answerable", "rank", "match_rule", "hit_4000c",
              "refused", "mentioned")


def summarise(report: dict) -> dict:
    """The report without passage texts: every metric, and per item only its outcome and the ids retrieved."""
    def items(rows: list[dict]) -> list[dict]:
        return [{**{k: r[k] for k in _ITEM_KEYS if k in r},
                 "retrieved": [p.get("chunk_id") for p in r.get("retrieved", [])]} for r in rows]

    out = {k: v for k, v in report.items() if k not in {"items", "configs"}}
    out["items"] = items(report.get("items", []))
    out["configs"] = {name: {**{k: v for k, v in cfg.items() if k not in {"items", "latency_samples"}},
                             "items": items(cfg.get("items", []))}
                      for name, cfg in report.get("configs", {}).items()}
    return out


def write_report(report: dict, out_dir: Path) -> list[Path]:
    """Write results.json (everything), summary.json (without passage texts), report.md and the PNG
    plots into ``out_dir``; returns the files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    results = out_dir / "results.json"
    results.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    written.append(results)
    summary = out_dir / "summary.json"  # small enough to keep in git beside report.md
    summary.write_text(json.dumps(summarise(report), ensure_ascii=False, indent=2), encoding="utf-8")
    written.append(summary)
    images: dict[str, str] = {}
    for key, plot in (("hit_at_k", plot_hit_at_k), ("hit5_by_section", plot_hit5_by_section),
                      ("latency", plot_latency), ("support_scores", plot_support_scores)):
        path = plot(report, out_dir / f"{key}.png")
        if path is not None:
            images[key] = path.name
            written.append(path)
    md = out_dir / "report.md"
    md.write_text(render_markdown(report, images), encoding="utf-8")
    written.insert(1, md)
    return written


if __name__ == "__main__":  # python -m evals.report results.json OUT_DIR
    if len(sys.argv) != 3:
        sys.exit("usage: python -m evals.report results.json OUT_DIR")
    for p in write_report(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")), Path(sys.argv[2])):
        print(p)
