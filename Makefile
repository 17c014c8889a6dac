# make run   first run: .venv, install, migrate, admin user; then web + worker + beat
# make test  lint + the whole suite (SQLite unless DATABASE_URL; embedded broker unless REDIS_URL)
# make soak  the fault soak (bench/soak.py): SOAK_SUBSCRIBERS, SOAK_FAULTS, SOAK_SEED
PYTHON ?= python3.11
VENV := .venv
# make test runs the suite in this many processes (pytest-xdist); 0 runs it in this one
TEST_PROCESSES ?= 2
BIN := $(VENV)/bin

.PHONY: run test lint format bench soak venv

SOAK_SUBSCRIBERS ?= 20000
SOAK_FAULTS ?= 40
SOAK_SEED ?= 1
SOAK_MAX_SECONDS ?= 3600

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: venv
	@# Demo mode bills through the local Stripe (localstripe) unless real keys are set, and
	@# reaches the local emulators over plain HTTP on 127.0.0.1 (ALLOW_INSECURE_LOOPBACK;
	@# also what keeps migrate's system checks from warning about production settings).
	ALLOW_INSECURE_LOOPBACK="$${ALLOW_INSECURE_LOOPBACK:-1}" $(BIN)/python manage.py migrate --noinput
	ALLOW_INSECURE_LOOPBACK="$${ALLOW_INSECURE_LOOPBACK:-1}" $(BIN)/python manage.py ensure_admin
	PATH="$(CURDIR)/$(BIN):$$PATH" \
	  ALLOW_INSECURE_LOOPBACK="$${ALLOW_INSECURE_LOOPBACK:-1}" \
	  STRIPE_SECRET_KEY="$${STRIPE_SECRET_KEY:-sk_test_demo}" \
	  STRIPE_PUBLISHABLE_KEY="$${STRIPE_PUBLISHABLE_KEY:-pk_test_demo}" \
	  STRIPE_API_BASE="$${STRIPE_API_BASE:-http://127.0.0.1:8420}" \
	  STRIPE_WEBHOOK_SECRET="$${STRIPE_WEBHOOK_SECRET:-whsec_demo}" \
	  $(BIN)/honcho --procfile Procfile.dev start

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/pytest -n $(TEST_PROCESSES)

bench: venv
	$(BIN)/python -m bench.sync
	$(BIN)/python -m bench.changes
	$(BIN)/python -m bench.webhooks
	$(BIN)/python -m bench.webhooks --redis
	$(BIN)/python -m bench.sf_emulator
	$(BIN)/python -m bench.cm_emulator
	$(BIN)/python -m bench.console

# Many faults in a row must leave Salesforce and Campaign Monitor as a fault-free run does;
# exits non-zero on any difference. The long form: make soak SOAK_FAULTS=100.
soak: venv
	$(BIN)/python -m bench.soak --subscribers $(SOAK_SUBSCRIBERS) --faults $(SOAK_FAULTS) \
	  --seed $(SOAK_SEED) --max-seconds $(SOAK_MAX_SECONDS)
