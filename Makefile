# The few verbs people use. Each creates .venv when missing and installs meshgate with its dev extras.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# datacontract-cli pins packages ours clash with (pydantic, duckdb, ...): it gets a virtualenv of its own,
# which tests/registry/test_odcs.py runs.
DATACONTRACT_VENV := .venv-datacontract
DATACONTRACT_STAMP := $(DATACONTRACT_VENV)/.installed

.PHONY: demo test bench lint proto install

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(DATACONTRACT_STAMP):
	test -x $(DATACONTRACT_VENV)/bin/python || $(PYTHON) -m venv $(DATACONTRACT_VENV)
	$(DATACONTRACT_VENV)/bin/pip install --quiet 'datacontract-cli[duckdb]>=1.2,<2'
	touch $(DATACONTRACT_STAMP)

install: $(STAMP) $(DATACONTRACT_STAMP)

demo: $(STAMP)
	$(BIN)/meshgate demo

test: $(STAMP) $(DATACONTRACT_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	# run as modules: benchmarks/registry.py must not shadow the registry package
	for script in benchmarks/*.py; do name=$$(basename $$script .py); echo "== $$name"; $(BIN)/python -m benchmarks.$$name || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

proto: $(STAMP)
	$(BIN)/python scripts/gen_proto.py
