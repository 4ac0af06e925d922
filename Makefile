# Two commands on a fresh machine: `make demo` and `make test`.
# Both install what they need: a Python venv (.venv) and the pinned node tools (node_modules).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JINBI := $(BIN)/jinbi
DEMO_PORT ?= 8545
# Workers for pytest-xdist; each worker runs its own anvil.
TEST_WORKERS ?= 2

.PHONY: all demo test contracts bench lint clean install

all: install

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

contracts: install
	$(BIN)/python -m reconciler.chain.compile

# The main job on the local chain: deploy, validate, plan, apply; then the
# investors settle, the clock reaches the first coupon's payment date, apply
# pays it, and a last plan must show no changes (--detailed-exitcode exits 2 otherwise).
demo: export JINBI_RPC_URL = http://127.0.0.1:$(DEMO_PORT)
demo: install
	$(JINBI) devnet up --port $(DEMO_PORT)
	$(JINBI) validate --env devnet
	$(JINBI) plan --env devnet --out .jinbi/demo-plan.json
	$(JINBI) apply --env devnet .jinbi/demo-plan.json --auto-approve --no-git-notes
	$(JINBI) devnet settle --port $(DEMO_PORT)
	$(JINBI) devnet warp --port $(DEMO_PORT) --to 2026-12-31
	$(JINBI) apply --env devnet --auto-approve --no-git-notes
	$(JINBI) plan --env devnet --detailed-exitcode
	@echo "demo done: the devnet on 127.0.0.1:$(DEMO_PORT) matches state/devnet; stop it with: $(JINBI) devnet down --port $(DEMO_PORT)"

test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -q

bench: install
	$(BIN)/python bench/onboarding_gas.py
	$(BIN)/python bench/validate_speed.py --record

lint: install
	$(BIN)/mypy

clean:
	rm -rf $(VENV) node_modules .jinbi .pytest_cache .mypy_cache
