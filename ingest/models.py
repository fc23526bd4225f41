"""The typed records that flow through ingestion: documents, blocks, chunks.

``Chunk`` is the public unit: its field names are the format of ``wijzer chunks --jsonl`` and of the
metadata every retrieved passage carries. Keep them stable.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from enum import Enum


class Kind(str, Enum):
    """What a passage is, in the report's own terms."""

    FINDING = "finding"  # text of a finding (bevinding): tension, search, analysis
    WORKING_METHOD = "working_method"  # a way of working colleagues tried (aansluiten / vernieuwen)
    WHAT_IS_NEEDED = "what_is_needed"  # 'Wat is nodig?'
    ROLE_OF_TOP = "role_of_top"  # 'Wat vraagt dit van de ambtelijke top?' / 'Rol van de ambtelijke top'
    PRACTICE_EXAMPLE = "practice_example"  # text boxes and case descriptions
    TABLE = "table"
    METHOD = "method"  # how the study was done (verantwoording)
    TEXT = "text"  # other running text (voorwoord, inleiding, conclusie …)
    FRONT_MATTER = "front_matter"  # colophon; indexed for audit, not retrieved by default
    REFERENCE = "reference"  # reference list; never surfaces as an answer

    @classmethod
    def from_str(cls, value: str) -> "Kind":
        try:
            return cls(value)
        except ValueError:
            raise ValueError(
                f"Unknown kind {value!r}; supported: {', '.join(k.value for k in cls)}"
            ) from None


#: Kinds that are kept out of retrieval unless a filter asks for them explicitly.
NOT_RETRIEVED = frozenset({Kind.REFERENCE.value, Kind.FRONT_MATTER.value})


@dataclass
class DocumentInfo:
    """A document of the corpus and its bibliographic metadata (from ``corpus/manifest.toml``)."""

    doc_id: str
    path: str  # file name relative to the corpus folder
    title: str
    short_title: str = ""
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    publisher: str = ""
    publication_number: str | None = None
    kind: str = "document"  # report | case_study | document
    attribution: str = ""
    profile: str = "generic"
    sha256: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Block:
    """One paragraph-like unit of a cleaned document, with its place in the structure.

    ``start``/``end`` are character offsets into the cleaned document text.
    """

    text: str
    start: int
    end: int
    role: str = "paragraph"  # paragraph | heading | table_row | list_item | caption
    level: int = 0  # heading level where known (1 = part/chapter)
    part: str = ""
    chapter: int | None = None
    chapter_title: str | None = None
    section: str | None = None
    section_path: list[str] = field(default_factory=list)
    textbox: int | None = None
    textbox_title: str | None = None
    table: int | None = None
    table_title: str | None = None
    kind: str = Kind.TEXT.value
    strategy: str | None = None  # aansluiten | vernieuwen where the structure says so
    group: int = 0  # blocks with the same group id may share a chunk


#: How a reader names a part of a report (the ids are lower-case; findings' chapters are "h1" …).
PART_NAMES = {"titelpagina": "Titelpagina", "colofon": "Colofon", "voorwoord": "Voorwoord", "infographic": "Infographic",
              "samenvatting": "Samenvatting", "conclusie": "Conclusie", "inleiding": "Inleiding",
              "reflectie": "Reflectie", "verantwoording": "Verantwoording", "referenties": "Literatuur"}


def part_name(part: str) -> str:
    """"samenvatting" → "Samenvatting", "h4" → "Bevinding 4"; an unknown part with a capital."""
    if part in PART_NAMES:
        return PART_NAMES[part]
    if len(part) > 1 and part[0] == "h" and part[1:].isdigit():
        return f"Bevinding {part[1:]}"
    return part[:1].upper() + part[1:]


@dataclass
class Chunk:
    """A passage as it is indexed, retrieved, cited and shown in context."""

    id: str
    doc_id: str
    doc_title: str
    text: str
    start: int
    end: int
    part: str
    chapter: int | None
    chapter_title: str | None
    section: str | None
    section_path: list[str]
    textbox: int | None
    textbox_title: str | None
    table: int | None
    table_title: str | None
    kind: str
    strategy: str | None
    practices: list[str]
    ordinal: int = 0  # position within its document
    # Line of the corpus file where the passage starts (plain-text and Markdown files only; the offsets
    # above count in the cleaned text, which a reader does not have).
    line: int | None = None
    # Where the passage's sentences start on another line of that file: [offset in ``text``, line]
    # pairs in order, one where the line changes (a sentence whose words are not found is skipped),
    # so that a quote is placed on its own line, not on the passage's first.
    line_marks: list[list[int]] = field(default_factory=list)

    @staticmethod
    def make_id(doc_id: str, text: str, start: int) -> str:
        """Stable id from the content (and its place, so two identical paragraphs stay apart)."""
        digest = hashlib.sha1(f"{doc_id}\x1f{start}\x1f{text}".encode("utf-8")).hexdigest()
        return f"{doc_id[:24]}-{digest[:12]}"

    @property
    def captions(self) -> list[str]:
        """The captions of the text box and table the passage stands in ("Tabel 2. Overzicht van …"): shown
        with it wherever it is placed, though not part of its text."""
        out = []
        if self.textbox:
            out.append(f"Tekstkader {self.textbox}. {self.textbox_title or ''}".strip())
        if self.table:
            out.append(f"Tabel {self.table}. {self.table_title or ''}".strip())
        return out

    def context_label(self, display: bool = False) -> str:
        """(Part ›) chapter › section › text box (› its sub-heading) or table: what a reader needs to place
        the passage; the part only where a finding is discussed outside its own chapter. ``display``:
        the part as a reader names it ("Samenvatting"); else its id, as embedded and indexed."""
        parts: list[str] = []
        # A finding discussed in the summary or the reflection is placed there, not in its chapter.
        if self.part and (not self.chapter_title or self.part != f"h{self.chapter}"):
            parts.append(part_name(self.part) if display else self.part)
        if self.chapter_title:
            parts.append(self.chapter_title)
        # Inside a text box a sub-heading belongs to the box (text box 2 has one per practice): after it.
        inner = self.section_path[1:] if self.textbox else []
        for heading in self.section_path[: len(self.section_path) - len(inner)]:
            if heading and heading not in parts:
                parts.append(heading)
        captions = self.captions  # the text box's first, then the table's
        if self.textbox:
            parts.append(captions[0])
        parts.extend(h for h in inner if h and h not in parts)
        if self.table:
            parts.append(captions[-1])
        return " › ".join(parts)

    def line_at(self, offset: int) -> int | None:
        """The line of the corpus file on which the text at ``offset`` (in ``text``) stands, as far as
        sentence starts tell; the passage's own line where no sentence start is known."""
        line = self.line
        for at, n in self.line_marks:
            if at > offset:
                break
            line = n
        return line

    def to_dict(self) -> dict:
        return asdict(self)

    def to_metadata(self) -> dict:
        """Flat metadata for Chroma (scalars only; lists as JSON strings)."""
        out: dict = {}
        for key, value in asdict(self).items():
            if key == "text":
                continue
            if isinstance(value, list):
                out[key] = json.dumps(value, ensure_ascii=False)
            elif value is None:
                continue
            else:
                out[key] = value
        for practice in self.practices:
            out[f"practice:{practice}"] = True
        return out

    @classmethod
    def from_metadata(cls, text: str, meta: dict) -> "Chunk":
        def lst(key: str) -> list[str]:
            raw = meta.get(key)
            return json.loads(raw) if isinstance(raw, str) else list(raw or [])

        return cls(
            id=meta["id"],
            doc_id=meta["doc_id"],
            doc_title=meta.get("doc_title", ""),
            text=text,
            start=int(meta["start"]),
            end=int(meta["end"]),
            part=meta.get("part", ""),
            chapter=meta.get("chapter"),
            chapter_title=meta.get("chapter_title"),
            section=meta.get("section"),
            section_path=lst("section_path"),
            textbox=meta.get("textbox"),
            textbox_title=meta.get("textbox_title"),
            table=meta.get("table"),
            table_title=meta.get("table_title"),
            kind=meta.get("kind", Kind.TEXT.value),
            strategy=meta.get("strategy"),
            practices=lst("practices"),
            ordinal=int(meta.get("ordinal", 0)),
            line=int(meta["line"]) if meta.get("line") is not None else None,
            line_marks=[[int(a), int(b)] for a, b in lst("line_marks")],
        )
