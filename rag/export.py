"""Exports: an answer or a conversation as Markdown or Word, an answer's audit record as JSON.

The Markdown and Word documents carry the sources section (each marker with its location, the lines of
the corpus file its quotes start on, and the quoted words), for *Toets op bronnen* the support of every
sentence, and the corpus attribution, so a trainer can edit them and an evaluator can trace every line.
Character offsets are in the audit record (JSON), which holds everything.

### Usage example

```python
from rag.export import answer_markdown, answers_docx, audit_record
Path("antwoord.md").write_text(answer_markdown(answer))
Path("les.docx").write_bytes(answers_docx([answer], title="Lesmateriaal"))
json.dumps(audit_record(answer))
```
"""

from __future__ import annotations

import datetime
import importlib.metadata
import io
import re
import time
from functools import lru_cache

from docx import Document
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from rag.answer import Answer
from rag.lesson import LABELS as LESSON_LABELS

VERDICTS = {"nl": {"supported": "onderbouwd", "weak": "zwak", "unsupported": "niet onderbouwd"},
            "en": {"supported": "supported", "weak": "weak", "unsupported": "unsupported"}}
SUPPORT_HEADER = {"nl": ("Zin", "Bron", "Score", "Oordeel", "Zin uit de bron"),
                  "en": ("Sentence", "Source", "Score", "Verdict", "Evidence")}
SUPPORT_TITLE = {"nl": "Onderbouwing per zin", "en": "Support per sentence"}
# Why a verdict is what it is (SupportVerdict.flags, rag/grounding.py), shown after the verdict.
FLAG_WORDS = {
    "nl": {"uncited": "noemt geen bron", "invalid_marker": "{} is geen gegeven passage",
           "figure_missing": "{} staat niet in de bron", "name_missing": "{} staat niet in de bron",
           "negation_differs": "ontkenning wijkt af van de bron", "quantifier_missing": "‘{}’ staat niet in de bron"},
    "en": {"uncited": "cites no source", "invalid_marker": "{} is no passage given",
           "figure_missing": "{} is not in the source", "name_missing": "{} is not in the source",
           "negation_differs": "negation differs from the source", "quantifier_missing": "‘{}’ is not in the source"},
}
ATTRIBUTION = (
    "Bron: PBL & VU (2026). Werken aan transformatie: een handelingsrepertoire in ontwikkeling bij het Rijk "
    "voor opgaven in de leefomgeving. Den Haag: PBL Planbureau voor de Leefomgeving (publicatienummer 5760)."
)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|!])")
# Streamlit's Markdown reads more than CommonMark: LaTeX ($), colour and icon directives and emoji
# (":red[…]", ":smile:"), GFM autolinks ("www.", "http:"), strikethrough (~), and a line can open a list,
# block quote, table or heading (- + 1. > | = #), or an entity (&amp;). All of them escaped, it is text.
_ST_SPECIAL = re.compile(r"([\\`*_\[\]#|!(){}+\-.<>~:$=&])")
# Some of it Streamlit finds in the text after escapes are read: URLs and e-mail addresses become links,
# ":material/…:" an icon, ":+1:" or ":100:" an emoji, "->" "--" ">=" symbols. An invisible word joiner between the characters keeps
# them text.
_ST_AFTER_ESCAPES = re.compile(r"(?i)(?<=:)(?=[\w+/-])|(?<=www)(?=\.)|(?<=@)(?=[\w-])|(?<=[-<>~])(?=[-<>=])")


def _st_text(text: str) -> str:
    """Text as Streamlit Markdown that shows it as it is."""
    return _md_escape(_ST_AFTER_ESCAPES.sub("\u2060", text), _ST_SPECIAL)


def _md_escape(text: str, special: re.Pattern = _MD_SPECIAL) -> str:
    return special.sub(r"\\\1", text)


def _no_html(text: str) -> str:
    """Text from the corpus or the user never becomes HTML in a Markdown viewer."""
    return text.replace("<", "&lt;")


def _md_text(text: str) -> str:
    """A user's words as literal Markdown text: no HTML, links, emphasis or headings of their own."""
    return _md_escape(_no_html(" ".join(text.split())))


def quote_spans(citation, passage: str | None = None) -> list[tuple[int, int]]:
    """Where the citation's quotes stand in ``passage`` (the citation's own by default), as (start, end)
    offsets into it: by the quotes' document offsets, else by their words; a quote not found is left out."""
    passage = citation.passage if passage is None else passage
    spans = []
    for q in citation.quotes:
        start = q.start - citation.start
        if not (0 <= start and passage[start : q.end - citation.start] == q.text):
            start = passage.find(q.text) if q.text else -1
        if start >= 0:
            spans.append((start, start + len(q.text)))
    return spans


def highlighted_markdown(passage: str, spans: list[tuple[int, int]], colour: str = "orange") -> str:
    """``passage`` as Streamlit Markdown that shows it as plain text, line by line, with the characters
    in ``spans`` (offsets into it; overlapping or touching ones merged) on a ``colour`` background."""
    merged: list[list[int]] = []
    for start, end in sorted((max(0, s), min(len(passage), e)) for s, e in spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    lines, pos = [], 0
    for line in passage.split("\n"):
        lo, hi = pos, pos + len(line)
        pos = hi + 1
        out, at = [], lo
        for start, end in merged:  # a highlight is closed at a line's end and opened again on the next
            start, end = max(start, lo), min(end, hi)
            marked = passage[start:end]
            if not marked.strip():
                continue
            # spaces at the edges stay outside: Streamlit drops them inside the brackets
            start += len(marked) - len(marked.lstrip())
            end -= len(marked) - len(marked.rstrip())
            out += [_st_text(passage[at:start]), f":{colour}-background[{_st_text(passage[start:end])}]"]
            at = end
        out.append(_st_text(passage[at:hi]))
        lines.append("".join(out).strip())  # no indent: four spaces would start a code block
    return "  \n".join(lines)  # two spaces: a line break, not a new paragraph


def sources_markdown(answer: Answer) -> str:
    """The sources as a list, each quote a block quote inside its item (valid CommonMark: an indented
    "> " line after a paragraph would be read as more of that paragraph)."""
    if not answer.citations:
        return ""
    lines = ["**Bronnen**" if answer.lang == "nl" else "**Sources**", ""]
    for c in answer.citations:
        lines.append(f"- [{c.marker}] {c.location} ({c.where(answer.lang)})")
        for q in c.quotes:
            lines += ["", f"  > {_no_html(' '.join(q.text.split()))}"]
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def _lang(answer: Answer) -> str:
    """The language the answer's own words are in, of those the labels are written in."""
    return answer.lang if answer.lang in SUPPORT_HEADER else "nl"


_MARKERS = re.compile(r"\s*\[\d+\]")


def shows_evidence(answer: Answer) -> bool:
    """Whether the support table needs its evidence column: the passage sentence that supports some
    answer sentence best is not contained in it (a model's words). The composed answer quotes verbatim,
    so there the column would only repeat the sentence."""
    def norm(text: str) -> str:
        return " ".join(_MARKERS.sub("", text).split())
    return any(v.label != "frame" and norm(v.evidence) not in norm(v.sentence) for v in answer.support)


def support_header(answer: Answer) -> tuple[str, ...]:
    """The support table's column names; the last (evidence) only where ``shows_evidence``."""
    head = SUPPORT_HEADER[_lang(answer)]
    return head if shows_evidence(answer) else head[:-1]


def _shorten(text: str, width: int | None) -> str:
    text = " ".join(text.split())
    return text[:width].rsplit(" ", 1)[0] + " …" if width and len(text) > width else text


def support_rows(answer: Answer, width: int | None = None) -> list[tuple[str, ...]]:
    """The support of every claim (frames left out) as (sentence, source, score, verdict[, evidence]) in
    the answer's language, the evidence being the passage sentence that supports it best (only where
    ``shows_evidence``); ``width`` shortens a sentence and its evidence at a word, with "…"."""
    words = VERDICTS[_lang(answer)]
    evidence = shows_evidence(answer)
    rows = []
    for v in answer.support:
        if v.label == "frame":
            continue
        score = f"{v.score:.2f}" if _lang(answer) == "en" else f"{v.score:.2f}".replace(".", ",")  # Dutch: 1,00
        why = "; ".join(FLAG_WORDS[_lang(answer)].get(code, code).format(value)
                        for code, _, value in (f.partition(":") for f in v.flags))
        row = (_shorten(v.sentence, width), f"[{v.best_marker}]" if v.best_marker else "–", score,
               words.get(v.label, v.label) + (f" ({why})" if why else ""))
        rows.append(row + (_shorten(v.evidence, width) or "–",) if evidence else row)
    return rows


def support_markdown(answer: Answer) -> str:
    rows = support_rows(answer)
    if not rows:
        return ""
    head = support_header(answer)
    lines = [f"**{SUPPORT_TITLE[_lang(answer)]}**", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_md_text(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def followed_up(answer: Answer) -> str:
    """The earlier question(s) a follow-up was read with ("" for a question asked on its own)."""
    resolved, question = answer.resolved_question, answer.question
    return resolved[: -len(question)].rstrip(" /") if resolved != question and resolved.endswith(question) else ""


def answer_markdown(answer: Answer, with_question: bool = True, attribution: bool = True) -> str:
    """One answer as Markdown: the question (a lesson's own title first), the answer, for *Toets op
    bronnen* the support table, the sources and, unless ``attribution=False`` (a conversation carries it
    once), the corpus attribution."""
    parts = []
    text = _no_html(answer.text)
    if with_question:
        if text.startswith("# "):  # a lesson has a title of its own: it comes first, the request under it
            title, _, text = text.partition("\n")
            parts.append(title)
            parts.append(f"_{_md_text(answer.question)}_")
        else:
            parts.append(f"### {_md_text(answer.question)}")
        if earlier := followed_up(answer):  # a follow-up read alone says what it follows up on
            parts.append(f"_{'Following up on' if _lang(answer) == 'en' else 'Vervolg op'}: {_md_text(earlier)}_")
    if answer.notes:  # how the question was read, what a score of 1.00 means: the file is what is filed
        parts.append("\n".join(f"> {_md_text(note)}" for note in answer.notes))
    parts.append(text.strip("\n"))
    if answer.mode == "toets" and (table := support_markdown(answer)):
        parts.append(table)
    src = sources_markdown(answer)
    if src:
        parts.append(src)
    if attribution:
        parts.append(f"_{ATTRIBUTION}_")
    return "\n\n".join(parts) + "\n"


def conversation_markdown(answers: list[Answer], title: str = "Transformatiewijzer — gesprek") -> str:
    body = "\n\n---\n\n".join(answer_markdown(a, attribution=False).rstrip("\n") for a in answers)
    return f"# {title}\n\n{body}\n\n---\n\n_{ATTRIBUTION}_\n"


def _add_runs(paragraph, text: str) -> None:
    """Add ``text`` to a Word paragraph, turning **bold**, *italic* and _italic_ Markdown into runs."""
    pos = 0
    for m in _EMPHASIS.finditer(text):
        if m.start() > pos:
            paragraph.add_run(text[pos : m.start()])
        run = paragraph.add_run(m.group(1) or m.group(2) or m.group(3))
        run.bold = bool(m.group(1))
        run.italic = not m.group(1)
        pos = m.end()
    if pos < len(text):
        paragraph.add_run(text[pos:])


_EMPHASIS = re.compile(r"\*\*(.+?)\*\*|(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])|(?<![\w])_(.+?)_(?![\w])")
_HEADING_LINE = re.compile(r"^(#{1,4})\s+(.*)$")
_BOLD_LINE = re.compile(r"^\*\*([^*]+)\*\*$")  # a heading of the advisory answer ("**Wat je kunt doen**")
_WORD_LANG = {"nl": "nl-NL", "en": "en-GB"}


def _in_language(paragraph, lang: str) -> None:
    """Mark the runs of ``paragraph`` as written in ``lang`` (Word's spelling check follows it)."""
    for run in paragraph.runs:
        tag = OxmlElement("w:lang")
        tag.set(qn("w:val"), _WORD_LANG.get(lang, "nl-NL"))
        run._r.get_or_add_rPr().append(tag)


_TABLE_INTROS = {f"_{labels['table']}_" for labels in LESSON_LABELS.values()}
_CELL_LINE = re.compile(r"^- ([^:]{3,40}): (.+)$")


def _strategy_table(doc, block: list[str]) -> None:
    """Lines of a lesson's table-2 block — "- _Bevinding n — titel_" and "- Aansluiten: … [n]" — as a Word
    table: a row per finding, a column per strategy, every cell with its marker."""
    rows: list[tuple[str, dict[str, str]]] = []
    columns: list[str] = []
    for line in block:
        label = line[2:] if line.startswith("- _") else line
        if label.startswith("_") and label.endswith("_"):
            rows.append((label.strip("_"), {}))
        elif m := _CELL_LINE.match(line):
            if not rows:
                rows.append(("", {}))
            columns += [m.group(1)] if m.group(1) not in columns else []
            rows[-1][1][m.group(1)] = m.group(2)
    labelled = any(label for label, _ in rows)
    header = ([""] if labelled else []) + columns
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, name in zip(table.rows[0].cells, header):
        cell.text = name
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for label, cells in rows:
        values = ([label] if labelled else []) + [cells.get(c, "") for c in columns]
        for cell, value in zip(table.add_row().cells, values):
            cell.text = value


def _core_title(heading: str, limit: int = 255) -> str:
    """A document title Word accepts (python-docx refuses more than 255 characters): a long question is
    cut at a word, with an ellipsis."""
    heading = " ".join(heading.split())
    if len(heading) <= limit:
        return heading
    return heading[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def answers_docx(answers: list[Answer], title: str = "Transformatiewijzer") -> bytes:
    """A Word document with every answer (its own heading: a lesson's title, else the question), for
    *Toets op bronnen* its support table, its sources and the attribution; returns the .docx bytes.
    The document is in Dutch (the quotes are); an English answer's own words (a generated answer's
    bullets too) are marked English."""
    doc = Document()
    for tag in doc.styles.element.iter(qn("w:lang")):  # the template says en-US
        tag.set(qn("w:val"), "nl-NL")
    props = doc.core_properties
    props.author = props.last_modified_by = "Transformatiewijzer"
    props.created = props.modified = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    props.comments = ATTRIBUTION
    props.revision = 1
    doc.add_heading(title, level=0)
    for answer in answers:
        own = answer.lang != "nl"  # paragraphs in the answer's language, not quotes
        quoted = answer.answerer == "composed"  # bullets quote the report; a model writes its own
        text = answer.text
        if text.startswith("# "):  # a lesson: its title is the heading, the request under it
            first, _, text = text.partition("\n")
            heading = first[2:].strip()
            doc.add_heading(heading, level=1)
            asked = doc.add_paragraph()
            asked.add_run(answer.question).italic = True
        else:
            heading = answer.question
            asked = doc.add_heading(heading, level=1)
            if earlier := followed_up(answer):
                doc.add_paragraph().add_run(
                    f"{'Following up on' if answer.lang == 'en' else 'Vervolg op'}: {earlier}").italic = True
        props.title = props.title or _core_title(heading)
        if own:
            _in_language(asked, answer.lang)
        for note in answer.notes:  # as in the Markdown export
            p = doc.add_paragraph(style="Intense Quote")
            _add_runs(p, note)
            _in_language(p, answer.lang)
        lines = text.splitlines()
        i = 0
        while i < len(lines):
            stripped = lines[i].strip()
            i += 1
            if not stripped:
                continue
            if stripped in _TABLE_INTROS:  # table 2's strategies, side by side: as the report's table
                block = []
                while i < len(lines) and lines[i].strip() and not lines[i].startswith("#"):
                    block.append(lines[i].strip())
                    i += 1
                _add_runs(doc.add_paragraph(), stripped)
                _strategy_table(doc, block)
                continue
            if m := _HEADING_LINE.match(stripped):
                p = doc.add_heading(m.group(2), level=min(len(m.group(1)), 4))
            elif m := _BOLD_LINE.match(stripped):
                p = doc.add_heading(m.group(1), level=2)
            elif stripped.startswith("- "):
                _add_runs(p := doc.add_paragraph(style="List Bullet"), stripped[2:])
                if quoted:
                    continue  # a quote from the report: Dutch
            elif re.match(r"^\d+\.\s", stripped):
                _add_runs(p := doc.add_paragraph(style="List Number"), re.sub(r"^\d+\.\s+", "", stripped))
            else:
                _add_runs(p := doc.add_paragraph(), stripped)
            if own:
                _in_language(p, answer.lang)
        rows = support_rows(answer) if answer.mode == "toets" else []
        if rows:
            key = _lang(answer)
            h = doc.add_heading(SUPPORT_TITLE[key], level=2)
            head = support_header(answer)
            table = doc.add_table(rows=1, cols=len(head))
            table.style = "Table Grid"
            for cell, name in zip(table.rows[0].cells, head):
                cell.text = name
                cell.paragraphs[0].runs[0].bold = True
            for row in rows:
                for cell, value in zip(table.add_row().cells, row):
                    cell.text = value
            if own:
                _in_language(h, answer.lang)
        if answer.citations:
            h = doc.add_heading("Bronnen" if answer.lang == "nl" else "Sources", level=2)
            if own:
                _in_language(h, answer.lang)
            for c in answer.citations:
                p = doc.add_paragraph()
                p.add_run(f"[{c.marker}] ").bold = True
                p.add_run(f"{c.location} ({c.where(answer.lang)})")
                for q in c.quotes:
                    quote = doc.add_paragraph(style="Quote")
                    _add_runs(quote, q.text)
    doc.add_paragraph().add_run(ATTRIBUTION).italic = True
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


@lru_cache(maxsize=1)
def _software() -> dict:
    """Which build answered: the package version and the ingest pipeline's version."""
    from ingest.pipeline import PIPELINE_VERSION

    try:
        version = importlib.metadata.version("transformatiewijzer")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return {"transformatiewijzer": version, "pipeline": PIPELINE_VERSION}  # copied by the caller


def audit_record(answer: Answer) -> dict:
    """Everything needed to audit one answer: its id and time, question, the conversation as it stood
    when it was answered, the filters, retrieved passages with scores and the markers that cite them,
    answer, per-sentence support, configuration (never an API key), model, corpus version, timings."""
    record = {
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "software": dict(_software()),
        **answer.to_dict(),
    }
    # Which markers cite each passage: a marker is numbered in the answer's reading order, not by rank.
    record["passages"] = [{**p, "markers": [c.marker for c in answer.citations if c.chunk_id == p.get("chunk_id")]}
                          for p in record.get("passages", [])]
    return record
