"""The evaluation report (evals/report.py) on a real run: results.json, report.md and the PNG plots.

A six-question set copied from the development set (an unanswerable question, two follow-up pairs, one
of them ending in an unanswerable follow-up) is run against the real report index with answers, for the
``default`` and ``lexical`` configurations; then the report is written and read back.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
DEV = REPO / "evals" / "datasets" / "dev.jsonl"
# dev068 → dev069 (unanswerable follow-up), dev021 → dev022 (follow-up), dev103 unanswerable, dev001.
SMALL_IDS = ["dev001", "dev021", "dev022", "dev068", "dev069", "dev103"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLOTS = ("hit_at_k.png", "hit5_by_section.png", "latency.png", "support_scores.png")


def _small_set(path: Path) -> Path:
    lines = [line for line in DEV.read_text(encoding="utf-8").splitlines()
             if line.strip() and json.loads(line)["id"] in SMALL_IDS]
    assert len(lines) == len(SMALL_IDS)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run(report_index, tmp_path_factory):
    from evals.report import write_report
    from evals.runner import run_eval

    root = tmp_path_factory.mktemp("eval-report")
    dataset = _small_set(root / "small.jsonl")
    report = run_eval(dataset, report_index, configs=["default", "lexical"], answers=True)
    out = root / "out"
    written = write_report(report, out)
    return report, out, written


def _section(md: str, heading: str) -> str:
    """The text under a ``##`` heading, up to the next ``##`` heading."""
    start = md.index(heading)
    nxt = md.find("\n## ", start + len(heading))
    return md[start: nxt if nxt != -1 else len(md)]


def _cells(line: str) -> list[str]:
    """Cells of a Markdown table row, splitting on unescaped pipes only."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def test_files_are_written_and_pngs_are_real(run):
    from matplotlib import image as mpimg
    from PIL import Image

    report, out, written = run
    names = {p.name for p in written}
    assert names == {"results.json", "summary.json", "report.md", *PLOTS}
    for p in written:
        assert p.is_file() and p.parent == out
    assert json.loads((out / "results.json").read_text(encoding="utf-8")) == json.loads(json.dumps(report))
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["hit@5"] == report["hit@5"] and [i["rank"] for i in summary["items"]] == [i["rank"] for i in report["items"]]
    assert "text" not in json.dumps(summary["items"])
    for name in PLOTS:
        data = (out / name).read_bytes()
        assert data[:8] == PNG_MAGIC, name
        assert len(data) > 15_000, (name, len(data))
        with Image.open(out / name) as img:
            img.verify()
        with Image.open(out / name) as img:
            assert img.format == "PNG" and img.width >= 800 and img.height >= 400, (name, img.size)
        pixels = mpimg.imread(out / name)
        assert pixels.ndim == 3 and pixels.std() > 0.05, name  # not a blank canvas


def test_runner_keeps_raw_latency_per_stage(run):
    report, _, _ = run
    for name, summary in report["configs"].items():
        samples = summary["latency_samples"]
        assert set(samples) == set(summary["latency"]), name
        assert len(samples["search"]) == len(SMALL_IDS)
        assert all(isinstance(x, float) and x >= 0 for v in samples.values() for x in v)
    assert len(report["configs"]["default"]["latency_samples"]["answer:total"]) == len(SMALL_IDS)


def test_markdown_has_the_configuration_table_with_the_real_figures(run):
    report, out, _ = run
    md = (out / "report.md").read_text(encoding="utf-8")
    assert f"`{report['dataset']}`" in md and report["corpus_version"] in md
    assert f"{os.cpu_count()} CPUs" in md and "Python " in md
    retrieval = _section(md, "## Retrieval")
    header = next(line for line in retrieval.splitlines() if line.startswith("| configuration |"))
    cols = _cells(header)
    assert cols[:8] == ["configuration", "n", "hit@1", "hit@3", "hit@5", "hit@10", "MRR@10", "hit@4000c"]
    for name in ("default", "lexical"):
        row = next(line for line in retrieval.splitlines() if line.startswith(f"| {name} |"))
        cells = [c.strip("*") for c in _cells(row)]
        m = report["configs"][name]
        assert cells[cols.index("n")] == str(m["n"])
        assert cells[cols.index("hit@5")] == f"{m['hit@5']:.3f}"
        assert cells[cols.index("MRR@10")] == f"{m['mrr@10']:.3f}"
    # No baseline in this run: the report says so instead of inventing a difference.
    assert "baseline was not run" in md
    answers = _section(md, "## Answers")
    for key in ("refusal_correct", "false_refusal", "citation_validity", "citation_support", "must_mention"):
        row = next(line for line in answers.splitlines() if line.startswith(f"| {key} |"))
        value = report["configs"]["default"][key]
        assert _cells(row)[1] == ("–" if value is None else f"{value:.3f}")
    for image in PLOTS:
        assert f"]({image})" in md
    for heading in ("### Per gold section", "### Per persona", "### Per language", "### First turn and follow-up",
                    "## Latency"):
        assert heading in md
    assert "follow-up" in _section(md, "## Breakdown")


def test_missed_items_section_lists_exactly_the_misses(run):
    from evals.report import missed_items

    report, out, _ = run
    md = (out / "report.md").read_text(encoding="utf-8")
    items = report["configs"]["default"]["items"]
    expected = [r["id"] for r in items if r["answerable"] and (r["rank"] is None or r["rank"] > 5)]
    assert [r["id"] for r in missed_items(items)] == expected
    missed = _section(md, "## Missed items (default)")
    listing = missed.split("### Refusal errors")[0]
    assert re.findall(r"^#### (\S+) ·", listing, re.M) == expected
    n_ans = sum(1 for r in items if r["answerable"])
    assert f"**{len(expected)} of {n_ans}**" in listing
    for r in items:
        if r["id"] not in expected:
            assert f"| {r['id']} |" not in listing and f"#### {r['id']} " not in listing
    for r in items:
        if r["id"] in expected:
            block = listing.split(f"#### {r['id']} ·")[1].split("####")[0]
            assert (f"rank {r['rank']}" if r["rank"] else "not in top 10") in block
            rows = [line for line in block.splitlines() if re.match(r"^\| \d \|", line)]
            assert len(rows) == min(3, len(r["retrieved"]))
            assert f"{r['retrieved'][0]['scores']['fused']:.3f}" in rows[0]
    # Refusal errors: one line per wrongly answered unanswerable / wrongly refused answerable item.
    refusals = missed.split("### Refusal errors")[1]
    answered = [r["id"] for r in items if not r["answerable"] and not r["refused"]]
    refused = [r["id"] for r in items if r["answerable"] and r["refused"]]
    assert f"Not answerable but answered: **{len(answered)}**" in refusals
    assert f"Answerable but refused: **{len(refused)}**" in refusals
    assert re.findall(r"^- (dev\d+)", refusals, re.M) == answered + refused


def test_pipes_in_text_do_not_break_tables(run):
    from evals.report import render_markdown

    report, _, _ = run
    report = copy.deepcopy(report)
    items = report["configs"]["default"]["items"]
    for r in items:  # every missed item's question and passages get a pipe
        r["question"] = "Kolom | of niet? " + r["question"]
        for p in r["retrieved"]:
            p["text"] = "a | b " + p["text"]
            p["location"] = "H1 | 1.2"
    items[0]["rank"], items[0]["answerable"] = None, True  # at least one miss
    md = render_markdown(report, {})
    assert "Kolom \\| of niet?" in md
    table = []
    for line in md.splitlines() + [""]:
        if line.startswith("|"):
            table.append(len(_cells(line)))
        elif table:
            assert len(set(table)) == 1, table  # every row of a table has as many cells as its header
            table = []


def test_cli_eval_out_writes_the_report(report_index, tmp_path):
    env = {**os.environ, "WIJZER_CORPUS_DIR": str(report_index.corpus_dir),
           "WIJZER_INDEX_DIR": str(report_index.index_dir), "WIJZER_FEEDBACK_DB": str(tmp_path / "fb.sqlite3")}
    wijzer = str(Path(sys.executable).parent / "wijzer")
    dataset = _small_set(tmp_path / "small.jsonl")
    out = tmp_path / "out"
    proc = subprocess.run([wijzer, "eval", "--dataset", str(dataset), "--out", str(out), "--configs", "default",
                           "--retrieval-only"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in out.iterdir()} == {"results.json", "summary.json", "report.md", "hit_at_k.png",
                                               "hit5_by_section.png", "latency.png"}
    report = json.loads((out / "results.json").read_text(encoding="utf-8"))
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "retrieval only" in md and "support_scores.png" not in md
    row = next(line for line in md.splitlines() if line.startswith("| default |"))
    assert f"{report['hit@5']:.3f}" in row
    assert f"Written: {out / 'report.md'}" in proc.stderr
    # The console's miss list and the report's come from the same selection.
    misses = [r["id"] for r in report["items"] if r["answerable"] and not (r["rank"] and r["rank"] <= 5)]
    for item_id in misses:
        assert item_id in proc.stdout
    help_text = subprocess.run([wijzer, "eval", "--help"], env=env, capture_output=True, text=True).stdout
    assert "report.md, results.json, summary.json and PNG plots" in re.sub(r"[\s│]+", " ", help_text)
