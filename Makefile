# Two commands on a fresh machine with Python 3.11:
#   make demo   - create .venv, then run the end-to-end demo on the bundled sample
#   make test   - create .venv, then run the test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: demo test venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements.txt
	touch $@

demo: venv
	PYTHON=$(PY) bash run_demo.sh

test: venv
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) pretrain_data demo_output build
