# Two commands on a fresh clone: `make demo` and `make test`. Each bootstraps .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SAMPLE := data/sample

.PHONY: demo test lint sample chromium java clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

# The Spark engine (optional extra) is installed for the tests only.
$(VENV)/.spark-stamp: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[spark]'
	touch $@

$(SAMPLE)/interactions.csv.gz: | $(STAMP)
	$(BIN)/cohortscan generate $(SAMPLE) --scenario medium --seed 0

sample: $(STAMP)
	$(BIN)/cohortscan generate $(SAMPLE) --scenario medium --seed 0

demo: $(STAMP) $(SAMPLE)/interactions.csv.gz
	$(BIN)/cohortscan run $(SAMPLE)/interactions.csv.gz --posts $(SAMPLE)/posts.csv \
		--accounts $(SAMPLE)/accounts.csv --out reports/demo --window 1h --seed 0 --verbose
	$(BIN)/cohortscan evaluate reports/demo $(SAMPLE)/labels.csv
	@echo "open reports/demo/index.html"

# Browser tests need Debian's chromium; install it when absent (root on CI machines).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The Spark test needs a Java 17 runtime; install Debian's when absent.
java:
	@command -v java >/dev/null 2>&1 || { \
		echo "installing Debian openjdk-17 for the Spark test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			openjdk-17-jre-headless >/dev/null; }

test: $(STAMP) $(VENV)/.spark-stamp chromium java
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) reports .pytest_cache
