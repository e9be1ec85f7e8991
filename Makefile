# Two commands from a fresh clone: `make run` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi

.PHONY: run test lint install assets db demo clean

run: install assets db demo
	$(FLASK) run --host 127.0.0.1 --port 5000

test: install assets lint
	$(BIN)/pytest

# Lint and import order (ruff) and static types (mypy), configured in pyproject.toml; `make test` runs it first.
lint: install
	$(BIN)/ruff check grants tests
	$(BIN)/mypy

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The U.S. Web Design System and Chart.js from npm, copied into static/vendor (not committed).
assets: static/vendor/.installed

static/vendor/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf static/vendor
	mkdir -p static/vendor/uswds static/vendor/chartjs
	cp -R node_modules/@uswds/uswds/dist/css node_modules/@uswds/uswds/dist/js \
	      node_modules/@uswds/uswds/dist/fonts node_modules/@uswds/uswds/dist/img static/vendor/uswds/
	cp node_modules/chart.js/dist/chart.umd.js static/vendor/chartjs/
	touch $@

db: install
	$(FLASK) db upgrade

demo: install
	$(FLASK) grants demo-data --if-empty

clean:
	rm -rf $(VENV) static/vendor node_modules
