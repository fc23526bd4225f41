"""Question sets in the format of EVAL_SCHEMA.md: loading, validation and the hit rule.

### Usage example

```python
from evals.dataset import load_dataset, passage_hits
items = load_dataset("evals/datasets/dev.jsonl")
passage_hits("… de tekst van een passage …", items[0].gold_quotes)   # None | "exact" | "partial"
```
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

SECTIONS = {"voorwoord", "samenvatting", "conclusie", "inleiding", "reflectie", "verantwoording"} | {
    f"h{i}" for i in range(1, 7)
}
PERSONAS = {"civil_servant", "trainer", "evaluator"}


@dataclass
class EvalItem:
    id: str
    persona: str
    lang: str
    question: str
    answerable: bool
    gold_quotes: list[str] = field(default_factory=list)
    gold_section: str | None = None
    must_mention: list[str] = field(default_factory=list)
    turn_of: str | None = None


def load_dataset(path: str | Path) -> list[EvalItem]:
    """Read and check a JSONL question set; errors name the line and the field."""
    from rag.advisor import QuestionError, clean_question

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Question set {path} does not exist")
    items: list[EvalItem] = []
    seen: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not valid JSON ({exc})") from exc
        for key in ("id", "question", "answerable"):
            if key not in raw:
                raise ValueError(f"{path}:{n}: missing field {key!r}")
        if raw["id"] in seen:
            raise ValueError(f"{path}:{n}: duplicate id {raw['id']!r}")
        seen.add(raw["id"])
        try:  # the runner asks every question as a user would: one that no user could ask stops it here
            clean_question(str(raw["question"]))
        except QuestionError as exc:
            raise ValueError(f"{path}:{n}: {exc}") from exc
        items.append(
            EvalItem(
                id=str(raw["id"]),
                persona=raw.get("persona") or "civil_servant",
                lang=raw.get("lang") or "nl",
                question=str(raw["question"]),
                answerable=bool(raw["answerable"]),
                gold_quotes=list(raw.get("gold_quotes") or []),
                gold_section=raw.get("gold_section"),
                must_mention=[str(m).lower() for m in raw.get("must_mention") or []],
                turn_of=raw.get("turn_of"),
            )
        )
    ids = {i.id for i in items}
    for item in items:
        if item.turn_of and item.turn_of not in ids:
            raise ValueError(f"{path}: item {item.id!r} follows {item.turn_of!r}, which is not in the file")
    return items


def _norm(text: str) -> str:
    return " ".join(text.split())


_WORDS = re.compile(r"\S+")


def _longest_run(quote_words: list[str], passage_words: list[str]) -> int:
    """Length of the longest contiguous run of quote words that also stands in the passage."""
    best = 0
    prev = [0] * (len(passage_words) + 1)
    for qw in quote_words:
        cur = [0] * (len(passage_words) + 1)
        for j, pw in enumerate(passage_words, start=1):
            if qw == pw:
                cur[j] = prev[j - 1] + 1
                if cur[j] > best:
                    best = cur[j]
        prev = cur
    return best


def passage_hits(passage: str, gold_quotes: list[str]) -> str | None:
    """``exact`` when a gold quote stands in the passage (whitespace-normalised), ``partial`` when
    at least 80 % of a quote's words stand in it as one contiguous run, else ``None``."""
    text = _norm(passage)
    for quote in gold_quotes:
        if _norm(quote) and _norm(quote) in text:
            return "exact"
    words = _WORDS.findall(text)
    for quote in gold_quotes:
        qw = _WORDS.findall(_norm(quote))
        if qw and _longest_run(qw, words) >= math.ceil(0.8 * len(qw)):
            return "partial"
    return None
