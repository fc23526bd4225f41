"""Lesmateriaal: training material on one finding or theme, every item traceable to a passage.

For a finding (named by number, title or simply by what the question is about) it gathers from the
index's structure — not from free text — the tension, the *aansluiten* and *vernieuwen* strategies
(the chapter's method sections, the reflection's paragraphs and the row of table 2), what is needed,
what it asks of the ambtelijke top, the practice examples (text boxes), the report's own questions, and
discussion questions for a group built on those passages. Every quoted sentence carries its ``[n]``.

### Usage example

```python
builder = LessonBuilder(retriever.snapshot)
text, citations = builder.build(chapter=4, lang="nl")
```
"""

from __future__ import annotations

import re

from ingest.index import IndexSnapshot
from ingest.models import Chunk
from rag.answer import LABEL_PREFIX, Citation, Quote

_FINDING_REF = re.compile(r"\b(?:bevinding|hoofdstuk|finding|chapter)\s*(\d)\b", re.I)

LABELS = {
    "nl": {"title": "Lesmateriaal", "finding": "Bevinding", "tension": "De spanning",
           "strategies": "Twee strategieën", "aansluiten": "Aansluiten bij het gangbare",
           "vernieuwen": "Vernieuwen van het gangbare", "needed": "Wat is nodig?",
           "top": "Wat vraagt dit van de ambtelijke top?", "examples": "Voorbeelden uit de praktijk",
           "questions": "Vragen die het rapport zelf stelt", "discussion": "Discussievragen voor de groep",
           "table": "Naast elkaar, uit tabel 2:"},
    "en": {"title": "Training material", "finding": "Finding", "tension": "The tension",
           "strategies": "Two strategies", "aansluiten": "Aansluiten (working within what exists)",
           "vernieuwen": "Vernieuwen (renewing what exists)", "needed": "What is needed",
           "top": "What it asks of senior management (de ambtelijke top)", "examples": "Examples from practice",
           "questions": "Questions the report itself asks", "discussion": "Discussion questions for the group",
           "table": "Side by side, from table 2:"},
}


class LessonBuilder:
    def __init__(self, snapshot: IndexSnapshot) -> None:
        self.snapshot = snapshot
        self._spans: dict[str, list[tuple[int, int]]] = {}
        index = {i: c for i, c in enumerate(snapshot.chunks)}
        for s in snapshot.sentences:
            self._spans.setdefault(index[s.chunk_index].id, []).append((s.start, s.end))

    def finding_of(self, question: str, retrieved: list[Chunk]) -> int | None:
        """The finding a request is about: named outright, by its title, or by what was retrieved."""
        m = _FINDING_REF.search(question)
        if m:
            return int(m.group(1))
        low = question.lower()
        for doc in self.snapshot.documents.values():
            for n, title in doc["structure"].get("findings", {}).items():
                if title.lower() in low:
                    return int(n)
        chapters = [c.chapter for c in retrieved[:5] if c.chapter]
        return max(set(chapters), key=chapters.count) if chapters else None

    def _sentences(self, chunk: Chunk, limit: int, questions: bool = False) -> list[tuple[int, int]]:
        out = []
        for s, e in self._spans.get(chunk.id, []):
            text = chunk.text[s:e]
            if text.startswith("- "):
                s, text = s + 2, text[2:]
            at_line_start = s == 0 or chunk.text[s - 1] == "\n" or chunk.text[max(0, s - 2):s] == "- "
            if at_line_start and (m := LABEL_PREFIX.match(text)):
                s, text = s + m.end(), text[m.end():]
            is_q = text.rstrip().endswith("?")
            if questions != is_q or len(text) < 30 or text[:1].islower():
                continue
            out.append((s, e))
            if len(out) >= limit:
                break
        return out

    def build(self, chapter: int, lang: str = "nl") -> tuple[str, list[Citation]]:
        L = LABELS[lang]
        chunks = [c for c in self.snapshot.chunks if c.chapter == chapter and c.kind not in {"reference", "front_matter"}]
        if not chunks:
            raise ValueError(f"Finding {chapter} is not in the index; the findings are numbered 1–6.")
        title = chunks[0].chapter_title or ""
        citations: dict[str, Citation] = {}
        lines: list[str] = [f"# {L['title']} — {L['finding']} {chapter}: {title}"]

        def cite(chunk: Chunk, spans: list[tuple[int, int]]) -> list[str]:
            if not spans:
                return []
            cit = citations.get(chunk.id)
            if cit is None:
                cit = citations[chunk.id] = Citation.of_chunk(len(citations) + 1, chunk)
            out = []
            for s, e in spans:
                cit.quotes.append(quote := Quote.of(chunk, s, e))
                out.append(f"- {quote.text} [{cit.marker}]")
            return out

        def section(label: str, picked: list[tuple[Chunk, int]], questions: bool = False) -> None:
            body: list[str] = []
            for chunk, limit in picked:
                body.extend(cite(chunk, self._sentences(chunk, limit, questions)))
            if body:
                lines.append(f"\n## {label}")
                lines.extend(body)

        by = lambda pred: [c for c in chunks if pred(c)]  # noqa: E731
        tension = by(lambda c: c.part == "samenvatting" and c.section_path and c.section_path[0].lower().startswith("spanning"))
        intro = by(lambda c: c.part == f"h{chapter}" and not c.section_path and c.kind == "finding")
        section(L["tension"], [(c, 2) for c in tension[:1]] + [(c, 1) for c in intro[1:2]])

        lines.append(f"\n## {L['strategies']}")
        for strategy in ("aansluiten", "vernieuwen"):
            picked = by(lambda c, s=strategy: c.strategy == s)
            reflectie = [c for c in picked if c.part == "reflectie"][:1]
            chapter_text = [c for c in picked if c.part != "reflectie"][:1]
            body: list[str] = []
            for c in chapter_text:
                body.append(f"_{c.section}_" if c.section else "")
            for c, limit in [(c, 2) for c in reflectie] + [(c, 1) for c in chapter_text]:
                body.extend(cite(c, self._sentences(c, limit)))
            if body:
                lines.append(f"\n### {L[strategy]}")
                lines.extend(b for b in body if b)
        table_rows = [c for c in self.snapshot.chunks if c.table == 2 and f"({chapter})" in c.text]
        for c in table_rows[:1]:
            line = next((ln for ln in c.text.split("\n") if f"({chapter})" in ln), "")
            if not line:
                continue
            # The finding's row of table 2, the strategies side by side: one cited line per column
            # ("Aansluiten: …", "Vernieuwen: …", "Rol ambtelijke top: …"), each verbatim; not the
            # finding's own column, which the title names.
            s = c.text.index(line)
            cells, pos = [], s
            for cell in line.split(" | "):
                at = c.text.index(cell, pos)
                pos = at + len(cell)
                if f"({chapter})" not in cell:
                    cells.append((at, at + len(cell)))
            lines.append(f"\n_{L['table']}_")
            lines.extend(cite(c, cells))
        if lines[-1] == f"\n## {L['strategies']}":
            lines.pop()

        section(L["needed"], [(c, 2) for c in by(lambda c: c.kind == "what_is_needed")[:2]])
        section(L["top"], [(c, 2) for c in by(lambda c: c.kind == "role_of_top")[:3]])
        section(L["examples"], [(c, 2) for c in by(lambda c: c.kind == "practice_example")[:3]])
        section(L["questions"], [(c, 2) for c in by(lambda c: c.part == f"h{chapter}")], questions=True)

        # Discussion questions: ours, built on the passages above and pointing at them (framing, not claims).
        disc: list[str] = []
        tension_cit = next((citations[c.id] for c in tension[:1] if c.id in citations), None)
        if tension_cit and tension_cit.section:
            if lang == "nl":
                disc.append(f"_Herken je de {tension_cit.section[0].lower()}{tension_cit.section[1:]} in je eigen werk? Waar merk je dat concreet aan?_ [{tension_cit.marker}]")
            else:
                disc.append(f"_Do you recognise this tension ({tension_cit.section}) in your own work? Where does it show?_ [{tension_cit.marker}]")
        methods = {s: next((c for c in by(lambda c, s=s: c.strategy == s and c.part != "reflectie")), None) for s in ("aansluiten", "vernieuwen")}
        if all(methods.values()):
            a, v = methods["aansluiten"], methods["vernieuwen"]
            ma = citations[a.id].marker if a.id in citations else None
            mv = citations[v.id].marker if v.id in citations else None
            refs = " ".join(f"[{m}]" for m in (ma, mv) if m)
            if lang == "nl":
                disc.append(f"_Welke werkwijze past bij jouw opgave: ‘{a.section}’ of ‘{v.section}’? Wat is het risico van elk?_ {refs}")
            else:
                disc.append(f"_Which way of working fits your task: ‘{a.section}’ or ‘{v.section}’? What is the risk of each?_ {refs}")
        top = next((citations[c.id] for c in by(lambda c: c.kind == "role_of_top") if c.id in citations), None)
        if top:
            disc.append("_Wat zou jij je eigen leidinggevende of DG vragen, na het lezen van wat het rapport van de ambtelijke top vraagt?_ "
                        f"[{top.marker}]" if lang == "nl" else
                        f"_What would you ask your own director or DG, having read what the report asks of senior management?_ [{top.marker}]")
        example = next((citations[c.id] for c in by(lambda c: c.kind == "practice_example") if c.id in citations), None)
        if example and example.textbox_title:
            disc.append(f"_Wat is er uit ‘{example.textbox_title}’ over te zetten naar jouw praktijk, en wat niet?_ [{example.marker}]"
                        if lang == "nl" else
                        f"_What from ‘{example.textbox_title}’ would carry over to your own practice, and what would not?_ [{example.marker}]")
        if disc:
            lines.append(f"\n## {L['discussion']}")
            lines.extend(f"{i}. {d}" for i, d in enumerate(disc, start=1))
        ordered = sorted(citations.values(), key=lambda c: c.marker)
        for cit in ordered:
            cit.quotes.sort(key=lambda q: q.start)
        return "\n".join(lines).strip(), ordered
