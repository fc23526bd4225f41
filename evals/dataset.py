"""Question sets in the format of EVAL_SCHEMA.md: loading, validation and the hit rule.

### Usage example

```python
from evals.dataset import load_dataset, passage_hits
items = load_dataset("evals/datasets/dev.jsonl")
passage_hits("… de tekst van een passage …", items[0].gold_quotes)   # None | "exact" | "partial"
passage_hits(text, quotes, captions=["Tabel 2. …"])          # also "cells" | "caption"
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
    try:
        # utf-8-sig: editors on Windows put a byte-order mark before the first line.
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start}); save the question set as UTF-8") from exc
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not valid JSON ({exc})") from exc
        if not isinstance(raw, dict):
            raise ValueError(f"{path}:{n}: a question is a JSON object ({{\"id\": …}}), not {type(raw).__name__}")
        for key in ("id", "question", "answerable"):
            if key not in raw:
                raise ValueError(f"{path}:{n}: missing field {key!r}")
        _check_types(raw, f"{path}:{n}")
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
    by_id = {i.id: i for i in items}
    for item in items:
        if item.turn_of and item.turn_of not in by_id:
            raise ValueError(f"{path}: item {item.id!r} follows {item.turn_of!r}, which is not in the file")
        seen_chain, earlier = {item.id}, item.turn_of
        while earlier:
            if earlier in seen_chain:
                raise ValueError(f"{path}: item {item.id!r} is part of a conversation that follows itself "
                                 f"(turn_of leads back to {earlier!r})")
            seen_chain.add(earlier)
            earlier = by_id[earlier].turn_of
    return items


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a question set's file: how a trained component names the sets it learned from."""
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def asking_order(items: list[EvalItem]) -> list[EvalItem]:
    """The items in the order they are asked: as in the file, except that an earlier turn is always asked
    before its follow-up, even when the file lists the follow-up first (load_dataset rules out cycles)."""
    by_id = {i.id: i for i in items}
    asked: set[str] = set()
    order: list[EvalItem] = []
    for item in items:
        chain = []
        while item is not None and item.id not in asked:
            chain.append(item)
            item = by_id.get(item.turn_of) if item.turn_of else None
        for earlier in reversed(chain):
            asked.add(earlier.id)
            order.append(earlier)
    return order


_LIST_FIELDS = ("gold_quotes", "must_mention")
_OPTIONAL_STRINGS = ("gold_section", "turn_of", "persona", "lang")


def _check_types(raw: dict, where: str) -> None:
    """The schema's types: a string "false" for ``answerable`` would otherwise count as true."""
    if not isinstance(raw["answerable"], bool):
        raise ValueError(f"{where}: 'answerable' must be true or false, not {raw['answerable']!r}")
    if not isinstance(raw["question"], str):
        raise ValueError(f"{where}: 'question' must be a string")
    if not isinstance(raw["id"], str) or not raw["id"]:
        raise ValueError(f"{where}: 'id' must be a non-empty string, not {raw['id']!r}")
    for key in _LIST_FIELDS:
        value = raw.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ValueError(f"{where}: {key!r} must be a list of strings")
    for key in _OPTIONAL_STRINGS:
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{where}: {key!r} must be a string or null")


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


def _cells_in_order(quote: str, text: str) -> bool:
    """Do all cells of a quote copied from a table row (tab-separated in the corpus file) stand in the
    passage, in order? A passage shows a row as "Kolom: cel | Kolom: cel", so a quote spanning cells
    never stands in it verbatim, though the passage holds every word of it."""
    cells = [_norm(c) for c in quote.split("\t") if _norm(c)]
    # A cell of one short word would stand anywhere.
    if len(cells) < 2 or any(len(c.split()) < 2 and len(c) < 10 for c in cells):
        return False
    at = 0
    for cell in cells:
        found = text.find(cell, at)
        # Not as a column name ("Aansluiten: …"), which every row repeats.
        while found >= 0 and text.startswith(":", found + len(cell)):
            found = text.find(cell, found + 1)
        if found < 0:
            return False
        at = found + len(cell)
    return True


def passage_hits(passage: str, gold_quotes: list[str], captions: list[str] | tuple[str, ...] | None = None) -> str | None:
    """The rule of EVAL_SCHEMA.md: ``exact`` when a gold quote stands in the passage (whitespace-normalised),
    ``partial`` when at least 80 % of a quote's words stand in it as one contiguous run, else ``None``.

    With ``captions`` (those of the table or text box the passage stands in, "Tabel 2. Overzicht van …"; may
    be empty) two rules for tables and text boxes come first, which the schema's rule cannot see: ``cells``
    when a quote spanning table cells (tabs in the corpus file) has each of its cells (two words or ten
    characters at least) in the passage, in order — a passage shows a row as "Kolom: cel | Kolom: cel"; and
    ``caption`` when a quote of at least three words stands in one of the captions, which are shown with the
    passage but are not its text. The runner reports those beside the schema's figures, not in them."""
    text = _norm(passage)
    for quote in gold_quotes:
        if _norm(quote) and _norm(quote) in text:
            return "exact"
    if captions is not None:
        for quote in gold_quotes:
            if _cells_in_order(quote, text):
                return "cells"
        for quote in gold_quotes:
            # At least three words ("Tabel 2" or "van" would be in every caption of its kind).
            if len(_norm(quote).split()) >= 3 and any(_norm(quote) in _norm(c) for c in captions):
                return "caption"
    words = _WORDS.findall(text)
    for quote in gold_quotes:
        qw = _WORDS.findall(_norm(quote))
        if qw and _longest_run(qw, words) >= math.ceil(0.8 * len(qw)):
            return "partial"
    return None
