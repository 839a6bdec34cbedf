# Two commands set everything up on a fresh machine with Python 3.11:
#   make run    the service with demo data at http://127.0.0.1:8000
#   make test   the whole test suite
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?= -n auto
FAULTS_ARGS ?=
LINT_SETTINGS := DJANGO_SETTINGS_MODULE=config.test_settings

export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never

.PHONY: install run web worker beat test test-faults lint fmt schema check-deploy bench clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --extra dev --python $(PYTHON)
	@test -f .env || printf '# Local development defaults (environment variables win). Never deploy this file.\nDEBUG=true\n' > .env
	@touch $@

install: $(STAMP)

run: install
	@scripts/run

web: install
	$(BIN)/gunicorn config.wsgi --bind $${BIND:-0.0.0.0:8000} --workers $${WEB_CONCURRENCY:-2} --access-logfile -

worker: install
	$(BIN)/celery -A config worker --loglevel INFO

beat: install
	$(BIN)/celery -A config beat --loglevel INFO

test: install
	$(BIN)/pytest -m "not faults" $(PYTEST_ARGS)

# Kills workers, stops Redis and restarts a private PostgreSQL on purpose: one at a time.
test-faults: install
	$(BIN)/pytest -m faults -p no:xdist $(FAULTS_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(LINT_SETTINGS) $(BIN)/python manage.py makemigrations --check --dry-run
	@mkdir -p var
	$(LINT_SETTINGS) $(BIN)/python manage.py spectacular --validate --fail-on-warn --file var/openapi.yaml
	@diff -u docs/openapi.yaml var/openapi.yaml || (echo "docs/openapi.yaml is out of date: run 'make schema'"; exit 1)

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: install
	$(LINT_SETTINGS) $(BIN)/python manage.py spectacular --validate --fail-on-warn --file docs/openapi.yaml

check-deploy: install
	DEBUG=false SECRET_KEY=$$(head -c 48 /dev/urandom | base64) API_KEY_PEPPER=$$(head -c 32 /dev/urandom | base64) \
	ALLOWED_HOSTS=okr.example.com $(BIN)/python manage.py check --deploy --fail-level WARNING

# PostgreSQL, Redis and wrk on loopback; about 16 minutes. Tables in var/bench/, all in var/bench/report.md.
bench: install
	@scripts/bench

clean:
	rm -rf $(VENV) $(TOOLS) var .pytest_cache .mypy_cache .ruff_cache
