"""Smoke evaluation in CI: the whole development set through the real runner, with loose floors.

The full runner (all configurations, the naive baseline, report and plots) is a command —
``wijzer eval`` — not a test. This only guards against a change that breaks retrieval or answering
outright: the floors sit well below the figures in ``evals/results/`` (in-sample, so they flatter).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.runner import run_eval

DEV = Path(__file__).resolve().parent.parent / "evals" / "datasets" / "dev.jsonl"

FLOORS = {  # metric: (floor, higher is better)
    "hit@5": (0.65, True),
    "mrr@10": (0.45, True),
    "refusal_correct": (0.80, True),
    "false_refusal": (0.10, False),
    "citation_validity": (1.0, True),
    "citation_support": (0.95, True),
    "must_mention": (0.50, True),
}


@pytest.mark.slow
def test_dev_set_clears_the_floors(report_index):
    report = run_eval(DEV, report_index, configs=["default", "lexical"])
    failed = {k: report[k] for k, (floor, up) in FLOORS.items() if (report[k] < floor if up else report[k] > floor)}
    assert not failed, f"below the floors {FLOORS}: {failed}"
    # Fusion must beat its own lexical list, the strongest single one.
    assert report["configs"]["default"]["hit@5"] > report["configs"]["lexical"]["hit@5"]
    assert report["answer_chars_median"] <= 2500
