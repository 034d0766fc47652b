# stackflow: `make demo` and `make test` bootstrap everything they need from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFORMANCE := ../shared/conformance

.PHONY: demo test lint typecheck unit conformance bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	bash examples/demo.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest

conformance: $(STAMP)
	@if [ -f $(CONFORMANCE)/asl/run.py ]; then \
		$(BIN)/python $(CONFORMANCE)/asl/run.py --min 0.97 --show 5; \
	elif [ "$${CI:-}" = "true" ]; then \
		echo "conformance cases not found at $(CONFORMANCE) (required in CI)"; exit 1; \
	else echo "conformance cases not found at $(CONFORMANCE); skipped outside CI"; fi
	@if [ -f $(CONFORMANCE)/cfn/run.py ]; then \
		$(BIN)/python $(CONFORMANCE)/cfn/run.py --min 0.97 --show 5; \
	elif [ "$${CI:-}" = "true" ]; then \
		echo "CFN conformance cases not found at $(CONFORMANCE) (required in CI)"; exit 1; \
	else echo "CFN conformance cases not found at $(CONFORMANCE); skipped outside CI"; fi

test: lint typecheck conformance unit

bench: $(STAMP)
	$(BIN)/python benchmarks/asl_throughput.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
