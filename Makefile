# tickstack: the user's front door. `make help` lists the targets by group: a `##@ Group` line
# starts a group, and `target: ... ## text` documents a target in it.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
# Where the stack runs: ministack, localstack or aws (BACKEND is the name earlier releases read).
# `:=` with `or`, not `?=`: an empty TARGET in the environment (make exports it to what it runs)
# must not hide BACKEND.
TARGET := $(or $(TARGET),$(BACKEND))
FIXTURE ?= tests/fixtures/aapl-2012-09-04_2012-12-28.jsonl
FILE ?= $(FIXTURE)
QUERY ?= sma_crosses
SYMBOLS ?= AAPL
INTERVAL ?= 30
# `make produce`: bars of BAR from Yahoo's pushed quotes; POLL=1 polls every INTERVAL seconds instead.
BAR ?= 30s
POLL ?=
# `make chart`: the symbol, and RECORDING=file.jsonl to chart a recording without a stack.
SYMBOL ?= AAPL
RECORDING ?=
PORT ?= 8050
# `make backtest`/`make verify`: other windows than the deployment's; `make import`: the CSV and its output.
SHORT ?=
LONG ?=
CSV ?=
OUT ?=
# `make up PERSIST=1`: the embedded emulator keeps its state across `make down` / `make up`.
PERSIST ?=
WIPE ?=
# `make logs`: one function (process or trend; empty: both), how far back, and FOLLOW=1 to keep going.
FUNCTION ?=
SINCE ?= 10m
FOLLOW ?=
PYTEST_ARGS ?=

export TARGET
ifneq ($(PERSIST),)
export TICKSTACK_PERSIST := $(PERSIST)
endif

BIN := $(VENV)/bin
TICKSTACK := $(BIN)/tickstack
STAMP := $(VENV)/.installed
LINT_VENV ?= .venv-lint
LINT_STAMP := $(LINT_VENV)/.installed
PIP_INSTALL := pip install --quiet --disable-pip-version-check

# --- Locked installs ----------------------------------------------------------
# Every install is from a lock file with hashes: requirements/dev.lock is everything
# `pip install -e '.[dev]'` would install (plus the build backend), requirements/lint.lock
# the checkov venv, requirements/lambda.lock the distributions vendored into the Lambda
# package. `make lock` re-resolves them (keeping the locked versions unless UV_ARGS=--upgrade).
DEV_LOCK := requirements/dev.lock
LAMBDA_LOCK := requirements/lambda.lock
LINT_LOCK := requirements/lint.lock
# The oldest Python the locks serve: pyproject.toml's requires-python lower bound (a test ties them);
# checkov's soupsieve 4.1.3 needs 3.11.5.
LOCK_PYTHON ?= 3.11
LINT_LOCK_PYTHON ?= 3.11.5
UV_VERSION ?= 0.13.9
UV_ARGS ?=
LOCK_TOOLS ?= build/lock-tools
UV_COMPILE = $(LOCK_TOOLS)/bin/uv pip compile --quiet --universal --generate-hashes \
	--custom-compile-command 'make lock' $(UV_ARGS)
# `make lock-terraform`: the platforms whose hashicorp/aws checksums the Terraform lock records
# (from the registry: needs network), or TF_LOCK_MIRROR=/opt/tf-plugins for what a mirror holds.
TF_LOCK_PLATFORMS ?= linux_amd64 linux_arm64 darwin_amd64 darwin_arm64
TF_LOCK_MIRROR ?=

# --- Real AWS -----------------------------------------------------------------
# ENV names the environment (and Terraform workspace): dev, staging or prod.
# TF_BACKEND_CONFIG=terraform/backend-s3.hcl shares the state on S3; AUTO_APPROVE=1
# applies without asking.
ENV ?= dev
TF_BACKEND_CONFIG ?=
AUTO_APPROVE ?=
AWS_ARGS = --target aws --env $(ENV) $(if $(TF_BACKEND_CONFIG),--backend-config $(TF_BACKEND_CONFIG))
AWS_APPROVE = $(if $(filter 1 true yes,$(AUTO_APPROVE)),--auto-approve)

.PHONY: help demo replay alerts logs status athena produce chart dashboard backtest verify import dev \
	up deploy down test unit e2e lint checkov bench \
	plan-aws deploy-aws destroy-aws check install lint-venv lock lock-terraform fixture fmt clean

help: ## Show this help
	@printf 'Usage: make <command> [VAR=value ...], e.g. make up TARGET=localstack\n'
	@if [ -t 1 ]; then bold='\033[1m'; cyan='\033[36m'; reset='\033[0m'; fi; \
	awk -v bold="$$bold" -v cyan="$$cyan" -v reset="$$reset" 'BEGIN {FS = ":.*## "} \
		/^##@ / {printf "\n%s%s%s\n", bold, substr($$0, 5), reset; next} \
		/^[a-zA-Z0-9_.-]+:.*## / {printf "  %s%-15s%s %s\n", cyan, $$1, reset, $$2}' $(MAKEFILE_LIST)

##@ Everyday
demo: up ## Stack up, the recorded AAPL ticks replayed, the alerts shown
	$(TICKSTACK) replay $(FIXTURE) --wait
	$(TICKSTACK) alerts

replay: $(STAMP) ## Replay a recording into the running stack (FILE=...)
	$(TICKSTACK) replay $(FILE) --wait

alerts: $(STAMP) ## Show every SNS message the emulated stack sent
	$(TICKSTACK) alerts

logs: $(STAMP) ## Show what the functions logged (FUNCTION=process|trend, SINCE=10m, FOLLOW=1)
	$(TICKSTACK) logs $(FUNCTION) --since $(SINCE) $(if $(filter 1 true yes,$(FOLLOW)),--follow)

status: $(STAMP) ## Show the target and what is deployed on it
	$(TICKSTACK) status

athena: $(STAMP) ## Run a named query from athena/queries.sql through Athena (QUERY=...)
	$(TICKSTACK) athena $(QUERY)

produce: $(STAMP) ## Live Yahoo Finance quotes onto the stream in BAR bars (POLL=1: poll every INTERVAL s; needs network)
	$(TICKSTACK) produce --symbols $(SYMBOLS) $(if $(POLL),--poll,--live --bar $(BAR)) --interval $(INTERVAL)

chart: $(STAMP) ## Chart SYMBOL from the running stack into build/charts/ (RECORDING=file.jsonl: a recording, no stack)
	$(TICKSTACK) chart $(SYMBOL) $(if $(RECORDING),--file $(RECORDING))

dashboard: $(STAMP) ## Serve the live dashboard of the running stack on http://127.0.0.1:PORT until Ctrl-C
	$(TICKSTACK) dashboard --port $(PORT)

##@ Strategy: try a rule on history, then prove the stack sends the same alerts
backtest: $(STAMP) ## Alerts the pipeline would send for FILE, computed here with no stack (SHORT= LONG= optional)
	$(TICKSTACK) backtest $(FILE) $(if $(SHORT),--short $(SHORT)) $(if $(LONG),--long $(LONG))

verify: $(STAMP) ## Check the running stack sent exactly the backtest's alerts for FILE (replay it first)
	$(TICKSTACK) verify $(FILE)

import: $(STAMP) ## Turn a CSV of daily bars into a recording beside it (CSV=... SYMBOL=...)
	$(TICKSTACK) import $(CSV) --symbol $(SYMBOL) $(if $(OUT),--out $(OUT))

dev: $(STAMP) ## Put each saved change to lambda/ into the running emulator's functions, no Terraform
	$(TICKSTACK) dev

##@ Targets: the emulator stack (TARGET=ministack|localstack; later commands use the one that is up)
up: $(STAMP) ## Start the emulator (TARGET=ministack|localstack; PERSIST=1 keeps state) and deploy the pipeline
	$(TICKSTACK) up

deploy: $(STAMP) ## Re-apply the Terraform onto the running stack
	$(TICKSTACK) deploy

down: ## Stop the emulator; what was deployed on it goes too (unless started with PERSIST=1; WIPE=1 forgets it)
	@if [ -x $(TICKSTACK) ]; then $(TICKSTACK) down $(if $(WIPE),--wipe); else echo "nothing to stop: $(VENV) does not exist"; fi

##@ Tests
test: $(STAMP) ## Run every test: unit, integration and end-to-end
	$(BIN)/pytest $(PYTEST_ARGS)

unit: $(STAMP) ## Run the unit tests only
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

e2e: $(STAMP) ## Run the end-to-end tests on the targets this machine has (or TARGET=ministack|localstack)
	$(BIN)/pytest tests/e2e $(if $(TARGET),-k $(TARGET)) $(PYTEST_ARGS)

lint: $(STAMP) $(LINT_STAMP) ## Offline checks of the Terraform: fmt, validate, terraform test, checkov
	$(BIN)/pytest tests/integration/test_terraform_static.py tests/integration/test_terraform_test.py tests/integration/test_terraform_checkov.py $(PYTEST_ARGS)

checkov: $(LINT_STAMP) ## Scan the Terraform with checkov; accepted findings are suppressed inline with a reason
	$(LINT_VENV)/bin/checkov --directory terraform --framework terraform --skip-download --compact --quiet

bench: $(STAMP) ## Measure throughput, latency and memory on a fresh embedded stack
	$(BIN)/python scripts/bench.py

# `make test` runs checkov too (tests/integration/test_terraform_checkov.py), so it
# needs the lint venv: an extra prerequisite, declared here where LINT_STAMP is set.
test: $(LINT_STAMP)

##@ AWS: your account (ENV=dev|staging|prod, TF_BACKEND_CONFIG=..., AUTO_APPROVE=1)
plan-aws: $(STAMP) ## Show what deploy-aws would change in your AWS account (ENV=dev|staging|prod)
	$(TICKSTACK) plan $(AWS_ARGS)

deploy-aws: $(STAMP) ## Deploy the pipeline to AWS: shows the plan, asks first (AUTO_APPROVE=1 does not)
	$(TICKSTACK) deploy $(AWS_ARGS) $(AWS_APPROVE)

destroy-aws: $(STAMP) ## Remove everything deploy-aws created in ENV, archive included, after asking
	$(TICKSTACK) destroy $(AWS_ARGS) $(AWS_APPROVE)

##@ Setup and upkeep
check: ## Check every prerequisite in one pass: each says ok or the fix (needs no venv)
	@$(PYTHON) -m tickstack.ops.doctor

# The venv, from the lock only: nothing unpinned or unhashed, the build backend included.
$(STAMP): pyproject.toml $(DEV_LOCK)
	@$(PYTHON) -m tickstack.ops.doctor --install
	$(PYTHON) -m venv $(VENV)
	$(BIN)/$(PIP_INSTALL) --require-hashes -r $(DEV_LOCK)
	$(BIN)/$(PIP_INSTALL) --no-deps --no-build-isolation -e .
	@touch $@

install: $(STAMP) ## Create .venv from requirements/dev.lock (hashes checked)

$(LINT_STAMP): $(LINT_LOCK)
	$(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/$(PIP_INSTALL) --require-hashes -r $(LINT_LOCK)
	@touch $@

lint-venv: $(LINT_STAMP) ## Create .venv-lint from requirements/lint.lock (apart from .venv: their pins clash)

lock: ## Re-resolve requirements/*.lock with hashes from pyproject.toml and requirements-lint.txt (needs PyPI)
	$(PYTHON) -m venv $(LOCK_TOOLS)
	$(LOCK_TOOLS)/bin/$(PIP_INSTALL) uv==$(UV_VERSION)
	$(UV_COMPILE) --python-version $(LOCK_PYTHON) pyproject.toml requirements/build.in --extra dev -o $(DEV_LOCK)
	$(PYTHON) -c 'from tickstack.deploy.package import VENDORED; print(*VENDORED, sep="\n")' \
		| $(UV_COMPILE) --python-version $(LOCK_PYTHON) --no-deps - -c $(DEV_LOCK) -o $(LAMBDA_LOCK)
	$(UV_COMPILE) --python-version $(LINT_LOCK_PYTHON) requirements-lint.txt -o $(LINT_LOCK)

lock-terraform: ## Record hashicorp/aws checksums for TF_LOCK_PLATFORMS in terraform/.terraform.lock.hcl (needs network)
	terraform -chdir=terraform providers lock $(if $(TF_LOCK_MIRROR),-fs-mirror=$(TF_LOCK_MIRROR)) \
		$(addprefix -platform=,$(TF_LOCK_PLATFORMS))

fixture: $(STAMP) ## Regenerate the recorded AAPL ticks from bokeh_sampledata
	$(BIN)/python scripts/make_fixture.py

fmt: ## Format the Terraform
	terraform fmt -recursive terraform

clean: down ## Remove the venvs, build output and local state
	rm -rf $(VENV) $(LINT_VENV) build .tickstack .pytest_cache
