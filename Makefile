# The two commands: `make run` and `make test`. Everything else is a step they use.
VENV ?= .venv
PY := $(VENV)/bin/python
STORE ?= $(HOME)/.local/share/service-kpi/team.duckdb
PORT ?= 8501

.PHONY: run test install seed lint format bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

seed: install
	$(VENV)/bin/kpi seed --db "$(STORE)"

run: seed
	KPI_DB="$(STORE)" $(VENV)/bin/streamlit run dashboard/app.py --server.port $(PORT)

test: install
	$(VENV)/bin/ruff check kpi dashboard tests bench
	$(VENV)/bin/ruff format --check kpi dashboard tests bench
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check kpi dashboard tests bench

format: install
	$(VENV)/bin/ruff format kpi dashboard tests bench
	$(VENV)/bin/ruff check --fix kpi dashboard tests bench

bench: install
	$(PY) bench/ingest.py --rows 1000000

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
