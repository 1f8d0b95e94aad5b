# The two commands a fresh clone needs: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
MYPY_ROOT := /tmp/qorch-mypy-$(shell echo "$(CURDIR)" | cksum | cut -d' ' -f1)

.PHONY: serve worker test lint bench bench-dashboard

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

serve: $(STAMP)
	$(VENV)/bin/qorch serve

worker: $(STAMP)
	$(VENV)/bin/qorch worker

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	# mypy cannot follow the editable install's import hook: give it a folder named qorch.
	mkdir -p $(MYPY_ROOT) && ln -sfn "$(CURDIR)" $(MYPY_ROOT)/qorch
	cd $(MYPY_ROOT) && MYPYPATH=$(MYPY_ROOT) "$(CURDIR)/$(VENV)/bin/mypy" \
		--config-file "$(CURDIR)/pyproject.toml" --cache-dir "$(CURDIR)/.mypy_cache" -p qorch

bench: $(STAMP)
	$(PY) bench/run_all.py

bench-dashboard: $(STAMP)
	$(PY) bench/bench_dashboard.py
