# The README's two commands: `make run` (set up, then compare) and `make test` (set up, then test).
VENV ?= .venv
PY := $(VENV)/bin/python
TASK ?= mnist
ARGS ?=

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[all,test]'
	touch $@

.PHONY: setup run test
setup: $(VENV)/.installed

run: setup
	$(PY) compare.py --task $(TASK) $(ARGS)

test: setup
	$(PY) -m pytest -q -n 2 --dist loadscope
