"""Corpus manifest: bibliographic metadata per file, with defaults for files that have no entry.

### Usage example

```python
from pathlib import Path
from ingest.manifest import load_manifest, document_info
manifest = load_manifest(Path("corpus"))
info = document_info(Path("corpus/werken-aan-transformatie.txt"), manifest, title_hint=None)
info.attribution
```
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ingest.models import DocumentInfo

MANIFEST_NAME = "manifest.toml"


@dataclass
class Manifest:
    documents: dict[str, dict] = field(default_factory=dict)  # file name -> fields
    ignore: set[str] = field(default_factory=set)


def load_manifest(corpus_dir: Path) -> Manifest:
    """Read ``manifest.toml``; a missing file is an empty manifest, a broken one a clear error."""
    path = corpus_dir / MANIFEST_NAME
    if not path.exists():
        return Manifest()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid TOML ({exc}); fix it or remove it") from exc
    return Manifest(
        documents=dict(data.get("documents", {})),
        ignore=set(data.get("ignore", {}).get("files", [])) | {MANIFEST_NAME},
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_doc_id(name: str) -> str:
    stem = Path(name).stem.lower()
    return re.sub(r"[^a-z0-9]+", "-", stem).strip("-")[:60] or "document"


def document_info(path: Path, manifest: Manifest, title_hint: str | None, sha256: str = "") -> DocumentInfo:
    """Metadata for ``path``: its manifest entry where there is one, else defaults from the file."""
    entry = manifest.documents.get(path.name, {})
    title = entry.get("title") or title_hint or Path(path.name).stem.replace("-", " ").replace("_", " ")
    return DocumentInfo(
        doc_id=entry.get("doc_id") or default_doc_id(path.name),
        path=path.name,
        title=title,
        short_title=entry.get("short_title", ""),
        authors=list(entry.get("authors", [])),
        year=entry.get("year"),
        publisher=entry.get("publisher", ""),
        publication_number=entry.get("publication_number"),
        kind=entry.get("kind", "document"),
        attribution=entry.get("attribution", ""),
        profile=entry.get("profile", "generic"),
        sha256=sha256,
    )
