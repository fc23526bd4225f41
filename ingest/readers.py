"""The "read" stage of ingestion: one file in, plain text out.

Every supported format (.txt, .md, .pdf, .docx, .html/.htm) is turned into the same simple shape, so the
cleaning and structure stages never care where a document came from:

* paragraphs are separated by one blank line;
* headings the *format* knows about (PDF outline or font size, Word heading styles, HTML ``h1``–``h6``,
  Markdown) are Markdown ATX lines of their own: ``# Title``, ``## Section`` …;
* a table is one block, one line per row, cells separated by a TAB, header row first, with its caption
  (if any) as the paragraph just before it;
* list items are lines starting with ``- `` (one leading space per nesting level);
* no control characters other than ``\\n`` and ``\\t``.

Plain text is returned as it is (only decoded and with line endings normalised); Markdown likewise.

### Usage example

```python
from pathlib import Path
from ingest.readers import ReadError, read_document

try:
    result = read_document(Path("corpus/rapport.pdf"))
except ReadError as err:
    print(err)            # '"corpus/rapport.pdf" is encrypted; remove the password and add it again'
else:
    print(result.fmt, result.title, result.notes)
    print(result.text[:500])
```
"""

from __future__ import annotations

import functools
import io
import logging
import re
import statistics
import unicodedata
import zipfile
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Callable, Iterator

__all__ = ["MAX_BYTES", "SUPPORTED_SUFFIXES", "ReadError", "ReadResult", "check_size", "read_document"]

#: Files larger than this are refused (callers pass ``max_bytes`` from ``WIJZER_MAX_FILE_MB``).
MAX_BYTES = 50 * 1024 * 1024

SUPPORTED_SUFFIXES = {".txt", ".md", ".pdf", ".docx", ".html", ".htm"}


@dataclass
class ReadResult:
    """A document as plain text, ready for cleaning (see the module docstring for the text format)."""

    text: str
    title: str | None
    fmt: str  # "txt" | "md" | "pdf" | "docx" | "html"
    notes: list[str] = field(default_factory=list)


class ReadError(Exception):
    """A file that cannot be read. str(err) is a message a user can act on, naming the file and the reason."""

    def __init__(self, path: Path, reason: str):
        # args = (path, reason) keeps the exception picklable (worker processes send it back).
        super().__init__(path, reason)
        self.path = Path(path)
        self.reason = reason

    def __str__(self) -> str:
        return f'"{self.path}" {self.reason}'


def read_document(path: Path, max_bytes: int = MAX_BYTES) -> ReadResult:
    """Read one file into a :class:`ReadResult`; raise :class:`ReadError` for anything unreadable.

    Never raises another exception type: a failure deep inside a parser becomes a ReadError too.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
        shown = f"'{suffix}'" if suffix else "no extension"
        raise ReadError(path, f"has an unsupported file type ({shown}); supported are {kinds}")
    data = _load_bytes(path, max_bytes)
    reader = _READERS[suffix]
    try:
        result = reader(path, data)
    except ReadError:
        raise
    except Exception as exc:  # a parser bug or an exotic file must not crash the whole ingest run
        raise ReadError(path, f"could not be read ({type(exc).__name__}: {exc})") from exc
    result.text, removed = _sanitize(result.text)
    if removed:
        result.notes.append(f"removed {removed} control character{'s' if removed != 1 else ''}")
    if not result.text.strip():
        raise ReadError(path, "contains no text")
    if result.title is not None:
        result.title = " ".join(_sanitize(result.title)[0].split()) or None
    return result


# --------------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------------


def _load_bytes(path: Path, max_bytes: int) -> bytes:
    """Read the raw bytes, turning every file-system problem into a ReadError with a next step."""
    try:
        if not path.exists():
            raise ReadError(path, "does not exist; check the name and the folder")
        if path.is_dir():
            raise ReadError(path, "is a folder, not a file")
        if not path.is_file():  # a pipe or device would block or never end
            raise ReadError(path, "is not a regular file")
        size = path.stat().st_size
        if size > max_bytes:
            raise ReadError(path, _too_big(size, max_bytes))
        with path.open("rb") as fh:
            # Read one byte more than allowed: a file that grows (or a special file) is caught too.
            data = fh.read(max_bytes + 1)
    except ReadError:
        raise
    except PermissionError:
        raise ReadError(path, "cannot be opened: permission denied; check the file's permissions") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise ReadError(path, f"cannot be opened ({getattr(exc, 'strerror', None) or exc})") from None
    if len(data) > max_bytes:
        raise ReadError(path, _too_big(len(data), max_bytes))
    if not data:
        raise ReadError(path, "is empty (0 bytes)")
    if not data.strip():
        raise ReadError(path, "is empty (only whitespace)")
    return data


def check_size(path: Path, max_bytes: int = MAX_BYTES) -> None:
    """Raise :class:`ReadError` when ``path`` is larger than ``max_bytes``, from its size alone.

    For callers that would otherwise read the whole file first (the ingest pipeline hashes every file):
    a 2 GB file dropped in the corpus folder is refused without reading a byte of it.
    """
    try:
        size = Path(path).stat().st_size
    except OSError:
        return  # read_document gives the file-system error its own message
    if size > max_bytes:
        raise ReadError(path, _too_big(size, max_bytes))


def _too_big(size: int, limit: int) -> str:
    return (
        f"is {_human_size(size)}, more than the {_human_size(limit)} limit; "
        "split it or raise WIJZER_MAX_FILE_MB"
    )


def _human_size(n: int) -> str:
    mb = n / (1024 * 1024)
    if mb >= 10:
        return f"{mb:.0f} MB"
    if mb >= 1:
        return f"{mb:.1f} MB".replace(".0 MB", " MB")
    if n >= 1024:
        return f"{n / 1024:.0f} kB"
    return f"{n} bytes"


# Characters that str.splitlines() treats as line breaks: made explicit so later stages that split
# lines and stages that count offsets agree on where lines are.
_LINE_BREAKS = {
    "\r\n": "\n", "\r": "\n", "\x0b": "\n", "\x0c": "\n\n", "\x85": "\n", "\u2028": "\n", "\u2029": "\n\n",
}
_LINE_BREAK_RE = re.compile("|".join(map(re.escape, _LINE_BREAKS)))
_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\x1c-\x1e\ufeff\ufffe\uffff]")


def _normalize_breaks(text: str) -> str:
    return _LINE_BREAK_RE.sub(lambda m: _LINE_BREAKS[m.group()], text)


def _sanitize(text: str) -> tuple[str, int]:
    """Normalise line breaks and drop control characters; return the text and how many were dropped."""
    text = _normalize_breaks(text)
    # A BOM is not content; a stray one inside the text (concatenated files) is not either.
    cleaned, removed = _CONTROL_RE.subn("", text)
    removed -= text.count("\ufeff")
    return cleaned, max(removed, 0)


def _one_line(text: str) -> str:
    """Collapse all whitespace to single spaces (headings, table cells, list items)."""
    return " ".join(text.split())


def _heading(level: int, text: str) -> str:
    return "#" * max(1, min(level, 6)) + " " + _one_line(text)


def _join_blocks(blocks: list[str]) -> str:
    """Paragraph blocks → text with one blank line between them; a block never holds a blank line."""
    out = []
    for block in blocks:
        # Trailing tabs stay: they are the empty last cells of a table row.
        lines = [line.rstrip(" \u00a0") for line in _normalize_breaks(block).split("\n")]
        block = "\n".join(line for line in lines if line.strip())
        if block:
            out.append(block)
    return "\n\n".join(out) + ("\n" if out else "")


# --------------------------------------------------------------------------------------------------
# .txt and .md
# --------------------------------------------------------------------------------------------------

# Signatures of files that are often renamed by accident; naming them makes the error actionable.
_MAGIC = {
    b"%PDF-": "a PDF",
    b"PK\x03\x04": "a ZIP or Office (.docx/.xlsx) file",
    b"\xd0\xcf\x11\xe0": "an old Office (.doc/.xls) file",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
}


def _decode_text(path: Path, data: bytes) -> tuple[str, list[str]]:
    """Decode a text file: UTF-8 (BOM or not), then cp1252; anything else counts as binary."""
    notes: list[str] = []
    binary = "contains binary data, not text; is it the right file (or the right extension)?"
    for magic, what in _MAGIC.items():
        if data.startswith(magic):
            raise ReadError(path, f"looks like {what}, not text; give it the right extension")
    # Windows 'Unicode' text is UTF-16 with a BOM: full of NUL bytes but perfectly good text.
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise ReadError(path, binary) from None
        notes.append("decoded as UTF-16")
    elif b"\x00" in data:
        raise ReadError(path, binary)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:  # bytes cp1252 leaves undefined: not a Windows text file
                raise ReadError(path, binary) from None
            # cp1252 maps every byte to something; control characters mean it was not text after all.
            if _CONTROL_RE.search(text.replace("\ufeff", "")):
                raise ReadError(path, binary)
            notes.append("decoded as cp1252")
    text = _normalize_breaks(text)
    controls = len(_CONTROL_RE.findall(text))
    if controls > max(2, len(text) // 100):
        raise ReadError(path, binary)
    if controls:
        notes.append(f"removed {controls} control character{'s' if controls != 1 else ''}")
        text = _CONTROL_RE.sub("", text)
    if not text.strip():
        raise ReadError(path, "is empty (only whitespace)")
    return text, notes


def _read_txt(path: Path, data: bytes) -> ReadResult:
    text, notes = _decode_text(path, data)
    # Plain text has no heading markup: the structure stage finds headings from the profile.
    return ReadResult(text=text, title=None, fmt="txt", notes=notes)


_MD_FRONT_TITLE = re.compile(r"\A---\n(?:.*\n)*?title:\s*[\"']?(?P<t>[^\n\"']+)[\"']?\s*\n(?:.*\n)*?---\n")
_MD_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$", re.M)


def _read_md(path: Path, data: bytes) -> ReadResult:
    text, notes = _decode_text(path, data)
    # Markdown already is the target format: keep it; only find a title (front matter, then # heading).
    title = None
    front = _MD_FRONT_TITLE.match(text)
    if front:
        title = front.group("t").strip()
    else:
        headings = [(len(m.group(1)), m.group(2)) for m in _MD_HEADING.finditer(text)]
        # The first '# ' heading is the title; without one, the first heading of any level.
        top = [h for h in headings if h[0] == 1] or headings
        title = top[0][1] if top else None
    return ReadResult(text=text, title=title, fmt="md", notes=notes)


# --------------------------------------------------------------------------------------------------
# .pdf
# --------------------------------------------------------------------------------------------------


@dataclass
class _Line:
    """One text line of a PDF page as pypdf lays it out."""

    text: str
    page: int
    y: float | None = None  # baseline in page space; None when pypdf gave no position
    size: float = 0.0  # effective font size (font size × text and graphics scaling)
    x: float | None = None  # left edge
    right: float | None = None  # right edge of the text as set without justification; None if unknown
    first_word: float | None = None  # width of the first word plus a space: would it fit on the line above?
    heading: int = 0  # heading level when the line is (part of) a heading
    heading_id: int = -1  # lines of one wrapped heading share an id


_LIGATURES = str.maketrans(
    {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"}
)
# Bullet glyphs, including the private-use code points of Symbol/Wingdings bullets in Word exports.
_BULLET_RE = re.compile(r"^(?:[•◦▪▫●○■□‣⁃∙·\uf0b7\uf0a7\uf0d8\uf076\uf0fc\uf02d])\s*(.*)$")
_DASH_BULLET_RE = re.compile(r"^[-–—]\s+(.*)$")
_SENTENCE_END = re.compile(r"[.!?:;…][\"'”’)\]]*$")


def _ends_sentence(text: str) -> bool:
    return bool(_SENTENCE_END.search(text))


@contextmanager
def _captured_pypdf_warnings() -> Iterator[list[str]]:
    """Collect pypdf's log warnings (about repaired damage) instead of letting them reach stderr."""
    messages: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger = logging.getLogger("pypdf")
    handler = _Collect(level=logging.WARNING)
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def _read_pdf(path: Path, data: bytes) -> ReadResult:
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    notes: list[str] = []
    with _captured_pypdf_warnings() as warnings:
        try:
            reader = PdfReader(io.BytesIO(data))
        except Exception as exc:
            raise ReadError(path, _corrupt_pdf_reason(data, exc)) from None
        if reader.is_encrypted:
            # Many PDFs are 'encrypted' with an empty user password only to restrict printing/copying.
            try:
                ok = reader.decrypt("")
            except DependencyError:
                raise ReadError(
                    path, "is encrypted with AES, which this installation cannot decrypt; "
                    "remove the protection (print to PDF or save a copy without security) and add it again"
                ) from None
            except Exception as exc:
                raise ReadError(path, _corrupt_pdf_reason(data, exc)) from None
            if ok == PasswordType.NOT_DECRYPTED:
                raise ReadError(path, "is encrypted; remove the password and add it again")
            notes.append("PDF is protected without a password to open it; read it anyway")
        try:
            pages, failed = _pdf_lines(reader)
        except FileNotDecryptedError:
            raise ReadError(path, "is encrypted; remove the password and add it again") from None
        except Exception as exc:
            raise ReadError(path, _corrupt_pdf_reason(data, exc)) from None
        n_pages = len(pages)
        if n_pages == 0:
            raise ReadError(path, "has no pages; it may be damaged, export it again")
        if len(failed) == n_pages:
            first_error = next(iter(failed.values()))
            raise ReadError(path, f"is a damaged PDF: no page could be read ({first_error}); export it again")
        if failed:
            shown = ", ".join(map(str, list(failed)[:10])) + (" …" if len(failed) > 10 else "")
            plural = "s" if len(failed) != 1 else ""
            notes.append(f"{len(failed)} damaged page{plural} skipped (page {shown})")
        empty = [i + 1 for i, lines in enumerate(pages) if not lines and i + 1 not in failed]
        if len(empty) + len(failed) == n_pages:
            if warnings:
                # Content streams that do not decode yield no text either: without this, a damaged
                # PDF was reported as a scan, and the user sent to OCR instead of a new copy.
                raise ReadError(
                    path, f"is a damaged PDF: no text could be decoded (pypdf: {warnings[0]}); "
                    "export or download it again (if it is a scan, run OCR first)"
                )
            raise ReadError(path, "has no text layer (scanned?); run OCR first")
        if empty:
            shown = ", ".join(map(str, empty[:10])) + (" …" if len(empty) > 10 else "")
            notes.append(f"{len(empty)} page{'s' if len(empty) != 1 else ''} without text (page {shown})")
            if len(empty) * 2 > n_pages:
                notes.append("most pages have no text layer (scanned?); run OCR for a complete index")

        lines = [line for page in pages for line in page]
        outline = _pdf_outline(reader)
        if outline:
            found = _mark_outline_headings(pages, outline)
            if found < len(outline):
                notes.append(
                    f"{len(outline) - found} of {len(outline)} outline headings not found on their page; "
                    "left as plain text"
                )
            if found == 0:
                outline = []
        if not outline:
            if _mark_size_headings(lines):
                notes.append("no usable PDF outline; headings detected by font size")
        blocks = _pdf_blocks(lines)
        title = _pdf_meta_title(reader) or next(
            (b.lstrip("#").strip() for b in blocks if re.match(r"#{1,6} ", b)), None
        )
    if warnings:
        notes.append(
            f"pypdf reported problems in the file structure (first: {warnings[0]}); check the text for gaps"
        )
    return ReadResult(text=_join_blocks(blocks), title=title, fmt="pdf", notes=notes)


def _corrupt_pdf_reason(data: bytes, exc: Exception) -> str:
    head = data[:1024].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return "is an HTML page, not a PDF (a failed download?); download the PDF again"
    if b"%pdf-" not in data[:1024].lower():
        return "is not a PDF (no PDF header); check the file or give it the right extension"
    return f"is a damaged PDF that cannot be read ({exc}); export or download it again"


def _pdf_meta_title(reader) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:
        return None
    title = _one_line(str(title)) if title else ""
    # Producers often put the source file name or a placeholder there; that is no title.
    if (
        not title
        or re.search(r"\.(docx?|pdf|indd|pptx?|odt)$", title, re.I)
        or title.lower() in {"untitled", "titel", "naamloos"}
        or title.lower().startswith("microsoft word - ")
    ):
        return None
    return title


def _pdf_lines(reader) -> tuple[list[list[_Line]], dict[int, str]]:
    """All pages as lists of non-empty lines (with position and font size where pypdf reports them),
    and the pages (1-based) that could not be read, with the error.

    One damaged page should not cost the whole document, so page errors are collected, not raised.
    """
    pages: list[list[_Line]] = []
    failed: dict[int, str] = {}
    for index, page in enumerate(reader.pages):
        try:
            pages.append(_page_lines(page, index))
        except Exception as exc:
            if type(exc).__name__ == "FileNotDecryptedError":
                raise
            failed[index + 1] = f"{type(exc).__name__}: {exc}"
            pages.append([])
    return pages, failed


def _font_widths(font_dict) -> dict[str, float] | None:
    """Glyph advances (1/1000 em) by Unicode character, or None when pypdf cannot tell.

    Uses pypdf's font model (``pypdf.generic._font``, not public API): the guard keeps the reader
    working, with coarser paragraph detection, if that module changes.
    """
    try:
        from pypdf.generic._font import Font

        font = Font.from_font_resource(font_dict)
        widths = dict(font.character_widths)
        # Composite fonts key widths by glyph code; map them to the characters the codes stand for.
        for code, char in (font.character_map or {}).items():
            if isinstance(char, str) and len(char) == 1 and code in font.character_widths:
                widths[char] = font.character_widths[code]
        widths.setdefault(" ", float(font.space_width or 250))
        return widths
    except Exception:
        return None


def _page_lines(page, index: int) -> list[_Line]:
    lines: list[_Line] = []
    current: list[str] = []
    fonts: dict[int, tuple[object, dict[str, float] | None]] = {}  # by id; the tuple keeps the key alive
    state: dict = {}

    def reset() -> None:
        state.update(y=None, x=None, size=0.0, right=None, measured=True, first_word=None, word_done=False)

    def flush() -> None:
        text = _clean_pdf_line("".join(current))
        if text:
            known = state["measured"] and state["right"] is not None
            lines.append(_Line(
                text=text, page=index, y=state["y"], size=state["size"], x=state["x"],
                right=state["right"] if known else None,
                first_word=state["first_word"] if known else None,
            ))
        current.clear()
        reset()

    def visit(text, cm, tm, font_dict, font_size) -> None:
        if not text:
            return
        for i, piece in enumerate(text.split("\n")):
            if i:
                flush()
            if piece.strip():
                if i == 0:
                    # Position and size: text matrix × CTM. Only a fragment's first piece has them.
                    a, b = tm[0] * cm[0] + tm[1] * cm[2], tm[0] * cm[1] + tm[1] * cm[3]
                    c, d = tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3]
                    x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
                    y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
                    size = abs(float(font_size or 0))
                    if state["y"] is None:
                        state["y"], state["x"] = y, x
                    state["size"] = max(state["size"], size * (c * c + d * d) ** 0.5)
                    key = id(font_dict)
                    if key not in fonts:
                        fonts[key] = (font_dict, _font_widths(font_dict) if font_dict is not None else None)
                    widths = fonts[key][1]
                    if widths:
                        # Natural width of the piece (justification spacing not included).
                        squeezed = re.sub(r" {2,}", " ", piece)
                        default = widths.get("default", 500)
                        scale = size * (a * a + b * b) ** 0.5 / 1000
                        width = sum(widths.get(ch, default) for ch in squeezed) * scale
                        state["right"] = max(state["right"] or x, x + width)
                        if not state["word_done"]:
                            # The first word may be spread over fragments (a quote in another font).
                            word = squeezed.lstrip() if not state["first_word"] else squeezed
                            head, space, _ = word.partition(" ")
                            add = sum(widths.get(ch, default) for ch in head + space) * scale
                            state["first_word"] = (state["first_word"] or 0.0) + add
                            state["word_done"] = bool(space)
                    else:
                        state["measured"] = False
                else:
                    state["measured"] = False
            current.append(piece)

    reset()
    plain = page.extract_text(visitor_text=visit) or ""
    flush()
    if not lines and plain.strip():
        # The visitor saw nothing (happens with some odd content streams): use the plain text, no layout.
        lines = [_Line(text=t, page=index) for t in map(_clean_pdf_line, plain.split("\n")) if t]
    return lines


def _clean_pdf_line(text: str) -> str:
    text = text.translate(_LIGATURES)
    # Soft hyphens inside a line are invisible; at the end they mark hyphenation (kept as '-').
    text = text.rstrip()
    text = text[:-1] + "-" if text.endswith("\xad") else text
    text = text.replace("\xad", "")
    # Justified text comes out with runs of spaces between words.
    return re.sub(r"[ \t\u00a0]{2,}", " ", text).strip()


def _pdf_outline(reader) -> list[tuple[int, str, int]]:
    """The outline (bookmarks) as (level, title, page index), in document order; [] if there is none."""
    entries: list[tuple[int, str, int]] = []

    def walk(items, depth: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
                continue
            try:
                page = reader.get_destination_page_number(item)
                title = _one_line(str(item.title or ""))
            except Exception:
                continue  # links to other files, broken destinations
            if title and page is not None and page >= 0:
                entries.append((min(depth + 1, 6), title, page))

    try:
        walk(reader.outline, 0)
    except Exception:
        return []
    return entries


def _norm(text: str) -> str:
    """Compare headings by letters and digits only: numbering dots, dashes and case differ too often."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


def _mark_outline_headings(pages: list[list[_Line]], outline: list[tuple[int, str, int]]) -> int:
    """Mark the lines that carry each outline entry's title; return how many entries were found."""
    found = 0
    cursor: dict[int, int] = {}
    for entry_id, (level, title, page) in enumerate(outline):
        target = _norm(title)
        if not target:
            continue
        # The destination may point at the end of the previous page; try the next page as well.
        for p in (page, page + 1):
            if p >= len(pages):
                continue
            match = _find_title(pages[p], target, cursor.get(p, 0))
            if match:
                start, end = match
                for line in pages[p][start:end]:
                    line.heading, line.heading_id = level, entry_id
                cursor[p] = end
                found += 1
                break
    return found


# What may precede an outline title on the page: "2.1", "Hoofdstuk 3", "Appendix A", "Bijlage 2".
_NUMBERING = re.compile(
    r"(?:appendix|bijlage|hoofdstuk|chapter|deel|part|annex|sectie|section)?[0-9]{0,4}[a-z]?"
)


def _find_title(lines: list[_Line], target: str, cursor: int) -> tuple[int, int] | None:
    """Find the run of (up to 4) consecutive lines that spell ``target``; prefer the largest font."""
    candidates: list[tuple[int, int]] = []
    for i, line in enumerate(lines):
        if line.heading:
            continue
        acc = ""
        for j in range(i, min(i + 4, len(lines))):
            if lines[j].heading:
                break
            acc += _norm(lines[j].text)
            if acc == target:
                candidates.append((i, j + 1))
                break
            if not target.startswith(acc):
                break
    if not candidates:
        # Looser: numbering only on the page ("1.2 Inleiding" vs outline "Inleiding"), or small
        # differences in wording or extraction (ligatures, quotes).
        for i, line in enumerate(lines):
            if line.heading:
                continue
            n = _norm(line.text)
            extra = n[: len(n) - len(target)] if n.endswith(target) else None
            if extra is not None and _NUMBERING.fullmatch(extra):
                candidates.append((i, i + 1))
            elif (0.7 * len(target) <= len(n) <= 1.3 * len(target)
                  and SequenceMatcher(None, n, target).ratio() >= 0.88):
                candidates.append((i, i + 1))
    if not candidates:
        return None
    # A running header repeats the chapter title in small print; the real heading is the biggest.
    return max(candidates, key=lambda c: (lines[c[0]].size, c[0] >= cursor, -c[0]))


def _body_size(lines: list[_Line]) -> float:
    """The font size most text is set in (weighted by characters)."""
    sizes: Counter = Counter()
    for line in lines:
        if line.size:
            sizes[round(line.size * 2) / 2] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def _mark_size_headings(lines: list[_Line]) -> bool:
    """Without an outline: short lines set clearly larger than the body text are headings.

    Larger sizes get higher levels (the largest is ``#``). Returns whether any heading was marked.
    """
    body = _body_size(lines)
    if not body:
        return False
    threshold = body + max(1.0, 0.12 * body)
    candidates = [
        line for line in lines
        if line.size >= threshold and len(line.text) <= 150 and any(ch.isalpha() for ch in line.text)
    ]
    # Many 'headings' means the body size guess is wrong (e.g. a poster); better no headings than noise.
    if not candidates or len(candidates) > 0.3 * len(lines):
        return False
    sizes = sorted({round(line.size * 2) / 2 for line in candidates}, reverse=True)
    level_of = {size: min(i + 1, 6) for i, size in enumerate(sizes)}
    heading_id = 0
    previous: _Line | None = None
    chosen = {id(line) for line in candidates}
    for line in lines:
        if id(line) in chosen:
            level = level_of[round(line.size * 2) / 2]
            # Consecutive lines of the same size are one wrapped heading.
            if previous is None or previous.heading != level or previous.page != line.page:
                heading_id += 1
            line.heading, line.heading_id = level, heading_id
        previous = line
    return True


def _pdf_blocks(lines: list[_Line]) -> list[str]:
    """Group lines into headings, paragraphs and lists (see ``_breaks_after`` for the rules)."""
    body = _body_size(lines)
    gaps = [
        a.y - b.y for a, b in zip(lines, lines[1:])
        if a.page == b.page and a.y is not None and b.y is not None
        and abs(a.size - body) < 0.6 and abs(b.size - body) < 0.6 and 0 < a.y - b.y < 3 * max(body, 1)
    ]
    line_gap = statistics.median(gaps) if gaps else None
    lengths = sorted(len(line.text) for line in lines if not line.heading)
    full_len = lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0
    edges = _column_edges(lines)

    blocks: list[str] = []
    para: list[str] = []  # lines of the current paragraph or list item
    items: list[str] = []  # finished items of the current list
    in_list = False

    def end_item() -> None:
        if para:
            items.append(_join_pdf_lines(para))
            para.clear()

    def end_block() -> None:
        nonlocal in_list
        if in_list:
            end_item()
            if items:
                blocks.append("\n".join("- " + item for item in items))
            items.clear()
            in_list = False
        elif para:
            blocks.append(_join_pdf_lines(para))
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        if line.heading:
            end_block()
            j = i
            while j + 1 < len(lines) and lines[j + 1].heading_id == line.heading_id and lines[j + 1].heading:
                j += 1
            blocks.append(_heading(line.heading, _join_pdf_lines([x.text for x in lines[i:j + 1]])))
            i = j + 1
            continue
        bullet = _BULLET_RE.match(line.text)
        previous = lines[i - 1] if i else None
        if not bullet and (in_list or (previous and previous.text.endswith(":"))):
            bullet = _DASH_BULLET_RE.match(line.text)
        if bullet:
            if in_list:
                end_item()
            else:
                end_block()
                in_list = True
            para.append(bullet.group(1))
        else:
            if in_list and not para:  # the list ended with a finished item; this line is new text
                end_block()
            para.append(line.text)
        following = lines[i + 1] if i + 1 < len(lines) else None
        if following is None or _breaks_after(line, following, previous, para, line_gap, full_len,
                                               edges.get(id(line))):
            # Between two bullets only the item ends: the list goes on (items are often spaced out).
            if in_list and following is not None and not following.heading and (
                _BULLET_RE.match(following.text) or _DASH_BULLET_RE.match(following.text)
            ):
                end_item()
            else:
                end_block()
        i += 1
    end_block()
    return blocks


def _column_edges(lines: list[_Line]) -> dict[int, float]:
    """For each measured line: where the text block it belongs to ends on the right.

    A block is the lines on the page that start at the same left edge in the same font size: the body
    column, an indented quotation, a text box, the other column. Its edge is its longest line (natural
    widths never show justification, so the longest line is the closest to the real edge). A first
    line indented relative to the line below it belongs to that line's block as well.
    """
    groups: dict[tuple[int, int, int], list[float]] = {}

    def key(line: _Line) -> tuple[int, int, int]:
        return line.page, round(line.size), round(line.x)

    for line in lines:
        if line.right is not None and line.x is not None:
            groups.setdefault(key(line), []).append(line.right)
    edges: dict[int, float] = {}
    for i, line in enumerate(lines):
        if line.right is None or line.x is None:
            continue
        own = groups.get(key(line), [])
        candidates = list(own) if len(own) >= 3 else []
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        if (nxt is not None and nxt.x is not None and nxt.right is not None and nxt.page == line.page
                and 0 < line.x - nxt.x <= 3 * (line.size or 10)):
            below = groups.get(key(nxt), [])
            if len(below) >= 2:
                candidates += below + [line.right]
        if candidates:
            edges[id(line)] = max(candidates)
    return edges


def _breaks_after(line: _Line, nxt: _Line, previous: _Line | None, para: list[str],
                  line_gap: float | None, full_len: int, edge: float | None = None) -> bool:
    """Whether a paragraph ends between ``line`` and ``nxt``.

    PDF has no paragraphs, only positioned lines; these are the cues that survive extraction.
    """
    if nxt.heading:
        return True
    if nxt.page != line.page:
        # A sentence running on to the next page continues the paragraph.
        return _ends_sentence(line.text) or not nxt.text[:1].islower()
    if line.size and nxt.size and abs(line.size - nxt.size) > 0.6:
        return True
    if line.y is not None and nxt.y is not None and line_gap:
        gap = line.y - nxt.y
        if gap <= 0 or gap > 1.35 * line_gap:  # extra white space, or a jump to a new column/box
            return True
    # A word broken at the line end continues on the next line, however short this line is.
    if re.search(r"\w[-\u2010]$", line.text) and nxt.text[:1].isalpha():
        return False
    # The decisive cue where glyph widths are known: had the next line's first word fitted in the
    # room left on this line, the typesetter would have put it there, so the paragraph ended here.
    if edge is not None and line.right is not None and nxt.first_word is not None:
        if nxt.text[:1].islower() and not _ends_sentence(line.text):
            return False  # a sentence running on: a narrower block the edge estimate did not see
        return edge - line.right > nxt.first_word + 0.25 * (line.size or 10)
    # Otherwise by character counts: a line clearly shorter than its neighbours ends a paragraph.
    # The check on the next line's start guards tables and lists of short items.
    starts_new = nxt.text[:1].isupper() or nxt.text[:1].isdigit() or bool(_BULLET_RE.match(nxt.text))
    neighbour = max(len(previous.text) if previous and len(para) > 1 else 0, len(nxt.text))
    if starts_new and len(line.text) < 0.7 * neighbour:
        return True
    if starts_new and full_len and len(line.text) < 0.7 * full_len and _ends_sentence(line.text):
        return True
    return False


_HYPHENS = ("-", "\u2010")


def _join_pdf_lines(parts: list[str]) -> str:
    """Join the lines of one paragraph with spaces, repairing words hyphenated at the line end."""
    out = ""
    for part in parts:
        part = part.strip()
        if not out:
            out = part
        elif out.endswith(_HYPHENS) and len(out) > 1 and out[-2].isalpha() and part[:1].isalpha():
            if part[:1].islower() and not re.match(r"(en|of|tot)\b", part):
                out = out[:-1] + part  # "transfor-" + "matie" → "transformatie"
            else:
                # "Noord-" + "Holland" is a real hyphen; "beleids-" + "en" is a Dutch elided compound.
                out = out + ("" if part[:1].isupper() else " ") + part
        else:
            out = out + " " + part
    return out


# --------------------------------------------------------------------------------------------------
# .docx
# --------------------------------------------------------------------------------------------------

_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_HEADING_STYLE = re.compile(r"^(?:heading|kop)\s*([1-9])$", re.I)
_TITLE_STYLES = {"title", "titel"}
_CAPTION_STYLES = {"caption", "bijschrift"}
_LIST_STYLE = re.compile(r"^(?:list|lijst)", re.I)
_TABLE_CAPTION = re.compile(r"^(?:tabel|table)\s*\d", re.I)


def _read_docx(path: Path, data: bytes) -> ReadResult:
    import docx
    from docx.table import Table

    not_word = "is not a Word document (.docx); open it in Word and save it as .docx"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ReadError(
            path, "is an old Word 97-2003 document or a password-protected .docx; "
            "open it in Word, remove any password and save it as .docx"
        )
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ReadError(path, not_word)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception:
        raise ReadError(path, not_word) from None

    notes: list[str] = []
    blocks: list[str] = []
    first_heading: str | None = None
    items = list(document.iter_inner_content())
    list_lines: list[str] = []

    def end_list() -> None:
        if list_lines:
            blocks.append("\n".join(list_lines))
            list_lines.clear()

    skip: set[int] = set()
    for index, item in enumerate(items):
        if index in skip:
            continue
        if isinstance(item, Table):
            end_list()
            # A caption below the table moves above it, so every table reads 'caption, rows'.
            nxt = items[index + 1] if index + 1 < len(items) else None
            if nxt is not None and not isinstance(nxt, Table) and _is_table_caption(nxt):
                blocks.append(nxt.text)
                skip.add(index + 1)
            table = _docx_table(item)
            if table:
                blocks.append(table)
            continue
        kind, level = _docx_paragraph_kind(item)
        text = item.text.strip()
        if text:
            if kind == "list":
                list_lines.append(" " * level + "- " + _one_line(text))
            else:
                end_list()
                if kind == "heading":
                    blocks.append(_heading(level, text))
                    first_heading = first_heading or _one_line(text)
                else:
                    blocks.append(text)
        # Text boxes (practice examples in reports) hang off a paragraph; read them right after it.
        for box_text in _docx_textboxes(item):
            end_list()
            blocks.append(box_text)
    end_list()
    try:
        title = (document.core_properties.title or "").strip() or first_heading
    except Exception:
        title = first_heading
    return ReadResult(text=_join_blocks(blocks), title=title, fmt="docx", notes=notes)


def _style_names(paragraph) -> list[str]:
    """The paragraph's style and the styles it is based on (a custom style may derive from Heading 1)."""
    names = []
    try:
        style = paragraph.style
        while style is not None and len(names) < 10:
            names.append((style.name or "").strip())
            style = style.base_style
    except Exception:
        pass
    return names


def _docx_paragraph_kind(paragraph) -> tuple[str, int]:
    """('heading', level) | ('list', nesting depth) | ('caption', 0) | ('paragraph', 0)."""
    names = _style_names(paragraph)
    for name in names:
        match = _HEADING_STYLE.match(name)
        if match:
            return "heading", int(match.group(1))
        if name.lower() in _TITLE_STYLES:
            return "heading", 1
    # Outline level set directly on the paragraph (custom heading styles in some templates).
    p_pr = paragraph._p.pPr
    if p_pr is not None:
        outline = p_pr.find(f"{{{_W_NS}}}outlineLvl")
        if outline is not None:
            value = outline.get(f"{{{_W_NS}}}val", "")
            if value.isdigit() and int(value) < 9:
                return "heading", int(value) + 1
        num_pr = p_pr.find(f"{{{_W_NS}}}numPr")
        if num_pr is not None:
            ilvl = num_pr.find(f"{{{_W_NS}}}ilvl")
            value = ilvl.get(f"{{{_W_NS}}}val", "0") if ilvl is not None else "0"
            return "list", int(value) if value.isdigit() else 0
    if names and _LIST_STYLE.match(names[0]):
        depth = re.search(r"(\d)$", names[0])
        return "list", int(depth.group(1)) - 1 if depth else 0
    if names and names[0].lower() in _CAPTION_STYLES:
        return "caption", 0
    return "paragraph", 0


def _is_table_caption(paragraph) -> bool:
    names = _style_names(paragraph)
    if names and names[0].lower() in _CAPTION_STYLES:
        return True
    return bool(_TABLE_CAPTION.match(paragraph.text.strip()))


def _docx_table(table) -> str:
    rows = []
    for row in table.rows:
        cells, seen = [], None
        for cell in row.cells:
            # A merged cell is returned once per grid column it spans; keep it once.
            if seen is cell._tc:
                continue
            seen = cell._tc
            cells.append(_one_line(cell.text))
        if any(cells):
            rows.append("\t".join(cells))
    return "\n".join(rows)


@functools.lru_cache(maxsize=1)
def _textbox_xpath():
    from lxml import etree

    # The same box is stored twice (DrawingML choice and VML fallback); read only the first.
    return etree.XPath(
        ".//w:txbxContent[not(ancestor::mc:Fallback)][not(ancestor::w:txbxContent)]",
        namespaces={"w": _W_NS, "mc": _MC_NS},
    )


def _docx_textboxes(paragraph) -> list[str]:
    """The paragraphs of text boxes anchored in ``paragraph`` (python-docx does not read them)."""
    text_tag, tab_tag = f"{{{_W_NS}}}t", f"{{{_W_NS}}}tab"
    texts = []
    for box in _textbox_xpath()(paragraph._p):
        for p in box.iter(f"{{{_W_NS}}}p"):
            parts = [node.text or "" if node.tag == text_tag else "\t" for node in p.iter(text_tag, tab_tag)]
            text = "".join(parts).strip()
            if text:
                texts.append(text)
    return texts


# --------------------------------------------------------------------------------------------------
# .html / .htm
# --------------------------------------------------------------------------------------------------

# Page furniture and code: never document text.
_HTML_DROP = ["script", "style", "nav", "footer", "noscript", "template", "svg", "iframe", "canvas",
              "object", "embed", "head"]
_HTML_BLOCK = {"p", "div", "section", "article", "main", "header", "aside", "blockquote", "address",
               "figure", "figcaption", "dl", "dt", "dd", "li", "form", "fieldset", "details", "summary",
               "body", "html", "center", "hr", "caption", "legend"}
_BR = "\u2028"  # stands for <br> until whitespace is collapsed


def _read_html(path: Path, data: bytes) -> ReadResult:
    from bs4 import BeautifulSoup

    notes: list[str] = []
    if b"\x00" in data and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ReadError(path, "contains binary data, not HTML; is it the right file?")
    soup = BeautifulSoup(data, "lxml")
    encoding = (soup.original_encoding or "utf-8").lower()
    if encoding not in {"utf-8", "ascii", "utf-8-sig"}:
        notes.append(f"decoded as {encoding}")
    title_tag = soup.find("title")
    title = _one_line(title_tag.get_text()) if title_tag else ""
    for tag in soup.find_all(_HTML_DROP):
        tag.decompose()
    walker = _HtmlWalker()
    walker.walk(soup)
    walker.flush()
    if not title:
        h1 = soup.find("h1")
        title = _one_line(h1.get_text(" ")) if h1 else ""
    return ReadResult(text=_join_blocks(walker.blocks), title=title or None, fmt="html", notes=notes)


class _HtmlWalker:
    """Walks the tree in document order; inline content collects into paragraphs between blocks."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.inline: list[str] = []

    def flush(self) -> None:
        text = _collapse_html("".join(self.inline))
        self.inline.clear()
        if text:
            self.blocks.append(text)

    def walk(self, node) -> None:
        from bs4.element import CData, NavigableString, PreformattedString, Tag

        for child in list(node.children):
            if isinstance(child, NavigableString):
                # Comments, doctype and processing instructions are no text; CDATA is.
                if not isinstance(child, PreformattedString) or isinstance(child, CData):
                    self.inline.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name
            if name == "br":
                self.inline.append(_BR)
            elif re.fullmatch(r"h[1-6]", name):
                self.flush()
                text = _one_line(child.get_text(" "))
                if text:
                    self.blocks.append(_heading(int(name[1]), text))
            elif name in ("ul", "ol"):
                self.flush()
                lines = self.list_lines(child, 0)
                if lines:
                    self.blocks.append("\n".join(lines))
            elif name == "table":
                self.flush()
                self.table(child)
            elif name == "pre":
                self.flush()
                self.blocks.append(child.get_text().strip("\n"))
            elif name == "figure":
                self.flush()
                # Caption first, as for tables elsewhere, wherever the figcaption sits.
                for caption in child.find_all("figcaption", recursive=False):
                    text = _one_line(caption.get_text(" "))
                    if text:
                        self.blocks.append(text)
                    caption.extract()
                self.walk(child)
                self.flush()
            elif name in _HTML_BLOCK:
                self.flush()
                self.walk(child)
                self.flush()
            else:  # inline element (a, em, span …): its text belongs to the running paragraph
                self.walk(child)

    def list_lines(self, list_tag, depth: int) -> list[str]:
        lines = []
        for li in list_tag.find_all("li", recursive=False) or [list_tag]:
            nested = li.find_all(["ul", "ol"], recursive=False) if li is not list_tag else []
            for sub in nested:
                sub.extract()
            text = _one_line(li.get_text(" "))
            if text:
                lines.append(" " * depth + "- " + text)
            for sub in nested:
                lines.extend(self.list_lines(sub, depth + 1))
        return lines

    def table(self, table) -> None:
        caption = table.find("caption")
        if caption is not None and caption.find_parent("table") is table:
            text = _one_line(caption.get_text(" "))
            if text:
                self.blocks.append(text)
        rows = [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]

        def order(tr) -> int:
            section = tr.find_parent(["thead", "tbody", "tfoot", "table"])
            return {"thead": 0, "tfoot": 2}.get(section.name if section else "", 1)

        rows.sort(key=order)  # stable: thead rows first, tfoot last, the rest in source order
        # Without a <thead>, a row made only of <th> cells is the header.
        if rows and order(rows[0]) != 0:
            for k, tr in enumerate(rows):
                cells = tr.find_all(["td", "th"], recursive=False)
                if cells and all(c.name == "th" for c in cells):
                    rows.insert(0, rows.pop(k))
                    break
        lines = []
        for tr in rows:
            cells = [_one_line(c.get_text(" ")) for c in tr.find_all(["td", "th"], recursive=False)]
            if any(cells):
                lines.append("\t".join(cells))
        if lines:
            self.blocks.append("\n".join(lines))


def _collapse_html(text: str) -> str:
    """HTML whitespace rules: runs of whitespace are one space; <br> is a line break."""
    lines = [" ".join(part.split()) for part in text.split(_BR)]
    return "\n".join(line for line in lines if line)


_READERS: dict[str, Callable[[Path, bytes], ReadResult]] = {
    ".txt": _read_txt,
    ".md": _read_md,
    ".pdf": _read_pdf,
    ".docx": _read_docx,
    ".html": _read_html,
    ".htm": _read_html,
}
