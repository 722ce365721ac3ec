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

# Then bytecode: uv installs without it, and with PYTHONDONTWRITEBYTECODE set
# nothing ever caches it, so every command would compile pandas, SQLAlchemy
# and GX again (about 5 s).  compileall writes .pyc files whatever that
# variable says, also compiles what an earlier install left uncompiled (uv's
# --compile-bytecode does nothing when there is nothing to install), and skips
# what is current; the Makefile is a prerequisite so that an existing .venv/
# gets it.
$(VENV)/.installed: requirements.lock pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/python -m compileall -q -j 0 \
		"$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
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
