# Everything runs from the repository's own virtualenv, created on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REQUIREMENTS := layers/common/requirements.txt functions/chat/requirements.txt requirements-dev.txt
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install dev test test-sqlite test-postgres migrate bench lint format events events-run token openapi example example-dev smoke \
	package soak clean sam-build sam-test build-CommonLayer build-SessionFunction build-HistoryFunction build-ChatFunction

$(STAMP): $(REQUIREMENTS) pyproject.toml layers/common/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet $(foreach r,$(REQUIREMENTS),-r $(r)) -e layers/common -e .
	@touch $(STAMP)

install: $(STAMP)

dev: install  ## run the three functions behind one local gateway (SQLite, offline model unless OPENAI_API_KEY)
	$(PY) -m infra.devserver

# The whole suite measures branch coverage and holds it at 90% or more; a chosen subset (PYTEST_ARGS) does not.
COVERAGE := $(if $(PYTEST_ARGS),,--cov --cov-fail-under=90)

test: install  ## the whole suite, on SQLite and on PostgreSQL, with branch coverage (floor 90%)
	$(PY) -m pytest $(COVERAGE) $(PYTEST_ARGS)

test-sqlite: install
	TEST_DATABASES=sqlite $(PY) -m pytest $(PYTEST_ARGS)

test-postgres: install
	TEST_DATABASES=postgres $(PY) -m pytest $(PYTEST_ARGS)

migrate: install  ## apply the migrations to $$DATABASE_URL (default: the local SQLite file)
	$(PY) -m infra.migrate

bench: install  ## benchmarks; figures go to docs/benchmarks.md
	$(PY) -m infra.bench $(BENCH)

soak: install  ## 50 users chatting at once through the local gateway (PostgreSQL), then a consistency check
	$(PY) -m infra.bench soak

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: install
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

events: install  ## the sample Lambda events with a fresh dev token, into .data/events/ (untracked), for sam local invoke
	$(PY) -m infra.events

events-run: install  ## in a database of its own (.data/events-run.db, never the dev one): seed, invoke every handler with every sample event
	$(PY) -m infra.events run

# USER is also the shell's login name: only a USER given on the command line names the token's user.
token: install  ## a dev token for USER (make token USER=mallory; default: the demo user)
	@$(PY) -m infra.devtoken $(if $(filter command line,$(origin USER)),$(USER))

openapi: install  ## regenerate docs/openapi/*.json
	$(PY) -m infra.openapi

EXAMPLE := examples/nextjs
# better-sqlite3 (Better Auth's SQLite) is compiled from source: its prebuilt binaries come from outside the npm registry.
NPM_CI := npm_config_build_from_source=true npm ci --no-audit --no-fund
example:  ## the Next.js example: npm ci, tsc --noEmit (with the widget fixtures against ChatKit's WidgetRoot), next build
	cd $(EXAMPLE) && $(NPM_CI) && node scripts/widget-fixtures.mjs && npx --no-install tsc --noEmit && \
		NEXT_TELEMETRY_DISABLED=1 npx --no-install next build

# URL and TOKEN reach the script through the environment (make exports command-line variables): no token in `ps`.
smoke: install  ## check a deployed stack end to end: make smoke URL=<HttpApiUrl> TOKEN=<a Better Auth token of a user>
	@$(PY) -m infra.smoke

example-dev: install  ## the todo app: the backend (local gateway) and the Next.js example together; prints the URL
	$(PY) -m infra.exampledev

package: install  ## build the layer and functions for Lambda (no Docker) into build/ (ARCH=arm64|x86_64)
	$(PY) -m infra.package

# `sam build` (BuildMethod: makefile) calls these with ARTIFACTS_DIR; they run the same code as `make package`.
build-CommonLayer build-SessionFunction build-HistoryFunction build-ChatFunction: install
	$(PY) -m infra.package --sam-artifact $(@:build-%=%) "$(ARTIFACTS_DIR)"

SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
ARCH ?= $(shell uname -m | sed -e 's/aarch64/arm64/')

$(SAM): requirements-sam.txt
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet -r requirements-sam.txt
	@touch $(SAM)

sam-build: install $(SAM)  ## sam validate --lint, then sam build (no container) into .aws-sam/build
	$(SAM) validate --lint --template-file template.yaml --region us-east-1
	ARCH=$(ARCH) $(SAM) build --template-file template.yaml --build-in-source --parameter-overrides Architecture=$(ARCH)

sam-test: sam-build  ## the Lambda sandbox tests on what sam build made
	LAMBDA_BUNDLE_DIR=.aws-sam/build $(PY) -m pytest tests/deploy/test_lambda_sandbox.py $(PYTEST_ARGS)

clean:
	rm -rf build .aws-sam .pytest_cache .mypy_cache .ruff_cache
