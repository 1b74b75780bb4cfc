# The README's two commands. Each sets everything up from a fresh clone.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (pilotgate needs Python 3.11)"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m pilotgate.demo

test: $(STAMP)
	bash scripts/test-services.sh
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy lifecycle config store pilotgate slack_out slack_in web tasks flows deployments slackemu

bench: $(STAMP)
	$(BIN)/python bench/sweep.py
	$(BIN)/python bench/listener.py
	$(BIN)/python bench/cli.py
	$(BIN)/python bench/relay.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
