# The two commands of the README:
#   make run    set up and run the hub on its embedded default (SQLite under ./var)
#   make test   set up and pass the whole test suite (starts a local PostgreSQL, Apache Kafka and
#               Keycloak; the console's browser tests need Debian's chromium)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup lock run test lint unit integration e2e bench clean

setup: $(VENV)/.installed

# Exactly the locked, hash-checked packages (requirements/dev.txt), then the hub itself without
# its dependencies; built without build isolation, by the locked hatchling.
$(VENV)/.installed: pyproject.toml requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Re-lock after changing pyproject.toml's dependencies (tests/unit/deploy/test_lock.py fails until
# then): dev.txt is everything `make setup` installs, runtime.txt what the image installs (the
# same versions), build.txt the build backend (the image's builder stage).
UV_COMPILE := $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command 'make lock'
lock: setup
	$(UV_COMPILE) pyproject.toml --extra dev requirements/build.in -o requirements/dev.txt
	$(UV_COMPILE) pyproject.toml -c requirements/dev.txt -o requirements/runtime.txt
	$(UV_COMPILE) requirements/build.in -c requirements/dev.txt -o requirements/build.txt

run: setup
	$(BIN)/hub serve

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy hub
	$(BIN)/lint-imports

TEST_WORKERS ?= auto

test: setup lint
	$(BIN)/hub policy test
	deploy/local/postgres.sh start
	deploy/local/kafka.sh start
	deploy/local/keycloak.sh start
	deploy/local/os-packages.sh
# kustomize for the Kubernetes manifest tests: kubectl's own, else built once (docs/kubernetes.md)
	command -v kubectl >/dev/null || command -v kustomize >/dev/null || deploy/install-kustomize.sh
# On every core (pytest-xdist), one test file per worker at a time: each test has its own database
# schema or file, topic and ports. Then, alone, the tests that stop a shared service.
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile -m "not serial" tests
	$(BIN)/pytest -m serial tests

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .hypothesis
