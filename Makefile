# omnicx — every target does its own set-up and is safe to run twice.
#   make demo    set up, start the local stack, run the main job end to end
#   make test    set up and run the whole test suite against real services
#   make bench   set up, print the benchmark figures (BENCH <name> <value> <unit>) next to their
#                peers, and write table + charts to .omnicx/bench/ (subset: make bench BENCH="streams quix")

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
KAFKA_JARS := infra/kafka/target/lib/.resolved
SPARK_JARS := infra/spark/target/lib/.resolved
PYTEST_ARGS ?=
BENCH ?=

.PHONY: setup demo test bench up down status lint clean distclean

setup: $(VENV)/.installed $(KAFKA_JARS) $(SPARK_JARS) redis-server

# The Redis online store runs Debian's redis-server; installed only when it is missing.
.PHONY: redis-server
redis-server:
	@command -v redis-server >/dev/null || { apt-get update && apt-get install -y redis-server; }

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "omnicx needs Python 3.11: set PYTHON=/path/to/python3.11")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "==> installing Python packages into $(VENV) (first run takes a few minutes)"
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

$(KAFKA_JARS): infra/kafka/pom.xml $(VENV)/.installed
	$(PY) -m infra.maven infra/kafka/pom.xml infra/kafka/target/lib

$(SPARK_JARS): infra/spark/pom.xml $(VENV)/.installed
	$(PY) -m infra.maven infra/spark/pom.xml infra/spark/target/lib

demo: setup
	$(VENV)/bin/omnicx demo

# pytest exits 5 when it collected no tests: a run that checked nothing must not pass.
test: setup
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests; failing" >&2; fi; \
	  exit $$rc

bench: setup
	$(PY) -m bench.run $(BENCH)

up: setup
	$(VENV)/bin/omnicx up

down:
	@test -x $(VENV)/bin/omnicx && $(VENV)/bin/omnicx down || true

status: setup
	$(VENV)/bin/omnicx status

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy schemas infra omnicx

clean: down
	rm -rf .omnicx

distclean: clean
	rm -rf $(VENV) infra/*/target
