# stackflow: `make demo` and `make test` bootstrap everything they need from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFORMANCE := ../shared/conformance

.PHONY: demo test lint typecheck unit browser conformance bench clean

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

unit: $(STAMP) browser
	$(BIN)/python -m pytest

# Debian's chromium drives the web UI test (tests/e2e/test_ui_browser.py) through Playwright;
# Playwright's own browser download is not used.
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ]; then apt-get update && apt-get install -y chromium; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
		sudo apt-get update && sudo apt-get install -y chromium; \
	else echo "chromium is not installed and cannot be installed without root:" \
		"the browser test will be skipped (fails in CI); install it with: apt-get install chromium"; fi

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
