# The README's two commands: `make run` (set up, then compare) and `make test` (set up, then test).
# `make run` runs the embedded digits task (offline: no data folder, no network); `make run TASK=cifar10 ARGS="..."`
# runs another task with more flags.
# `make setup GPU=1` (or `make run GPU=1`, `make test GPU=1`): the GPU profile in its own venv, .venv-gpu, with the
# CUDA builds of torch (+ torchvision), TensorFlow and JAX (pyproject.toml's `gpu` extra); the CPU venv stays .venv.
GPU ?=
ifeq ($(GPU),1)
VENV ?= .venv-gpu
EXTRAS := gpu,ray,onnx,test
else
VENV ?= .venv
EXTRAS := all,test
endif
PY := $(VENV)/bin/python
TASK ?= digits
ARGS ?=

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

.PHONY: setup run test
setup: $(VENV)/.installed

run: setup
	$(PY) compare.py --task $(TASK) $(ARGS)

test: setup
	$(PY) -m pytest -q -n 2 --dist loadscope
