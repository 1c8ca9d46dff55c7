# Developer and CI entry points. `make test` builds .venv once (re-installs only when
# pyproject.toml changes) and installs the Debian packages the tests need.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

# Debian's dataset-fashion-mnist installs the IDX files here.
FASHION_DIR := /usr/share/datasets/fashion-mnist
FASHION_FILES := $(addprefix $(FASHION_DIR)/,train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz \
	t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

# Notebooks run through nbmake in the same pytest invocation, when the folder exists.
NOTEBOOKS := $(wildcard notebooks)
PYTEST_PATHS := tests $(if $(NOTEBOOKS),--nbmake $(NOTEBOOKS))
PYTEST_ARGS ?=

.PHONY: venv sysdeps demo test test-thorough lint bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e ".[dev,torch]"
	touch $@

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install -e ".[bench]"
	touch $@

sysdeps:
	@missing=""; \
	command -v dot >/dev/null 2>&1 || missing="graphviz"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	for f in $(FASHION_FILES); do \
		[ -f "$$f" ] || { missing="$$missing dataset-fashion-mnist"; break; }; \
	done; \
	if [ -z "$$missing" ]; then \
		echo "sysdeps: graphviz (dot), chromium and Fashion-MNIST already installed"; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "sysdeps: installing Debian packages:$${missing# }"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	else \
		echo "sysdeps: WARNING: missing Debian packages: $${missing# }" >&2; \
		echo "sysdeps: install them with: sudo apt-get install -y $${missing# }" >&2; \
		echo "sysdeps: continuing; tests that need them may fail or skip" >&2; \
	fi

demo: venv sysdeps
	$(PY) -m tinygrad_bp train --out runs/demo
	$(PY) -m tinygrad_bp.viz.demo runs/demo

# One BLAS/OpenMP thread: the tests use small arrays, where threads on a 2-core machine only
# contend (a 784-100-10 step is ~10x slower with two busy BLAS threads than with one).
THREADS := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

test: venv sysdeps
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(THREADS) $(PY) -m pytest $(PYTEST_PATHS) $(PYTEST_ARGS)

test-thorough: venv sysdeps
	HYPOTHESIS_PROFILE=thorough $(THREADS) $(PY) -m pytest $(PYTEST_PATHS) $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy tinygrad_bp

bench: $(BENCH_STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
