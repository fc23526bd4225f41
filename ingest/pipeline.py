"""Ingestion, end to end: corpus files → read → clean/structure → chunk → embed → index.

Incremental and idempotent: an unchanged corpus (same files, same settings) does no work at all; a
changed file is re-read and only its new chunks are embedded (vectors of chunks whose content did not
change are carried over); a removed file's chunks disappear; another embedder or chunk size rebuilds.
A file that cannot be read is skipped and named, and if an earlier version of it was indexed, that
version stays. The new generation goes live in one write at the end (see ``ingest.index``).

### Usage example

```python
from wijzer.settings import Settings
from ingest.pipeline import ingest
report = ingest(Settings())
print(report.summary())
```
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from ingest.chunk import chunk_document, sentence_spans
from ingest.embed import get_embedder
from ingest.index import IndexStore, embed_sha, embed_text
from ingest.lexical import LexicalIndex
from ingest.manifest import document_info, file_sha256, load_manifest
from ingest.models import NOT_RETRIEVED, Chunk, DocumentInfo
from ingest.profiles import load_profile
from ingest.readers import SUPPORTED_SUFFIXES, ReadError, check_size, read_document
from ingest.structure import structure_document
from wijzer.settings import Settings

#: Bump when cleaning, structure or chunking change in a way that alters chunks, or when what an index
#: holds changes: every document is then read again (reported as changed) and a new generation written,
#: reusing the vectors it already has.
#: 2: marker-like brackets in document text ("[7]") become "(7)" (ingest.clean.neutralise_markers).
#: 3: sentence vectors for every embedder, not only the primary one (retrieval's sentence lists); no
#:    chunk changes.
#: 4: a text box ends where the main text turns to another practice (four chunks leave their box); a
#:    location names the summary or reflection a finding is discussed in (the embedded context changes).
#: 5: a sentence no longer starts in lower case or with a bracket (a split after "cq." is undone).
#: 6: chunks of plain-text and Markdown files carry the line of the file where they start.
#: 7: a title line straight above a long unwrapped paragraph is a heading, not the paragraph's first words.
#: 8: a table cell is one sentence (a row was cut after "vs." and half a cell quoted); chunks carry
#:    the line of each sentence (``Chunk.line_marks``).
#: 9: a passage whose opening words were first found in a table's header starts on its first row's line.
#: 10: a document's structure holds its findings' English titles and tensions (the profile's findings_en,
#:     tensions_en), for the frame of English answers; no chunk changes.
#: 11: a colophon's values are text, not headings (the authors and the publication line were in no chunk).
#: 12: a letter's place-and-date line is text, not a heading (the foreword's signatures were a section of
#:     their own); lines announced by a paragraph ending in ":" are text; the figure before the summary
#:     is a part of its own (``infographic``), no longer the foreword's.
PIPELINE_VERSION = "12"

ProgressFn = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # file -> reason
    notes: dict[str, list[str]] = field(default_factory=dict)  # file read, with the reader's remarks
    embedded_chunks: int = 0
    reused_chunks: int = 0
    chunks: int = 0
    generation: int = 0
    corpus_version: str = ""
    noop: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        if self.noop:
            head = f"Index up to date (corpus version {self.corpus_version[:12]}); nothing to do."
        else:
            head = (
                f"Index generation {self.generation}: {self.chunks} chunks "
                f"({self.embedded_chunks} embedded, {self.reused_chunks} reused) in {self.seconds:.1f} s; "
                f"corpus version {self.corpus_version[:12]}."
            )
        lines = [head]
        for label, names in (("added", self.added), ("changed", self.changed), ("removed", self.removed)):
            if names:
                lines.append(f"  {label}: {', '.join(names)}")
        if self.unchanged and not self.noop:
            lines.append(f"  unchanged: {', '.join(self.unchanged)}")
        for name, notes in self.notes.items():
            lines.append(f"  note: {name} — {'; '.join(notes)}")
        for name, reason in self.skipped.items():
            lines.append(f"  skipped: {name} — {reason}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return asdict(self)


def _params(settings: Settings) -> dict:
    return {
        "pipeline": PIPELINE_VERSION,
        "chunk_target_chars": settings.chunk_target_chars,
        "embedders": settings.embedders,
    }


def _corpus_version(docs: dict[str, dict], params: dict) -> str:
    payload = json.dumps(
        {"docs": sorted((d, v["sha256"]) for d, v in docs.items()), "params": params}, sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def corpus_files(settings: Settings) -> tuple[list[Path], dict[str, str]]:
    """The document files in the corpus folder, and the ones passed over with the reason."""
    manifest = load_manifest(settings.corpus_dir)
    files, passed = [], {}
    if not settings.corpus_dir.is_dir():
        raise FileNotFoundError(
            f"Corpus folder {settings.corpus_dir} does not exist; create it or set WIJZER_CORPUS_DIR"
        )
    for path in sorted(settings.corpus_dir.iterdir()):
        if path.name in manifest.ignore or path.name.startswith(".") or path.is_dir():
            continue
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            passed[path.name] = f"unsupported file type {path.suffix or '(none)'}"
            continue
        files.append(path)
    return files, passed


_CELLS = re.compile(r"[^|:]{25,}")


def _as_an_editor_shows_it(path: Path) -> str:
    """The file's text with only its line ends unified: the reader also turns page breaks into blank
    lines, which would shift every line number after them."""
    data = path.read_bytes()
    for encoding in (("utf-16",) if data.startswith((b"\xff\xfe", b"\xfe\xff")) else ("utf-8-sig", "cp1252")):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        return ""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _opening_words(probe: str) -> re.Pattern | None:
    """A pattern for the opening words of ``probe`` across any line breaks, or None when too short."""
    words = probe.split()[:-1] if len(probe) == 60 else probe.split()  # the last may be cut
    if sum(map(len, words)) < 15:
        return None
    return re.compile(r"\s+".join(map(re.escape, words)))


def source_lines(source: str, chunks: list[Chunk]) -> None:
    """Set each chunk's line in the file it was read from: where its opening words stand (cleaning
    may have changed the rest; a hand-wrapped file breaks them over lines); for a table row, where its
    first long cell does. Searched in reading order; a chunk whose words cannot be found keeps
    ``line = None``. Then the lines its sentences start on (``line_marks``: where the line changes),
    searched from there on: a passage spans paragraphs, and a quote is cited on its own line."""
    pos = 0
    for c in chunks:
        probes = [c.text[:60], *(m.group().strip()[:60] for m in _CELLS.finditer(c.text))][:4]
        for probe in probes:
            pattern = _opening_words(probe)
            m = (pattern.search(source, pos) or pattern.search(source)) if pattern else None
            if m:
                c.line = source.count("\n", 0, m.start()) + 1
                pos = m.start() + 1
                break
        if c.line is None:
            continue
        at, line, marks = pos - 1, c.line, []
        # Not past the passage: its own length (and some slack for what cleaning removed) further on.
        limit = at + 2 * len(c.text) + 500
        for s, e in sentence_spans(c.text, table=c.table is not None):
            words = s
            if c.table is not None and ": " in c.text[s:e]:  # a cell: its column's name is ours
                words = c.text.index(": ", s, e) + 2
            pattern = _opening_words(c.text[words:min(e, words + 60)])
            m = pattern.search(source, at, limit) if pattern else None
            if m:
                line += source.count("\n", at, m.start())
                at = m.start()
                if line != (marks[-1][1] if marks else c.line):
                    marks.append([s, line])
        if marks and marks[0][0] == 0:  # the opening words were found earlier on (a table's header): not its line
            c.line = marks.pop(0)[1]
        c.line_marks = marks


def parse_file(path: Path, settings: Settings, sha256: str, manifest) -> tuple[DocumentInfo, dict, list[Chunk]]:
    """Read, clean, structure and chunk one file (no embedding)."""
    result = read_document(path, max_bytes=settings.max_file_mb * 1024 * 1024)
    info = document_info(path, manifest, result.title, sha256)
    profile = load_profile(info.profile)
    doc = structure_document(result.text, profile)
    chunks = chunk_document(doc, info, profile, target_chars=settings.chunk_target_chars)
    if not chunks:
        raise ReadError(path, "no text left after cleaning")
    if result.fmt in ("txt", "md"):
        source_lines(_as_an_editor_shows_it(path), chunks)
    structure = {
        "parts": doc.parts,
        "findings": {str(k): v for k, v in sorted(doc.findings.items())},
        "findings_en": {str(k): v for k, v in sorted(profile.findings_en.items())},
        "tensions_en": {str(k): v for k, v in sorted(profile.tensions_en.items())},
        "textboxes": {str(k): v for k, v in sorted(doc.textboxes.items())},
        "tables": {str(k): v for k, v in sorted(doc.tables.items())},
        "notes": result.notes,
        "format": result.fmt,
    }
    return info, {"text": doc.text, "structure": structure}, chunks


def ingest(settings: Settings, progress: ProgressFn | None = None, force: bool = False) -> IngestReport:
    """Bring the index in line with the corpus folder (see the module docstring)."""
    t0 = time.perf_counter()
    progress = progress or (lambda stage, done, total: None)
    report = IngestReport()
    store = IndexStore(settings)
    old = store.read_state()
    params = _params(settings)
    old_docs: dict[str, dict] = old["documents"] if old else {}
    same_params = bool(old) and old.get("params") == params and not force
    manifest = load_manifest(settings.corpus_dir)
    files, passed = corpus_files(settings)
    report.skipped.update(passed)

    new_docs: dict[str, dict] = {}
    parsed: dict[str, tuple[DocumentInfo, dict, list[Chunk]]] = {}
    seen_files: set[str] = set()
    # The id of a document indexed before stays its own while its file is here. Without this, a new
    # file with the same default id ("GOED!.md" beside "goed.md") that sorts first took the id, and
    # the indexed document's chunks were silently replaced by the newcomer's.
    present = {p.name for p in files}
    claimed = {d["info"]["doc_id"]: d["info"]["path"] for d in old_docs.values() if d["info"]["path"] in present}
    for n, path in enumerate(files):
        progress("read", n, len(files))
        prev = next((d for d in old_docs.values() if d["info"]["path"] == path.name), None)
        try:
            # The size limit before the hash: hashing would read all of an oversized file, every run.
            check_size(path, settings.max_file_mb * 1024 * 1024)
            sha = file_sha256(path)
        except ReadError as exc:
            _skip(report, new_docs, seen_files, path, exc.reason, prev)
            continue
        except OSError as exc:
            _skip(report, new_docs, seen_files, path, f"cannot read the file: {exc}", prev)
            continue
        if prev and prev["sha256"] == sha and same_params:
            new_docs[prev["info"]["doc_id"]] = prev
            report.unchanged.append(path.name)
            seen_files.add(path.name)
            continue
        try:
            info, payload, chunks = parse_file(path, settings, sha, manifest)
        except ReadError as exc:
            _skip(report, new_docs, seen_files, path, exc.reason, prev)
            continue
        owner = new_docs[info.doc_id]["info"]["path"] if info.doc_id in new_docs else claimed.get(info.doc_id)
        if owner is not None and owner != path.name:
            report.skipped[path.name] = (
                f"its document id {info.doc_id!r} is already used by {owner}; "
                "give it another doc_id in manifest.toml"
            )
            continue
        seen_files.add(path.name)
        parsed[info.doc_id] = (info, payload, chunks)
        new_docs[info.doc_id] = {
            "sha256": sha,
            "info": info.to_dict(),
            "chunk_ids": [c.id for c in chunks],
            "structure": payload["structure"],
        }
        (report.changed if prev else report.added).append(path.name)
        if payload["structure"]["notes"]:  # e.g. "decoded as cp1252", "2 pages without text"
            report.notes[path.name] = list(payload["structure"]["notes"])
    progress("read", len(files), len(files))
    report.removed = sorted(d["info"]["path"] for d in old_docs.values() if d["info"]["path"] not in seen_files)

    version = _corpus_version(new_docs, params)
    report.corpus_version = version
    if old and old.get("corpus_version") == version and same_params and not parsed and not report.removed:
        report.noop = True
        report.generation = int(old["generation"])
        report.chunks = sum(len(d["chunk_ids"]) for d in new_docs.values())
        report.seconds = time.perf_counter() - t0
        return report

    _write_generation(store, settings, old, new_docs, parsed, params, version, report, progress)
    report.seconds = time.perf_counter() - t0
    return report


def _skip(report: IngestReport, new_docs: dict, seen_files: set, path: Path, reason: str, prev: dict | None) -> None:
    report.skipped[path.name] = reason
    if prev:  # keep what was indexed of it before: losing nothing beats being current
        new_docs[prev["info"]["doc_id"]] = prev
        report.skipped[path.name] += " (the previously indexed version stays)"
        seen_files.add(path.name)


def _write_generation(store, settings, old, new_docs, parsed, params, version, report, progress) -> None:
    gen = int(old["generation"]) + 1 if old else 1
    old_gen = int(old["generation"]) if old else None
    store.drop_generations(keep={old_gen} if old_gen else set())  # debris of interrupted ingests
    cols = store.create_generation(gen)

    # Documents not parsed in this run come from the old generation as they are: unchanged ones, and
    # the earlier version of a file that no longer reads (skipped above). When the settings changed,
    # every readable file was parsed again above, so only such kept versions are left here; parsing
    # them again (as this once did) raised ReadError and crashed the whole run.
    carried_docs = {d: e for d, e in new_docs.items() if d not in parsed} if old_gen is not None else {}
    carried_ids = [cid for e in carried_docs.values() for cid in e["chunk_ids"]]
    all_chunks: list[Chunk] = []
    doc_texts: dict[str, str] = {}
    if carried_docs:
        old_names = store.names(old_gen)
        old_docs_col = store._collection(old_names["docs"])
        got = old_docs_col.get(ids=list(carried_docs), include=["documents"])
        doc_texts.update(dict(zip(got["ids"], got["documents"])))
        old_embedders = old.get("embedders") or [settings.embedder]
        source = settings.embedder if settings.embedder in old_embedders else old_embedders[0]
        if source != settings.embedder:  # another embedder now: the old chunks lie under the old one's name
            old_names = IndexStore(settings.model_copy(update={"embedder": source, "second_embedder": ""})).names(old_gen)
        old_primary = store._collection(old_names[f"chunks:{source}"])
        got = old_primary.get(ids=carried_ids, include=["documents", "metadatas"])
        all_chunks.extend(Chunk.from_metadata(t, m) for t, m in zip(got["documents"], got["metadatas"]))
    for doc_id, (info, payload, chunks) in parsed.items():
        all_chunks.extend(chunks)
        doc_texts[doc_id] = payload["text"]

    # Vectors are reused only from an index made by the same embedders and the same pipeline version
    # (a new version may split sentences or label chunks differently without changing a chunk's id).
    reusable = (old_gen is not None and old.get("params", {}).get("embedders") == params["embedders"]
                and old.get("params", {}).get("pipeline") == PIPELINE_VERSION)
    reuse = store.fetch_vectors(old_gen, [c.id for c in all_chunks]) if reusable else {}
    _embed_into(cols, settings, all_chunks, reuse, report, progress)

    for doc_id, text in doc_texts.items():
        entry = new_docs[doc_id]
        cols["docs"].add(
            ids=[doc_id],
            documents=[text],
            embeddings=[[0.0]],
            metadatas=[{"payload": json.dumps({"info": entry["info"], "structure": entry["structure"]}, ensure_ascii=False)}],
        )
    ordered = sorted(all_chunks, key=lambda c: (c.doc_id, c.ordinal))
    lexical = LexicalIndex.build([embed_text(c) for c in ordered])
    lexical.save(store.lexical_dir(gen, version))

    state = {
        "generation": gen,
        "corpus_version": version,
        "embedders": settings.embedders,
        "params": params,
        "documents": new_docs,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "chunks": len(all_chunks),
    }
    store.write_state(state)  # the switch: readers see the new generation from here on
    store.drop_generations(keep={gen, old_gen} if old_gen else {gen})
    report.generation = gen
    report.chunks = len(all_chunks)


def _embed_into(cols, settings, chunks: list[Chunk], reuse: dict, report: IngestReport, progress) -> None:
    batch = 32
    retrievable = [c for c in chunks if c.kind not in NOT_RETRIEVED]
    for emb_name in settings.embedders:
        key = f"chunks:{emb_name}"
        stored = reuse.get(key, {})
        known = {c.id: stored[c.id][0] for c in chunks if c.id in stored and stored[c.id][1] == embed_sha(c)}
        todo = [c for c in chunks if c.id not in known]
        vectors: dict[str, list] = dict(known)
        if todo:
            embedder = get_embedder(emb_name)
            for i in range(0, len(todo), batch):
                progress(f"embed {emb_name}", i, len(todo))
                part = todo[i : i + batch]
                for c, v in zip(part, embedder.encode_passages([embed_text(c) for c in part])):
                    vectors[c.id] = v.tolist()
            progress(f"embed {emb_name}", len(todo), len(todo))
        if emb_name == settings.embedder:
            report.embedded_chunks = len(todo)
            report.reused_chunks = len(chunks) - len(todo)
        for i in range(0, len(chunks), 256):
            part = chunks[i : i + 256]
            cols[key].add(
                ids=[c.id for c in part],
                documents=[c.text for c in part],
                metadatas=[{**c.to_metadata(), "embed_sha": embed_sha(c)} for c in part],
                embeddings=[vectors[c.id] for c in part],
            )

    # Sentences of retrievable chunks, by every embedder: sentence-level matching (all of them) and
    # refusal (the primary one).
    spans: list[tuple[str, dict, str]] = []
    stored = reuse.get("sents", {})
    for c in retrievable:
        if c.id in stored:  # an unchanged chunk keeps the sentences its vectors were made for
            spans.extend((f"{c.id}:{m['start']}", m, c.text[int(m["start"]) : int(m["end"])]) for m, _ in stored[c.id])
            continue
        for s, e in sentence_spans(c.text, table=c.table is not None):
            if e - s >= 12:
                spans.append((f"{c.id}:{s}", {"chunk_id": c.id, "start": s, "end": e, "doc_id": c.doc_id}, c.text[s:e]))
    for emb_name in settings.embedders:
        key = "sents" if emb_name == settings.embedder else f"sents:{emb_name}"
        known = {f"{meta['chunk_id']}:{meta['start']}": vec
                 for pairs in reuse.get(key, {}).values() for meta, vec in pairs}
        todo = [r for r in spans if r[0] not in known]
        vectors = dict(known)
        if todo:
            embedder = get_embedder(emb_name)
            for i in range(0, len(todo), 64):
                progress(f"embed sentences {emb_name}", i, len(todo))
                part = todo[i : i + 64]
                for r, v in zip(part, embedder.encode_passages([r[2] for r in part])):
                    vectors[r[0]] = v.tolist()
            progress(f"embed sentences {emb_name}", len(todo), len(todo))
        for i in range(0, len(spans), 512):
            part = spans[i : i + 512]
            cols[key].add(
                ids=[r[0] for r in part],
                metadatas=[r[1] for r in part],
                embeddings=[vectors[r[0]] for r in part],
            )
