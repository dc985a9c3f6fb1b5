"""`make`'s set-up checks, run before .venv exists, each tried with a stand-in Python; requirements.txt's pins."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")

# A stand-in for $(PYTHON): it answers the Makefile's version query with $FAKE_FOUND ("3.9 darwin-arm64"), has a venv
# module unless FAKE_VENV=0, and fails loudly if make gets as far as using it for anything else (python -m venv ...).
FAKE_PYTHON = """#!/bin/sh
case "$*" in
  *version_info*) echo "$FAKE_FOUND" ;;
  *ensurepip*) [ "${FAKE_VENV:-1}" = 1 ] || { echo "No module named 'ensurepip'" >&2; exit 1; } ;;
  *) echo "set-up went past the checks: python $*" >&2; exit 99 ;;
esac
"""


def make_setup(tmp_path: Path, python: str, found: str = "", venv: bool = True, *args: str):
    """`make setup` with `python` as $(PYTHON) and a venv folder that does not exist yet."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    env.update(FAKE_FOUND=found, FAKE_VENV="1" if venv else "0")
    cmd = ["make", "--no-print-directory", "setup", f"PYTHON={python}", f"VENV={tmp_path / 'venv'}", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def fake_python(tmp_path: Path) -> str:
    path = tmp_path / "python"
    path.write_text(FAKE_PYTHON)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@needs_make
@pytest.mark.parametrize(
    "found, venv, says",
    [
        ("3.9 darwin-arm64", True, "gapcourse needs Python 3.10 or newer, and {python} is 3.9: install a newer one"),
        ("2.7 linux-x86_64", True, "gapcourse needs Python 3.10 or newer, and {python} is 2.7"),
        (
            "3.12 linux-x86_64",
            False,
            "{python} (Python 3.12) has no venv module to create {venv} with: on Ubuntu or "
            "Debian run 'sudo apt install python3-venv' (or python3.12-venv)",
        ),
        ("3.12 darwin-x86_64", True, "PyPI has no torch >= 2.3 for Intel (x86-64) macOS"),
    ],
    ids=["apple-python-3.9", "python-2", "ubuntu-without-venv", "intel-mac"],
)
def test_setup_stops_before_the_venv_with_one_line_saying_what_to_install(tmp_path, fake_python, found, venv, says):
    done = make_setup(tmp_path, fake_python, found, venv)
    message = [line for line in done.stderr.splitlines() if not line.startswith("make: ***")]
    assert done.returncode != 0, "the set-up must fail"
    assert len(message) == 1, f"one line, not {len(message)}: {done.stderr}"
    assert message[0].startswith(says.format(python=fake_python, venv=tmp_path / "venv")), done.stderr
    assert not (tmp_path / "venv").exists() and "went past the checks" not in done.stderr


@needs_make
def test_a_python_that_does_not_run_is_named(tmp_path):
    done = make_setup(tmp_path, str(tmp_path / "no-such-python"))
    assert done.returncode != 0 and "does not run here: install one" in done.stderr, done.stderr
    assert not (tmp_path / "venv").exists()


@needs_make
def test_good_pythons_pass_the_checks(tmp_path, fake_python):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    for python, found in [
        (sys.executable, ""),
        (fake_python, "3.10 linux-aarch64"),
        (fake_python, "3.13 darwin-arm64"),
    ]:
        done = subprocess.run(
            ["make", "-s", "check-python", f"PYTHON={python}"],
            cwd=ROOT,
            env=dict(env, FAKE_FOUND=found),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0 and not done.stderr, (python, found, done.stderr)
    # an Intel Mac whose torch came from conda-forge: SYSTEM_TORCH=1 installs into that Python, no venv, no PyPI torch
    done = subprocess.run(
        ["make", "-s", "check-python", f"PYTHON={fake_python}", "SYSTEM_TORCH=1"],
        cwd=ROOT,
        env=dict(env, FAKE_FOUND="3.12 darwin-x86_64", FAKE_VENV="0"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "platform, pinned",
    [
        (dict(sys_platform="linux", platform_machine="x86_64", platform_release="6.1.0"), True),
        (dict(sys_platform="linux", platform_machine="aarch64", platform_release="6.1.0"), True),
        (dict(sys_platform="win32", platform_machine="AMD64", platform_release="10"), True),
        (dict(sys_platform="darwin", platform_machine="arm64", platform_release="23.4.0"), True),  # macOS 14
        (dict(sys_platform="darwin", platform_machine="arm64", platform_release="22.6.0"), False),  # macOS 13
        (dict(sys_platform="darwin", platform_machine="x86_64", platform_release="23.4.0"), False),  # Intel Mac
        (dict(sys_platform="linux", platform_machine="ppc64le", platform_release="6.1.0"), False),
    ],
    ids=["linux-x86_64", "linux-aarch64", "windows", "macos14-arm64", "macos13-arm64", "intel-mac", "ppc64le"],
)
def test_torch_pins_apply_where_pypi_has_those_builds(platform, pinned):
    requirements = pytest.importorskip("packaging.requirements")
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    pins = [requirements.Requirement(line) for line in lines if line.startswith(("torch==", "torchvision=="))]
    assert {p.name for p in pins} == {"torch", "torchvision"}
    for pin in pins:
        env = dict(platform, python_version="3.12", implementation_name="cpython")
        assert pin.marker is not None and pin.marker.evaluate(env) is pinned, (pin.name, platform)
