# Everything a fresh clone needs: `make pdf` builds the homework, `make test` runs the tests.
# Both create the virtual environment and install TeX Live first when they are missing.

PYTHON_SYSTEM ?= python3
VENV          := .venv
PY            := $(VENV)/bin/python
STAMP         := $(VENV)/.installed-stamp
TEX_STAMP     := $(VENV)/.tex-checked
BUILD         := $(PY) build.py
ARGS          ?=

.DEFAULT_GOAL := pdf
.PHONY: pdf test lint typecheck unit setup tex clean bench check-repro ci check watch export

# The venv is rebuilt when the pinned dependencies change. editable_mode=compat installs a
# plain .pth path instead of an import hook, which would cost every build 8 ms of start-up.
# Restartable at any point (Ctrl-C in a fresh clone's first `make pdf`): a venv whose pip does
# not run (never finished, or lost in an interrupted upgrade) is made again, in a folder of its
# own that is renamed into place only once it has pip; pip itself resumes an interrupted install.
$(STAMP): pyproject.toml
	@$(PY) -m pip --version >/dev/null 2>&1 || { \
	    echo "creating the virtual environment $(VENV)"; \
	    rm -rf $(VENV).new && $(PYTHON_SYSTEM) -m venv $(VENV).new && \
	    rm -rf $(VENV) && mv $(VENV).new $(VENV); }
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,dask]' \
	    --config-settings editable_mode=compat
	@touch $@

setup: $(STAMP) $(TEX_STAMP)

# TeX Live from Debian's packages: every engine and biber (the tests use them all). As root it
# runs apt-get; otherwise it prints the command and stops. `make pdf` checks once per virtual
# environment (the check takes 85 ms, a no-op build 70 ms); `make tex` checks again.
$(TEX_STAMP): $(STAMP)
	@$(PY) -m hwbuild setup-tex --all
	@touch $@

tex: $(STAMP)
	@$(PY) -m hwbuild setup-tex --all
	@touch $(TEX_STAMP)

pdf: setup
	$(BUILD) $(ARGS)

problem-%: setup
	$(BUILD) --problem $* $(ARGS)

test: setup
	$(PY) -m ruff check hwbuild solutions tests build.py scripts
	$(PY) -m mypy
	$(PY) -m pytest -n auto $(ARGS)

lint: $(STAMP)
	$(PY) -m ruff check hwbuild solutions tests build.py scripts

typecheck: $(STAMP)
	$(PY) -m mypy

unit: $(STAMP)
	$(PY) -m pytest -m "not tex and not slow" $(ARGS)

# Time the edit-to-PDF loop against bare latexmk and knitr; ARGS="--output docs/benchmarks.md"
# records it.
bench: setup
	$(PY) scripts/bench.py $(ARGS)

# Two clean builds, in two temporary copies, must give byte-identical PDFs, figures and results.
check-repro: setup
	$(PY) scripts/check_repro.py $(ARGS)

# What a grader would notice in the PDF (exit 8 on an error); writes build/page-map.json.
check: setup
	$(BUILD) $(ARGS) check

# Rebuild on every save of a source; Ctrl-C stops.
watch: setup
	$(BUILD) $(ARGS) watch

# dist/homework-source.zip: the sources that compile with plain latexmk (Overleaf, arXiv).
export: setup
	$(BUILD) $(ARGS) export

# CI's artifact, in dist/: every document's PDFs (whole and per problem), checked, with
# page-map.json, manifest.json and the results JSON. dist/ is gathered even when check finds
# errors, so that the PDFs can be read; make ci then fails with check's exit code.
ci: setup
	$(BUILD) $(ARGS) ci

clean:
	@if [ -x $(PY) ]; then $(BUILD) clean; else rm -rf build; find figures -type f ! -name .gitkeep -delete; fi
	rm -rf dist
