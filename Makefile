# Every target creates (or reuses) .venv; `make test` is what CI runs (.ci/run).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: venv test test-unit test-compat print-compat-airflow lint browser servers bench demo docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet -e ".[emulator,s3,openlineage]" --group dev --group docs
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy airflow_provider_evolink

# Debian's Chromium for the browser tests (tests/ui), installed with apt when missing and we are root. Without it
# those tests skip and say why (EVOLINK_REQUIRE_BROWSER=1, as in CI, makes them fail instead). Never
# `playwright install`: Playwright drives this Chromium, it downloads no browser of its own.
CHROMIUM ?= /usr/bin/chromium

browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the browser tests (apt-get)"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } \
			|| echo "NOTE: apt-get could not install chromium: the browser tests (tests/ui) will be skipped"; \
	else \
		echo "NOTE: $(CHROMIUM) is missing and installing it needs root (apt-get install chromium):" \
			"the browser tests (tests/ui) will be skipped"; \
	fi

# Debian's PostgreSQL and Redis for the real-Airflow tests (tests/e2e, tests/ui, tests/production; each session starts
# throw-away servers of its own), installed with apt when missing and we are root. Without them those tests skip and
# say why (EVOLINK_REQUIRE_SERVERS=1, as in CI, makes them fail instead).
SERVER_PACKAGES = $(if $(wildcard /usr/lib/postgresql/*/bin/initdb),,postgresql) \
	$(if $(shell command -v redis-server),,redis-server)

servers:
	@if [ -z "$(strip $(SERVER_PACKAGES))" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's $(strip $(SERVER_PACKAGES)) for the real-Airflow tests (apt-get)"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			$(SERVER_PACKAGES); } || echo "NOTE: apt-get could not install $(strip $(SERVER_PACKAGES)):" \
			"the real-Airflow tests will be skipped"; \
	else \
		echo "NOTE: $(strip $(SERVER_PACKAGES)) missing and installing needs root (apt-get install" \
			"$(strip $(SERVER_PACKAGES))): the real-Airflow tests will be skipped"; \
	fi

# Two pytest-xdist workers (the machine's 2 cores); the tests sharing a real Airflow stay on one worker and start first
# (tests/parallel.py). PYTEST_WORKERS=0 runs everything in one process.
PYTEST_WORKERS ?= 2
XDIST = -n $(PYTEST_WORKERS) --dist loadscope --no-loadscope-reorder

test: lint browser servers
	$(BIN)/python -m pytest $(XDIST)

# The fast inner loop: every test that starts no real Airflow (scheduler, API server, browser) and no soak. Three
# workers on two cores: a third of these tests' time is spent waiting on sockets and sleeps, not on a core.
UNIT_WORKERS ?= 3
test-unit: $(STAMP)
	$(BIN)/python -m pytest -n $(UNIT_WORKERS) --dist loadscope --no-loadscope-reorder \
		-m "not real_airflow and not soak" -p no:cacheprovider -q

# The other supported lines, each in its own uv virtualenv .venv-airflow-X; prints each version's install and test wall
# time. `make test` covers 3.3.2. Every line runs COMPAT_PYTEST; the oldest line (3.1.x) also the first-hour and
# review browser tests. Which line runs what, and why: CONTRIBUTING.md ("Which Airflow runs which tests").
COMPAT_AIRFLOW ?= 3.1.8 3.2.2 3.3.1 3.4.0b2
# Soak, the Celery production test and the browser tests (the first-hour one aside) run only on 3.3.2 (make test): they
# exercise the provider's own fault handling, a production-shaped deployment and our UI pages, not what differs between
# Airflow lines. A pre-release line (3.4.0b2) is named as the index spells it: pip installs it like any pin.
COMPAT_PYTEST ?= $(XDIST) -m "not browser and not soak and not production" -p no:cacheprovider -q
COMPAT_OLDEST_PYTEST ?= tests/ui/test_first_hour.py tests/ui/test_review.py -p no:cacheprovider -q
# Airflow 3.1's fernet code sets an attribute cryptography 51's MultiFernet refuses (its constraints pin an older one).
COMPAT_PINS_3_1 ?= cryptography<51
# On 3.2, what 3.2.2 needs but does not cap: FastAPI < 0.137 (its execution API fails to start on newer) and
# svcs < 26 (its in-process API for dag.test() finds no service registry with svcs 26).
COMPAT_PINS_3_2 ?= fastapi<0.137 svcs<26

test-compat: $(STAMP) browser servers
	@failed=""; for version in $(COMPAT_AIRFLOW); do \
		venv=.venv-airflow-$$version; start=$$(date +%s); \
		test -x $$venv/bin/python || $(BIN)/uv venv --quiet --python $(BIN)/python $$venv || exit 1; \
		case $$version in 3.1.*) pins="$(COMPAT_PINS_3_1)";; 3.2.*) pins="$(COMPAT_PINS_3_2)";; *) pins="";; esac; \
		$(BIN)/uv pip install --python $$venv/bin/python --quiet -e ".[emulator,s3,openlineage]" --group dev \
			"apache-airflow==$$version" $$pins || exit 1; \
		installed=$$(date +%s); \
		$$venv/bin/python -m pytest $(COMPAT_PYTEST) || failed="$$failed $$version"; \
		case $$version in 3.1.*) $$venv/bin/python -m pytest $(COMPAT_OLDEST_PYTEST) || failed="$$failed $$version(UI)";; esac; \
		echo "Airflow $$version: install $$((installed - start)) s, tests $$(($$(date +%s) - installed)) s"; \
	done; \
	if [ -n "$$failed" ]; then echo "test-compat failed on Airflow$$failed"; exit 1; fi

print-compat-airflow:
	@echo $(COMPAT_AIRFLOW)

# The docs set (docs/, Sphinx + MyST, API reference from the docstrings); warnings fail the build.
docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

bench: $(STAMP)
	$(BIN)/python benchmarks/trigger_scale.py
	$(BIN)/python benchmarks/batch_reads.py
	$(BIN)/python benchmarks/coalescer_scale.py
	$(BIN)/python benchmarks/download.py
	$(BIN)/python benchmarks/import_cost.py

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

clean:
	rm -rf $(VENV) .venv-airflow-* .pytest_cache .mypy_cache .ruff_cache docs/_build
