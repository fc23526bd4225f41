"""Index stage: Chroma (local directory or server) plus a lexical index (BM25 and character n-grams),
in generations.

Layout, for collection prefix ``p`` and generation ``g``:

- ``p-state`` — one record: which generation is active, the corpus version, embedders, documents.
- ``p-g<g>-chunks-<embedder>`` — every chunk with its vector (one collection per embedder).
- ``p-g<g>-sents-<embedder>`` — every sentence of every retrievable chunk, one collection per embedder.
- ``p-g<g>-docs`` — the cleaned text of every document, for showing a passage in its context.
- ``<index_dir>/lexical-<g>/`` — the lexical index (rebuilt from Chroma when missing or made by an
  older version, e.g. on a replica).

An ingest writes a new generation and switches ``p-state`` to it only at the end, so a crash halfway
leaves the previous generation active and whole. The generation before the active one is kept, so
readers that loaded it keep working until they reload.

Against a Chroma server, every call — also those on the collections this module hands out — raises
``IndexUnavailable`` (with ``.server`` set and a one-line message saying what to do) when the server
cannot be reached; only a missing collection counts as "not ingested yet", so a lost server is never
mistaken for an empty index. A reconnect needs nothing: the next call simply works again.

### Usage example

```python
from wijzer.settings import Settings
from ingest.index import IndexStore
store = IndexStore(Settings())
snap = store.snapshot()          # None when nothing was ingested yet
len(snap.chunks), snap.state["corpus_version"]
```
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import socket
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from wijzer.settings import Settings  # first: it switches telemetry and hub access off for what follows

import chromadb
import httpx
import numpy as np
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError

from ingest.embed import embedder_slug
from ingest.lexical import LexicalIndex
from ingest.models import Chunk

log = logging.getLogger(__name__)

_STATE_ID = "state"
_COSINE = {"hnsw": {"space": "cosine"}}


#: How long opening a connection to a Chroma server may take before it counts as unreachable.
CONNECT_TIMEOUT_S = 5.0


class IndexUnavailable(RuntimeError):
    """The index cannot be reached or has not been built; the message says what to do.

    Attributes:
        server: ``host:port`` of the Chroma server when it could not be reached at all (not when it
            answered with an error), else ``None``.
    """

    def __init__(self, message: str, server: str | None = None) -> None:
        super().__init__(message)
        self.server = server


def _is_connection_error(exc: BaseException) -> bool:
    """A failure to talk to the Chroma server at all (as opposed to an error it answered with)."""
    if isinstance(exc, (httpx.TransportError, ConnectionError, socket.timeout)):
        return True
    # chromadb turns a refused connection while opening the client into this ValueError.
    return isinstance(exc, ValueError) and "Could not connect to a Chroma server" in str(exc)


def _is_missing(exc: BaseException) -> bool:
    return isinstance(exc, NotFoundError) or (isinstance(exc, ValueError) and "does not exist" in str(exc))


class _Guarded:
    """A Chroma collection whose calls raise ``IndexUnavailable`` when the server cannot be reached."""

    def __init__(self, target, store: "IndexStore") -> None:
        self._target = target
        self._store = store

    def __getattr__(self, name: str):
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            with self._store.guard():
                return attr(*args, **kwargs)

        return call


@dataclass
class Sentence:
    chunk_index: int  # position of its chunk in IndexSnapshot.chunks
    start: int  # offsets relative to the chunk text
    end: int


@dataclass
class IndexSnapshot:
    """Everything a reader needs from one generation, loaded into memory once."""

    state: dict
    chunks: list[Chunk]
    chunk_vectors: dict[str, np.ndarray]  # embedder -> (n_chunks, d), rows in chunk order
    sentences: list[Sentence]
    sentence_vectors: np.ndarray  # (n_sentences, d) for the primary embedder
    lexical: LexicalIndex
    documents: dict[str, dict] = field(default_factory=dict)  # doc_id -> {"text", "info", "structure"}
    # The other embedders' sentence vectors, rows as in ``sentences``; absent for an index built
    # before they were stored (its retrieval simply lacks those lists until the next ingest).
    other_sentence_vectors: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def generation(self) -> int:
        return int(self.state["generation"])

    @property
    def corpus_version(self) -> str:
        return self.state["corpus_version"]


def embed_sha(chunk: Chunk) -> str:
    """Fingerprint of :func:`embed_text`: a stored vector is reused only for the same text."""
    return hashlib.sha1(embed_text(chunk).encode("utf-8")).hexdigest()[:16]


def embed_text(chunk: Chunk) -> str:
    """What is embedded and BM25-indexed for a chunk: its context in front of its text.

    The stored passage stays as it is; only the vectors and the lexical tokens see the context
    (document › chapter › section › text box or table), which places short passages far better.
    """
    return f"{chunk.doc_title} › {chunk.context_label()}\n{chunk.text}"


class IndexStore:
    """Reads and writes the index for one ``Settings``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.prefix = settings.collection_prefix
        self._client = None

    # -- connection ---------------------------------------------------------------------------
    @property
    def server(self) -> str | None:
        """``host:port`` of the Chroma server, or ``None`` for the local directory."""
        if not self.settings.server_mode:
            return None
        return f"{self.settings.chroma_host}:{self.settings.chroma_port or 8000}"

    def unreachable(self, exc: BaseException | None = None) -> IndexUnavailable:
        """The error for a Chroma server that does not answer, saying what to do about it (one line)."""
        host, port = self.settings.chroma_host, self.settings.chroma_port or 8000
        detail = f" ({' '.join(str(exc).split())})" if exc is not None and str(exc).strip() else ""
        return IndexUnavailable(
            f"Chroma server at {self.server} is not reachable{detail}. Start it with "
            f"`chroma run --path <data folder> --host {host} --port {port}`, or leave WIJZER_CHROMA_HOST "
            f"empty to use the local index in {self.settings.index_dir}.",
            server=self.server,
        )

    @contextmanager
    def guard(self):
        """Turn a lost connection to the Chroma server into ``IndexUnavailable`` (server mode only)."""
        try:
            yield
        except IndexUnavailable:
            raise
        except Exception as exc:
            if self.settings.server_mode and _is_connection_error(exc):
                raise self.unreachable(exc) from exc
            raise

    @property
    def client(self):
        if self._client is None:
            chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
            if self.settings.server_mode:
                host, port = self.settings.chroma_host, self.settings.chroma_port or 8000
                try:
                    # A host that drops packets would otherwise hang: chromadb sets no time-out at all.
                    socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
                    client = chromadb.HttpClient(host=host, port=port, settings=chroma_settings)
                    session = getattr(getattr(client, "_server", None), "_session", None)
                    if isinstance(session, httpx.Client):
                        session.timeout = httpx.Timeout(None, connect=CONNECT_TIMEOUT_S)
                    client.heartbeat()
                except Exception as exc:
                    if _is_connection_error(exc) or isinstance(exc, OSError):
                        raise self.unreachable(exc) from exc
                    raise IndexUnavailable(f"Cannot use the Chroma server at {self.server}: {exc}") from exc
                self._client = client
            else:
                try:
                    self.settings.index_dir.mkdir(parents=True, exist_ok=True)
                    self._client = chromadb.PersistentClient(
                        path=str(self.settings.index_dir / "chroma"), settings=chroma_settings
                    )
                except Exception as exc:
                    raise IndexUnavailable(f"Cannot open the index directory {self.settings.index_dir}: {exc}") from exc
        return self._client

    def _collection(self, name: str, create: bool = False):
        with self.guard():
            if create:
                col = self.client.get_or_create_collection(name, embedding_function=None, configuration=_COSINE)
            else:
                col = self.client.get_collection(name, embedding_function=None)
        return _Guarded(col, self)

    def names(self, generation: int) -> dict[str, str]:
        g = f"{self.prefix}-g{generation}"
        out = {"docs": f"{g}-docs"}
        for emb in self.settings.embedders:
            out[f"chunks:{emb}"] = f"{g}-chunks-{embedder_slug(emb)}"
        out["sents"] = f"{g}-sents-{embedder_slug(self.settings.embedder)}"
        for emb in self.settings.embedders[1:]:
            out[f"sents:{emb}"] = f"{g}-sents-{embedder_slug(emb)}"
        return out

    def lexical_dir(self, generation: int, corpus_version: str) -> Path:
        return self.settings.index_dir / f"lexical-{self.prefix}-g{generation}-{corpus_version[:12]}"

    # -- state ----------------------------------------------------------------------------------
    def read_state(self) -> dict | None:
        """The active generation's state, or ``None`` when nothing was ingested yet.

        Only a missing state collection means "nothing yet": any other failure raises, so that an
        ingest never mistakes a server hiccup for an empty index and overwrites the live generation.
        """
        try:
            col = self._collection(f"{self.prefix}-state")
        except IndexUnavailable:
            raise
        except Exception as exc:
            if _is_missing(exc):
                return None
            where = f"the Chroma server at {self.server}" if self.server else f"the index in {self.settings.index_dir}"
            raise IndexUnavailable(f"Cannot read the index state from {where}: {exc}") from exc
        got = col.get(ids=[_STATE_ID], include=["documents"])
        if not got["ids"]:
            return None
        return json.loads(got["documents"][0])

    def write_state(self, state: dict) -> None:
        """Switch readers to ``state`` in one write (the moment a new generation goes live)."""
        col = self._collection(f"{self.prefix}-state", create=True)
        col.upsert(ids=[_STATE_ID], documents=[json.dumps(state, ensure_ascii=False)], embeddings=[[0.0]])

    # -- writing a generation -------------------------------------------------------------------
    def create_generation(self, generation: int) -> dict:
        names = self.names(generation)
        for name in names.values():
            try:
                with self.guard():
                    self.client.delete_collection(name)  # left over from an interrupted ingest
            except IndexUnavailable:
                raise
            except Exception as exc:
                if not _is_missing(exc):
                    raise
        return {key: self._collection(name, create=True) for key, name in names.items()}

    def drop_generations(self, keep: set[int]) -> None:
        """Delete collections and lexical folders of every generation not in ``keep``."""
        marker = f"{self.prefix}-g"
        with self.guard():
            for col in self.client.list_collections():
                name = col if isinstance(col, str) else col.name
                if name.startswith(marker):
                    gen = name[len(marker) :].split("-", 1)[0]
                    if gen.isdigit() and int(gen) not in keep:
                        self.client.delete_collection(name)
        if self.settings.index_dir.exists():
            for folder in self.settings.index_dir.glob(f"lexical-{self.prefix}-g*"):
                gen = folder.name[len(f"lexical-{self.prefix}-g") :].split("-", 1)[0]
                if gen.isdigit() and int(gen) not in keep:
                    shutil.rmtree(folder, ignore_errors=True)

    def fetch_vectors(self, generation: int, ids: list[str]) -> dict[str, dict]:
        """Existing vectors by id, per collection key, so unchanged chunks are not embedded again:
        ``(vector, embed_sha)`` per chunk, ``[(metadata, vector), …]`` per chunk's sentences."""
        out: dict[str, dict[str, list]] = {}
        if not ids:
            return out
        for key, name in self.names(generation).items():
            if key == "docs":
                continue
            try:
                col = self._collection(name)
            except IndexUnavailable:
                raise
            except Exception as exc:
                if _is_missing(exc):
                    continue
                raise
            if key.startswith("sents"):
                got = col.get(where={"chunk_id": {"$in": ids}}, include=["embeddings", "metadatas"])
                for meta, vec in zip(got["metadatas"], got["embeddings"]):
                    out.setdefault(key, {}).setdefault(meta["chunk_id"], []).append((meta, list(vec)))
            else:
                got = col.get(ids=ids, include=["embeddings", "metadatas"])
                # Only a vector made from the same embedded text (its context label may have changed
                # while the passage did not) is reused; an index without the hash reuses none.
                out[key] = {i: (list(v), (m or {}).get("embed_sha"))
                            for i, v, m in zip(got["ids"], got["embeddings"], got["metadatas"])}
        return out

    # -- reading --------------------------------------------------------------------------------
    def snapshot(self) -> IndexSnapshot | None:
        """Load the active generation into memory (None when nothing was ingested yet)."""
        state = self.read_state()
        if state is None:
            return None
        gen = int(state["generation"])
        names = self.names(gen)
        missing = [e for e in self.settings.embedders if e not in state.get("embedders", [])]
        if missing:
            raise IndexUnavailable(
                f"The index was built with {state.get('embedders')} but the settings ask for {missing}; "
                "run `wijzer ingest` to rebuild it."
            )
        primary = self._collection(names[f"chunks:{self.settings.embedder}"])
        got = primary.get(include=["documents", "metadatas", "embeddings"])
        order = sorted(range(len(got["ids"])), key=lambda i: (got["metadatas"][i]["doc_id"], got["metadatas"][i].get("ordinal", 0)))
        chunks = [Chunk.from_metadata(got["documents"][i], got["metadatas"][i]) for i in order]
        ids = [c.id for c in chunks]
        vectors = {self.settings.embedder: np.asarray([got["embeddings"][i] for i in order], dtype=np.float32)}
        for emb in self.settings.embedders[1:]:
            other = self._collection(names[f"chunks:{emb}"]).get(ids=ids, include=["embeddings"])
            by_id = dict(zip(other["ids"], other["embeddings"]))
            vectors[emb] = np.asarray([by_id[i] for i in ids], dtype=np.float32)
        position = {cid: n for n, cid in enumerate(ids)}
        sents_got = self._collection(names["sents"]).get(include=["metadatas", "embeddings"])
        sentences: list[Sentence] = []
        sent_vecs: list = []
        sent_ids: list[str] = []
        for sid, meta, vec in zip(sents_got["ids"], sents_got["metadatas"], sents_got["embeddings"]):
            if meta["chunk_id"] in position:
                sentences.append(Sentence(position[meta["chunk_id"]], int(meta["start"]), int(meta["end"])))
                sent_vecs.append(vec)
                sent_ids.append(sid)
        other_sent_vecs: dict[str, np.ndarray] = {}
        for emb in self.settings.embedders[1:]:
            try:
                # The whole collection, lined up by id (a get by ids hits SQLite's limit on parameters
                # for a large corpus, and refuses an empty list).
                got = self._collection(names[f"sents:{emb}"]).get(include=["embeddings"])
            except IndexUnavailable:
                raise
            except Exception as exc:
                if not _is_missing(exc):
                    raise
                log.warning("The index has no %s sentence vectors (built by an older version): retrieval "
                            "goes without them; `wijzer ingest --force` adds them.", emb)
                continue
            by_id = dict(zip(got["ids"], got["embeddings"]))
            if all(i in by_id for i in sent_ids):
                dim_other = vectors[emb].shape[1] if len(chunks) else 1
                other_sent_vecs[emb] = np.asarray([by_id[i] for i in sent_ids], dtype=np.float32).reshape(-1, dim_other)
            else:
                log.warning("The index's %s sentence vectors are incomplete: retrieval goes without them; "
                            "`wijzer ingest --force` rebuilds them.", emb)
        docs_got = self._collection(names["docs"]).get(include=["documents", "metadatas"])
        documents = {
            i: {"text": text, **json.loads(meta["payload"])}
            for i, text, meta in zip(docs_got["ids"], docs_got["documents"], docs_got["metadatas"])
        }
        lex_dir = self.lexical_dir(gen, state["corpus_version"])
        try:
            lexical = LexicalIndex.load(lex_dir)
            if lexical.size != len(chunks):
                raise ValueError("size mismatch")
        except Exception:
            # A replica or a fresh machine: rebuild the BM25 index from what Chroma holds.
            lexical = LexicalIndex.build([embed_text(c) for c in chunks])
            try:
                lexical.save(lex_dir)
            except OSError:
                pass
        dim = vectors[self.settings.embedder].shape[1] if len(chunks) else 1
        return IndexSnapshot(
            state=state,
            chunks=chunks,
            chunk_vectors=vectors,
            sentences=sentences,
            sentence_vectors=np.asarray(sent_vecs, dtype=np.float32).reshape(-1, dim),
            other_sentence_vectors=other_sent_vecs,
            lexical=lexical,
            documents=documents,
        )
