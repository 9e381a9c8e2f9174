# The README's commands. `make local` starts the whole stack on this machine; `make test` runs every check CI runs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# pyenv machines only resolve `python3.12` when that version is selected: select every installed 3.11+.
ifneq ($(shell command -v pyenv 2>/dev/null),)
export PYENV_VERSION ?= $(shell pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[1-9])\.[0-9]+$$' | sort -rV | paste -sd: -)
endif
# Lambda runs python3.12: prefer it, so that `sam build` finds the same interpreter.
PYTHON ?= $(shell PYENV_VERSION=$(PYENV_VERSION); export PYENV_VERSION; for p in python3.12 python3.13 python3.11 python3; do \
            if $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
# checkov pins its own boto3 (1.35), which cannot share .venv with aws-sam-cli's: it gets a venv of its own.
CHECKOV_VENV := .venv-checkov
export SAM_CLI_TELEMETRY := 0
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help setup local test unit lint check build deploy bench clean browser

help:
	@echo "make local   start the local stack on http://127.0.0.1:3000 (state in .chronicle/)"
	@echo "make test    install into .venv, then lint, schema check, sam validate/build and the tests"
	@echo "make bench   run the benchmarks in bench/"
	@echo "make deploy  sam build + sam deploy (AWS credentials needed; see docs/deploy.md)"

# Checks that need a region (sam validate, moto) get one unless yours is set; deploy uses your profile's own.
lint unit check build: export AWS_DEFAULT_REGION ?= us-east-1

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements-lock.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required"; exit 1; }
	@echo "First run: creating $(VENV) and installing the pinned dependencies (about a minute)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	set -o pipefail; $(BIN)/pip install -c requirements-lock.txt -e '.[local,dev]' 2>&1 \
	  | { grep --line-buffered -E '^(Collecting|Installing|Successfully|ERROR)' || true; }
	@touch $@

local: setup
	$(BIN)/chronicle local --watch $(ARGS)

test: setup lint check build unit

unit: setup browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The console's browser tests drive Debian's chromium through Playwright (its own browser download is not used).
# Installed once as root (CI runs as root on a fresh machine); a no-op when chromium is there. Chromium refuses to
# start as root with its sandbox: /etc/chromium.d/ (sourced by Debian's launcher) adds --no-sandbox for root only,
# so `chromium --headless --dump-dom URL` works as typed there too.
CHROMIUM_ROOT_FLAGS := /etc/chromium.d/zz-root-no-sandbox
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's chromium for the console's browser tests..."; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	      || echo "chromium could not be installed: the console's browser tests will skip"; \
	  else echo "no chromium (as root: apt-get install chromium): the console's browser tests will skip"; fi; }
	@if [ "$$(id -u)" = 0 ] && [ -d /etc/chromium.d ] && [ ! -f $(CHROMIUM_ROOT_FLAGS) ]; then \
	  printf '%s\n' '# chronicle (make browser): chromium cannot use its sandbox as root' \
	    'if [ "$$(id -u)" = 0 ]; then export CHROMIUM_FLAGS="$$CHROMIUM_FLAGS --no-sandbox"; fi' \
	    > $(CHROMIUM_ROOT_FLAGS); fi

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required"; exit 1; }
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet --no-deps -r requirements-checkov.txt
	@touch $@

lint: setup $(CHECKOV_VENV)/.installed
	$(BIN)/ruff check src functions tests bench
	$(BIN)/cfn-lint template.yaml
	# every finding fixed in template.yaml or skipped, with its reason, in .checkov.yaml
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml -f template.yaml
	$(BIN)/statelint statemachine/*.asl.json
	$(BIN)/sam validate --lint --template-file template.yaml

check: setup
	$(BIN)/chronicle schemas check

build: setup
	$(BIN)/sam build --template-file template.yaml --build-dir .aws-sam/build

# Needs AWS credentials; samconfig.toml holds the defaults (stack "chronicle"). ARGS="--region eu-west-1 ..."
# sam looks for samconfig.toml beside the template it is given (.aws-sam/build/): name ours explicitly.
deploy: build
	$(BIN)/sam deploy --template-file .aws-sam/build/template.yaml --config-file $(CURDIR)/samconfig.toml $(ARGS)

bench: setup
	$(BIN)/python bench/eventstore.py
	$(BIN)/python bench/archive.py
	$(BIN)/python bench/local_runtime.py
	$(BIN)/python bench/personal_data.py
	$(BIN)/python bench/input_limits.py
	$(BIN)/python bench/cost.py

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .ruff_cache
