# tickstack: the user's front door. `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
BACKEND ?=
FIXTURE ?= tests/fixtures/aapl-2012-09-04_2012-12-28.jsonl
FILE ?= $(FIXTURE)
SYMBOLS ?= AAPL
INTERVAL ?= 30
PYTEST_ARGS ?=

export BACKEND

BIN := $(VENV)/bin
TICKSTACK := $(BIN)/tickstack
STAMP := $(VENV)/.installed

.PHONY: help check install up deploy demo replay alerts status produce down test unit e2e bench fixture fmt clean

help: ## Show this help
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

check: ## Check the prerequisites: Python >= 3.11 and Terraform >= 1.6
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
		|| { echo "check: $(PYTHON) is older than 3.11; set PYTHON=python3.11 (or newer)"; exit 1; }
	@command -v terraform >/dev/null \
		|| { echo "check: terraform not found on PATH; install Terraform >= 1.6"; exit 1; }
	@terraform version -json | $(PYTHON) -c 'import json,sys; v=json.load(sys.stdin)["terraform_version"].split("."); sys.exit(0 if (int(v[0]), int(v[1])) >= (1, 6) else 1)' \
		|| { echo "check: terraform is older than 1.6"; exit 1; }
	@echo "check: ok ($$($(PYTHON) --version), terraform $$(terraform version -json | $(PYTHON) -c 'import json,sys; print(json.load(sys.stdin)["terraform_version"])'))"

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory check
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

install: $(STAMP) ## Create .venv with the pinned dependencies

up: $(STAMP) ## Start the emulator (BACKEND=ministack|localstack) and deploy the pipeline
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

status: $(STAMP) ## Show the backend and what is deployed on it
	$(TICKSTACK) status

produce: $(STAMP) ## Stream live Yahoo Finance quotes every INTERVAL seconds (needs network)
	$(TICKSTACK) produce --symbols $(SYMBOLS) --interval $(INTERVAL)

down: ## Stop the emulator; what was deployed on it goes too
	@if [ -x $(TICKSTACK) ]; then $(TICKSTACK) down; else echo "nothing to stop: $(VENV) does not exist"; fi

test: $(STAMP) ## Run every test: unit, integration and end-to-end
	$(BIN)/pytest $(PYTEST_ARGS)

unit: $(STAMP) ## Run the unit tests only
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

e2e: $(STAMP) ## Run the end-to-end tests on the backends this machine has
	$(BIN)/pytest tests/e2e $(PYTEST_ARGS)

fixture: $(STAMP) ## Regenerate the recorded AAPL ticks from bokeh_sampledata
	$(BIN)/python scripts/make_fixture.py

fmt: ## Format the Terraform
	terraform fmt -recursive terraform

clean: down ## Remove the venv, build output and local state
	rm -rf $(VENV) build .tickstack .pytest_cache
