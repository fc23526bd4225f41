"""Does the corpus cover the question? The honest "not in the report" decision.

Four checks, all must pass:

1. **Similarity**: the best cosine between the question and any single sentence of the corpus
   (primary embedder) must reach a threshold. English questions score lower against Dutch text, so
   they get a fixed offset; a question naming the report's own terms or a rare report word may score a
   little lower. The threshold is calibrated automatically on the development set for each corpus
   version, embedder, calibration set and question-analysis data (``calibrate``), because it is sharp
   and moves with all of them.
2. **What is asked is there**: a question that asks for a specific kind of fact — an amount, a number,
   a date or year (also of the next one), a duration, a percentage, a law article, a named person's
   view, who holds an office or led something, how to reach them, a ranking, what happened
   afterwards, a comparison abroad, how research material was coded, what a law requires, a
   document's literal text, another edition of the report, exactly what another party recommended,
   what another report by its title says, what the report says about a name it never uses — is
   covered only if the top passages that score near the first contain that kind of fact (next to
   what is asked about, where the question names it; rag/data/facts.toml); nothing about the time after the report appeared is. This catches
   near-misses ("how much is in the Klimaatfonds?", "who is the government representative?") whose
   topic the report does discuss.
3. **Not a subject the report leaves out, by its words**: what the question asks names none of the
   subjects of rag/data/scope.toml (HR, legal and IT matters, other policy fields) that the corpus does
   not mention, unless it scores well above the threshold.
4. **Not another subject, by meaning**: a first question that is clearly closer to a description of a
   subject the report does not treat (HR, IT, procedures, care, education, current politics …;
   rag/data/offtopics.toml) than to any sentence of the corpus is about that subject. How much closer
   is calibrated with the threshold. Unlike the word list, this needs none of the question's words.

### Usage example

```python
judge = CoverageJudge.load_or_calibrate(retriever, dev_set_path)
verdict = judge.judge(result, history_best=None)
verdict.covered, verdict.reason
```
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from ingest.embed import embedder_slug, get_embedder
from rag.facts import fact_asks
from rag.retrieve import HybridRetriever, RetrievalResult

_DATA = Path(__file__).resolve().parent / "data"
EN_OFFSET = 0.035  # English questions score about this much lower against the Dutch text
DEFAULT_THRESHOLD = 0.86  # used only when no development set is available to calibrate on
MAX_FALSE_REFUSAL = 0.05
NEAR_MISS_MARGIN = 0.015  # below the threshold by less than this, a question is still "near" a topic
OFF_TOPIC_SAFETY = 0.005  # added to the highest (off-topic − corpus) gap of an answerable calibration question
DEFAULT_OFF_TOPIC_MARGIN = 0.01  # used only without a development set
OUT_OF_SCOPE_MARGIN = 0.05  # an out-of-scope subject is refused unless the score clears the threshold by this
RARE_TERM_MARGIN = 0.02  # a question in the report's own vocabulary may score this much lower
# … and this much more when every word of what it asks stands in the corpus: a short question on one of
# the report's own words ("Hoe krijg ik meer rugdekking?", 0.837 against 0.838) says little else that a
# sentence could match. Eleven read sets: no verdict changes (of 141 unanswerable first questions, 17 use
# only the corpus's words; the one that scores this close is refused for the figure it asks).
KNOWN_WORDS_MARGIN = 0.01


#: The passages a fact must be found in: the top three, but only those whose fused score is at least
#: this share of the best of them. A passage far below is not about the question, and whatever figure
#: or year it holds is no answer (it let a "when is … expected" question through once retrieval put
#: the introduction third). 0.33 and 0.5 refuse the same on the nine read sets. With the heavier dense
#: weights of session 28 the top three lie closer together (a climate passage third at 0.59 of the best
#: answered what changed "since the previous edition"): 0.6 refuses 368 of the 389 unanswerable
#: questions of dev and the read sets where 0.5 refuses 366, with the same 5 of 927 answerable. The share
#: assumes the default z-score fusion; under RRF the top three are always that close, and all of them count.
FACT_PASSAGE_SHARE = 0.6


def evidence_text(passages: list) -> str:
    """The text in which an asked-for fact has to stand: the passages that answer the question."""
    top3 = passages[:3]
    best = max((p.scores.get("fused", 0.0) for p in top3), default=0.0)
    if best <= 0:  # no scale to compare with (a reranker's order, scores around zero): all three count
        return " ".join(p.chunk.text for p in top3)
    return " ".join(p.chunk.text for p in top3 if p.scores.get("fused", 0.0) >= FACT_PASSAGE_SHARE * best)


@lru_cache(maxsize=1)
def _scope_terms() -> tuple[str, ...]:
    return tuple(tomllib.loads((_DATA / "scope.toml").read_text(encoding="utf-8")).get("terms", []))


def out_of_scope_terms(question: str, corpus_text: str) -> list[str]:
    """Out-of-scope subjects (rag/data/scope.toml) the question names and the corpus does not; a term
    counts where a word starts with it ("declar" in "declaratie", not "side job" in "outside jobs") or
    ends with it, as the head of a Dutch compound ("verlof" in "zomerverlof")."""
    q, corpus = question.lower(), corpus_text.lower()
    return [t for t, pattern in _scope_patterns() if pattern.search(q) and t not in corpus]


@lru_cache(maxsize=1)
def _scope_patterns() -> tuple[tuple[str, re.Pattern], ...]:
    return tuple((t, re.compile(r"(?<!\w)" + re.escape(t) + r"|" + re.escape(t) + r"(?!\w)")) for t in _scope_terms())


@dataclass(frozen=True)
class OffTopic:
    """The subject outside the report that a question is nearest to, and how near."""

    label_nl: str
    label_en: str
    similarity: float  # cosine between the question and the subject's description (primary embedder)


class OffTopics:
    """Subjects the report does not treat (rag/data/offtopics.toml), embedded once per process."""

    def __init__(self, embedder_name: str) -> None:
        topics = tomllib.loads((_DATA / "offtopics.toml").read_text(encoding="utf-8")).get("topics", [])
        self._labels = [(t["label_nl"], t["label_en"]) for t in topics]
        self._vectors = _topic_vectors(embedder_name, tuple(t["text"] for t in topics)) if topics else None

    def nearest(self, query_vector) -> OffTopic | None:
        if self._vectors is None or query_vector is None:
            return None
        sims = self._vectors @ query_vector
        i = int(sims.argmax())
        return OffTopic(*self._labels[i], float(sims[i]))


@lru_cache(maxsize=4)
def _topic_vectors(embedder_name: str, texts: tuple[str, ...]):
    return get_embedder(embedder_name).encode_passages(list(texts))


@dataclass
class CoverageVerdict:
    covered: bool
    score: float  # best question–sentence cosine (with the English offset applied)
    threshold: float
    reason: str  # "" when covered; else "low_similarity", "missing_fact:<kind>", "out_of_scope:<term>", "off_topic",
    # "followup_of_refused" (a follow-up that leans on a refused question), "empty_filter" (no passage
    # meets the filters), or "help", "no_subject",
    # "goes_on", "no_such_finding", "no_such_textbox", "thanks" (about the tool, naming nothing, going on
    # from nothing, a finding or text box not in the report, thanks)
    missing: str = ""  # the kind of fact asked for and not found, in the question's language
    subject: str = ""  # for "off_topic": the subject outside the report, in the question's language
    # How much closer the question is to the nearest subject outside the report than to the corpus
    # (first questions; refused as off-topic above the judge's off_topic_margin).
    off_topic_gap: float | None = None
    # For an audit: the threshold the score was held to (lower than ``threshold`` when the question
    # names the report's own words, ``rare_terms``: words few passages use, glossary terms, key terms,
    # a numbered finding), and whether the score is the conversation's.
    applied_threshold: float | None = None
    rare_terms: list[str] = field(default_factory=list)
    from_conversation: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CoverageJudge:
    threshold: float = DEFAULT_THRESHOLD
    calibrated_on: str = ""
    stats: dict | None = None
    off_topic_margin: float = DEFAULT_OFF_TOPIC_MARGIN

    def judge(self, result: RetrievalResult, history_best: float | None = None,
              rare_terms: list[str] | None = None, off_scope: list[str] | None = None,
              off_topic: OffTopic | None = None, followup: bool = False,
              known_words: bool = False, report_text: str = "") -> CoverageVerdict:
        """``report_text``: the whole corpus, where a fact tied to a name may stand (``FactAsk.stated_in``).
        ``followup``: the question continues a conversation; its own few words then say nothing
        about its subject, so the off-topic check is skipped (even where the conversation's first
        question was refused and there is no ``history_best``). ``known_words``: every word naming
        what the question asks stands in the corpus (it counts only with ``rare_terms``)."""
        q = result.query
        score = result.best_sentence + (EN_OFFSET if q.lang == "en" else 0.0)
        if history_best is not None:  # a follow-up inherits its conversation's topic
            score = max(score, history_best)
        # Both cosines come from the same question vector, so the language offset cancels out.
        gap = None if (followup or off_topic is None) else round(off_topic.similarity - result.best_sentence, 4)
        # A question that names "verlof" or "VPN" is about that, whatever came before: its own score
        # counts here, not the conversation's.
        own = result.best_sentence + (EN_OFFSET if q.lang == "en" else 0.0)
        # A short definitional question ("what is transitiepijn?") scores low on similarity but names a
        # word that only a few passages of the corpus use, a key term of the report or a finding.
        threshold = self.threshold - ((RARE_TERM_MARGIN + (KNOWN_WORDS_MARGIN if known_words else 0.0))
                                      if rare_terms else 0.0)
        audit = {"off_topic_gap": gap, "applied_threshold": round(threshold, 5), "rare_terms": list(rare_terms or []),
                 "from_conversation": history_best is not None and history_best > own}
        if off_scope and own < self.threshold + OUT_OF_SCOPE_MARGIN:
            # The subject is named by the nearest description of a subject the report does not treat
            # (rag/data/offtopics.toml); the word that set it off is kept in the reason.
            subject = "" if off_topic is None else (off_topic.label_nl if q.lang == "nl" else off_topic.label_en)
            return CoverageVerdict(False, round(score, 4), self.threshold, f"out_of_scope:{off_scope[0]}",
                                   subject=subject, **audit)
        if gap is not None and gap > self.off_topic_margin:
            return CoverageVerdict(False, round(score, 4), self.threshold, "off_topic",
                                   subject=off_topic.label_nl if q.lang == "nl" else off_topic.label_en, **audit)
        # A near-miss (the topic is close, the asked fact absent) deserves its own answer, so the
        # fact check comes first for questions near or above the threshold.
        if score >= threshold - NEAR_MISS_MARGIN:
            top_text = evidence_text(result.passages)
            # In a long story only its questions ask for something; the rest tells the situation.
            for fact in fact_asks():
                lacking = [a for a in q.asked
                           if fact.missing_in(a, top_text, q.lang) and not fact.stated_in(a, report_text, q.lang)]
                if lacking:
                    label = fact.label(lacking[0], q.lang, report_text or top_text)
                    return CoverageVerdict(False, round(score, 4), self.threshold, f"missing_fact:{fact.name}", label,
                                           **audit)
        if score < threshold:
            return CoverageVerdict(False, round(score, 4), self.threshold, "low_similarity", **audit)
        return CoverageVerdict(True, round(score, 4), self.threshold, "", **audit)

    # -- calibration ----------------------------------------------------------------------------
    @staticmethod
    def cache_path(retriever: HybridRetriever, dataset: Path | None) -> Path:
        """Where the calibration for this corpus version, embedder (and how it embeds questions),
        calibration set and question-analysis data is kept: a change to any of them is a new calibration."""
        s = retriever.settings
        digest = hashlib.sha1()
        try:
            digest.update(Path(dataset).read_bytes() if dataset else b"none")
        except OSError:
            digest.update(b"none")
        # The scored text depends on what question analysis leaves out of it.
        digest.update((_DATA / "question_noise.toml").read_bytes())
        digest.update((_DATA / "offtopics.toml").read_bytes())
        digest.update(get_embedder(s.embedder).query_engine.encode())
        questions = digest.hexdigest()[:8]
        return s.index_dir / f"calibration-{retriever.snapshot.corpus_version[:12]}-{embedder_slug(s.embedder)}-{questions}.json"

    @classmethod
    def calibrate(cls, retriever: HybridRetriever, dataset: Path) -> "CoverageJudge":
        """Pick the highest similarity threshold that wrongly refuses at most 5 % of the answerable
        questions of ``dataset`` (first turns; follow-ups inherit their conversation's score), and the
        smallest off-topic margin (at least 0.005) that refuses none of them."""
        from evals.dataset import load_dataset

        items = [i for i in load_dataset(dataset) if not i.turn_of]
        topics = OffTopics(retriever.settings.embedder)
        scored, gaps = [], []
        for item in items:
            r = retriever.run(item.question, top_k=3)
            scored.append((r.best_sentence + (EN_OFFSET if r.query.lang == "en" else 0.0), item.answerable))
            nearest = topics.nearest(r.query_vector)
            if nearest is not None:
                gaps.append((nearest.similarity - r.best_sentence, item.answerable))
        # The off-topic check may refuse no answerable question of the set, with room to spare, and
        # only questions clearly closer to another subject than to the corpus (never a negative margin).
        answerable_gaps = [g for g, a in gaps if a]
        margin = (round(max(max(answerable_gaps) + OFF_TOPIC_SAFETY, OFF_TOPIC_SAFETY), 5) if answerable_gaps
                  else DEFAULT_OFF_TOPIC_MARGIN)
        answerable = sorted(s for s, a in scored if a)
        if not answerable:
            return cls()
        allowed = int(MAX_FALSE_REFUSAL * len(answerable))
        threshold = answerable[allowed] - 1e-6 if allowed < len(answerable) else answerable[-1]
        refused = sum(1 for s, a in scored if not a and s < threshold)
        unanswerable = sum(1 for _, a in scored if not a)
        stats = {"answerable": len(answerable), "unanswerable": unanswerable,
                 "false_refusals": sum(1 for s in answerable if s < threshold), "refused_unanswerable": refused,
                 "off_topic_max_answerable_gap": round(max(answerable_gaps), 5) if answerable_gaps else None,
                 "off_topic_unanswerable": sum(1 for g, a in gaps if not a and g > margin)}
        return cls(threshold=round(threshold, 5), calibrated_on=str(dataset), stats=stats, off_topic_margin=margin)

    @classmethod
    def load_or_calibrate(cls, retriever: HybridRetriever, dataset: Path | None,
                          on_calibrate: Callable[[Path], None] | None = None) -> "CoverageJudge":
        """The cached calibration, or a new one (``on_calibrate`` is told first: it takes seconds)."""
        path = cls.cache_path(retriever, dataset)
        if path.exists():
            try:
                return cls(**json.loads(path.read_text()))
            except (ValueError, TypeError):
                pass
        if dataset is None or not Path(dataset).exists():
            return cls()
        if on_calibrate is not None:
            on_calibrate(Path(dataset))
        judge = cls.calibrate(retriever, Path(dataset))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(asdict(judge), indent=2))
        except OSError:
            pass
        return judge
