"""The naive LangChain recipe most tutorials use, as the baseline every figure is compared with.

``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)`` over the raw corpus text,
the same embedder as ours, Chroma similarity top-k. Built once per corpus version and embedder and
cached under the index directory.

### Usage example

```python
base = NaiveBaseline.build(Settings())
[d.page_content[:40] for d in base.search("silo's tussen ministeries", k=5)]
```
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.embed import embedder_slug, get_embedder
from ingest.pipeline import corpus_files
from ingest.readers import ReadError, read_document
from wijzer.settings import Settings


class NaiveBaseline:
    def __init__(self, store: Chroma) -> None:
        self.store = store

    @classmethod
    def build(cls, settings: Settings) -> "NaiveBaseline":
        files, _ = corpus_files(settings)
        texts: list[tuple[str, str]] = []
        for path in files:
            try:
                texts.append((path.name, read_document(path).text))
            except ReadError:
                continue
        key = hashlib.sha1("".join(name + text for name, text in texts).encode()).hexdigest()[:12]
        folder: Path = settings.index_dir / f"baseline-{embedder_slug(settings.embedder)}-{key}"
        embedder = get_embedder(settings.embedder)
        exists = (folder / "chroma.sqlite3").exists()
        store = Chroma(
            collection_name="naive",
            embedding_function=embedder,
            persist_directory=str(folder),
            client_settings=ChromaSettings(anonymized_telemetry=False, is_persistent=True,
                                           persist_directory=str(folder)),
        )
        if not exists or not store.get(limit=1)["ids"]:
            splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
            docs: list[Document] = []
            for name, text in texts:
                for n, piece in enumerate(splitter.split_text(text)):
                    docs.append(Document(page_content=piece, metadata={"source": name, "n": n}))
            ids = [f"naive-{i}" for i in range(len(docs))]
            for i in range(0, len(docs), 64):
                store.add_documents(docs[i : i + 64], ids=ids[i : i + 64])
        return cls(store)

    def search(self, query: str, k: int = 10) -> list[tuple[Document, float]]:
        return self.store.similarity_search_with_relevance_scores(query, k=k)
