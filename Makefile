# gapcourse: `make course` runs the whole course, `make test` runs every test (both set up .venv first).
PYTHON ?= python3
VENV ?= .venv
# Air-gapped runners: WHEELHOUSE=dir installs from that folder only (scripts/build_wheelhouse.py makes it);
# SYSTEM_TORCH=1 installs into $(PYTHON)'s own environment and keeps the torch it already has.
WHEELHOUSE ?=
SYSTEM_TORCH ?=
JOBS ?= 2

ifeq ($(SYSTEM_TORCH),)
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REQS := -r requirements.txt
else
PY := $(PYTHON)
STAMP := build/.installed-system
REQS := -e .[course,test]
endif
PIP_FLAGS := $(if $(WHEELHOUSE),--no-index --find-links $(WHEELHOUSE),)
NBVAL := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: setup data course site test test-gpu check-cuda lint format lab bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.txt
	$(if $(SYSTEM_TORCH),,$(PYTHON) -m venv $(VENV))
	$(PY) -m pip install -q $(PIP_FLAGS) $(REQS)
	@mkdir -p $(dir $@) && touch $@

data: setup
	$(PY) -m gaplib.data

course: data
	$(PY) scripts/run_course.py

# the site from the notebooks' stored outputs, without running them (build/site/index.html)
site: setup
	$(PY) scripts/build_site.py

# one thread per test worker: two workers with two threads each oversubscribe a 2-core machine 5-7x
test: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) scripts/sync_notebooks.py --check
	OMP_NUM_THREADS=1 $(PY) -m pytest -n $(JOBS) --dist loadfile --durations=12 $(NBVAL) tests notebooks

check-cuda: setup
	$(PY) -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 'CUDA is not available: this job must run on a machine with a working GPU')"

test-gpu: check-cuda test

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# format .py files and bring every notebook's bootstrap, badge and metadata in line (REF=v0.2 for a release)
format: setup
	$(PY) -m ruff format --exclude '*.ipynb' .
	$(PY) scripts/sync_notebooks.py $(if $(REF),--ref $(REF),)

lab: setup
	$(PY) -m jupyterlab --notebook-dir=notebooks

bench: setup
	$(PY) benchmarks/bench_pools.py
	$(PY) benchmarks/bench_gpu_pool.py

clean:
	rm -rf build data/shapes* data/.shapes* .pytest_cache .ruff_cache
