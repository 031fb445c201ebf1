# Two commands: `make run` (the app with demo data) and `make test` (every test). Both set themselves up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PORT ?= 8000

.PHONY: install run test test-external migrate seed stop clean bench-lifecycle browser

$(STAMP): pyproject.toml
	@echo "==> Creating virtualenv and installing dependencies"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet '.[test]'
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

migrate: install
	@echo "==> Migrating the public schema and every tenant schema"
	@$(PY) manage.py migrate_schemas --verbosity 0

seed: migrate
	@PUBLIC_URL_PORT=$(PORT) $(PY) manage.py seed_demo

run: seed
	@$(PY) manage.py collectstatic --noinput --verbosity 0
	@PUBLIC_URL_PORT=$(PORT) ATLAS_DEMO=true CALENDAR_FEEDS_ALLOW_PRIVATE=true $(PY) manage.py serve --port $(PORT)

# Debian's chromium for the browser tests (Playwright drives it; no browser download): installed with
# apt-get where it is missing and apt-get exists; a failed install fails the target.
browser:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then \
		echo "==> Installing chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

test: install browser
	@$(PY) -m pytest $(PYTEST_ARGS)

# The migration and tenancy tests against an external PostgreSQL (DATABASE_URL must be set).
test-external: install
	@test -n "$(DATABASE_URL)" || (echo "DATABASE_URL is not set" && exit 2)
	@$(PY) -m pytest -m external $(PYTEST_ARGS)

stop:
	@$(PY) -c "from atlas_guest.db import stop_embedded; print('embedded PostgreSQL stopped' if stop_embedded() else 'embedded PostgreSQL was not running')"

clean: stop
	rm -rf .data staticfiles

bench-lifecycle: migrate
	@$(PY) bench/lifecycle.py $(BENCH_ARGS)
