# Every target creates the local virtualenv (.venv) on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)

.PHONY: venv test demo summary bazel-test bench clean

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $@

test: venv
	$(PY) -m pytest -q tests

summary: venv
	$(PY) -m nets.model_summary --model_name=se_resnet_v1_50

clean:
	rm -rf $(VENV) /tmp/slim_senet_demo
