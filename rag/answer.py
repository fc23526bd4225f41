"""The records an answer is made of: citations, support verdicts, the answer and its audit record.

These names are the public vocabulary: the same words in code, CLI JSON and the app.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingest.models import Chunk


# A label the report puts before a paragraph ("Aansluiten: Om …", "Rol van de ambtelijke top: De …"):
# the answer's own heading says it already, so the quote starts after it (still verbatim). Only at the
# start of a paragraph: inside one, "Het probleem is dit: De …" is the sentence's own clause.
LABEL_PREFIX = re.compile(r"^[A-Z][a-z]+(?: [a-z]+){0,4}: (?=[A-Z])")


def quotable_start(text: str, start: int, end: int) -> int:
    """Where a quote of the sentence ``text[start:end]`` begins: after a list item's bullet, and after
    a label that opens its paragraph (LABEL_PREFIX)."""
    if text.startswith("- ", start):  # a list item: quote the item, not its bullet
        start += 2
    at_line_start = start == 0 or text[start - 1] == "\n" or text[max(0, start - 2):start] == "- "
    if at_line_start and (m := LABEL_PREFIX.match(text[start:end])):
        start += m.end()
    return start


def _series(numbers: list[int], conjunction: str) -> str:
    """"12", "12 en 15", "12, 15 en 18"."""
    words = [str(n) for n in numbers]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


@dataclass
class Quote:
    """Cited words exactly as they stand in the chunk, with offsets into the cleaned document."""

    text: str
    start: int
    end: int
    line: int | None = None  # the line of the corpus file the quote starts on (plain text, Markdown)

    @classmethod
    def of(cls, chunk: Chunk, start: int, end: int) -> "Quote":
        """The words ``chunk.text[start:end]``, placed in the document and the corpus file."""
        return cls(chunk.text[start:end], chunk.start + start, chunk.start + end, chunk.line_at(start))


@dataclass
class Citation:
    """What a marker ``[n]`` resolves to."""

    marker: int
    chunk_id: str
    doc_id: str
    doc_title: str
    part: str
    chapter: int | None
    chapter_title: str | None
    section: str | None
    textbox: int | None
    textbox_title: str | None
    kind: str
    location: str  # chapter › section › text box, for people
    passage: str  # the whole chunk
    start: int  # chunk offsets in the cleaned document text
    end: int
    quotes: list[Quote] = field(default_factory=list)
    line: int | None = None  # where the passage starts in the corpus file (plain text and Markdown)

    @classmethod
    def of_chunk(cls, marker: int, ch: Chunk) -> "Citation":
        """A citation of chunk ``ch`` under ``marker``, without quotes yet."""
        return cls(
            marker=marker, chunk_id=ch.id, doc_id=ch.doc_id, doc_title=ch.doc_title, part=ch.part,
            chapter=ch.chapter, chapter_title=ch.chapter_title, section=ch.section,
            textbox=ch.textbox, textbox_title=ch.textbox_title, kind=ch.kind,
            location=f"{ch.doc_title} › {ch.context_label(display=True)}", passage=ch.text, start=ch.start, end=ch.end,
            line=ch.line,
        )

    @property
    def quote(self) -> str:
        return self.quotes[0].text if self.quotes else ""

    def where(self, lang: str = "nl") -> str:
        """Where a reader finds the quoted words: the lines of the corpus file they start on (the
        passage's first line when nothing is quoted), else the passage's offsets in the cleaned text
        (``wijzer chunks`` and the audit record hold both)."""
        lines = sorted({q.line for q in self.quotes if q.line is not None}) or ([self.line] if self.line else [])
        if lines:
            if lang == "nl":
                return f"regel{'s' if len(lines) > 1 else ''} {_series(lines, 'en')} van het bronbestand"
            return f"line{'s' if len(lines) > 1 else ''} {_series(lines, 'and')} of the source file"
        if lang == "nl":
            return f"tekens {self.start}–{self.end} van de opgeschoonde tekst"
        return f"characters {self.start}–{self.end} of the cleaned text"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["quote"] = self.quote
        # start/end (here and in each quote) count characters of the cleaned document text, which
        # `wijzer chunks` prints; `line` counts lines of the corpus file itself.
        d["offsets_in"] = "cleaned document text (wijzer chunks)"
        return d


@dataclass
class SupportVerdict:
    """How well one answer sentence is supported by the passages it cites."""

    sentence: str
    markers: list[int]
    best_marker: int | None
    score: float
    label: str  # supported | weak | unsupported | frame (headings and framing lines, not claims)
    evidence: str = ""  # the passage sentence that supports it best
    # What the evidence does not bear out, or how it was cited (rag/grounding.py): "uncited",
    # "invalid_marker:[7]", "figure_missing:2030", "name_missing:…", "negation_differs", "quantifier_missing:…"
    flags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Answer:
    question: str
    resolved_question: str  # the question as retrieval saw it (follow-ups carry their context)
    text: str  # Markdown, with [n] markers
    refused: bool
    lang: str
    mode: str
    citations: list[Citation]
    passages: list[dict]  # every retrieved passage with its scores and ranks
    support: list[SupportVerdict]
    timings_ms: dict[str, float]
    config: dict
    answerer: str  # "composed" or the generative model's name
    corpus_version: str
    notes: list[str] = field(default_factory=list)  # e.g. markers removed from a generated answer
    filters: dict = field(default_factory=dict)  # the filters it was asked with (empty: none)
    # The conversation as it stood when this was answered (its turns up to this one), or None when it
    # was asked alone: an audit exported later must not show turns asked after it.
    conversation: dict | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    answered_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "answered_at": self.answered_at,
            "question": self.question,
            "resolved_question": self.resolved_question,
            "answer": self.text,
            "refused": self.refused,
            "lang": self.lang,
            "mode": self.mode,
            "answerer": self.answerer,
            "corpus_version": self.corpus_version,
            "citations": [c.to_dict() for c in self.citations],
            "passages": self.passages,
            "support": [s.to_dict() for s in self.support],
            "timings": self.timings_ms,
            "config": self.config,
            "notes": self.notes,
            "filters": self.filters,
            "conversation": self.conversation,
        }
