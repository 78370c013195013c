# Daifa: the few entry points a newcomer needs. Every target sets up what it uses.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_RUNTIME := $(VENV)/.runtime
STAMP_PY := $(VENV)/.installed
WHEELS_SDK := .wheels/sdk
STAMP_WHEELS := $(WHEELS_SDK)/.downloaded
STAMP_NODE := node_modules/.installed
VENV_SLITHER := .venv-slither
STAMP_SLITHER := $(VENV_SLITHER)/.installed
VENV_BROWNIE := .venv-brownie
STAMP_BROWNIE := $(VENV_BROWNIE)/.installed

.PHONY: help setup demo bench test test-fast lint slither brownie-setup compile bench-gas lock lock-slither lock-brownie clean

help:
	@echo "make demo        the whole life of a wage plan on the embedded chain (no node, no database server)"
	@echo "make test        set up everything and run lint and every test (eth-tester and anvil, SQLite and PostgreSQL)"
	@echo "make test-fast   the contract tests on the in-process chain only"
	@echo "make lint        ruff and mypy"
	@echo "make slither     static analysis of the contracts (fails on high or medium findings)"
	@echo "make brownie-setup  brownie in its own virtualenv; then scripts/brownie.sh compile | run scripts/deploy.py | test"
	@echo "make compile     recompile the contracts into platform/daifa/artifacts"
	@echo "make bench-gas   measure gas and write snapshots/gas.json"
	@echo "make bench       the payroll month benchmark: prints a table, writes bench/results/payroll.json"

setup: $(STAMP_PY) $(STAMP_NODE) $(STAMP_WHEELS)

# What the platform runs on (requirements.lock): all `make demo` needs.
$(STAMP_RUNTIME): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# And what its tests and tools add (requirements-dev.lock).
$(STAMP_PY): $(STAMP_RUNTIME) requirements-dev.lock
	$(PY) -m pip install --quiet -r requirements-dev.lock
	touch $@

# The wheels `pip install daifa` alone needs, for the test that installs the SDK into a fresh virtualenv
# offline (tests/e2e/test_sdk_install.py).
$(STAMP_WHEELS): requirements-sdk.lock $(STAMP_RUNTIME)
	$(PY) -m pip download --quiet --no-deps --dest $(WHEELS_SDK) -r requirements-sdk.lock
	touch $@

$(STAMP_NODE): package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

# The demo needs only the Python environment: the embedded chain, a temporary SQLite file, a local port.
demo: $(STAMP_RUNTIME)
	$(VENV)/bin/daifa demo

lint: $(STAMP_PY)
	$(VENV)/bin/ruff check platform tests bench scripts
	$(VENV)/bin/ruff format --check platform tests bench scripts
	$(VENV)/bin/mypy

$(STAMP_SLITHER): requirements-slither.lock
	$(PYTHON) -m venv $(VENV_SLITHER)
	$(VENV_SLITHER)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_SLITHER)/bin/python -m pip install --quiet -r requirements-slither.lock
	touch $@

slither: $(STAMP_SLITHER) $(STAMP_NODE)
	$(VENV_SLITHER)/bin/python scripts/slither.py

$(STAMP_BROWNIE): requirements-brownie.lock
	$(PYTHON) -m venv $(VENV_BROWNIE)
	$(VENV_BROWNIE)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_BROWNIE)/bin/python -m pip install --quiet -r requirements-brownie.lock
	touch $@

brownie-setup: $(STAMP_BROWNIE) $(STAMP_NODE)

compile: setup
	$(PY) scripts/compile.py

# The platform's tests run on SQLite and on PostgreSQL: scripts/postgres.sh installs and starts a local
# server when it can, scripts/chromium.sh installs Debian's Chromium for the console's browser tests (CI
# sets DAIFA_CI, so that a missing server or browser fails the run instead of skipping).
test: setup lint slither brownie-setup
	DAIFA_TEST_POSTGRES_URL="$${DAIFA_TEST_POSTGRES_URL:-$$(bash scripts/postgres.sh)}" \
	DAIFA_TEST_CHROMIUM="$${DAIFA_TEST_CHROMIUM:-$$(bash scripts/chromium.sh)}" \
		$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder -q

test-fast: setup
	$(PY) -m pytest -q --chains eth-tester tests/contracts --deselect tests/contracts/test_gas_record.py

bench-gas: setup
	$(PY) -m bench.gas

# The payroll month: 1,000 payees x 12 instalments through the whole platform on a fresh anvil.
bench: setup
	$(PY) -m bench.payroll

# requirements.lock (the platform), requirements-dev.lock (its tests), requirements-sdk.lock (`pip install
# daifa` alone), from what is installed: install a changed pyproject.toml first (pip install -e '.[...]').
lock: $(STAMP_PY)
	$(PY) scripts/lock.py

lock-slither: $(STAMP_SLITHER)
	{ echo "# slither lives in its own virtualenv: it needs web3 7, the platform web3 8."; \
	  echo "# Regenerate with \`make lock-slither\`."; \
	  $(VENV_SLITHER)/bin/python -m pip freeze; } > requirements-slither.lock

lock-brownie: $(STAMP_BROWNIE)
	{ echo "# brownie lives in its own virtualenv: eth-brownie pins web3 7 and older eth-* packages."; \
	  echo "# Regenerate with \`make lock-brownie\`."; \
	  $(VENV_BROWNIE)/bin/python -m pip freeze; } > requirements-brownie.lock

clean:
	rm -rf $(VENV) $(VENV_SLITHER) $(VENV_BROWNIE) .wheels node_modules build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis var
