"""Structure stage: place every cleaned block in the document's structure.

It walks the blocks of the clean stage with a ``Profile`` and records, per block: part, chapter
(finding) number and title, section path, text box, table, kind and strategy. It also builds the
cleaned document text (blocks joined by blank lines) and each block's offsets into it, so a passage
can later be shown in its context.

### Usage example

```python
from ingest.structure import structure_document
from ingest.profiles import load_profile
doc = structure_document(text, load_profile("werken-aan-transformatie"))
[b for b in doc.blocks if b.textbox == 3][0].textbox_title
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.clean import CleanBlock, clean_blocks
from ingest.models import Block, Kind
from ingest.profiles import PartRule, Profile

_PASS_THROUGH_KINDS = {Kind.REFERENCE.value, Kind.FRONT_MATTER.value, Kind.METHOD.value}


@dataclass
class StructuredDocument:
    text: str  # the cleaned document text
    blocks: list[Block]
    textboxes: dict[int, str] = field(default_factory=dict)
    tables: dict[int, str] = field(default_factory=dict)
    findings: dict[int, str] = field(default_factory=dict)
    parts: list[str] = field(default_factory=list)


@dataclass
class _State:
    part: str = ""
    part_kind: str = Kind.TEXT.value
    part_is_chapter: bool = False
    dropping: bool = False
    chapter: int | None = None
    chapter_title: str | None = None
    section: str | None = None
    subsection: str | None = None
    textbox: int | None = None
    textbox_title: str | None = None
    table: int | None = None
    table_title: str | None = None
    awaiting_caption: bool = False
    sub_kind: str | None = None
    strategy: str | None = None
    # The practices the current text box is about (its title's and its first paragraph's): a
    # paragraph about another practice, and none of these, is the main text again (see _leaves_textbox).
    textbox_practices: tuple[str, ...] = ()
    textbox_paragraphs: int = 0
    after_heading: bool = False  # the block before was a heading (a colophon's label, before its value)

    def end_inserts(self) -> None:
        self.textbox = self.textbox_title = None
        self.textbox_practices, self.textbox_paragraphs = (), 0
        self.table = self.table_title = None
        self.awaiting_caption = False


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "deel"


def structure_document(text: str, profile: Profile) -> StructuredDocument:
    """Clean ``text`` and assign structure to every block (see the module docstring)."""
    doc = StructuredDocument(text="", blocks=[], findings=dict(profile.findings))
    state = _State()
    pieces: list[str] = []
    offset = 0

    def emit(cb: CleanBlock, role: str, kind: str, strategy: str | None) -> None:
        nonlocal offset
        if pieces:
            offset += 2  # the blank line between blocks
        start = offset
        pieces.append(cb.text)
        offset += len(cb.text)
        state.after_heading = role == "heading"
        path = [p for p in (state.section, state.subsection) if p]
        doc.blocks.append(
            Block(
                text=cb.text,
                start=start,
                end=offset,
                role=role,
                level=cb.level,
                part=state.part,
                chapter=state.chapter,
                chapter_title=state.chapter_title,
                section=state.subsection or state.section,
                section_path=path,
                textbox=state.textbox,
                textbox_title=state.textbox_title,
                table=state.table,
                table_title=state.table_title,
                kind=kind,
                strategy=strategy,
            )
        )

    for cb in clean_blocks(text, profile):
        single_line = "\n" not in cb.text and len(cb.text) <= 200
        line = cb.text.strip()
        # Some headings end in "?" or look like list items; the profile knows them.
        is_heading = cb.role == "heading" or bool(
            single_line
            and (
                any(rule.pattern.match(line) for rule in profile.subheadings)
                or (
                    profile.finding_heading is not None
                    and not state.part_is_chapter
                    and profile.finding_heading.match(line)
                )
            )
        )

        part_rule = _match_part(profile, line) if (is_heading or cb.level) else None
        if (is_heading and part_rule is None and not cb.level and state.part_kind == Kind.FRONT_MATTER.value
                and _front_matter_value(line, state.after_heading)):
            is_heading = False  # a colophon's value ("Lisa Verwoerd, Eva Kunseler, …"), not a heading
        if part_rule is not None:
            rule, m = part_rule
            _enter_part(state, rule, m, profile, doc)
            if not state.dropping:
                emit(cb, "heading", state.part_kind, None)
            continue
        if cb.level == 1:
            # A heading the file format marks as top-level, not named by the profile: a new part.
            _enter_part(state, PartRule(id=_slug(line), pattern=re.compile("")), None, profile, doc)
            state.part = _slug(line)
            emit(cb, "heading", state.part_kind, None)
            continue
        if state.dropping:
            continue
        if not state.part:
            state.part, state.part_kind = profile.preamble_part, profile.preamble_kind
            doc.parts.append(state.part)

        if single_line and (m := profile.textbox.match(line)):
            state.end_inserts()
            state.textbox, state.textbox_title = int(m.group("n")), m.group("title").strip() or None
            state.textbox_practices = tuple(profile.practices_in(state.textbox_title or ""))
            state.subsection, state.sub_kind = None, None
            doc.textboxes.setdefault(state.textbox, state.textbox_title or "")
            emit(cb, "heading", profile.textbox_kind, None)
            continue
        if single_line and (m := profile.table.match(line)):
            state.end_inserts()
            if not state.part_is_chapter and profile.finding_heading is not None:
                state.chapter = state.chapter_title = None  # a summary table spans all findings
            state.table, state.awaiting_caption = int(m.group("n")), True
            doc.tables.setdefault(state.table, "")
            emit(cb, "heading", Kind.TABLE.value, None)
            continue
        if state.awaiting_caption and cb.role != "table_row":
            state.table_title = line
            doc.tables[state.table] = line
            state.awaiting_caption = False
            emit(cb, "caption", Kind.TABLE.value, None)
            continue
        if state.table is not None and cb.role != "table_row":
            state.end_inserts()

        if is_heading or cb.level:
            _enter_heading(state, cb, line, profile, doc)
            emit(cb, "heading", state.part_kind, None)
            continue

        if state.textbox is not None and cb.role != "table_row":
            if _leaves_textbox(state, line, profile):
                state.end_inserts()
            else:
                state.textbox_paragraphs += 1
        kind, strategy = _kind_of(state, line, profile, cb.role)
        role = "table_row" if cb.role == "table_row" else ("list_item" if cb.role == "list" else "paragraph")
        emit(cb, role, kind, strategy)

    doc.text = "\n\n".join(pieces)
    return doc


def _front_matter_value(line: str, after_heading: bool) -> bool:
    """In a colophon every short line looks like a heading: "Auteurs", then "Lisa Verwoerd, Eva Kunseler,
    …". A line right after a label is its value, and so is one no label looks like (more than four
    words, or a digit, comma, "©", "@" or "|": "© PBL … | PBL-publicatienummer: 5760"). Without this,
    the authors and the publication line were headings, in no passage's text."""
    return after_heading or len(line.split()) > 4 or bool(re.search(r"[\d,©@|]", line))


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def _leaves_textbox(state: _State, line: str, profile: Profile) -> bool:
    """Plain text does not mark where a text box ends: its last paragraph runs straight into the main
    text. A box is about the practices named in its title and its first paragraph; a later
    paragraph whose first sentence names another practice and not the box's own ("Ook binnen het NPLG
    …" after a box on Agenda Stad) is the main text again. A box without such a subject (an overview of
    all practices, a general box) keeps running until the next heading."""
    if state.textbox_paragraphs == 0:
        state.textbox_practices = tuple(dict.fromkeys((*state.textbox_practices, *profile.practices_in(line))))
        return False
    if not state.textbox_practices or state.subsection is not None:  # a box with a sub-heading per practice
        return False
    named = profile.practices_in(_SENTENCE_END.split(line, maxsplit=1)[0])
    return bool(named) and not set(named) & set(state.textbox_practices)


def _match_part(profile: Profile, line: str):
    for rule in profile.parts:
        m = rule.pattern.match(line)
        if m:
            return rule, m
    return None


def _enter_part(state: _State, rule: PartRule, m, profile: Profile, doc: StructuredDocument) -> None:
    chapter = int(m.group("n")) if rule.chapter and m and "n" in m.groupdict() else None
    part_id = rule.id.replace("{n}", str(chapter)) if chapter is not None else rule.id
    state.__dict__.update(_State().__dict__)
    state.part, state.part_kind, state.dropping = part_id, rule.kind, rule.drop
    state.part_is_chapter = rule.chapter
    if chapter is not None:
        state.chapter = chapter
        state.chapter_title = profile.findings.get(chapter) or m.group("title").strip()
        doc.findings.setdefault(chapter, state.chapter_title)
    if not rule.drop and part_id not in doc.parts:
        doc.parts.append(part_id)


def _enter_heading(state: _State, cb: CleanBlock, line: str, profile: Profile, doc) -> None:
    if (
        not state.part_is_chapter
        and profile.finding_heading is not None
        and (m := profile.finding_heading.match(line))
    ):
        state.end_inserts()
        state.chapter = int(m.group("n"))
        state.chapter_title = profile.findings.get(state.chapter) or m.group("title").strip()
        state.section = state.subsection = state.sub_kind = state.strategy = None
        return
    if profile.finding_scope_end is not None and profile.finding_scope_end.match(line):
        if not state.part_is_chapter:
            state.chapter = state.chapter_title = None
    for rule in profile.subheadings:
        if rule.pattern.match(line):
            state.subsection, state.sub_kind = line, rule.kind
            return
    if state.textbox is not None and cb.level == 0 and profile.practices_in(line) and len(line) < 90:
        state.subsection = line  # a practice's sub-heading inside a text box (text box 2)
        return
    state.end_inserts()
    if cb.level >= 3:
        state.subsection = line
    else:
        state.section, state.subsection = line, None
        state.strategy = profile.method_sections.get(line)
    state.sub_kind = None


def _kind_of(state: _State, line: str, profile: Profile, role: str) -> tuple[str, str | None]:
    if state.part_kind in _PASS_THROUGH_KINDS:
        return state.part_kind, None
    if state.table is not None or role == "table_row":
        return Kind.TABLE.value, None
    if state.textbox is not None:
        return profile.textbox_kind, None
    for rule in profile.paragraph_prefixes:
        if rule.pattern.match(line):
            return rule.kind, rule.strategy
    if state.sub_kind:
        return state.sub_kind, None
    if state.strategy:
        return Kind.WORKING_METHOD.value, state.strategy
    if state.chapter is not None:
        return Kind.FINDING.value, None
    return state.part_kind, None
