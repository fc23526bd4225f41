"""Exports: an answer or a conversation as Markdown or Word, an answer's audit record as JSON.

The Markdown and Word documents carry the sources section (each marker with its location, the quoted
words and character offsets) and the corpus attribution, so a trainer can edit them and an evaluator can
trace every line.

### Usage example

```python
from rag.export import answer_markdown, answers_docx, audit_record
Path("antwoord.md").write_text(answer_markdown(answer))
Path("les.docx").write_bytes(answers_docx([answer], title="Lesmateriaal"))
json.dumps(audit_record(answer, conversation))
```
"""

from __future__ import annotations

import io
import re
import time

from docx import Document
from docx.shared import Pt

from rag.answer import Answer

ATTRIBUTION = (
    "Bron: PBL & VU (2026). Werken aan transformatie: een handelingsrepertoire in ontwikkeling bij het Rijk "
    "voor opgaven in de leefomgeving. Den Haag: PBL Planbureau voor de Leefomgeving (publicatienummer 5760)."
)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|!])")


def _no_html(text: str) -> str:
    """Text from the corpus or the user never becomes HTML in a Markdown viewer."""
    return text.replace("<", "&lt;")


def _md_text(text: str) -> str:
    """A user's words as literal Markdown text: no HTML, links, emphasis or headings of their own."""
    return _MD_SPECIAL.sub(r"\\\1", _no_html(" ".join(text.split())))


def sources_markdown(answer: Answer) -> str:
    if not answer.citations:
        return ""
    head = "**Bronnen**" if answer.lang == "nl" else "**Sources**"
    lines = [head]
    for c in answer.citations:
        lines.append(f"[{c.marker}] {c.location} ({c.where(answer.lang)})")
        for q in c.quotes:
            lines.append(f"    > {_no_html(q.text)}")
    return "\n".join(lines)


def answer_markdown(answer: Answer, with_question: bool = True) -> str:
    parts = []
    text = _no_html(answer.text)
    if with_question:
        if text.startswith("# "):  # a lesson has a title of its own: it comes first, the request under it
            title, _, text = text.partition("\n")
            parts.append(title)
            parts.append(f"_{_md_text(answer.question)}_")
        else:
            parts.append(f"### {_md_text(answer.question)}")
    parts.append(text.strip("\n"))
    src = sources_markdown(answer)
    if src:
        parts.append(src)
    return "\n\n".join(parts)


def conversation_markdown(answers: list[Answer], title: str = "Transformatiewijzer — gesprek") -> str:
    body = "\n\n---\n\n".join(answer_markdown(a) for a in answers)
    return f"# {title}\n\n{body}\n\n---\n\n_{ATTRIBUTION}_\n"


_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _add_runs(paragraph, text: str) -> None:
    """Add ``text`` to a Word paragraph, turning **bold** and _italic_ Markdown into runs."""
    pos = 0
    for m in re.finditer(r"\*\*(.+?)\*\*|(?<![\w])_(.+?)_(?![\w])", text):
        if m.start() > pos:
            paragraph.add_run(text[pos : m.start()])
        run = paragraph.add_run(m.group(1) or m.group(2))
        run.bold = bool(m.group(1))
        run.italic = bool(m.group(2))
        pos = m.end()
    if pos < len(text):
        paragraph.add_run(text[pos:])


def answers_docx(answers: list[Answer], title: str = "Transformatiewijzer") -> bytes:
    """A Word document with every answer, its sources and the attribution; returns the .docx bytes."""
    doc = Document()
    doc.add_heading(title, level=0)
    for answer in answers:
        doc.add_heading(answer.question, level=1)
        for line in answer.text.splitlines():
            stripped = line.strip()
            if not stripped:
                continue
            if m := re.match(r"^(#{1,4})\s+(.*)$", stripped):
                doc.add_heading(m.group(2), level=min(len(m.group(1)) + 1, 4))
            elif stripped.startswith("- "):
                _add_runs(doc.add_paragraph(style="List Bullet"), stripped[2:])
            elif re.match(r"^\d+\.\s", stripped):
                _add_runs(doc.add_paragraph(style="List Number"), re.sub(r"^\d+\.\s+", "", stripped))
            else:
                _add_runs(doc.add_paragraph(), stripped)
        if answer.citations:
            doc.add_heading("Bronnen" if answer.lang == "nl" else "Sources", level=2)
            for c in answer.citations:
                p = doc.add_paragraph()
                p.add_run(f"[{c.marker}] ").bold = True
                p.add_run(f"{c.location} ({c.where(answer.lang)})")
                for q in c.quotes:
                    quote = doc.add_paragraph(q.text)
                    quote.paragraph_format.left_indent = Pt(18)
                    for run in quote.runs:
                        run.italic = True
    doc.add_paragraph().add_run(ATTRIBUTION).italic = True
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def audit_record(answer: Answer, conversation=None) -> dict:
    """Everything needed to audit one answer: question, conversation, retrieved passages with scores,
    answer, per-sentence support, configuration (never an API key), model, corpus version, timings."""
    return {
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "conversation": conversation.to_dict() if conversation is not None else None,
        **answer.to_dict(),
    }
