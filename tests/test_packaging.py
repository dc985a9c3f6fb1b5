"""environment.yml (conda) and the pip set-up (pyproject.toml + requirements.txt) must list the same packages."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PIP = {"pytorch": "torch"}  # conda-forge names that differ from PyPI names
CONDA_ONLY = {"python", "pip"}


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;@]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pins(reqs) -> dict[str, str]:
    """`{name: version}` of the `==` pins, environment markers (after `;`) left out."""
    return {_name(r): r.split(";", 1)[0].split("==", 1)[1].strip() for r in reqs if "==" in r}


def _pip_side():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"]) + [r for extra in project["optional-dependencies"].values() for r in extra]
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    return reqs, lines


def _conda_side():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return env, conda, pip


def test_environment_yml_lists_the_same_packages_as_pip():
    reqs, _ = _pip_side()
    env, conda, pip = _conda_side()
    conda_names = {CONDA_TO_PIP.get(_name(d), _name(d)) for d in conda} - CONDA_ONLY
    pip_names = {_name(p) for p in pip if not p.startswith("-e")}
    assert not conda_names & pip_names, f"listed twice in environment.yml: {conda_names & pip_names}"
    assert conda_names | pip_names == {_name(r) for r in reqs}


def test_pins_agree():
    _, lines = _pip_side()
    _, _, pip = _conda_side()
    assert _pins(lines) == _pins(pip) and {"torch", "torchvision"} <= _pins(lines).keys()


def test_environment_installs_gaplib_and_uses_conda_forge():
    env, conda, pip = _conda_side()
    assert env["channels"] == ["conda-forge"] and "pip" in conda
    assert "-e ." in pip
    assert any(line.startswith("-e .[course,test,lab]") for line in _pip_side()[1])


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make course" in readme
    assert re.search(r"^exec make test$", ci, re.M)


def test_import_gaplib_does_not_import_pyplot():
    """`import gaplib` stays light: matplotlib's pyplot loads only with gaplib.viz, on first use."""
    import subprocess
    import sys

    code = (
        "import sys, gaplib\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'import gaplib imported pyplot'\n"
        "gaplib.viz.show_batch\n"
        "assert 'matplotlib.pyplot' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_version_comes_from_the_package_metadata():
    from importlib.metadata import version

    import gaplib

    assert (
        gaplib.__version__
        == version("gaplib")
        == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    )
