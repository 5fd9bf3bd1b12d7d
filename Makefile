# `make check-loss` and `make test` create the virtual environment on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: venv check-loss test test-fast clean

$(BIN)/symtheory: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[torch,test,ray]"
	touch $(BIN)/symtheory

venv: $(BIN)/symtheory

check-loss: venv
	$(BIN)/symtheory check-loss rll

test: venv
	$(BIN)/python -m pytest

test-fast: venv
	$(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf $(VENV) build dist *.egg-info
