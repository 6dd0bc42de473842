# Two entry points for a fresh Debian-family machine:
#   make up     install Ansible into .venv and run site.yml on the local inventory
#   make test   the whole test suite: test bed, lint, sanity, pytest
#   (make test-fast: the unit tier alone, no test bed)
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
# The distribution's python3 when it can make a venv: Debian's build ran this
# suite's Ansible processes about a third faster than one compiled from source
# without optimisation (benchmarks/python_interpreters.py). Otherwise python3 on PATH.
PYTHON ?= $(shell /usr/bin/python3 -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' \
                    >/dev/null 2>&1 && echo /usr/bin/python3 || echo python3)
VENV ?= .venv
BIN := $(VENV)/bin
TEST_VENV ?= .venv-test
TEST_BIN := $(TEST_VENV)/bin
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: up client test test-fast venv venv-test testbed testbed-down lint sanity pytest clean

up: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/ansible-playbook site.yml $(ARGS)

client: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/ansible-playbook client.yml $(ARGS)

# lint and sanity use about one core between them: they run beside pytest, and
# each one's output is printed whole when it ends.
test: venv-test testbed
	$(MAKE) --no-print-directory -j3 --output-sync=target lint sanity pytest

# The unit tier only (seconds): filters, module_utils, modules, dashboards' LogQL.
test-fast: venv-test
	$(TEST_BIN)/pytest -m unit -q $(PYTEST_ARGS)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

# The suite has a venv of its own, so that `make up` never runs through anything
# the tests installed. Stock packages from PyPI, nothing added to them.
$(TEST_BIN)/python:
	$(PYTHON) -m venv $(TEST_VENV)
	$(TEST_BIN)/pip install -q --upgrade pip

$(TEST_VENV)/.installed: requirements.txt requirements-test.txt | $(TEST_BIN)/python
	$(TEST_BIN)/pip install -q -r requirements-test.txt
	touch $@

venv: $(VENV)/.installed
venv-test: $(TEST_VENV)/.installed

testbed:
	PYTHON=$(PYTHON) tests/testbed/testbed.sh up

testbed-down:
	tests/testbed/testbed.sh down

lint: venv-test
	$(TEST_BIN)/ruff check .
	$(TEST_BIN)/ruff format --check .
	$(TEST_BIN)/ansible-lint --profile production --strict
	$(TEST_BIN)/antsibull-changelog lint

sanity: venv-test
	PATH="$(CURDIR)/$(TEST_BIN):$$PATH" tests/sanity.sh

pytest: venv-test
	PATH="$(CURDIR)/$(TEST_BIN):$$PATH" $(TEST_BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(TEST_VENV) .pytest_cache .ruff_cache tests/output
