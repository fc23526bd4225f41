"""Clean stage: repair the damage that PDF-to-text extraction leaves, block by block.

Input is the text a reader produced; output is a list of ``CleanBlock`` — paragraphs, headings,
list blocks and table rows — whose texts, joined with blank lines, form the *cleaned document text*
that offsets point into. What it repairs:

- paragraphs broken mid-sentence, also across figure residue and page-break leftovers;
- hyphenation at the end of a broken paragraph (``transfor-`` + ``matie``);
- figure residue (``Figuur 5`` with its caption, ``Bron: PBL/VU``, empty captions);
- the table of contents (lines ending in a tab and a page number);
- tables as tab-separated lines: each row becomes one line that carries its column headers;
- short lines that look like headings but are not: a letter's place and date (its signatures below keep a
  line each), and the lines a paragraph ending in ":" announces;
- bracketed numbers (``[7]``, ``[1, 2]``) become ``(7)``, ``(1, 2)``: answers cite passages with
  ``[n]`` markers, so a quoted sentence must not carry one of its own (a footnote reference, or a
  planted "cite [7] as the source") that would read as — and be checked as — a citation.

### Usage example

```python
from ingest.clean import clean_blocks
from ingest.profiles import load_profile
blocks = clean_blocks(open("corpus/werken-aan-transformatie.txt").read(), load_profile("generic"))
print(blocks[0].role, blocks[0].text[:60])
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.profiles import Profile

_BLANK_SPLIT = re.compile(r"\n[ \t\u00a0\u2007\u202f]*\n")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_TOC_LINE = re.compile(r"^.{3,200}\t\s*\d{1,4}\s*$")
# A paragraph that ends like this is complete; anything else may continue in the next block.
_TERMINAL = re.compile(r"[.!?…:;][\)\]\"”’'*_]*\s*$")
_LIST_LINE = re.compile(r"^\s*(?:[-•*–]\s|\d{1,2}[.)]\s)")
# A letter's place and date ("Amsterdam / Den Haag, 2026", "Den Haag, 12 maart 2026"): the end of a
# foreword, above its signatures, not a heading.
DATELINE = re.compile(r"^[A-Z][\w'’-]*(?:[ /-]+[A-Z][\w'’-]*){0,5}, (?:\d{1,2} )?(?:[a-z]+ )?(?:19|20)\d\d$")
# What rag.generate.validate_markers and rag.grounding read as answer markers: [7], [ 07 ], [1, 2], [1;2].
_MARKER_LIKE = re.compile(r"\[(\s*\d+(?:\s*[,;]\s*\d+)*\s*)\]")
# Words a sentence does not end on: a paragraph ending in one of them continues in the next block.
_CONNECTORS = frozenset(
    "de het een en of van voor met aan op in bij tot door om als dan die dat naar over uit te "
    "zoals maar ook nog wel niet zijn is worden wordt hun haar zij we the and of to".split()
)


@dataclass
class CleanBlock:
    """A unit of the cleaned text.

    role: ``paragraph``, ``heading`` (``level`` > 0 when the file format says so, else 0 for a
    heading recognised by its form), ``list`` or ``table_row`` (``table_header`` holds the header
    cells of its table).
    """

    text: str
    role: str = "paragraph"
    level: int = 0
    table_header: tuple[str, ...] = ()


_UNWRAPPED = 160  # a line this long was not wrapped by hand: the file keeps a paragraph on one line


def clean_blocks(text: str, profile: Profile) -> list[CleanBlock]:
    """Split ``text`` into repaired blocks (see the module docstring)."""
    raw = [b.strip("\n") for b in _BLANK_SPLIT.split(text.replace("\r\n", "\n").replace("\r", "\n"))]
    raw = [b for b in raw if b.strip()]
    blocks: list[CleanBlock] = []
    i = 0
    while i < len(raw):
        block = raw[i]
        stripped = block.strip()
        lines = [ln for ln in block.split("\n") if ln.strip()]
        if _is_toc(lines):
            i += 1
            continue
        if profile.figure.match(lines[0].strip()):
            i = _skip_figure(raw, i, profile)
            continue
        if profile.figure_source.match(stripped):
            i += 1
            continue
        md = _MD_HEADING.match(stripped) if len(lines) == 1 else None
        if md:
            blocks.append(CleanBlock(md.group(2).strip(), "heading", level=len(md.group(1))))
        elif any("\t" in ln for ln in lines):
            blocks.extend(_table_rows(lines))
        elif len(lines) > 1 and all(_LIST_LINE.match(ln) for ln in lines[1:]):
            blocks.append(CleanBlock("\n".join(ln.rstrip() for ln in lines), "list"))
        elif (len(lines) > 1 and blocks and DATELINE.match(blocks[-1].text)
              and all(len(ln.strip()) <= 120 and not _TERMINAL.search(ln) for ln in lines)):
            # Signatures under a place and date, one a line ("Jacqueline Broerse, Directeur …" /
            # "Marko Hekkert, …"): joined they read as one person.
            blocks.append(CleanBlock("\n".join(ln.strip() for ln in lines), "paragraph"))
        elif len(lines) == 1 and _looks_like_heading(stripped):
            blocks.append(CleanBlock(stripped, "heading"))
        elif (len(lines) > 1 and _looks_like_heading(lines[0].strip())
              and all(len(ln) >= _UNWRAPPED for ln in lines[1:])
              # not a sentence broken off mid-way ("… stelt dat de" / "lange regel die verder gaat …")
              and lines[0].split()[-1].lower() not in _CONNECTORS and not lines[1].lstrip()[:1].islower()):
            # A title line straight above its text (a cover blurb): in a file whose paragraphs are one
            # long line each, a short line without end punctuation is not part of the paragraph.
            blocks.append(CleanBlock(lines[0].strip(), "heading"))
            blocks.append(CleanBlock(" ".join(ln.strip() for ln in lines[1:]), "paragraph"))
        else:
            blocks.append(CleanBlock(" ".join(ln.strip() for ln in lines), "paragraph"))
        i += 1
    out = _items_after_colon(_join_broken(blocks))
    for block in out:
        block.text = neutralise_markers(block.text)
    return out


# A line that opens with a one-word label ("Cultuur: reflectie, …").
LABELLED_LINE = re.compile(r"[A-Z][\w-]*: \S")


def _items_after_colon(blocks: list[CleanBlock]) -> list[CleanBlock]:
    """Short lines after a paragraph that ends in ":" are what it announces, not headings ("… kan
    sturen op verandering in:" / "Cultuur: reflectie, …" / "Structuur: …"): the first, and those after
    it labelled the same way. As headings their words were in no passage's text."""
    labelled = False
    for i, block in enumerate(blocks):
        if block.role != "heading" or block.level or not i:
            labelled = False
            continue
        prev = blocks[i - 1]
        if prev.role == "paragraph" and prev.text.rstrip().endswith(":"):
            block.role, labelled = "paragraph", bool(LABELLED_LINE.match(block.text))
        elif labelled and LABELLED_LINE.match(block.text):
            block.role = "paragraph"
        else:
            labelled = False
    return blocks


def neutralise_markers(text: str) -> str:
    """``[7]`` → ``(7)`` (same length, so offsets do not move); see the module docstring."""
    return _MARKER_LIKE.sub(r"(\1)", text)


def _is_toc(lines: list[str]) -> bool:
    hits = sum(1 for ln in lines if _TOC_LINE.match(ln.strip("\n ")))
    return hits >= 3 and hits >= 0.6 * len(lines)


def _skip_figure(raw: list[str], i: int, profile: Profile) -> int:
    """Skip a figure: its label block, caption and empty lines, up to and including its source line.

    Only short caption-like blocks are skipped, so a figure without a source line costs no text.
    """
    j = i + 1
    for k in range(i + 1, min(i + 4, len(raw))):
        candidate = raw[k].strip()
        if profile.figure_source.match(candidate):
            return k + 1
        if len(candidate) > 140 or _TERMINAL.search(candidate):
            break
    # No source line near: drop the label (and a caption on its own line in the same block) only.
    return j


def _looks_like_heading(line: str) -> bool:
    if len(line) > 160 or len(line.split()) > 22:
        return False
    if _TERMINAL.search(line) or line.endswith(","):
        return False
    if line[0].islower() or _LIST_LINE.match(line) or "](" in line or DATELINE.match(line):
        return False
    return True


def _split_cells(line: str) -> list[str]:
    return [c.strip() for c in line.rstrip("\n").split("\t")]


def _table_rows(lines: list[str]) -> list[CleanBlock]:
    """Render a tab-separated table as one line per row, each cell behind its column header."""
    header = _split_cells(lines[0])
    rows: list[CleanBlock] = []
    for line in lines[1:]:
        cells = _split_cells(line)
        parts: list[str] = []
        for col, cell in enumerate(cells):
            if not cell:
                continue
            name = header[col] if col < len(header) else ""
            parts.append(f"{name}: {cell}" if name else cell)
        if parts:
            rows.append(CleanBlock(" | ".join(parts), "table_row", table_header=tuple(header)))
    if not rows:  # a single tab-separated line: keep it as text
        rows.append(CleanBlock(" | ".join(c for c in header if c), "paragraph"))
    return rows


def _continues(prev: CleanBlock, nxt: CleanBlock) -> bool:
    """Does ``nxt`` continue the sentence that ``prev`` broke off?"""
    if prev.role != "paragraph" or nxt.role not in {"paragraph", "heading"} or nxt.level:
        return False
    text = prev.text.rstrip()
    if _TERMINAL.search(text):
        return False
    first = nxt.text.lstrip()[:1]
    if first.islower():
        return True
    if nxt.role == "heading":
        return False
    last_word = re.sub(r"[^\w]", "", text.rsplit(None, 1)[-1]).lower() if text else ""
    return text.count("(") > text.count(")") or last_word in _CONNECTORS


def _join_broken(blocks: list[CleanBlock]) -> list[CleanBlock]:
    out: list[CleanBlock] = []
    for block in blocks:
        if out and _continues(out[-1], block):
            prev = out[-1]
            head = prev.text.rstrip()
            tail = block.text.lstrip()
            if re.search(r"[a-zà-ÿ]-$", head) and tail[:1].islower():
                prev.text = head[:-1] + tail  # hyphenation at a line end
            else:
                prev.text = f"{head} {tail}"
            continue
        out.append(block)
    return out
