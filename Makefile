# The few verbs people use. Each creates .venv when missing and installs meshgate with its dev extras.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test fuzz bench lint proto install

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/meshgate demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The fuzz harness' long profile: DURATION seconds shared by its entry points; failing examples are
# saved to tests/registry/fuzz/regressions/ (replayed by every `make test`). `make test` runs the quick one.
DURATION ?= 600
fuzz: $(STAMP)
	MESHGATE_FUZZ_SECONDS=$(DURATION) $(BIN)/python -m pytest -q -p no:cacheprovider --timeout=0 tests/registry/fuzz

bench: $(STAMP)
	# run as modules: benchmarks/registry.py must not shadow the registry package
	for script in benchmarks/*.py; do name=$$(basename $$script .py); echo "== $$name"; $(BIN)/python -m benchmarks.$$name || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

proto: $(STAMP)
	$(BIN)/python scripts/gen_proto.py
