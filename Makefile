# Two entry points for a fresh Debian-family machine:
#   make up     install Ansible into .venv and run site.yml on the local inventory
#   make test   the whole test suite: test bed, lint, sanity, pytest
#   (make test-fast: the unit tier alone, no test bed)
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: up client test test-fast venv venv-test testbed testbed-down lint sanity pytest clean

up: venv
	$(BIN)/ansible-playbook site.yml $(ARGS)

client: venv
	$(BIN)/ansible-playbook client.yml $(ARGS)

test: venv-test testbed lint sanity pytest

# The unit tier only (seconds): filters, module_utils, modules, dashboards' LogQL.
test-fast: venv-test
	$(BIN)/pytest -m unit -q $(PYTEST_ARGS)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements.txt requirements-test.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-test.txt
	touch $(VENV)/.installed $@

venv: $(VENV)/.installed
venv-test: $(VENV)/.installed-test

testbed:
	PYTHON=$(PYTHON) tests/testbed/testbed.sh up

testbed-down:
	tests/testbed/testbed.sh down

lint: venv-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/ansible-lint --profile production --strict

sanity: venv-test
	tests/sanity.sh

pytest: venv-test
	$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache tests/output
