# The few verbs people use. Each creates .venv when missing and installs meshgate with its dev extras;
# `make test` also creates .venv-airflow (`make airflow`).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Airflow 3 in an environment of its own, as a deployment has it (meshgate[airflow]: Airflow beside the DAG's
# tasks, without the dev tools); the example DAG's tests run `airflow` from it.
AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed
# datacontract-cli pins packages ours clash with (pydantic, duckdb, ...): it gets a virtualenv of its own,
# which tests/registry/test_odcs.py runs.
DATACONTRACT_VENV := .venv-datacontract
DATACONTRACT_STAMP := $(DATACONTRACT_VENV)/.installed

.PHONY: demo test fuzz bench lint proto install airflow datacontract

# Each install stage says what it does and how long it took (the last one takes minutes).
STAGE = @echo "==> [$(1)] $(2)"
$(STAMP): pyproject.toml
	$(call STAGE,1/3,creating $(VENV) with $(PYTHON))
	@start=$$(date +%s); { test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); } \
	  && echo "    done in $$(( $$(date +%s) - start )) s"
	$(call STAGE,2/3,upgrading pip)
	@start=$$(date +%s); $(BIN)/pip install --quiet --upgrade pip \
	  && echo "    done in $$(( $$(date +%s) - start )) s"
	$(call STAGE,3/3,installing meshgate and its dev extras (dbt; Dagster; DuckDB; pyiceberg: about 2 minutes))
	@start=$$(date +%s); $(BIN)/pip install --quiet -e '.[dev]' \
	  && echo "    done in $$(( $$(date +%s) - start )) s"
	@touch $(STAMP)
	@echo "==> installed $(BIN)/meshgate and $(BIN)/contract-check (source $(BIN)/activate puts them on PATH)"

$(DATACONTRACT_STAMP):
	test -x $(DATACONTRACT_VENV)/bin/python || $(PYTHON) -m venv $(DATACONTRACT_VENV)
	$(DATACONTRACT_VENV)/bin/pip install --quiet 'datacontract-cli[duckdb]>=1.2,<2'
	touch $(DATACONTRACT_STAMP)

install: $(STAMP)

$(AIRFLOW_STAMP): pyproject.toml
	test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/pip install --quiet -e '.[airflow]'
	touch $(AIRFLOW_STAMP)

airflow: $(AIRFLOW_STAMP)

datacontract: $(DATACONTRACT_STAMP)

demo: $(STAMP)
	$(BIN)/meshgate demo

# Two workers, each taking whole test files (a module's servers and fixtures stay in one process):
# the suite's time is mostly waits on servers, dbt and Dagster, which overlap. PYTEST_WORKERS=0 runs serially.
PYTEST_WORKERS ?= 2
test: $(STAMP) $(AIRFLOW_STAMP) $(DATACONTRACT_STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The fuzz harness' long profile: DURATION seconds shared by its entry points; failing examples are
# saved to tests/registry/fuzz/regressions/ (replayed by every `make test`). `make test` runs the quick one.
DURATION ?= 600
fuzz: $(STAMP)
	MESHGATE_FUZZ_SECONDS=$(DURATION) $(BIN)/python -m pytest -q -p no:cacheprovider --timeout=0 tests/registry/fuzz

# Each benchmark's output is also kept in $(BENCH_LOGS)/<name>.log; the table of their FIGURE lines comes last.
# Run as modules: benchmarks/registry.py must not shadow the registry package; _*.py are helpers, not benchmarks.
BENCH_LOGS := .meshgate/bench
bench: SHELL := /bin/bash
bench: .SHELLFLAGS := -o pipefail -c
bench: $(STAMP)
	@mkdir -p $(BENCH_LOGS); rm -f $(BENCH_LOGS)/*.log; status=0; \
	for script in benchmarks/[!_]*.py; do name=$$(basename $$script .py); echo "== $$name"; \
	  $(BIN)/python -m benchmarks.$$name 2>&1 | tee $(BENCH_LOGS)/$$name.log || { status=1; break; }; done; \
	echo "== summary"; $(BIN)/python -m benchmarks._summary $(BENCH_LOGS)/*.log; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

proto: $(STAMP)
	$(BIN)/python scripts/gen_proto.py
