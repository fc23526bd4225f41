"""Feedback storage: rows with their audit record, and concurrent writers from several processes."""

from __future__ import annotations

import json
import multiprocessing as mp

import pytest

from rag.feedback import FeedbackStore


def _writer(path: str, n: int, worker: int) -> None:
    store = FeedbackStore(path)
    for i in range(n):
        store.add(answer_id=f"w{worker}-{i}", rating=1 if i % 2 else -1, comment=f"opmerking {worker}/{i}",
                  record={"question": f"vraag {i}", "corpus_version": "abc", "citations": []})


def test_concurrent_writers_lose_no_row(tmp_path):
    path = tmp_path / "fb.sqlite3"
    FeedbackStore(path)
    procs = [mp.get_context("spawn").Process(target=_writer, args=(str(path), 25, w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    rows = FeedbackStore(path).rows()
    assert len(rows) == 100 and len({r["answer_id"] for r in rows}) == 100
    assert json.loads(rows[0]["record"])["corpus_version"] == "abc"


def test_rating_must_be_a_thumb(tmp_path):
    with pytest.raises(ValueError, match="rating"):
        FeedbackStore(tmp_path / "fb.sqlite3").add("x", 5, "", {})
