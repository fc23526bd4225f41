"""Feedback on answers: thumbs and an optional comment, stored with the answer's audit record in SQLite.

Several app replicas may write at once: the database runs in WAL mode with a busy timeout, and every
write is one short transaction, so no row is lost.

### Usage example

```python
store = FeedbackStore(Path("var/feedback.sqlite3"))
store.add(answer_id="a1b2", rating=1, comment="Helder", record=audit_record(answer))
store.rows()[-1]["rating"]
```
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    answer_id TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    corpus_version TEXT NOT NULL,
    record TEXT NOT NULL
)
"""


class FeedbackStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def add(self, answer_id: str, rating: int, comment: str, record: dict) -> int:
        """Store one judgement; ``rating`` is 1 (thumbs up) or -1 (thumbs down). Returns the row id."""
        if rating not in (1, -1):
            raise ValueError(f"rating must be 1 or -1; got {rating!r}")
        with self._connect() as db:
            cur = db.execute(
                "INSERT INTO feedback (created_at, answer_id, rating, comment, question, corpus_version, record) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (time.strftime("%Y-%m-%dT%H:%M:%S%z"), answer_id, rating, (comment or "")[:4000],
                 record.get("question", ""), record.get("corpus_version", ""), json.dumps(record, ensure_ascii=False)),
            )
            return int(cur.lastrowid)

    def rows(self) -> list[dict]:
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute("SELECT * FROM feedback ORDER BY id")]
