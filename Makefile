# Everything a fresh clone needs: `make pdf` builds the homework, `make test` runs the tests.
# Both create the virtual environment and install TeX Live first when they are missing.

PYTHON_SYSTEM ?= python3
VENV          := .venv
PY            := $(VENV)/bin/python
STAMP         := $(VENV)/.installed-stamp
BUILD         := $(PY) build.py
ARGS          ?=

.DEFAULT_GOAL := pdf
.PHONY: pdf test lint typecheck unit setup tex clean bench check-repro ci check watch

# The venv is rebuilt when the pinned dependencies change.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON_SYSTEM) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

setup: $(STAMP) tex

tex:
	@sh scripts/ensure-tex.sh

pdf: setup
	$(BUILD) $(ARGS)

problem-%: setup
	$(BUILD) --problem $* $(ARGS)

test: setup
	$(PY) -m ruff check hwbuild solutions tests build.py scripts
	$(PY) -m mypy
	$(PY) -m pytest $(ARGS)

lint: $(STAMP)
	$(PY) -m ruff check hwbuild solutions tests build.py scripts

typecheck: $(STAMP)
	$(PY) -m mypy

unit: $(STAMP)
	$(PY) -m pytest -m "not tex and not slow" $(ARGS)

clean:
	@if [ -x $(PY) ]; then $(BUILD) clean; else rm -rf build; find figures -type f ! -name .gitkeep -delete; fi
