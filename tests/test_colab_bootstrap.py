"""The notebooks' bootstrap cell, and notebooks 00-04 run alone with Colab's "Run all" in a simulated Colab
(tests/_colab.py says how; notebooks 05-09 are in test_colab_run_all.py, so that two test workers share the load).
Skips, saying why, without git or a reachable package index.
"""

import os
import subprocess
import sys

import nbformat
import pytest
import tomllib
from _colab import KEPT, NOTEBOOKS, ROOT, as_colab_runs_it, colab, run_all_in_colab  # noqa: F401 (colab: a fixture)

sys.path.insert(0, str(ROOT / "scripts"))
from sync_notebooks import REF_RE, bootstrap_source  # noqa: E402

FIRST_HALF = NOTEBOOKS[:5]


def _run(cmd, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)


def test_the_bootstrap_names_its_repository_and_ref_once():
    source = bootstrap_source("v9.9")
    assert REF_RE.search(source).group(1) == "v9.9"
    assert source.count("v9.9") == 1 and source.count("github.com") == 1
    assert "-c" in source and all(f'"{name}"' in source for name in KEPT), "keeps Colab's torch, torchvision, numpy"
    assert "gaplib[colab]" in source


def test_outside_colab_the_bootstrap_does_nothing():
    done = _run([sys.executable, "-c", bootstrap_source("main")], env={**os.environ, "PIP_NO_INDEX": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "not on Colab: nothing to install"


def test_the_simulation_strips_every_tag_and_points_the_bootstrap_at_the_snapshot():
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# 42 · A notebook"),
            nbformat.v4.new_code_cell(bootstrap_source("v9.9")),
            nbformat.v4.new_code_cell("1 / 0", metadata={"tags": ["raises-exception"]}),
            nbformat.v4.new_code_cell("x = ...", metadata={"tags": ["exercise", "skip-execution"]}),
        ]
    )
    done = as_colab_runs_it(nb, "file://localhost/tmp/repo", "v9.9")
    assert all("tags" not in cell.metadata for cell in done.cells)
    assert 'REPO, REF = "file://localhost/tmp/repo", "v9.9"' in done.cells[1].source


def test_the_simulated_colab_sees_this_torch_and_lacks_gaplib(colab):  # noqa: F811
    assert colab.seen.stdout.strip() == colab.before["torch"][0], f"it sees this torch: {colab.seen.stderr}"
    assert "No module named 'gaplib'" in colab.seen.stderr, "the simulated Colab must lack gaplib before the bootstrap"


@pytest.mark.parametrize("path", FIRST_HALF, ids=[p.stem[:2] for p in FIRST_HALF])
def test_a_lone_notebook_runs_to_the_end_with_run_all_in_a_simulated_colab(colab, path):  # noqa: F811
    run_all_in_colab(colab, path)


# Colab's runtime (its published package lists, snapshot of 2026-08); the bootstrap keeps its torch, torchvision and
# numpy as they are, so gaplib's lower bounds must admit them, or pip fails (or upgrades pandas under the learner)
COLAB_RUNTIME = {"python": "3.13.0", "torch": "2.11.0", "torchvision": "0.26.0", "numpy": "2.1.0", "pandas": "2.2.2"}


def test_the_declared_lower_bounds_admit_colabs_runtime():
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert COLAB_RUNTIME["python"] in SpecifierSet(project["requires-python"])
    bounds = {Requirement(r).name: Requirement(r).specifier for r in project["dependencies"]}
    for name in ("torch", "torchvision", "numpy", "pandas"):
        assert str(bounds[name]).startswith(">="), f"{name} needs a lower bound (the oldest release the code runs on)"
        assert COLAB_RUNTIME[name] in bounds[name], f"{name}{bounds[name]} excludes Colab's {COLAB_RUNTIME[name]}"
