"""gaplib deletes only what it wrote, writes atomically, and verifies what it reuses.

The crash tests run a build in a subprocess, stop it at a chosen point (a patched step touches a
signal file and sleeps), kill it with SIGKILL and check what the next call finds.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from gaplib import data

REPO = Path(__file__).resolve().parent.parent
SMALL = dict(size=16, n_train=12, n_valid=6)


def _n_images(root: Path) -> int:
    return len(list(root.glob("train/*/*.png"))) + len(list(root.glob("valid/*/*.png")))


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def _complete(root: Path, n: int) -> None:
    """`root` is a complete dataset of `n` images that verifies against its manifest, with nothing beside it."""
    assert _n_images(root) == n
    assert data._mismatch(root, json.loads((root / "manifest.json").read_text())["params"]) is None
    assert _leftovers(root.parent) == []


def _user_files(folder: Path) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {"notes.txt": b"my thesis", "train/cat/1.png": b"not really a png", "boxes.csv": b"mine"}
    for rel, content in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(content)
    return files


def _still_there(folder: Path, files: dict[str, bytes]) -> None:
    for rel, content in files.items():
        assert (folder / rel).read_bytes() == content, f"{rel} was changed or deleted"


# ---- refusals: nothing of the learner's is touched -----------------------------------------------


def test_shapes_folder_refuses_a_folder_of_yours(tmp_path):
    files = _user_files(tmp_path / "mine")
    with pytest.raises(ValueError, match="is not a gaplib dataset"):
        data.shapes_folder(**SMALL, root=tmp_path / "mine")
    _still_there(tmp_path / "mine", files)
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("only", ["train/cat/1.png", "boxes.csv", "notes.txt"])
def test_write_image_folder_refuses_a_folder_of_yours(tmp_path, only):
    folder = tmp_path / "mine"
    (folder / only).parent.mkdir(parents=True, exist_ok=True)
    (folder / only).write_bytes(b"mine")
    s = data.make_shapes(6, 16)
    with pytest.raises(ValueError, match="is not a gaplib dataset"):
        data.write_image_folder(folder, s, s)
    assert (folder / only).read_bytes() == b"mine"


@pytest.mark.parametrize("root", [".", "", "  "])
def test_current_folder_is_refused(tmp_path, monkeypatch, root):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "work.txt").write_text("keep me")
    with pytest.raises(ValueError, match="current folder|empty string"):
        data.shapes_folder(**SMALL, root=root)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work.txt"]


def test_parent_of_current_folder_is_refused(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    with pytest.raises(ValueError, match="current folder or above it"):
        data.shapes_folder(**SMALL, root="..")


def test_home_folder_is_refused(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(ValueError, match="home folder"):
        data.shapes_folder(**SMALL, root=home)
    with pytest.raises(ValueError, match="home folder"):
        data.shapes_folder(**SMALL, root="~")  # expanded, as in "~/data/shapes"
    assert list(home.iterdir()) == []


def test_symlink_and_file_are_refused(tmp_path):
    real = data.shapes_folder(**SMALL, root=tmp_path / "real")
    (tmp_path / "link").symlink_to(real)
    (tmp_path / "a_file").write_text("keep")
    with pytest.raises(ValueError, match="symbolic link"):
        data.shapes_folder(**SMALL, root=tmp_path / "link")
    with pytest.raises(ValueError, match="is a file"):
        data.shapes_folder(**SMALL, root=tmp_path / "a_file")
    s = data.make_shapes(6, 16)
    with pytest.raises(ValueError, match="symbolic link"):
        data.write_image_folder(tmp_path / "link", s, s)
    assert (tmp_path / "a_file").read_text() == "keep"
    _complete(real, 18)


def test_extra_file_in_a_dataset_is_refused(tmp_path):
    root = data.shapes_folder(**SMALL, root=tmp_path / "s")
    (root / "train" / "circle" / "my_photo.png").write_bytes(b"mine")
    with pytest.raises(ValueError, match="which gaplib did not write"):
        data.shapes_folder(size=16, n_train=6, n_valid=6, root=root)  # other parameters: would replace it
    assert (root / "train" / "circle" / "my_photo.png").read_bytes() == b"mine"


def test_arguments_are_checked_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="n_train must be >= 1"):
        data.shapes_folder(size=16, n_train=0, root=tmp_path / "new")
    s = data.make_shapes(6, 16)
    bad = s._replace(images=s.images * 2)
    with pytest.raises(ValueError, match=r"train.images must be in \[0, 1\]"):
        data.write_image_folder(tmp_path / "new", bad, s)
    with pytest.raises(ValueError, match="valid.labels holds 7"):
        data.write_image_folder(tmp_path / "new", s, s._replace(labels=torch.full((6,), 7)))
    assert list(tmp_path.iterdir()) == []


def test_empty_folder_is_used(tmp_path):
    (tmp_path / "empty").mkdir()
    root = data.shapes_folder(**SMALL, root=tmp_path / "empty")
    _complete(root, 18)


# ---- reuse verifies the manifest ------------------------------------------------------------------


def test_reuse_does_not_rewrite(tmp_path, capsys):
    root = data.shapes_folder(**SMALL, root=tmp_path / "s")
    stamp = (root / "manifest.json").stat().st_mtime_ns
    assert data.shapes_folder(**SMALL, root=root) == root
    assert (root / "manifest.json").stat().st_mtime_ns == stamp
    assert capsys.readouterr().out == ""


def _delete_one(root):
    next(root.glob("train/*/*.png")).unlink()


def _change_one(root):
    p = next(root.glob("valid/*/*.png"))
    p.write_bytes(p.read_bytes()[:-1] + b"x")


def _empty_manifest(root):
    (root / "manifest.json").write_text("")


def _truncated_manifest(root):
    m = root / "manifest.json"
    m.write_text(m.read_text()[:40])


def _old_manifest(root):
    (root / "manifest.json").write_text(json.dumps({"kind": "shapes", "size": 16, "n_train": 12, "n_valid": 6}))


def _half_deleted(root):
    for p in sorted(root.glob("*/*/*.png"))[::2]:
        p.unlink()


@pytest.mark.parametrize(
    "damage, reason",
    [
        (_delete_one, "1 of its 19 files are missing"),
        (_half_deleted, "files are missing"),
        (_change_one, "differ from what its manifest records"),
        (_empty_manifest, "manifest.json is missing, unreadable"),
        (_truncated_manifest, "manifest.json is missing, unreadable"),
        (_old_manifest, "manifest.json is missing, unreadable or from an older gaplib"),
    ],
)
def test_damaged_dataset_is_rebuilt_saying_so(tmp_path, capsys, damage, reason):
    root = data.shapes_folder(**SMALL, root=tmp_path / "s")
    damage(root)
    assert data.shapes_folder(**SMALL, root=root) == root
    out = capsys.readouterr().out
    assert out.startswith("gaplib: rebuilding") and reason in out and out.count("\n") == 1
    _complete(root, 18)


def test_other_parameters_replace_the_old_dataset(tmp_path, capsys):
    root = data.shapes_folder(**SMALL, root=tmp_path / "s")
    data.shapes_folder(size=16, n_train=24, n_valid=6, root=root)
    assert "other parameters" in capsys.readouterr().out
    _complete(root, 30)


def test_write_image_folder_replaces_its_own_dataset(tmp_path):
    a, b = data.make_shapes(6, 16, seed=1), data.make_shapes(9, 16, seed=2)
    root = data.write_image_folder(tmp_path / "f", a, a, {"v": 1})
    data.write_image_folder(root, b, b, {"v": 2})
    _complete(root, 18)
    back = data.read_image_folder(root, "train")
    assert back.images.shape[0] == 9 and json.loads((root / "manifest.json").read_text())["params"] == {"v": 2}


def test_stale_temporary_folders_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    here, other = data._HOST, "0" * 8 if data._HOST != "0" * 8 else "1" * 8
    stale = [f".s.{dead.pid}.tmp", f".s.{dead.pid}.{here}0badc0de.tmp", f".s.{dead.pid}.{here}0badc0de.old"]
    live = f".s.{os.getpid()}.{here}feedbeef.tmp"  # a build that is still running (this process) is left alone
    foreign = f".s.{dead.pid}.{other}feedbeef.tmp"  # another machine's build (shared disk): left alone for a day
    old_foreign = f".s.{dead.pid}.{other}0ddba111.tmp"
    for name in [*stale, live, foreign, old_foreign]:
        (tmp_path / name / "train").mkdir(parents=True)
    day_ago = time.time() - 25 * 3600
    os.utime(tmp_path / old_foreign, (day_ago, day_ago))
    data.shapes_folder(**SMALL, root=tmp_path / "s")
    assert _leftovers(tmp_path) == sorted([live, foreign])


# ---- crashes and races (subprocesses) -------------------------------------------------------------

_CHILD = """
import os, sys, time, shutil
from pathlib import Path
from gaplib import data
root, signal_file, stop_at = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
kw = dict(size=16, n_train=int(sys.argv[4]), n_valid=6)

def stop():
    signal_file.write_text("stopped")
    time.sleep(600)

if stop_at == "writing":  # half the train images written, then stop
    real = data._save_split
    def save(tmp, split, sample, rows):
        if split == "valid":
            stop()
        real(tmp, split, sample, rows)
    data._save_split = save
elif stop_at == "swap":  # old copy moved aside, new one not yet renamed into place
    real_rename = Path.rename
    def rename(self, target):
        if self.name.endswith(".tmp"):
            stop()
        return real_rename(self, target)
    Path.rename = rename
elif stop_at == "removing_old":  # new copy in place, old copy half removed
    real_rmtree = shutil.rmtree
    def rmtree(path, *a, **k):
        p = Path(path)
        if p.name.endswith(".old") and p.exists():
            for f in sorted(p.rglob("*.png"))[::2]:
                f.unlink()
            stop()
        return real_rmtree(path, *a, **k)
    data.shutil.rmtree = rmtree
data.shapes_folder(**kw, root=root)
signal_file.write_text("done")
"""


def _child(tmp_path: Path, root: Path, stop_at: str, n_train: int) -> subprocess.Popen:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(_CHILD))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    sig = tmp_path / f"signal_{stop_at}"
    return subprocess.Popen([sys.executable, str(script), str(root), str(sig), stop_at, str(n_train)], env=env), sig


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
    root = data.shapes_folder(**SMALL, root=work / "s")
    _complete(root, 18)  # ...is cleaned up by the next call, which builds a complete copy


@pytest.mark.parametrize("stop_at", ["writing", "swap", "removing_old"])
def test_replacement_interrupted_part_way(tmp_path, stop_at):
    work = tmp_path / "data"
    old = data.shapes_folder(size=16, n_train=24, n_valid=6, root=work / "s")
    proc, sig = _child(tmp_path, work / "s", stop_at, 12)  # replaces the 24+6 dataset with a 12+6 one
    assert _wait_for(sig, proc) == "stopped"
    _kill(proc)
    if stop_at == "writing":  # the old copy is still whole and still reused as it is
        assert _n_images(old) == 30
        assert data._mismatch(old, {"kind": "shapes", "size": 16, "n_train": 24, "n_valid": 6, "seed": 0}) is None
    elif stop_at == "swap":  # the old copy was moved aside, the new one not yet in: nothing under the name
        assert not old.exists()
    else:  # the new copy is whole; only the old copy beside it is half removed
        assert _n_images(old) == 18
    root = data.shapes_folder(**SMALL, root=work / "s")
    _complete(root, 18)


def test_interrupted_build_leaves_nothing_behind(tmp_path, monkeypatch):
    """Ctrl-C (or any error) part-way through a build removes its temporary folder; the old copy stays."""
    old = data.shapes_folder(**SMALL, root=tmp_path / "s")
    real = data._save_split

    def interrupted(tmp, split, sample, rows):
        real(tmp, split, sample, rows)
        raise KeyboardInterrupt

    monkeypatch.setattr(data, "_save_split", interrupted)
    with pytest.raises(KeyboardInterrupt):
        data.shapes_folder(size=16, n_train=24, n_valid=6, root=old)
    _complete(old, 18)


@pytest.mark.parametrize("replacing", [False, True])
def test_concurrent_builders_end_with_one_complete_copy(tmp_path, replacing):
    work = tmp_path / "data"
    work.mkdir()
    if replacing:  # both replace an older dataset (other parameters) at the same time
        data.shapes_folder(**SMALL, root=work / "s")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    go = tmp_path / "go"
    code = (
        "import sys, time, pathlib\nfrom gaplib import data\n"
        f"while not pathlib.Path({str(go)!r}).exists(): time.sleep(0.01)\n"
        f"print(data.shapes_folder(size=16, n_train=60, n_valid=30, root={str(work / 's')!r}))\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    time.sleep(0.5)
    go.touch()
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert all(o.strip().splitlines()[-1] == str(work / "s") for o in outs)
    _complete(work / "s", 90)


def test_sample_without_boxes_round_trips(tmp_path):
    """A folder read without boxes.csv (NaN boxes) can be written back, and reads back with NaN boxes."""
    s = data.make_shapes(6, 16)
    s = s._replace(boxes=torch.full_like(s.boxes, float("nan")), images=s.images.requires_grad_())
    root = data.write_image_folder(tmp_path / "f", s, s)
    back = data.read_image_folder(root, "valid")
    assert torch.isnan(back.boxes).all() and back.images.shape == s.images.shape
