# `make run` and `make test` each set themselves up on a fresh machine.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
# mitmproxy 12 needs Python 3.12+; pyenv shims may refuse `python3.12`, so probe real binaries.
PYTHON312 := $(shell for p in python3.12 python3.13 /root/.pyenv/versions/3.12*/bin/python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12; do \
                 $$p -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null && { echo $$p; break; }; done)

.PHONY: setup run test bench system-deps clean

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON312)" || { echo "Python >= 3.12 not found (install python3.12)"; exit 1; }
	@test -x $(PY) || $(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,redis]'
	touch $@

setup: $(VENV)/.installed

# Servers some tests run as real processes (redis-server for the shared budget ledger).
system-deps:
	@command -v redis-server >/dev/null || { \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) \
	  || echo "warning: could not install redis-server"; }

run: setup
	$(VENV)/bin/customs run $(if $(CONFIG),--config $(CONFIG),)

test: setup system-deps
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: setup
	$(PY) -m bench.run_all

clean:
	rm -rf $(VENV) .customs
