# onestop — make help lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PORT ?= 8080

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -d $(VENV) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the project with its dev tools

run: $(STAMP) ## embedded default: all services in one process on :$PORT with demo data
	$(VENV)/bin/onestop run

run-stack: $(STAMP) ## production shape without Docker: gunicorn + workers, RabbitMQ, PostgreSQL, nginx
	@command -v rabbitmq-server >/dev/null || test -x /usr/lib/rabbitmq/bin/rabbitmq-server || (apt-get update -q && apt-get install -y -q rabbitmq-server)
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || (apt-get update -q && apt-get install -y -q postgresql)
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || (apt-get update -q && apt-get install -y -q nginx)
	$(VENV)/bin/onestop run-stack

lint: $(STAMP) ## ruff check, ruff format --check, mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The single sign-on tests' OIDC provider (tests/oidc): its packages from the npm registry,
# pinned by package-lock.json; installed again only when the lock file changes.
OIDC_MODULES := tests/oidc/node_modules/.package-lock.json
$(OIDC_MODULES): tests/oidc/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the single sign-on tests will be skipped (failed under CI=true)"; fi

test: lint $(OIDC_MODULES) ## lint, then the whole suite (unit, integration, e2e, fault)
	$(VENV)/bin/pytest -p no:cacheprovider -v --durations=15

WRK = command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -q && apt-get install -y -q wrk; } || { echo "wrk not found: apt-get install wrk"; exit 1; }

bench: $(STAMP) ## benchmarks: the peer (django-helpdesk), the stack, the relay, dispatch, archive, auth, the console; JSON reports
	@$(WRK)
	$(PY) -m bench.peer_bench
	$(PY) -m bench.stack_bench
	$(PY) -m bench.relay_bench
	$(PY) -m bench.dispatch_bench
	$(PY) -m bench.archive_bench
	$(PY) -m bench.auth_bench
	$(PY) -m bench.console_bench

bench-console: $(STAMP) ## the console's board, demand page and leader's dashboard for a county of 10,000 demands (embedded): p50/p95
	$(PY) -m bench.console_bench

bench-peer: $(STAMP) ## P1/P2 against django-helpdesk 2.6.1 (installed into a venv under /tmp), driven by wrk
	@$(WRK)
	$(PY) -m bench.peer_bench

bench-callbacks: $(STAMP) ## callbacks on the stack: delivery rate, p99 change → receipt, a receiver down 10 minutes
	$(PY) -m bench.callback_bench

bench-province: $(STAMP) ## a province-year (1M demands, 100k enterprises): every scorecard, ranking and KPI, timed
	$(PY) -m bench.province_bench

fault-bench: $(STAMP) ## every infrastructure fault with 2,000 demands each; prints a table
	$(PY) -m bench.faults --demands 2000 --rate 20 --down 10

screenshots: $(STAMP) ## the README's console screenshots, one per role (docs/console/), in headless Chromium
	$(PY) -m tests.browser.readme_shots

CONSOLE := services/console
translations: $(STAMP) ## the console's catalogues: extract the strings, update the English one, compile
	@mkdir -p $(CONSOLE)/translations
	$(VENV)/bin/pybabel extract -F $(CONSOLE)/babel.cfg -k _l --no-location --sort-output -o $(CONSOLE)/translations/messages.pot $(CONSOLE)
	@test -f $(CONSOLE)/translations/en/LC_MESSAGES/messages.po || $(VENV)/bin/pybabel init -l en -i $(CONSOLE)/translations/messages.pot -d $(CONSOLE)/translations
	$(VENV)/bin/pybabel update --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date -l en -i $(CONSOLE)/translations/messages.pot -d $(CONSOLE)/translations
	$(VENV)/bin/pybabel compile --statistics -l en -d $(CONSOLE)/translations

dashboards: $(STAMP) ## the Grafana dashboards' JSON (deploy/grafana/dashboards/) from onestop/dashboards.py
	$(PY) -m onestop.dashboards

clean: ## remove runtime data (var/)
	rm -rf var

.PHONY: help install run run-stack lint test bench bench-peer bench-console bench-province fault-bench screenshots translations dashboards clean
