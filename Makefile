# The two commands: `make run` and `make test`. Everything else is a step they use.
VENV ?= .venv
PY := $(VENV)/bin/python
STORE ?= $(HOME)/.local/share/service-kpi/team.duckdb
PORT ?= 8501
# Team mode (`make serve`): where the server listens and where its sign-in settings are.
ADDRESS ?= localhost
SECRETS ?= .streamlit/secrets.toml

.PHONY: run serve test install chromium postgresql seed lint typecheck format bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

seed: install
	$(VENV)/bin/kpi seed --db "$(STORE)"

run: seed
	KPI_DB="$(STORE)" $(VENV)/bin/python -m dashboard.serve --server.port $(PORT)

# Team mode: everyone signs in through the team's OpenID Connect provider ([auth] in $(SECRETS),
# see .streamlit/secrets.example.toml); the first to sign in to an empty store is its admin.
serve: install
	@test -f "$(SECRETS)" || { echo "make serve: no $(SECRETS): copy .streamlit/secrets.example.toml there and fill in your sign-in provider (README, Team mode)." >&2; exit 2; }
	KPI_MODE=team KPI_DB="$(STORE)" $(VENV)/bin/python -m dashboard.serve \
		--server.address $(ADDRESS) --server.port $(PORT) --secrets.files "$(SECRETS)"

# Browser tests and chart images need Debian's Chromium: installed here when missing and we can
# (root with apt), otherwise one line says how. Tests that need it carry the `chromium` marker.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make: installing Debian's chromium (browser tests and chart images need it)"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "make: the tests need Chromium; install it with 'sudo apt-get install chromium' and run make test again" >&2; \
	    exit 1; \
	  fi; }

# The engine's backend tests (marker `backends`) start a throwaway PostgreSQL server from Debian's
# packages (or use KPI_TEST_POSTGRES_URL) and run PySpark in local mode on Java 17: both installed
# here when missing and we can (root with apt), otherwise one line says how.
postgresql:
	@missing=""; \
	  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || [ -n "$$KPI_TEST_POSTGRES_URL" ] || missing="postgresql"; \
	  command -v java >/dev/null 2>&1 || missing="$$missing openjdk-17-jre-headless"; \
	  if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      echo "make: installing Debian's $$missing (the engine's backend tests need it)"; \
	      export DEBIAN_FRONTEND=noninteractive; \
	      apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	    else \
	      echo "make: the backend tests need $$missing; install it with 'sudo apt-get install $$missing' and run make test again" >&2; \
	      exit 1; \
	    fi; \
	  fi

test: install chromium postgresql
	$(VENV)/bin/ruff check kpi dashboard tests bench
	$(VENV)/bin/ruff format --check kpi dashboard tests bench
	$(VENV)/bin/mypy
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check kpi dashboard tests bench

typecheck: install
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format kpi dashboard tests bench
	$(VENV)/bin/ruff check --fix kpi dashboard tests bench

bench: install
	$(PY) bench/ingest.py --rows 1000000

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
