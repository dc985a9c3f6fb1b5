# gapcourse: `make course` runs the whole course, `make test` runs every test (both set up .venv first).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Air-gapped runners: WHEELHOUSE=path installs only from that folder (see scripts/build_wheelhouse.sh);
# SYSTEM_TORCH=1 reuses the machine's own torch/torchvision instead of the pinned ones.
WHEELHOUSE ?=
SYSTEM_TORCH ?=
PIP_FLAGS := $(if $(WHEELHOUSE),--no-index --find-links $(WHEELHOUSE),)
REQS := $(if $(SYSTEM_TORCH),-e .[course,test],-r requirements.txt)
VENV_FLAGS := $(if $(SYSTEM_TORCH),--system-site-packages,)
JOBS ?= 2
NBVAL := --nbval-lax --nbval-current-env --sanitize-with tests/nbval_sanitize.cfg

.PHONY: setup data course test test-gpu lint lab bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(BIN)/python -m pip install -q $(PIP_FLAGS) $(REQS)
	touch $@

data: setup
	$(BIN)/python -m gaplib.data

course: data
	$(BIN)/python scripts/run_course.py

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile $(NBVAL) tests notebooks

test-gpu: setup
	$(BIN)/python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 'CUDA is not available: the GPU job must run on a machine with a working GPU')"
	$(BIN)/python -m pytest -n 1 --dist loadfile $(NBVAL) tests notebooks

lint: setup
	$(BIN)/ruff check .

lab: setup
	$(BIN)/jupyter lab --notebook-dir=notebooks

bench: setup
	$(BIN)/python benchmarks/bench_pools.py
	$(BIN)/python benchmarks/bench_gpu_pool.py

clean:
	rm -rf build data/shapes* data/.shapes* .pytest_cache .ruff_cache
