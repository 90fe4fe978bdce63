# The README's two commands. Both create .venv and install dvbuild into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_OUT ?= out/demo

.PHONY: demo test lint venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.demo-installed: pyproject.toml $(BIN)/python
	$(BIN)/pip install -q -e '.[all]'
	touch $@

$(VENV)/.test-installed: pyproject.toml $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	$(BIN)/dvbuild local --repo examples/monorepo --all --out $(DEMO_OUT)
	@echo "demo results: $(DEMO_OUT)/comment.md (the PR comment), $(DEMO_OUT)/summary.md,"
	@echo "  $(DEMO_OUT)/packages (test runs), $(DEMO_OUT)/store, $(DEMO_OUT)/manifests"

# Installs the system services the tests start (Docker engine, registry, PostgreSQL,
# debootstrap for the test base image), lints (ruff, strict mypy), then runs the whole suite. The test
# session itself starts and stops the services (tests/services/).
test: $(VENV)/.test-installed lint
	scripts/test-deps.sh
	$(BIN)/pytest -ra

lint: $(VENV)/.test-installed
	$(BIN)/ruff check dvbuild tests bench
	$(BIN)/mypy dvbuild

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
