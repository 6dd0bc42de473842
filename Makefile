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
# The venv's site-packages, for a recipe's shell (the venv exists only once a recipe made it).
SITE_PACKAGES = $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: up client test test-fast venv venv-test testbed testbed-down lint sanity pytest clean

up: venv
	$(BIN)/ansible-playbook site.yml $(ARGS)

client: venv
	$(BIN)/ansible-playbook client.yml $(ARGS)

# lint and sanity use about one core between them: they run beside pytest, and
# each one's output is printed whole when it ends.
test: venv-test testbed
	$(MAKE) --no-print-directory -j3 --output-sync=target lint sanity pytest

# The unit tier only (seconds): filters, module_utils, modules, dashboards' LogQL.
test-fast: venv-test
	$(BIN)/pytest -m unit -q $(PYTEST_ARGS)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

# Compiled on every core, without the collections' modules and tests: half of the
# venv's files, and Ansible sends a module to its host in a zip, so the suite
# imports only the few ansible-lint checks the arguments of from here.
$(VENV)/.installed-test: requirements.txt requirements-test.txt | $(BIN)/python
	$(BIN)/pip install -q --no-compile -r requirements-test.txt
	$(BIN)/python -m compileall -q -j 0 -x '/ansible_collections/[^/]+/[^/]+/(plugins/modules|tests)/' \
	  "$(SITE_PACKAGES)"
	touch $(VENV)/.installed $@

# The suite runs thousands of Ansible modules, each compiling the same module_utils
# from a zip; the test venv keeps their compiled code (tests/testbed/pycode_cache.py),
# and its python3 hands each module to the suite's fork server when one runs
# (tests/testbed/module_forkserver.py). Every Python process of the venv imports the
# cache itself: py_compile writes its .pyc even under PYTHONDONTWRITEBYTECODE.
$(VENV)/.pycode-cache: tests/testbed/pycode_cache.py tests/testbed/module_forkserver.py | $(BIN)/python
	site="$(SITE_PACKAGES)"; \
	  cp tests/testbed/pycode_cache.py "$$site/cco_pycode_cache.py"; \
	  cp tests/testbed/module_forkserver.py "$$site/cco_module_forkserver.py"; \
	  $(BIN)/python -m py_compile "$$site/cco_pycode_cache.py" "$$site/cco_module_forkserver.py"; \
	  echo "import cco_pycode_cache" > "$$site/cco_pycode_cache.pth"
	touch $@

venv: $(VENV)/.installed
venv-test: $(VENV)/.installed-test $(VENV)/.pycode-cache

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

# Every Ansible task process imports the collection's plugins again; with
# PYTHONDONTWRITEBYTECODE set, Python would compile them from source each time.
pytest: venv-test
	$(BIN)/python -m compileall -q plugins tests
	$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache tests/output
