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

# Programs some tests run as real processes: redis-server (the shared budget ledger),
# chromium (the audit dashboard, headless) and kubectl (rendering the kustomize manifests).
SYSTEM_PROGRAMS := redis-server:redis-server chromium:chromium kubectl:kubernetes-client
system-deps:
	@missing=""; for pair in $(SYSTEM_PROGRAMS); do \
	  command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	    || echo "warning: could not install$$missing"; fi

run: setup
	$(VENV)/bin/customs run $(if $(CONFIG),--config $(CONFIG),)

test: setup system-deps
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: setup
	$(PY) -m bench.run_all

clean:
	rm -rf $(VENV) .customs
