# nevoa — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help install services run test test-fast test-slow fuzz lint typecheck bench chaos clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing nevoa and its dependencies into $(VENV)"
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create the virtualenv and install nevoa with its dev tools

services: ## make sure mosquitto and redis-server are installed (apt-get as root)
	@bash scripts/ensure-services.sh

run: install services ## run two regions, the cloud on :8000 and 200 demo meters (Ctrl-C stops)
	@$(VENV)/bin/nevoa-stack run

test: install services ## run the whole test suite on real Mosquitto and Redis
	@$(VENV)/bin/pytest -q -m "not compose and not bench"

test-fast: install services ## the tests without the slow fault-injection ones
	@$(VENV)/bin/pytest -q -m "not slow and not compose and not bench"

fuzz: install ## fuzz the decoders (>= 100,000 inputs; NEVOA_FUZZ_EXAMPLES to change)
	@NEVOA_FUZZ_EXAMPLES=$${NEVOA_FUZZ_EXAMPLES:-100000} $(VENV)/bin/pytest -q tests/fuzz

lint: install ## ruff and mypy --strict
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/mypy nevoa_core nevoa_adapters nevoa_stack fog_node meter cloud

bench: install services ## benchmarks: figures and ratios against baselines measured in the same run
	@set -e; for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b; done

chaos: install services ## the fault suite: every drill counts its readings; exits non-zero on any loss
	@$(PY) -m nevoa_chaos $(CHAOS_ARGS)

clean: ## remove the virtualenv, caches and .nevoa/
	rm -rf $(VENV) .nevoa .pytest_cache .ruff_cache .mypy_cache *.egg-info

-include compose/compose.mk
