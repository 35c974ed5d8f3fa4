# The two commands of the README:
#   make run    set up and run the hub on its embedded default (SQLite under ./var)
#   make test   set up and pass the whole test suite (starts a local PostgreSQL, Apache Kafka and
#               Keycloak; the console's browser tests need Debian's chromium)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup run test lint unit integration e2e bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: setup
	$(BIN)/hub serve

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy hub
	$(BIN)/lint-imports

test: setup lint
	$(BIN)/hub policy test
	deploy/local/postgres.sh start
	deploy/local/kafka.sh start
	deploy/local/keycloak.sh start
	deploy/local/chromium.sh
# kustomize for the Kubernetes manifest tests: kubectl's own, else built once (docs/kubernetes.md)
	command -v kubectl >/dev/null || command -v kustomize >/dev/null || deploy/install-kustomize.sh
	$(BIN)/pytest tests

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .hypothesis
