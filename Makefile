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

# The venv is rebuilt when the pinned dependencies change. editable_mode=compat installs a
# plain .pth path instead of an import hook, which would cost every build 8 ms of start-up.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON_SYSTEM) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]' \
	    --config-settings editable_mode=compat
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

# Time the edit-to-PDF loop against bare latexmk; ARGS="--output docs/benchmarks.md" records it.
bench: setup
	$(PY) scripts/bench.py $(ARGS)

# Two clean builds, in two temporary copies, must give byte-identical PDFs, figures and results.
check-repro: setup
	$(PY) scripts/check_repro.py $(ARGS)

# What a grader would notice in the PDF (exit 8 on an error); writes build/page-map.json.
check: setup
	$(BUILD) $(ARGS) check

# Rebuild on every save of a template, a solution or hwbuild.toml; Ctrl-C stops.
watch: setup
	$(BUILD) $(ARGS) watch

# CI's artifact, in dist/: the homework and every per-problem PDF, page-map.json (written by
# check), the results JSON and build/manifest.json. dist/ is gathered even when check finds
# errors, so that the PDFs can be read; make ci then fails with check's exit code.
ci: setup
	$(BUILD) $(ARGS)
	$(BUILD) $$($(BUILD) --list | awk '{printf "--problem %s ", $$1}') $(ARGS)
	@status=0; $(BUILD) check --no-build || status=$$?; \
	rm -rf dist && mkdir -p dist/results && \
	cp build/homework.pdf build/page-map.json build/manifest.json dist/ && \
	for id in $$($(BUILD) --list | awk '{print $$1}'); do \
	  cp build/problem-$$id.pdf dist/ && cp build/results/problem$$id.json dist/results/ \
	  || exit 1; \
	done; \
	echo "dist/: $$(cd dist && find . -type f | sort | sed 's|^./||' | tr '\n' ' ')"; \
	exit $$status

clean:
	@if [ -x $(PY) ]; then $(BUILD) clean; else rm -rf build; find figures -type f ! -name .gitkeep -delete; fi
	rm -rf dist
