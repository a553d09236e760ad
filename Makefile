# tickstack: the user's front door. `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
# Where the stack runs: ministack, localstack or aws (BACKEND is the name earlier releases read).
TARGET ?= $(BACKEND)
FIXTURE ?= tests/fixtures/aapl-2012-09-04_2012-12-28.jsonl
FILE ?= $(FIXTURE)
QUERY ?= sma_crosses
SYMBOLS ?= AAPL
INTERVAL ?= 30
PYTEST_ARGS ?=

export TARGET

BIN := $(VENV)/bin
TICKSTACK := $(BIN)/tickstack
STAMP := $(VENV)/.installed

.PHONY: help check install up deploy demo replay alerts status athena produce down test unit e2e bench fixture fmt clean

help: ## Show this help
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

check: ## Check the prerequisites: Python >= 3.11 and Terraform >= 1.9
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
		|| { echo "check: $(PYTHON) is older than 3.11; set PYTHON=python3.11 (or newer)"; exit 1; }
	@command -v terraform >/dev/null \
		|| { echo "check: terraform not found on PATH; install Terraform >= 1.9"; exit 1; }
	@terraform version -json | $(PYTHON) -c 'import json,sys; v=json.load(sys.stdin)["terraform_version"].split("."); sys.exit(0 if (int(v[0]), int(v[1])) >= (1, 9) else 1)' \
		|| { echo "check: terraform is older than 1.9"; exit 1; }
	@echo "check: ok ($$($(PYTHON) --version), terraform $$(terraform version -json | $(PYTHON) -c 'import json,sys; print(json.load(sys.stdin)["terraform_version"])'))"

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory check
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

install: $(STAMP) ## Create .venv with the pinned dependencies

up: $(STAMP) ## Start the emulator (TARGET=ministack|localstack) and deploy the pipeline
	$(TICKSTACK) up

deploy: $(STAMP) ## Re-apply the Terraform onto the running stack
	$(TICKSTACK) deploy

demo: up ## Stack up, the recorded AAPL ticks replayed, the alerts shown
	$(TICKSTACK) replay $(FIXTURE) --wait
	$(TICKSTACK) alerts

replay: $(STAMP) ## Replay a recording into the running stack (FILE=...)
	$(TICKSTACK) replay $(FILE) --wait

alerts: $(STAMP) ## Show every SNS message the emulated stack sent
	$(TICKSTACK) alerts

status: $(STAMP) ## Show the target and what is deployed on it
	$(TICKSTACK) status

athena: $(STAMP) ## Run a named query from athena/queries.sql through Athena (QUERY=...)
	$(TICKSTACK) athena $(QUERY)

produce: $(STAMP) ## Stream live Yahoo Finance quotes every INTERVAL seconds (needs network)
	$(TICKSTACK) produce --symbols $(SYMBOLS) --interval $(INTERVAL)

down: ## Stop the emulator; what was deployed on it goes too
	@if [ -x $(TICKSTACK) ]; then $(TICKSTACK) down; else echo "nothing to stop: $(VENV) does not exist"; fi

test: $(STAMP) ## Run every test: unit, integration and end-to-end
	$(BIN)/pytest $(PYTEST_ARGS)

unit: $(STAMP) ## Run the unit tests only
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

e2e: $(STAMP) ## Run the end-to-end tests on the targets this machine has (or TARGET=ministack|localstack)
	$(BIN)/pytest tests/e2e $(if $(TARGET),-k $(TARGET)) $(PYTEST_ARGS)

bench: $(STAMP) ## Measure throughput, latency and memory on a fresh embedded stack
	$(BIN)/python scripts/bench.py

fixture: $(STAMP) ## Regenerate the recorded AAPL ticks from bokeh_sampledata
	$(BIN)/python scripts/make_fixture.py

fmt: ## Format the Terraform
	terraform fmt -recursive terraform

clean: down ## Remove the venv, build output and local state
	rm -rf $(VENV) $(LINT_VENV) build .tickstack .pytest_cache

# --- Real AWS and offline checks of the Terraform ---------------------------
# ENV names the environment (and Terraform workspace): dev, staging or prod.
# TF_BACKEND_CONFIG=terraform/backend-s3.hcl shares the state on S3; AUTO_APPROVE=1
# applies without asking.
ENV ?= dev
TF_BACKEND_CONFIG ?=
AUTO_APPROVE ?=
LINT_VENV ?= .venv-lint
LINT_STAMP := $(LINT_VENV)/.installed
AWS_ARGS = --target aws --env $(ENV) $(if $(TF_BACKEND_CONFIG),--backend-config $(TF_BACKEND_CONFIG))
AWS_APPROVE = $(if $(filter 1 true yes,$(AUTO_APPROVE)),--auto-approve)

.PHONY: plan-aws deploy-aws destroy-aws lint-venv lint checkov

plan-aws: $(STAMP) ## Show what deploy-aws would change in your AWS account (ENV=dev|staging|prod)
	$(TICKSTACK) plan $(AWS_ARGS)

deploy-aws: $(STAMP) ## Deploy the pipeline to AWS: shows the plan, asks first (AUTO_APPROVE=1 does not)
	$(TICKSTACK) deploy $(AWS_ARGS) $(AWS_APPROVE)

destroy-aws: $(STAMP) ## Remove everything deploy-aws created in ENV, archive included, after asking
	$(TICKSTACK) destroy $(AWS_ARGS) $(AWS_APPROVE)

$(LINT_STAMP): requirements-lint.txt
	@$(MAKE) --no-print-directory check
	$(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-lint.txt
	@touch $@

# `make test` runs checkov too (tests/integration/test_terraform_checkov.py), so it
# needs the lint venv: an extra prerequisite, declared here where LINT_STAMP is set.
test: $(LINT_STAMP)

lint-venv: $(LINT_STAMP) ## Create .venv-lint with the pinned checkov (apart from .venv: their pins clash)

checkov: $(LINT_STAMP) ## Scan the Terraform with checkov; accepted findings are suppressed inline with a reason
	$(LINT_VENV)/bin/checkov --directory terraform --framework terraform --skip-download --compact --quiet

lint: $(STAMP) $(LINT_STAMP) ## Offline checks of the Terraform: fmt, validate, terraform test, checkov
	$(BIN)/pytest tests/integration/test_terraform_static.py tests/integration/test_terraform_test.py tests/integration/test_terraform_checkov.py $(PYTEST_ARGS)
