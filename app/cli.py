"""The ``wijzer`` command line: ingest, inspect, search, ask, evaluate and start the app.

It only presents: every command calls the same Python API that the Streamlit app uses.
Settings come from ``WIJZER_*`` environment variables and ``.env`` (see ``wijzer.settings``).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import NoReturn, Optional

import typer
from rich.console import Console
from rich.table import Table

from wijzer.settings import Settings

app = typer.Typer(
    help="Transformatiewijzer: advice from the PBL/VU report 'Werken aan transformatie', with sources.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> None:
    """One line on stderr (never wrapped: scripts and logs grep it), exit ``code``; no traceback."""
    from rich.markup import escape

    err.print(f"[bold red]Error:[/] {escape(' '.join(message.split()))}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def _progress_printer():
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if not sys.stderr.isatty():  # a log: one plain line per step, not a bar redrawn in place
            print(f"{stage}: {done}/{total}", file=sys.stderr, flush=True)
            return
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="item", file=sys.stderr, leave=False)
        bar.total = total
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return progress


@app.command()
def ingest(
    force: bool = typer.Option(False, "--force", help="Rebuild every document even if nothing changed."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Build or update the index from the corpus folder (incremental; a no-op when nothing changed)."""
    from ingest.index import IndexUnavailable
    from ingest.pipeline import ingest as run_ingest

    settings = _settings()
    try:
        report = run_ingest(settings, progress=None if as_json else _progress_printer(), force=force)
    except (IndexUnavailable, FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        console.print(report.summary(), markup=False, highlight=False)  # file names are text, not markup


@app.command()
def info(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """What the index holds: documents, chunk counts, findings, text boxes, tables, version."""
    from ingest.index import IndexStore, IndexUnavailable

    settings = _settings()
    try:
        snap = IndexStore(settings).snapshot()
    except IndexUnavailable as exc:
        _fail(str(exc))
    if snap is None:
        where = f"the Chroma server at {IndexStore(settings).server}" if settings.server_mode else settings.index_dir
        _fail(f"No index yet at {where}; run `wijzer ingest`.")
    data = {
        "corpus_version": snap.corpus_version,
        "generation": snap.generation,
        "built_at": snap.state.get("built_at"),
        "embedders": snap.state.get("embedders"),
        "index": str(settings.index_dir) if not settings.server_mode else f"chroma://{settings.chroma_host}:{settings.chroma_port or 8000}",
        "chunks": len(snap.chunks),
        "sentences": len(snap.sentences),
        "documents": [],
    }
    for doc_id, doc in snap.documents.items():
        chunks = [c for c in snap.chunks if c.doc_id == doc_id]
        data["documents"].append(
            {
                "doc_id": doc_id,
                "title": doc["info"]["title"],
                "file": doc["info"]["path"],
                "kind": doc["info"]["kind"],
                "attribution": doc["info"].get("attribution", ""),
                "chunks": len(chunks),
                "chunks_per_part": dict(Counter(c.part for c in chunks)),
                "chunks_per_kind": dict(Counter(c.kind for c in chunks)),
                **doc["structure"],
            }
        )
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    console.print(f"[bold]Corpus version[/] {data['corpus_version'][:12]} · generation {data['generation']} · built {data['built_at']}")
    console.print(f"[bold]Index[/] {data['index']} · embedders {', '.join(data['embedders'])} · {data['chunks']} chunks, {data['sentences']} sentences")
    for d in data["documents"]:
        console.print(f"\n[bold]{d['title']}[/] ({d['file']}, {d['kind']}) — {d['chunks']} chunks")
        console.print("  parts: " + ", ".join(f"{k} {v}" for k, v in d["chunks_per_part"].items()))
        console.print("  kinds: " + ", ".join(f"{k} {v}" for k, v in d["chunks_per_kind"].items()))
        for label, key in (("finding", "findings"), ("text box", "textboxes"), ("table", "tables")):
            for n, title in d.get(key, {}).items():
                console.print(f"  {label} {n}: {title}")


@app.command()
def chunks(
    jsonl: bool = typer.Option(True, "--jsonl/--table", help="One JSON object a line (default) or a table."),
) -> None:
    """The index as an evaluator can audit it: every chunk with its text, offsets and structure."""
    from ingest.index import IndexStore, IndexUnavailable

    try:
        snap = IndexStore(_settings()).snapshot()
    except IndexUnavailable as exc:
        _fail(str(exc))
    if snap is None:
        _fail("No index yet; run `wijzer ingest`.")
    if jsonl:
        for c in snap.chunks:
            print(json.dumps(c.to_dict(), ensure_ascii=False))
        return
    table = Table("id", "part", "ch", "section", "tk", "kind", "chars")
    for c in snap.chunks:
        table.add_row(c.id, c.part, str(c.chapter or ""), (c.section or "")[:40], str(c.textbox or ""), c.kind, str(len(c.text)))
    console.print(table)


@app.command()
def search(
    question: str = typer.Argument(..., help="The question, in Dutch or English."),
    k: int = typer.Option(5, "-k", "--top-k", help="How many passages (at least 1)."),
    filter_: list[str] = typer.Option([], "--filter", help="key=value[,value]: doc, part, finding (or chapter), textbox, kind, practice; an unknown value lists the known ones."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """The passages that best answer a question, with their location and every score."""
    from ingest.index import IndexUnavailable
    from rag.retrieve import Filters, HybridRetriever

    from rag.advisor import QuestionError, clean_question

    try:
        question = clean_question(question)
    except QuestionError as exc:
        _fail(str(exc))
    if k < 1:
        _fail(f"-k must be at least 1 (got {k}).")
    try:
        filters = Filters.parse(filter_)
        retriever = HybridRetriever.from_settings(_settings())
        result = retriever.run(question, top_k=k, filters=filters)
    except (IndexUnavailable, ValueError) as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps({"question": question, "lang": result.query.lang, "intents": result.query.intents,
                          "analysis": result.query.to_dict(), "filters": result.filters, "timings_ms": result.timings_ms,
                          "query_adapter": retriever.adapter_info(),
                          "passage_questions": retriever.passage_questions_info(),
                          "passages": [p.to_dict() for p in result.passages]}, ensure_ascii=False, indent=2))
        return
    adapter = "query adapters: " + ", ".join(
        name if name in retriever.adapters else f"{name} none ({note})" for name, note in retriever.adapter_notes.items())
    console.print(f"[dim]{result.query.lang} · intents {result.query.intents or '-'} · {adapter} · "
                  f"{result.timings_ms['total']:.0f} ms[/]", highlight=False)
    if result.filters and not filters.to_dict():
        # Chosen by the question, not by the user: say so ("Waar gaat het rapport over?").
        console.print(f"[dim]matched within: {', '.join(result.filters.get('parts', []))} "
                      "(a question about the report as a whole)[/]", highlight=False)
    if result.query.search_text:
        from rich.markup import escape

        console.print(f"[dim]matched as: {escape(result.query.match_text)}[/]", highlight=False)
    if not result.passages:
        console.print("No passage matches these filters together; try fewer." if filter_ else
                      "No passages in the index to search.", highlight=False)
    for p in result.passages:
        c = p.chunk
        scores = " ".join(f"{n}={v:.3f}" for n, v in p.scores.items())
        console.print(f"\n[bold][{p.rank}][/] {c.doc_title} › {c.context_label(display=True)} [dim]({c.kind})[/]")
        console.print(f"[dim]{scores}[/]")
        console.print(c.text if len(c.text) < 700 else c.text[:700] + " …", markup=False, highlight=False)


@app.command()
def ask(
    question: str = typer.Argument(..., help="The question or situation, in Dutch or English."),
    mode: str = typer.Option("advies", "--mode", help="advies, lesmateriaal (a finding or a theme: 'Lesmateriaal over verkokering') or toets."),
    conversation: Optional[Path] = typer.Option(None, "--conversation", help="JSON file that keeps the conversation; follow-ups are read against it."),
    filter_: list[str] = typer.Option([], "--filter", help="key=value[,value]: doc, part, finding (or chapter), textbox, kind, practice; an unknown value lists the known ones."),
    as_json: bool = typer.Option(False, "--json", help="Print the audit record as JSON: the answer with citations, passages, support, timings and config, and the conversation it was asked in."),
    export: list[Path] = typer.Option([], "--export", help="Also write the answer to FILE: .md, .docx, or .json (the audit record). Every target is checked before answering; a write that still fails is named after the answer, with exit code 1."),
) -> None:
    """Answer a question from the report, every sentence with its source marker \\[n]."""
    from rich.markup import escape

    from ingest.index import IndexUnavailable
    from rag.advisor import Advisor
    from rag.conversation import Conversation
    from rag.retrieve import Filters

    # Where the results go is checked before the question is answered, and written after the answer is
    # shown: a wrong path costs a message, not the answer.
    targets = [*export, *([conversation] if conversation else [])]
    for target in export:
        if target.suffix.lower() not in (".md", ".docx", ".json"):
            _fail(f"Cannot export to {target}: use a .md, .docx or .json file name.")
    for target in targets:
        if target.parent.exists() and not target.parent.is_dir():
            _fail(f"Cannot write {target}: {target.parent} is not a folder.")
        if not target.parent.is_dir():
            _fail(f"Cannot write {target}: folder {target.parent} does not exist.")
        if target.is_dir():
            _fail(f"Cannot write {target}: it is a folder.")
    resolved = [t.resolve() for t in targets]
    if len(set(resolved)) < len(resolved):
        _fail("The same file is named twice among --export and --conversation; give each its own.")
    try:
        conv = Conversation.load(conversation) if conversation else None
    except ValueError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"Cannot read {conversation}: {exc.strerror or exc}.")
    try:
        advisor = Advisor(_settings(), on_calibrate=lambda path: err.print(
            f"[dim]Once per index: calibrating the 'not in the report' threshold on {escape(path.name)} …[/]", highlight=False))
        answer = advisor.ask(question, conversation=conv, mode=mode, filters=Filters.parse(filter_))
    except (IndexUnavailable, ValueError) as exc:
        _fail(str(exc))
    from rag.export import answer_markdown, answers_docx, audit_record, support_header, support_rows

    if as_json:  # the audit record: the answer's fields, and the conversation it was asked in
        print(json.dumps(audit_record(answer), ensure_ascii=False, indent=2))
    else:
        console.print(answer.text, markup=False, highlight=False)
        for note in answer.notes:
            console.print(f"\n{note}", style="dim", markup=False, highlight=False)
        if answer.citations:
            console.print("\n[bold]Bronnen[/]" if answer.lang == "nl" else "\n[bold]Sources[/]")
            for c in answer.citations:
                console.print(f"[{c.marker}] {c.location} ({c.where(answer.lang)})", markup=False, highlight=False)
        if answer.mode == "toets" and (rows := support_rows(answer, width=90)):
            table = Table(*support_header(answer))
            for row in rows:
                table.add_row(*row)
            console.print(table)

    # Each target on its own: one that cannot be written is named and does not stop the others.
    failed = []
    if conversation and conv is not None:
        try:
            conv.save(conversation)
        except OSError as exc:
            failed.append(f"{conversation} ({exc.strerror or exc})")
    for target in export:
        suffix = target.suffix.lower()
        try:
            if suffix == ".md":
                target.write_text(answer_markdown(answer), encoding="utf-8")
            elif suffix == ".docx":
                target.write_bytes(answers_docx([answer], title="Transformatiewijzer"))
            else:
                target.write_text(json.dumps(audit_record(answer), ensure_ascii=False, indent=2), encoding="utf-8")
        except OSError as exc:
            failed.append(f"{target} ({exc.strerror or exc})")
            continue
        err.print(f"Written: {target}", markup=False, highlight=False, soft_wrap=True)
    if failed:
        _fail("Cannot write " + "; ".join(failed) + ".")


@app.command("eval")
def eval_(
    dataset: Path = typer.Option(Path("evals/datasets/dev.jsonl"), "--dataset", help="JSONL question set (EVAL_SCHEMA.md)."),
    retrieval_only: bool = typer.Option(False, "--retrieval-only", help="Only measure retrieval."),
    configs: list[str] = typer.Option([], "--configs", help="default, dense, lexical, baseline (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write report.md, results.json, summary.json and PNG plots into this folder."),
) -> None:
    """Evaluate on a question set as a user would: retrieval, refusals, citations, key terms, latency, beside the baseline."""
    from ingest.index import IndexUnavailable
    from evals.runner import run_eval

    try:
        report = run_eval(dataset, _settings(), configs=configs or ["default", "baseline"], answers=not retrieval_only)
    except (IndexUnavailable, ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    if out:
        from evals.report import write_report

        for path in write_report(report, out):
            err.print(f"Written: {path}", markup=False, highlight=False, soft_wrap=True)
    if as_json:
        print(json.dumps(report, ensure_ascii=False))
        return
    table = Table("config", "n", "hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "hit@4000c", "p50 ms", "p95 ms")
    for name, m in report["configs"].items():
        lat = m["latency"].get("search", {})
        table.add_row(name, str(m["n"]), *(f"{m[k]:.3f}" for k in ("hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "hit@4000c")),
                      f"{lat.get('p50_ms', 0):.0f}", f"{lat.get('p95_ms', 0):.0f}")
    console.print(table)
    if "refusal_correct" in report:
        def shown(key: str) -> str:  # a set without unanswerable (or answerable) items has no such rate
            return "–" if report.get(key) is None else str(report[key])

        console.print(
            f"[bold]Answers[/] refusal_correct {shown('refusal_correct')} · false_refusal {shown('false_refusal')} · "
            f"citation_validity {shown('citation_validity')} · citation_support {shown('citation_support')} · "
            f"must_mention {shown('must_mention')} · median answer {report['answer_chars_median']} chars"
        )
        lat = next(iter(report["configs"].values()))["latency"]
        console.print("[bold]Answer latency[/] " + " · ".join(
            f"{k.removeprefix('answer:')} p50 {v['p50_ms']:.0f} / p95 {v['p95_ms']:.0f} ms"
            for k, v in lat.items() if k.startswith("answer:")))
    first = next(iter(report["configs"].values()))
    for group in ("by_lang", "by_followup", "by_persona", "by_gold_section"):
        sub = Table(group.removeprefix("by_"), "n", "hit@5", "mrr@10")
        for key, m in first[group].items():
            if m.get("n"):
                sub.add_row(key, str(m["n"]), f"{m['hit@5']:.3f}", f"{m['mrr@10']:.3f}")
        console.print(sub)
    from evals.report import missed_items

    misses = missed_items(first["items"], k=5)
    if misses:
        console.print(f"[bold]Missed in the top 5[/] ({len(misses)}):")
        for r in misses:
            console.print(f"  {r['id']} rank={r['rank']} [{r['gold_section']}] {r['question'][:110]}", markup=False)


@app.command("train-adapter")
def train_adapter(
    dataset: list[Path] = typer.Option([], "--dataset", help="Question set people asked, to train on (repeatable); default: every set in evals/datasets but the measuring ones (MEASURING_SETS in evals/adapter.py: the development set and the unread held-out sets)."),
    written: list[Path] = typer.Option([], "--written", help="Question set written for training (repeatable): weighted --written-weight, not kept in the question memory (their words go into passage_questions.json); default: the sets in evals/training, when --dataset is not given either. A set may not be both --dataset and --written."),
    no_written: bool = typer.Option(False, "--no-written", help="Train on no written set (not even the default ones)."),
    written_weight: Optional[float] = typer.Option(None, "--written-weight", help="A written question's weight in the training loss, against 1 for an asked one; default: WRITTEN_WEIGHT in evals/adapter.py."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder to write query_adapter_<embedder>.npz and passage_questions.json into (then WIJZER_QUERY_ADAPTER=that folder); default: rag/data/, the ones that ship."),
    l2: float = typer.Option(0.01, "--l2", help="L2 penalty on the adapter's matrix (chosen by cross-validation over question sets)."),
    epochs: int = typer.Option(200, "--epochs", help="Full-batch training steps."),
) -> None:
    """Learn a query adapter per embedder, which ranks passages, from questions with known gold passages; it keeps the first questions people asked (not follow-ups, not written ones) as a memory the retriever consults, and saves every first question's words per passage for the retriever's 'questions' list (rag/adapter.py)."""
    from evals.adapter import WRITTEN_WEIGHT
    from evals.adapter import train_adapter as train
    from ingest.index import IndexUnavailable

    if l2 < 0 or epochs < 1 or (written_weight is not None and written_weight < 0):
        _fail("--l2 and --written-weight must be at least 0, --epochs at least 1.")
    if no_written and written:
        _fail("--no-written and --written contradict each other.")
    if written_weight is not None and (no_written or (dataset and not written)):
        err.print("Note: --written-weight has no effect without a written set.", markup=False, highlight=False)
    try:
        trained = train(_settings(), dataset or None, out, l2=l2, epochs=epochs,
                        written=[] if no_written else (written or None),
                        written_weight=WRITTEN_WEIGHT if written_weight is None else written_weight,
                        progress=_progress_printer())
    except (IndexUnavailable, ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    from rag.adapter import PassageQuestions

    for adapter, path in trained:
        if isinstance(adapter, PassageQuestions):
            console.print(f"passage questions (the retriever's 'questions' list): {len(adapter.questions)} first "
                          f"questions; saved: {path}", markup=False, highlight=False, soft_wrap=True)
            continue
        written_note = (f" ({adapter.meta['written_items']} of them written for training, weight "
                        f"{adapter.meta['written_weight']})" if adapter.meta.get("written_items") else "")
        console.print(f"{adapter.embedder}: trained on {adapter.meta['items']} questions of {len(adapter.meta['datasets'])} "
                      f"sets{written_note}; saved: {path}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def bench(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (progress goes to stderr)."),
    quick: bool = typer.Option(False, "--quick", help="Reduced run: corpus ×1 and ×2, 24 questions, one repetition."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write bench-YYYY-MM-DD.json and .md into this folder."),
) -> None:
    """Benchmark ingest, answer latency per stage, concurrent throughput and corpus scaling (temporary indexes)."""
    from evals import bench as benchmark
    from ingest.index import IndexUnavailable

    try:
        result = benchmark.run_default(_settings(), quick=quick, log=lambda m: err.print(m, markup=False, highlight=False))
    except (IndexUnavailable, RuntimeError, ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    if out:
        for path in benchmark.write_outputs(result, out):
            err.print(f"Written: {path}", markup=False, highlight=False, soft_wrap=True)
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    benchmark.print_tables(result, console)


@app.command("app")
def run_app(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to serve on."),
    port: int = typer.Option(8501, "--port", help="Port to serve on."),
) -> None:
    """Serve the Streamlit app in the foreground (usage statistics off)."""
    import os
    import subprocess

    page = Path(__file__).resolve().parent / "streamlit_app.py"
    cmd = [sys.executable, "-m", "streamlit", "run", str(page), "--server.address", host,
           "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--client.toolbarMode", "minimal", "--client.showErrorDetails", "none"]
    raise typer.Exit(subprocess.call(cmd, env={**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}))


def _settings() -> Settings:
    """The settings from the environment; a WIJZER_* value that does not parse is named, no traceback
    (inside a command a ValidationError would otherwise be caught as a ValueError and shown raw)."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        _invalid_setting(exc)


def _invalid_setting(exc) -> NoReturn:
    problems = []
    for e in exc.errors():
        name = f"WIJZER_{str(e['loc'][0]).upper()}" if e.get("loc") else "a setting"
        # pydantic's "Value error, " prefix says nothing; a value our own check shows is not shown twice
        msg = str(e["msg"]).removeprefix("Value error, ")
        shown = "" if "key" in name.lower() or "got " in msg else f" (got {e.get('input')!r})"
        problems.append(f"{name}: {msg}{shown}")
    from rich.markup import escape

    err.print(f"[bold red]Error:[/] invalid setting — {escape('; '.join(problems))}", soft_wrap=True,
              highlight=False)
    sys.exit(2)


def main() -> None:
    from pydantic import ValidationError

    try:
        app()
    except ValidationError as exc:  # a setting read outside the commands' own checks
        _invalid_setting(exc)


if __name__ == "__main__":
    main()
