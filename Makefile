# The two set-up commands of the README. Both create .venv/ from the project's
# own pinned files on a fresh machine, then do their job.
PYTHON ?= python3
VENV := .venv
# Two workers on the 2-core machines; each test module stays on one worker.
PYTEST_ARGS ?= -n 2 --dist loadfile
BIN := $(VENV)/bin
UV_VERSION := 0.13.8

.PHONY: demo test lint typecheck pytest install clean

demo: install
	$(BIN)/csc-pipeline demo

test: install lint typecheck pytest

install: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

lint: install
	$(BIN)/ruff check etl dags tests bench
	$(BIN)/ruff format --check etl dags tests bench

typecheck: install
	$(BIN)/mypy etl

pytest: install
	$(BIN)/pytest $(PYTEST_ARGS)

# Re-resolve the lock after changing dependencies in pyproject.toml.
lock: install
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) var
