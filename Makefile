# Daifa: the few entry points a newcomer needs. Every target sets up what it uses.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_PY := $(VENV)/.installed
STAMP_NODE := node_modules/.installed

.PHONY: help setup test test-fast lint compile compile-check bench-gas lock clean

help:
	@echo "make test        set up everything and run lint and every test (eth-tester and anvil)"
	@echo "make test-fast   the contract tests on the in-process chain only"
	@echo "make lint        ruff and mypy"
	@echo "make compile     recompile the contracts into platform/daifa/artifacts"
	@echo "make bench-gas   measure gas and write snapshots/gas.json"

setup: $(STAMP_PY) $(STAMP_NODE)

$(STAMP_PY): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(STAMP_NODE): package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

lint: $(STAMP_PY)
	$(VENV)/bin/ruff check platform tests bench scripts
	$(VENV)/bin/ruff format --check platform tests bench scripts
	$(VENV)/bin/mypy

compile: setup
	$(PY) scripts/compile.py

compile-check: setup
	$(PY) scripts/compile.py --check

test: setup lint
	$(PY) -m pytest -n 2 --dist loadfile -q

test-fast: setup
	$(PY) -m pytest -q --chains eth-tester tests/contracts --deselect tests/contracts/test_gas_record.py

bench-gas: setup
	$(PY) -m bench.gas

lock: $(STAMP_PY)
	{ echo "# Exact versions of every Python package the platform and its tests use (pip freeze)."; \
	  echo "# Regenerate with \`make lock\` after changing pyproject.toml."; \
	  $(PY) -m pip freeze --exclude-editable; } > requirements.lock

clean:
	rm -rf $(VENV) node_modules build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis var
