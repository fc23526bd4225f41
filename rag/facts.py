"""Kinds of fact a question can ask for, and whether a text holds one (rag/data/facts.toml).

A question that asks for an amount, a number of something, a date or year, a duration, a percentage, a
law article, a named person's view, who holds an office or led something, how to reach them, when the
next one comes, a ranking, what happened afterwards, a comparison abroad, how research material was
coded, what a law requires, a document's literal text, another edition of the report (a translation,
a download), exactly what another party recommended, what another report by its title says, what
the report says about a name it never uses, a ready-made template or step-by-step plan, or what a cited
instrument contains (the AWTI's matrix) is answered only by a text that holds that kind of fact —
next to what is asked about, where the question names it, and for a name or a number, of the
organisation it names ("de directeur van de directie Klimaat"). The coverage judge uses this to refuse near-misses ("how much is in the Klimaatfonds?"); the
composer, to put the sentence that holds the asked fact first.

### Usage example

```python
from rag.facts import fact_asks
[f.name for f in fact_asks() if f.missing_in("Hoeveel ambtenaren zijn er geïnterviewd?", passage_text)]
```
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_DATA = Path(__file__).resolve().parent / "data"

@dataclass(frozen=True)
class FactAsk:
    name: str
    label_nl: str
    label_en: str
    asks: tuple[re.Pattern, ...]
    evidence: tuple[str, ...]  # patterns; "{subject}" stands for what the question asks about
    evidence_en: tuple[str, ...] = ()  # for English questions, whose subject is not in the Dutch text
    generic_subjects: frozenset[str] = frozenset()  # subjects that use evidence_en as well
    evidence_without_subject: tuple[str, ...] = ()  # when the question names no subject
    case_sensitive: bool = False  # how "{subject}" is looked for
    # The fact must stand near the organisation the question names ("de directeur van de directie
    # Klimaat": not the foreword's "Marko Hekkert, Directeur Planbureau voor de Leefomgeving").
    near_named_place: bool = False
    # Subjects that are people by another name ("mensen" are "rijksambtenaren", "burgers" in the text):
    # any number before a word for people counts, in either language.
    people_subjects: frozenset[str] = frozenset()
    evidence_people: tuple[str, ...] = ()
    # The fact is tied to what the question names ("het Beleidskompas … in 2023"), so where the report
    # states it next to that name counts, in whichever passage: retrieval may have found only the other
    # half of a question that asks two things.
    whole_report: bool = False

    def missing_in(self, question: str, text: str, lang: str = "nl", heads: bool = True) -> bool:
        """Does ``question`` ask for this kind of fact while ``text`` holds none? Every place where
        the question asks for one counts: "how much does it cost and how many sessions" needs both.
        ``heads``: a compound's head may stand for it (see ``_subject_forms``)."""
        place = named_place(question) if self.near_named_place else ""
        if place and text and place.lower() not in text.lower():
            place = ""  # the text names it otherwise (or not at all): the subject alone decides
        for ask in self.asks:
            for m in ask.finditer(question):
                subject = (m.groupdict().get("subject") or "").strip()
                if subject.lower() in _NOT_SUBJECTS:
                    continue  # "hoeveel die kost", "hoeveel daarvan": not what is counted
                words = m.group(0).lower().split()
                if subject and words[0] == "hoeveel" and len(words) > 2 and words[1] in _NOT_SUBJECTS:
                    continue  # "hoeveel ruimte geeft": the word taken for an adjective is the mass noun
                # "hoeveel gesprekken en deelnemers": a number for either answers it.
                also = _COORDINATED.match(question, m.end()) if subject else None
                if not (self._found(subject, text, lang, place, heads)
                        or (also and self._found(also.group(1), text, lang, place, heads))):
                    return True
        return False

    def label(self, question: str, lang: str = "nl", text: str = "") -> str:
        """What the answer says is missing, in ``lang``; "{subject}" in a label stands for what
        ``question`` names and ``text`` lacks ("Het rapport noemt geen Regio Deals", not the City Deals
        asked about beside them)."""
        label = self.label_nl if lang == "nl" else self.label_en
        if "{subject}" in label:
            subjects = [m.group("subject").strip() for ask in self.asks for m in ask.finditer(question)
                        if m.groupdict().get("subject")]
            subject = next((x for x in subjects if not self._found(x, text, lang, heads=False)), "")
            label = label.replace("{subject}", subject or ("wat de vraag noemt" if lang == "nl" else "what the question names"))
        return label

    def stated_in(self, question: str, report_text: str, lang: str = "nl") -> bool:
        """Does the report state what ``question`` asks of this kind next to the name it asks about? Only
        for kinds tied to a subject (``whole_report``), only where that subject is a name, and only in
        Dutch: an English question's names are not in the Dutch text, and any year would count for it."""
        if not (self.whole_report and lang != "en" and report_text):
            return False
        # Only a name: "het programma" is any programme, and somewhere the report dates one.
        subjects = [(m.groupdict().get("subject") or "").strip() for ask in self.asks for m in ask.finditer(question)]
        if not subjects or not all(s[:1].isupper() for s in subjects):
            return False
        # Across the whole report a compound's head is too loose ("Klimaatfonds" → "Transitiefonds … 2024").
        return not self.missing_in(question, report_text, lang, heads=False)

    def _found(self, subject: str, text: str, lang: str, place: str = "", heads: bool = True) -> bool:
        if lang == "en" and subject[:1].isupper():
            # An English question's name is not a Dutch compound: "Dealmakers" is not counted by any number
            # that stands near "makers".
            heads = False
        return any(self._found_as(s, text, lang, place) for s in _subject_forms(subject, text, heads))

    def _found_as(self, subject: str, text: str, lang: str, place: str = "") -> bool:
        english = lang == "en" and bool(self.evidence_en)
        if english and subject != subject.lower() and subject in text:
            # A name the Dutch text uses as it is ("How many City Deals …"): what is asked must stand by
            # it there, as for a Dutch question, not just anywhere in the passages.
            english = False
        elif english and " " in subject and subject.istitle():
            # A name of several words that the text does not use ("… and Town Deals"): no number there
            # counts it ("20 procent" beside a City Deal counted the Town Deals).
            return False
        evidence = self.evidence_en if english else self.evidence
        if subject.lower() in self.generic_subjects and self.evidence_en:
            evidence = self.evidence_en
        if subject.lower() in self.people_subjects and self.evidence_people:
            evidence = self.evidence_people
        if not subject and self.evidence_without_subject and evidence is self.evidence:
            evidence = self.evidence_without_subject
        for pattern in evidence:
            if "{subject}" in pattern:
                if not subject:
                    continue
                pattern = pattern.replace("{subject}", re.escape(subject))
                flags = 0 if self.case_sensitive else re.I
            else:
                flags = 0
            for m in _compiled(pattern, flags).finditer(text):
                if not place or _near(text, m.start(), m.end(), place):
                    return True
        return False


# The second of two nouns asked about together ("gesprekken en deelnemers", "meetings or participants"), or
# of two names ("City Deals and Town Deals").
_COORDINATED = re.compile(r"\s+(?:en|of|and|or)\s+(?!(?:de|het|een|die|dat|ze|zij|we|wij|the|a|an|they|it|is|zijn|was|waren|are|were|hoe|wat|how|what|wie|who|waar|where|wanneer|when|welke|which|waarom|why)\b)((?-i:[A-Z]\w+ [A-Z]\w+)|\w{4,})\b", re.I)


# An organisation a question names: a kind of body with its name ("directie Klimaat", "ministerie van
# Financiën"), or a capitalised name after "van/bij/binnen (de/het)" ("bij IenW", "van Agenda Stad").
_BODY = (r"(?:directie|directoraat|ministerie|programma|provincie|gemeente|directorate|ministry|programme|province|"
         r"municipality)(?: van)? (?-i:[A-Z][\w-]+)")
_PLACE = re.compile(r"\b(?P<place>" + _BODY + r")|\b(?:van|bij|binnen|within|at|of) (?:de |het |the )?"
                    r"(?P<name>(?-i:[A-Z][\w-]+(?: [A-Z][\w-]+)*))", re.I)
PLACE_WINDOW = 200  # characters either side of the fact


def named_place(question: str) -> str:
    """The organisation ``question`` names (see ``_PLACE``), or ""."""
    m = _PLACE.search(question)
    return (m.group("place") or m.group("name")) if m else ""


_OTHER_PLACE = re.compile(r",?\s+(?:van |voor |of )?(?:de |het |the )?(?-i:[A-Z])")


def _near(text: str, start: int, end: int, place: str) -> bool:
    """The fact at ``text[start:end]`` is of ``place``: it names it right after ("directeur van de
    directie Klimaat"), or stands within ``PLACE_WINDOW`` of it without naming another organisation
    right after ("Marko Hekkert, Directeur Planbureau voor de Leefomgeving" is not the directie's)."""
    after = text[end:end + len(place) + 20].lower()
    if re.match(r"\s*,?\s*(?:van |voor |of |bij )?(?:de |het |the )?" + re.escape(place.lower()), after):
        return True
    if _OTHER_PLACE.match(text, end):
        return False
    return place.lower() in text[max(0, start - PLACE_WINDOW): end + PLACE_WINDOW].lower()


def _subject_forms(subject: str, text: str, heads: bool = True) -> list[str]:
    """What is asked about, and the names the text may give it: the head of a Dutch compound whose
    first part the text also uses ("klimaatthema's" → "thema's" next to "klimaat", "beleidspraktijken"
    → "praktijken" next to "beleid"), the abbreviation the text gives a name, the report's own
    word for it (rag/data/facts.toml, [synonyms]: "gesprekken" → "interviews"), and their singulars."""
    if not subject:
        return [subject]
    forms = [subject]
    low = subject.lower()
    words = _words(text) if heads else frozenset()
    for i in range(4, len(low) - 4):
        if low[:i] in words and low[i].isalpha():  # inside a word: not "Regio Deals" → " Deals"
            forms.append(subject[i:])
            if low[i] == "s" and len(low) - i > 5:  # a linking s: "beleidspraktijken" → "praktijken"
                forms.append(subject[i + 1:])
    forms.extend(_synonyms().get(low, ()))
    # The abbreviation the text gives a name ("Nationaal Programma Circulaire Economie (NPCE)"), by
    # which its later sentences go on ("Het NPCE is in 2025 herijkt").
    forms.extend(m.group(1) for m in _abbreviation(subject).finditer(text))
    # The singular also finds the plural ("gesprekken" → "gesprek", which "in gesprek" has too).
    for form in list(forms):
        stem = re.sub(r"('s|s|en)$", "", form)
        stem = re.sub(r"([bdfgklmnprst])\1$", r"\1", stem) if form.endswith("en") else stem
        if len(stem) >= 4 and stem != form:
            forms.append(stem)
    return forms


@lru_cache(maxsize=256)
def _abbreviation(subject: str) -> re.Pattern:
    return re.compile(re.escape(subject) + r"\s*\((?-i:([A-Z][A-Za-z]*[A-Z]))\)", re.I)


@lru_cache(maxsize=64)
def _words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"\w+", text.lower()))


@lru_cache(maxsize=4096)
def _compiled(pattern: str, flags: int) -> re.Pattern:
    # Kept here, compiled once: through re's own small cache, these patterns and pysbd's (which
    # compiles its own per call) kept evicting each other, and answering cost ~10 % more CPU.
    return re.compile(pattern, flags)


@lru_cache(maxsize=1)
def _facts_data() -> dict:
    return tomllib.loads((_DATA / "facts.toml").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _synonyms() -> dict[str, tuple[str, ...]]:
    return {k.lower(): tuple(v) for k, v in _facts_data().get("synonyms", {}).items()}


# Words a subject capture can catch that name nothing to count: pronouns (what they point at was
# named earlier), function words ("hoeveel daarvan", "how many of") and time ("hoeveel kostbare tijd").
_NOT_SUBJECTS = frozenset({
    "die", "dat", "deze", "dit", "het", "er", "ze", "zij", "hij", "we", "wij", "jullie", "ik", "je", "u",
    "daarvan", "ervan", "hiervan", "van", "zijn", "is", "heeft", "hebben", "had", "hadden", "wordt", "worden",
    "meer", "minder", "tijd", "moeite",
    # amounts of something uncountable: "hoeveel ruimte geeft de top" asks how much, not how many
    "ruimte", "invloed", "steun", "vertrouwen", "draagvlak", "aandacht", "geduld", "energie",
    "it", "they", "you", "this", "that", "these", "those", "of", "are", "more", "fewer", "less", "time"})


@lru_cache(maxsize=1)
def fact_asks() -> tuple[FactAsk, ...]:
    data = _facts_data()
    holders = data.get("placeholders", {})

    def fill(patterns: list[str]) -> tuple[str, ...]:
        out = []
        for p in patterns:
            for name, value in holders.items():
                p = p.replace("{" + name + "}", value)
            out.append(p)
        return tuple(out)

    return tuple(
        FactAsk(f["name"], f["label_nl"], f["label_en"],
                tuple(re.compile(p, re.I) for p in fill(f["asks"])), fill(f["evidence"]), fill(f.get("evidence_en", [])),
                frozenset(f.get("generic_subjects", ())), fill(f.get("evidence_without_subject", [])),
                bool(f.get("case_sensitive", False)), bool(f.get("near_named_place", False)),
                frozenset(f.get("people_subjects", ())), fill(f.get("evidence_people", [])),
                bool(f.get("whole_report", False)))
        for f in data["facts"]
    )
