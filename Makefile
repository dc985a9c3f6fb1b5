# gapcourse: `make course` runs the whole course, `make test` runs every test (both set up .venv first).
PYTHON ?= python3
VENV ?= .venv
# Air-gapped runners: WHEELHOUSE=dir installs from that folder only (scripts/build_wheelhouse.py makes it);
# SYSTEM_TORCH=1 installs into $(PYTHON)'s own environment and keeps the torch it already has.
WHEELHOUSE ?=
SYSTEM_TORCH ?=
JOBS ?= 2
# On a Mac, the few operations PyTorch's MPS backend lacks run on the CPU instead of failing (ignored elsewhere)
export PYTORCH_ENABLE_MPS_FALLBACK ?= 1

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

.PHONY: setup check-python data course site test test-gpu check-cuda lint format lab bench clean

setup: $(STAMP)

# Before anything is created: $(PYTHON) must run and be 3.10 or newer, PyPI must have torch for its platform (not
# Intel macOS: its last build is 2.2.2), and the venv needs Python's venv module. Each failure is one line saying what
# to do (Apple's python3 is 3.9; Ubuntu ships venv apart, as python3-venv). README: "If set-up fails".
define check_python
found=$$($(PYTHON) -c 'import platform, sys; print("%d.%d %s-%s" % (sys.version_info[:2] + (sys.platform, \
platform.machine())))' 2>/dev/null); version=$${found%% *}; \
case "$$found" in \
  "") echo "gapcourse needs Python 3.10 or newer, and '$(PYTHON)' does not run here: install one (python.org, \
'brew install python@3.12', 'sudo apt install python3'), then run make again with PYTHON=<that python>" >&2; exit 1;; \
  [012].*|3.[0-9]\ *) echo "gapcourse needs Python 3.10 or newer, and $(PYTHON) is $$version: install a newer one \
(python.org, 'brew install python@3.12', 'sudo apt install python3.12-venv'), then run make again with \
PYTHON=python3.12" >&2; exit 1;; \
  *darwin-x86_64) $(if $(SYSTEM_TORCH),,echo "PyPI has no torch >= 2.3 for Intel (x86-64) macOS, which $(PYTHON) \
is built for: on an Apple-silicon Mac use an arm64 Python (python.org, Homebrew in /opt/homebrew); on an Intel Mac \
install torch and torchvision from conda-forge, then run make with SYSTEM_TORCH=1 (README: If set-up fails)" >&2; \
exit 1);; \
esac; \
$(if $(SYSTEM_TORCH),true,$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null) || { echo "$(PYTHON) (Python \
$$version) has no venv module to create $(VENV) with: on Ubuntu or Debian run 'sudo apt install python3-venv' (or \
python$$version-venv), then run make again" >&2; exit 1; }
endef

check-python:
	@$(check_python)

$(STAMP): pyproject.toml requirements.txt
	@$(check_python)
	$(if $(SYSTEM_TORCH),,$(PYTHON) -m venv $(VENV))
	$(PY) -m pip install -q $(PIP_FLAGS) $(REQS)
	@mkdir -p $(dir $@) && touch $@

# (not `python -m gaplib.folders`: gaplib imports gaplib.folders, so runpy would warn that it runs a module twice)
data: setup
	$(PY) -c "from gaplib.folders import shapes_folder; print(shapes_folder())"

course: data
	$(PY) scripts/run_course.py

# the site from the notebooks' stored outputs, without running them (build/site/index.html)
site: setup
	$(PY) scripts/build_site.py

# one thread per test worker: two workers with two threads each oversubscribe a 2-core machine 5-7x
test: setup
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "make test needs Python 3.11 or newer (the \
	tests read TOML with tomllib; the course runs on 3.10): make it again with PYTHON=python3.11 or newer after rm -rf $(VENV)")'
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
