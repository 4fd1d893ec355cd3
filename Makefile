# Every target creates (or reuses) .venv; `make test` is what CI runs (.ci/run).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: venv test lint browser bench demo docs clean

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

test: lint browser
	$(BIN)/python -m pytest

# The docs set (docs/, Sphinx + MyST, API reference from the docstrings); warnings fail the build.
docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

bench: $(STAMP)
	$(BIN)/python benchmarks/trigger_scale.py
	$(BIN)/python benchmarks/download.py
	$(BIN)/python benchmarks/import_cost.py

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache docs/_build
