"""Train the query adapter (``rag.adapter``) from question sets whose gold passages are known.

The training pairs are the answerable questions of the sets in ``evals/datasets`` — except the ones
kept for measuring (:data:`MEASURING_SETS`): the development set and the sets no one has trained on,
so that their figures stay out of sample. A question's gold passages are the retrievable passages
its gold quotes stand in, by the schema's hit rule (:func:`evals.dataset.passage_hits`); a question
whose quotes stand in no retrievable passage is left out (it has nothing to learn from).

Beside them, the sets in ``evals/training`` (:data:`WRITTEN_DIR`) were *written for training*: three
questions for each passage of the report, in the asker's own words, by sessions that saw the passage
and nothing of any question set (see the README there). The matrix learns from them at a lower weight
(:data:`WRITTEN_WEIGHT`): they were not asked by anyone. The question memory does not keep them: a memory
is of questions people asked, and measured, keeping them did not help.

``wijzer train-adapter`` calls :func:`train_adapter`; it writes one adapter per embedder in use, the
ones that ship with the code (``rag/data/query_adapter_<embedder>.npz``) unless told otherwise. Each
keeps, as its question memory (``rag.adapter.QuestionMemory``), the vectors of the first questions it
learned from and the ids of their passages; follow-ups are trained on but not kept.
Embedding the questions takes most of the time (~2 minutes for 800 questions on two cores); the
training ~20 seconds an embedder.

### Usage example

```python
from evals.adapter import train_adapter
from wijzer.settings import Settings
for adapter, path in train_adapter(Settings()):    # the read sets in evals/datasets
    print(adapter.embedder, path)
```
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from evals.dataset import file_sha256, load_dataset, passage_hits

if TYPE_CHECKING:
    from rag.adapter import QueryAdapter

DATASETS_DIR = Path(__file__).parent / "datasets"
WRITTEN_DIR = Path(__file__).parent / "training"
# Never trained on: the development set (the targets are measured on it) and holdout10, holdout31
# and holdout32, which nobody has read question by question — the out-of-sample check of the adapter.
MEASURING_SETS = ("dev", "holdout10", "holdout31", "holdout32")
# A written question's weight in the matrix's loss, against 1 for a question someone asked. Session 32,
# out of fold on the 29 read sets (796 questions; each fold's matrix from the other folds' questions and
# all 735 written ones) and then on the four measuring sets (215): written weight 0 / 0.4 / 1 put
# 763 / 767 / 767 in the top 5 out of fold (MRR@10 0.867 / 0.863 / 0.863) and 200 / 203 / 205 of the
# measuring sets' (development set MRR 0.784 / 0.784 / 0.777, holdout10 0.923 / 0.933 / 0.880).
WRITTEN_WEIGHT = 0.4


def training_sets(directory: Path = DATASETS_DIR) -> list[Path]:
    """The question sets in ``directory`` that may be trained on, in name order."""
    return sorted(p for p in directory.glob("*.jsonl") if p.stem not in MEASURING_SETS)


def written_sets(directory: Path = WRITTEN_DIR) -> list[Path]:
    """The question sets written for training (``evals/training``), in name order."""
    return sorted(directory.glob("*.jsonl"))


def training_pairs(datasets: list[Path], retriever, progress=None) -> tuple[dict[str, np.ndarray], np.ndarray, list[str]]:
    """Per embedder in use, the question vectors (of the text the retriever matches); the gold mask over
    the retrievable passages; and the items' ids."""
    from ingest.embed import get_embedder
    from rag.query import analyse

    names = retriever.settings.embedders
    chunks = [c for c, ok in zip(retriever.chunks, retriever.retrievable) if ok]
    items = [it for path in datasets for it in load_dataset(path) if it.answerable]
    vectors: dict[str, list] = {name: [] for name in names}
    gold, ids = [], []
    for n, item in enumerate(items, start=1):
        mask = np.array([passage_hits(c.text, item.gold_quotes) is not None for c in chunks])
        if mask.any():
            text = analyse(item.question).match_text
            for name in names:
                vectors[name].append(get_embedder(name).encode_query(text))
            gold.append(mask)
            ids.append(item.id)
        if progress:
            progress("questions", n, len(items))
    return ({name: np.asarray(v, dtype=np.float32) for name, v in vectors.items()},
            np.asarray(gold, dtype=bool).reshape(len(gold), len(chunks)), ids)


def train_adapter(settings, datasets: list[Path] | None = None, out_dir: Path | None = None, *, l2: float = 0.01,
                  epochs: int = 200, written: list[Path] | None = None, written_weight: float = WRITTEN_WEIGHT,
                  progress=None) -> list[tuple[QueryAdapter, Path]]:
    """Train one adapter per embedder in use on ``datasets`` (questions people asked; default:
    :func:`training_sets`) and ``written`` (questions written for training, weighed ``written_weight`` and
    not remembered; default: :func:`written_sets` when ``datasets`` is the default too, else none) against
    the current index, and save each as ``query_adapter_<embedder>.npz`` in ``out_dir`` (default:
    ``rag/data``, the ones that ship). Returns the adapters and their paths."""
    from rag.adapter import DATA_DIR, QueryAdapter, adapter_filename, train
    from rag.retrieve import HybridRetriever

    if written is None:
        written = written_sets() if datasets is None else []
    datasets = list(datasets) if datasets is not None else training_sets()
    written = [p for p in written if p not in datasets]
    if not datasets:
        raise ValueError("No question sets to train on")
    if not written_weight >= 0:
        raise ValueError("The weight of written questions must be at least 0")
    retriever = HybridRetriever.from_settings(settings.model_copy(update={"query_adapter": "off"}))
    X, G, ids = training_pairs(datasets + written, retriever, progress)
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
    remembered = np.ones(len(ids), dtype=bool)
    asked = np.ones(len(ids), dtype=bool)
    at = 0  # ``ids`` are the answerable items in order, less those without a gold passage
    for path in datasets + written:
        for item in (it for it in load_dataset(path) if it.answerable):
            if at < len(ids) and item.id == ids[at]:
                asked[at] = path not in written
                remembered[at], at = asked[at] and not item.turn_of, at + 1
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
    return out
