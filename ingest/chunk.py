"""Chunk stage: structured blocks → section-aware passages.

A chunk never crosses a part, chapter, section, text-box, table or kind boundary: consecutive blocks
are merged only while they share all of these, up to ``target_chars``. A block longer than that is
split at sentence boundaries (table rows and list lines stay whole), and no chunk exceeds
``max_chars``. A chunk's text is exactly ``document_text[start:end]``, so it can be shown in context.

### Usage example

```python
from ingest.chunk import chunk_document
chunks = chunk_document(structured, info, profile, target_chars=1100)
chunks[0].context_label()
```
"""

from __future__ import annotations

from functools import lru_cache

import pysbd

from ingest.models import Block, Chunk, DocumentInfo
from ingest.profiles import Profile
from ingest.structure import StructuredDocument

MAX_CHARS = 2000  # a passage is something a person reads next to an answer


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="nl", clean=False, char_span=True)


def sentence_spans(text: str, typed: bool = False, table: bool = False) -> list[tuple[int, int]]:
    """Sentence boundaries in ``text`` as (start, end) offsets, whitespace trimmed (Dutch rules).

    In edited text a sentence never starts in lower case; ``typed=True`` is for what people type
    (questions), where it often does ("ik werk bij een provincie. wat kan ik doen?"). In a table
    (``table=True``) each cell of a row ("Kolom: waarde | Kolom: waarde") is one "sentence": a
    sentence splitter cuts "Politiek schakelen vs. Werken langs …" after "vs." and quotes half a cell."""
    split = _cell_spans if table else _line_spans
    return [(line_start + s, line_start + e) for line_start, line in _lines_with_offsets(text)
            for s, e in split(line, typed)]


def _cell_spans(line: str, typed: bool = False) -> tuple[tuple[int, int], ...]:
    spans, pos = [], 0
    for cell in line.split(" | "):
        lead = len(cell) - len(cell.lstrip())
        if cell.strip():
            spans.append((pos + lead, pos + len(cell.rstrip())))
        pos += len(cell) + 3
    return tuple(spans)


@lru_cache(maxsize=16384)
def _line_spans(line: str, typed: bool = False) -> tuple[tuple[int, int], ...]:
    # pysbd costs milliseconds a line (it compiles regular expressions per call); answers quote the
    # same corpus sentences and passages over and over, so each line is segmented once.
    spans: list[tuple[int, int]] = []
    for span in _segmenter().segment(line):
        seg = line[span.start : span.end]
        lead = len(seg) - len(seg.lstrip())
        trail = len(seg.rstrip())
        if trail > lead:
            start, end = span.start + lead, span.start + trail
            # A sentence does not start in lower case or with a bracket: pysbd split after an abbreviation
            # it does not know ("cq. transformatieopgaven") or before a reference ("? (AWTI 2023)").
            if spans and ((line[start].islower() and not typed) or line[start] == "("):
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
    return tuple(spans)


def _lines_with_offsets(text: str):
    # Table rows and list items are lines of their own: a sentence never crosses them.
    pos = 0
    for line in text.split("\n"):
        if line.strip():
            yield pos, line
        pos += len(line) + 1


def _group_key(block: Block) -> tuple:
    return (
        block.part,
        block.chapter,
        tuple(block.section_path),
        block.textbox,
        block.table,
        block.kind,
        block.strategy,
    )


def _pieces(block: Block, target: int, max_chars: int) -> list[tuple[int, int]]:
    """Split one long block into (start, end) document offsets of at most ``max_chars``."""
    if block.end - block.start <= target:
        return [(block.start, block.end)]
    spans = [(block.start + s, block.start + e) for s, e in sentence_spans(block.text, table=block.table is not None)]
    pieces: list[tuple[int, int]] = []
    cur_start, cur_end = None, None
    for s, e in spans:
        while e - s > max_chars:  # a "sentence" longer than a passage: cut at a space
            cut = block.text.rfind(" ", s - block.start, s - block.start + max_chars) + block.start
            cut = cut if cut > s else s + max_chars
            if cur_start is not None:
                pieces.append((cur_start, cur_end))
                cur_start = None
            pieces.append((s, cut))
            s = cut + 1
        if cur_start is None:
            cur_start, cur_end = s, e
        elif e - cur_start <= target:
            cur_end = e
        else:
            pieces.append((cur_start, cur_end))
            cur_start, cur_end = s, e
    if cur_start is not None:
        pieces.append((cur_start, cur_end))
    # A short tail reads badly alone: fold it into the piece before when that stays within bounds.
    if len(pieces) > 1 and pieces[-1][1] - pieces[-1][0] < target // 4:
        if pieces[-1][1] - pieces[-2][0] <= max_chars:
            pieces[-2:] = [(pieces[-2][0], pieces[-1][1])]
    return pieces


def chunk_document(
    doc: StructuredDocument,
    info: DocumentInfo,
    profile: Profile,
    target_chars: int = 1100,
    max_chars: int = MAX_CHARS,
) -> list[Chunk]:
    """Cut a structured document into chunks (see the module docstring)."""
    if not 200 <= target_chars <= max_chars:
        raise ValueError(f"target_chars must be between 200 and {max_chars}; got {target_chars}")
    chunks: list[Chunk] = []
    current: list[tuple[Block, int, int]] = []

    def flush() -> None:
        if not current:
            return
        first, start, _ = current[0]
        end = current[-1][2]
        text = doc.text[start:end]
        practices = profile.practices_in(" ".join([text, first.textbox_title or ""]))
        chunks.append(
            Chunk(
                id=Chunk.make_id(info.doc_id, text, start),
                doc_id=info.doc_id,
                doc_title=info.short_title or info.title,
                text=text,
                start=start,
                end=end,
                part=first.part,
                chapter=first.chapter,
                chapter_title=first.chapter_title,
                section=first.section,
                section_path=list(first.section_path),
                textbox=first.textbox,
                textbox_title=first.textbox_title,
                table=first.table,
                table_title=first.table_title,
                kind=first.kind,
                strategy=first.strategy,
                practices=practices,
                ordinal=len(chunks),
            )
        )
        current.clear()

    for block in doc.blocks:
        if block.role in {"heading", "caption"}:
            flush()
            continue
        for start, end in _pieces(block, target_chars, max_chars):
            if current and (
                _group_key(current[0][0]) != _group_key(block)
                or end - current[0][1] > target_chars
            ):
                flush()
            current.append((block, start, end))
    flush()
    return chunks
