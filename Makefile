# Everything runs from the repository's own virtualenv, created on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REQUIREMENTS := layers/common/requirements.txt functions/chat/requirements.txt requirements-dev.txt
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install dev test test-sqlite test-postgres test-needs example-background example-fresh chromium native-strip runtime-python compiler example-built \
	migrate bench lint format events events-run token openapi example example-dev smoke package soak clean sam-build sam-test \
	build-CommonLayer build-SessionFunction build-HistoryFunction build-ChatFunction

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
# Parallel workers (pytest-xdist): three on two cores by default, since much of the suite waits on servers, browsers
# and subprocesses; each module runs whole on one worker, so a module's own server, browser or build is set up once.
# TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 3
PARALLEL := -n $(TEST_WORKERS)

test: example-background install test-needs  ## the whole suite, on SQLite and on PostgreSQL, with branch coverage (floor 90%)
	$(PY) -m pytest $(PARALLEL) $(COVERAGE) $(PYTEST_ARGS)

# What the suite needs beyond the virtualenv, installed on first use and checked in a second afterwards: Chromium for
# the browser tests and the Lambda runtime's Python for the package and sandbox tests. The built Next.js example
# comes from `example-background`; its tests wait for that build (tests/support/example_app.py).
test-needs: chromium native-strip runtime-python compiler

# A strip that reads arm64 libraries, so the arm64 bundle of the package tests is built as deployed: binutils for
# aarch64 or llvm-strip, else Debian's binutils-aarch64-linux-gnu is installed.
native-strip:
	@command -v aarch64-linux-gnu-strip >/dev/null || command -v llvm-strip >/dev/null || { \
		echo "installing Debian's binutils-aarch64-linux-gnu to strip arm64 libraries"; \
		$(AS_ROOT) apt-get -o DPkg::Lock::Timeout=300 update -qq && DEBIAN_FRONTEND=noninteractive \
		$(AS_ROOT) apt-get -o DPkg::Lock::Timeout=300 install -y -qq binutils-aarch64-linux-gnu >/dev/null; }

# Debian's Chromium (no browser download): apt-get as root, or through sudo.
AS_ROOT := $(if $(filter 0,$(shell id -u)),,sudo)
chromium:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium for the browser tests"; \
		$(AS_ROOT) apt-get -o DPkg::Lock::Timeout=300 update -qq && DEBIAN_FRONTEND=noninteractive \
		$(AS_ROOT) apt-get -o DPkg::Lock::Timeout=300 install -y -qq chromium >/dev/null; }

# A C++ compiler and make: the example's Better Auth database driver (better-sqlite3) is compiled on npm ci, since its
# prebuilt binaries come from outside the npm registry.
compiler:
	@command -v g++ >/dev/null && command -v make >/dev/null || { echo "installing Debian's g++ and make for the example"; \
		$(AS_ROOT) apt-get -o DPkg::Lock::Timeout=300 update -qq && DEBIAN_FRONTEND=noninteractive \
		$(AS_ROOT) apt-get -o DPkg::Lock::Timeout=300 install -y -qq g++ make >/dev/null; }

# python3.12, the Lambda runtime's version (bytecode of the bundles, the Lambda sandbox): on PATH, pyenv's, or
# LAMBDA_PYTHON. Debian 12 has no python3.12 package; with pyenv present, pyenv installs it.
runtime-python: install
	@$(PY) -m infra.runtime_python >/dev/null 2>&1 || { \
		command -v pyenv >/dev/null || { echo "python3.12 is needed (install pyenv, or set LAMBDA_PYTHON)" >&2; exit 1; }; \
		echo "installing python3.12 with pyenv"; pyenv install --skip-existing 3.12 && $(PY) -m infra.runtime_python; }

test-sqlite: install
	TEST_DATABASES=sqlite $(PY) -m pytest $(PARALLEL) $(PYTEST_ARGS)

test-postgres: install
	TEST_DATABASES=postgres $(PY) -m pytest $(PARALLEL) $(PYTEST_ARGS)

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
# A registry connection that stalls is cut after a minute and tried again (npm's default waits five).
NPM_CI := npm_config_build_from_source=true npm_config_fetch_timeout=60000 npm ci --no-audit --no-fund
example:  ## the Next.js example: npm ci, tsc --noEmit (with the widget fixtures against ChatKit's WidgetRoot), next build
	rm -f $(EXAMPLE_STAMP) && cd $(EXAMPLE) && $(NPM_CI) && node scripts/widget-fixtures.mjs && npx --no-install tsc --noEmit && \
		NEXT_TELEMETRY_DISABLED=1 npx --no-install next build

# URL and TOKEN reach the script through the environment (make exports command-line variables): no token in `ps`.
smoke: install  ## check a deployed stack end to end: make smoke URL=<HttpApiUrl> TOKEN=<a Better Auth token of a user>
	@$(PY) -m infra.smoke

example-dev: install  ## the todo app: the backend (local gateway) and the Next.js example together; prints the URL
	$(PY) -m infra.exampledev

# The example is built again only when a file of it that git knows (tracked or not ignored) changed since the last
# build: the stamp holds the hash of their contents.
EXAMPLE_KEY = $$(cd $(EXAMPLE) && git ls-files -co --exclude-standard -z . | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
EXAMPLE_STAMP := $(EXAMPLE)/.next/built-from
# The key is taken before the build, so a file edited meanwhile is built next time (`make example` removes the stamp
# first, so a build that stopped half-way is not taken for a finished one).
example-built:
	@key="$(EXAMPLE_KEY)"; if [ "$$(cat $(EXAMPLE_STAMP) 2>/dev/null)" = "$$key" ]; then \
		echo "$(EXAMPLE): built, unchanged since its last build"; \
	else $(MAKE) --no-print-directory example && echo "$$key" > $(EXAMPLE_STAMP); fi

# Exits 0 when the example is built from its current sources (the example's tests ask before they use it).
example-fresh:
	@[ "$$(cat $(EXAMPLE_STAMP) 2>/dev/null)" = "$(EXAMPLE_KEY)" ]

# The example's build (about a minute and a half on 2 cores) runs beside the virtualenv's install and the suite's first
# modules. It holds the lock exclusively (its tests hold it shared while they use the build, so a build of another
# run waits for them); the lock is not passed on to npm's processes, and each build adds to the log once it holds it.
EXAMPLE_LOCK := .data/example-build.lock
EXAMPLE_LOG := .data/example-build.log
example-background: compiler
	@mkdir -p .data && echo "building the Next.js example in the background (output in $(EXAMPLE_LOG))"
	@MAKEFLAGS= MAKELEVEL= setsid flock -o $(EXAMPLE_LOCK) \
		sh -c '$(MAKE) --no-print-directory example-built >>$(EXAMPLE_LOG) 2>&1' </dev/null >/dev/null 2>&1 &

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
