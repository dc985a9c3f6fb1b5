"""gaplib._store: builds go beside the target and are renamed into place; what dead builds leave is cleaned up.

The crash tests run a build (tests/_store_child.py) in a subprocess, stop it at a chosen point (it writes
a signal file and sleeps), kill it with SIGKILL and check what the next build finds.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _store_child import build, params

from gaplib import _store

TESTS = Path(__file__).resolve().parent
CHILD = TESTS / "_store_child.py"


def _n_images(root: Path) -> int:
    return len(list(root.glob("train/*/*.png"))) + len(list(root.glob("valid/*/*.png")))


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def _complete(root: Path, n: int) -> None:
    """`root` is a complete dataset of `n` images that verifies against its manifest, with nothing beside it."""
    assert _n_images(root) == n
    assert _store.mismatch(root, json.loads((root / "manifest.json").read_text())["params"]) is None
    assert _leftovers(root.parent) == []


def test_stale_temporary_folders_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    here, other = _store.HOST, "0" * 8 if _store.HOST != "0" * 8 else "1" * 8
    stale = [f".s.{dead.pid}.tmp", f".s.{dead.pid}.{here}0badc0de.tmp", f".s.{dead.pid}.{here}0badc0de.old"]
    live = f".s.{os.getpid()}.{here}feedbeef.tmp"  # a build that is still running (this process) is left alone
    foreign = f".s.{dead.pid}.{other}feedbeef.tmp"  # another machine's build (shared disk): left alone for a day
    old_foreign = f".s.{dead.pid}.{other}0ddba111.tmp"
    for name in [*stale, live, foreign, old_foreign]:
        (tmp_path / name / "train").mkdir(parents=True)
    day_ago = time.time() - 25 * 3600
    os.utime(tmp_path / old_foreign, (day_ago, day_ago))
    _store.clean_stale(tmp_path / "s")
    assert _leftovers(tmp_path) == sorted([live, foreign])


# ---- crashes and races (subprocesses) -------------------------------------------------------------


def _child(tmp_path: Path, root: Path, stop_at: str, n_train: int, **popen) -> tuple[subprocess.Popen, Path]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(TESTS.parent)}
    sig = tmp_path / f"signal_{stop_at}"
    cmd = [sys.executable, str(CHILD), str(root), str(sig), stop_at, str(n_train)]
    return subprocess.Popen(cmd, env=env, **popen), sig


def _wait_for(sig: Path, proc: subprocess.Popen, timeout: float = 120) -> str:
    t0 = time.monotonic()
    while not sig.exists() or not sig.read_text():
        assert proc.poll() is None, f"child exited early with {proc.returncode}"
        assert time.monotonic() - t0 < timeout, "child never reached its stop point"
        time.sleep(0.05)
    return sig.read_text()


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_build_killed_part_way_leaves_no_dataset_and_is_redone(tmp_path):
    work = tmp_path / "data"
    work.mkdir()
    proc, sig = _child(tmp_path, work / "s", "writing", 12)
    assert _wait_for(sig, proc) == "stopped"
    _kill(proc)
    assert not (work / "s").exists()  # never a half dataset under the real name
    assert len(_leftovers(work)) == 1  # the dead build's temporary folder...
    root = build(work / "s", 12)
    _complete(root, 18)  # ...is cleaned up by the next build, which places a complete copy


@pytest.mark.parametrize("stop_at", ["writing", "swap", "removing_old"])
def test_replacement_interrupted_part_way(tmp_path, stop_at):
    work = tmp_path / "data"
    old = build(work / "s", 24)
    proc, sig = _child(tmp_path, work / "s", stop_at, 12)  # replaces the 24+6 dataset with a 12+6 one
    assert _wait_for(sig, proc) == "stopped"
    _kill(proc)
    if stop_at == "writing":  # the old copy is still whole and still reused as it is
        assert _n_images(old) == 30
        assert _store.mismatch(old, params(24)) is None
    elif stop_at == "swap":  # the old copy was moved aside, the new one not yet in: nothing under the name
        assert not old.exists()
    else:  # the new copy is whole; only the old copy beside it is half removed
        assert _n_images(old) == 18
    root = build(work / "s", 12)
    _complete(root, 18)


def test_interrupted_build_leaves_nothing_behind(tmp_path):
    """Ctrl-C (or any error) part-way through a build removes its temporary folder; the old copy stays."""
    old = build(tmp_path / "s", 12)

    def interrupt():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build(old, 24, before_valid=interrupt)
    _complete(old, 18)


@pytest.mark.parametrize("replacing", [False, True])
def test_concurrent_builders_end_with_one_complete_copy(tmp_path, replacing):
    work = tmp_path / "data"
    work.mkdir()
    if replacing:  # both replace an older dataset (other parameters) at the same time
        build(work / "s", 12)
    procs = [_child(tmp_path, work / "s", "race", 84, stdout=subprocess.PIPE, text=True)[0] for _ in range(2)]
    time.sleep(0.5)
    (tmp_path / "signal_race").touch()  # go
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert all(o.strip().splitlines()[-1] == str(work / "s") for o in outs)
    _complete(work / "s", 90)
