"""gaplib.folders: image folders written, reused, rebuilt and read back; nothing of the learner's is touched."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gaplib import _store, data, folders

SMALL = dict(size=16, n_train=12, n_valid=6)


def _digest(t: torch.Tensor) -> str:
    return hashlib.sha256(t.numpy().tobytes()).hexdigest()


def _n_images(root):
    return len(list(root.glob("train/*/*.png"))) + len(list(root.glob("valid/*/*.png")))


def _leftovers(parent):
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def _complete(root, n: int) -> None:
    """`root` is a complete dataset of `n` images that verifies against its manifest, with nothing beside it."""
    assert _n_images(root) == n
    assert _store.mismatch(root, json.loads((root / "manifest.json").read_text())["params"]) is None
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
        folders.shapes_folder(**SMALL, root=tmp_path / "mine")
    _still_there(tmp_path / "mine", files)
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("only", ["train/cat/1.png", "boxes.csv", "notes.txt"])
def test_write_image_folder_refuses_a_folder_of_yours(tmp_path, only):
    folder = tmp_path / "mine"
    (folder / only).parent.mkdir(parents=True, exist_ok=True)
    (folder / only).write_bytes(b"mine")
    s = data.make_shapes(6, 16)
    with pytest.raises(ValueError, match="is not a gaplib dataset"):
        folders.write_image_folder(folder, s, s)
    assert (folder / only).read_bytes() == b"mine"


@pytest.mark.parametrize("root", [".", "", "  "])
def test_current_folder_is_refused(tmp_path, monkeypatch, root):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "work.txt").write_text("keep me")
    with pytest.raises(ValueError, match="current folder|empty string"):
        folders.shapes_folder(**SMALL, root=root)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work.txt"]


def test_parent_of_current_folder_is_refused(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    with pytest.raises(ValueError, match="current folder or above it"):
        folders.shapes_folder(**SMALL, root="..")


def test_home_folder_is_refused(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(ValueError, match="home folder"):
        folders.shapes_folder(**SMALL, root=home)
    with pytest.raises(ValueError, match="home folder"):
        folders.shapes_folder(**SMALL, root="~")  # expanded, as in "~/data/shapes"
    assert list(home.iterdir()) == []


def test_symlink_and_file_are_refused(tmp_path):
    real = folders.shapes_folder(**SMALL, root=tmp_path / "real")
    (tmp_path / "link").symlink_to(real)
    (tmp_path / "a_file").write_text("keep")
    with pytest.raises(ValueError, match="symbolic link"):
        folders.shapes_folder(**SMALL, root=tmp_path / "link")
    with pytest.raises(ValueError, match="is a file"):
        folders.shapes_folder(**SMALL, root=tmp_path / "a_file")
    s = data.make_shapes(6, 16)
    with pytest.raises(ValueError, match="symbolic link"):
        folders.write_image_folder(tmp_path / "link", s, s)
    assert (tmp_path / "a_file").read_text() == "keep"
    _complete(real, 18)


def test_extra_file_in_a_dataset_is_refused(tmp_path):
    root = folders.shapes_folder(**SMALL, root=tmp_path / "s")
    (root / "train" / "circle" / "my_photo.png").write_bytes(b"mine")
    with pytest.raises(ValueError, match="which gaplib did not write"):
        folders.shapes_folder(size=16, n_train=6, n_valid=6, root=root)  # other parameters: would replace it
    assert (root / "train" / "circle" / "my_photo.png").read_bytes() == b"mine"


def test_arguments_are_checked_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="n_train must be >= 1"):
        folders.shapes_folder(size=16, n_train=0, root=tmp_path / "new")
    s = data.make_shapes(6, 16)
    bad = s._replace(images=s.images * 2)
    with pytest.raises(ValueError, match=r"train.images must be in \[0, 1\]"):
        folders.write_image_folder(tmp_path / "new", bad, s)
    with pytest.raises(ValueError, match="valid.labels holds 7"):
        folders.write_image_folder(tmp_path / "new", s, s._replace(labels=torch.full((6,), 7)))
    assert list(tmp_path.iterdir()) == []


def test_empty_folder_is_used(tmp_path):
    (tmp_path / "empty").mkdir()
    root = folders.shapes_folder(**SMALL, root=tmp_path / "empty")
    _complete(root, 18)


# ---- reuse verifies the manifest ------------------------------------------------------------------


def test_reuse_does_not_rewrite(tmp_path, capsys):
    root = folders.shapes_folder(**SMALL, root=tmp_path / "s")
    stamp = (root / "manifest.json").stat().st_mtime_ns
    assert folders.shapes_folder(**SMALL, root=root) == root
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
    root = folders.shapes_folder(**SMALL, root=tmp_path / "s")
    damage(root)
    assert folders.shapes_folder(**SMALL, root=root) == root
    out = capsys.readouterr().out
    assert out.startswith("gaplib: rebuilding") and reason in out and out.count("\n") == 1
    _complete(root, 18)


def test_other_parameters_replace_the_old_dataset(tmp_path, capsys):
    root = folders.shapes_folder(**SMALL, root=tmp_path / "s")
    folders.shapes_folder(size=16, n_train=24, n_valid=6, root=root)
    assert "other parameters" in capsys.readouterr().out
    _complete(root, 30)


def test_write_image_folder_replaces_its_own_dataset(tmp_path):
    a, b = data.make_shapes(6, 16, seed=1), data.make_shapes(9, 16, seed=2)
    root = folders.write_image_folder(tmp_path / "f", a, a, {"v": 1})
    folders.write_image_folder(root, b, b, {"v": 2})
    _complete(root, 18)
    back = folders.read_image_folder(root, "train")
    assert back.images.shape[0] == 9 and json.loads((root / "manifest.json").read_text())["params"] == {"v": 2}


def test_sample_without_boxes_round_trips(tmp_path):
    """A folder read without boxes.csv (NaN boxes) can be written back, and reads back with NaN boxes."""
    s = data.make_shapes(6, 16)
    s = s._replace(boxes=torch.full_like(s.boxes, float("nan")), images=s.images.requires_grad_())
    root = folders.write_image_folder(tmp_path / "f", s, s)
    back = folders.read_image_folder(root, "valid")
    assert torch.isnan(back.boxes).all() and back.images.shape == s.images.shape


def test_folder_roundtrip(tmp_path):
    root = folders.shapes_folder(size=16, n_train=12, n_valid=6, seed=3, root=tmp_path / "shapes16")
    assert sorted(p.name for p in (root / "train").iterdir()) == sorted(data.SHAPES)
    assert len(list(root.glob("valid/*/*.png"))) == 6
    back = folders.read_image_folder(root, "train")
    orig = data.make_shapes(12, 16, seed=3)
    # same images (the folder reader sorts by class then file, so compare as sets of digests)
    assert sorted(map(_digest, back.images)) == sorted(map(_digest, orig.images))
    assert back.classes == data.SHAPES
    assert not torch.isnan(back.boxes).any()


def test_folder_is_written_once(tmp_path):
    root = folders.shapes_folder(size=16, n_train=6, n_valid=6, root=tmp_path / "s")
    stamp = (root / "manifest.json").stat().st_mtime_ns
    assert folders.shapes_folder(size=16, n_train=6, n_valid=6, root=tmp_path / "s") == root
    assert (root / "manifest.json").stat().st_mtime_ns == stamp
    folders.shapes_folder(size=16, n_train=12, n_valid=6, root=tmp_path / "s")  # other parameters: rewritten
    assert len(list(root.glob("train/*/*.png"))) == 12


def test_read_image_folder_jpeg_without_boxes(tmp_path):
    from PIL import Image

    for cls in ("n01440764", "n02102040"):
        (tmp_path / "train" / cls).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((20, 30, 3), 40 * i, np.uint8)).save(tmp_path / "train" / cls / f"{i}.JPEG")
    s = folders.read_image_folder(tmp_path, "train", size=16)
    assert s.images.shape == (4, 3, 16, 16) and s.classes == ("n01440764", "n02102040")
    assert torch.isnan(s.boxes).all()


def test_data_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("GAPCOURSE_DATA", str(tmp_path))
    assert folders.data_dir() == tmp_path


def test_empty_folder_errors(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(FileNotFoundError, match="no class subfolders"):
        folders.read_image_folder(tmp_path)
    (tmp_path / "train" / "a").mkdir()
    with pytest.raises(FileNotFoundError, match="no image files"):
        folders.read_image_folder(tmp_path)


def test_a_split_missing_a_class_keeps_the_labels_of_train(tmp_path):
    from PIL import Image

    for split, classes in {"train": ("circle", "cross", "ring"), "valid": ("cross", "ring")}.items():
        for cls in classes:
            (tmp_path / split / cls).mkdir(parents=True)
            Image.new("RGB", (8, 8)).save(tmp_path / split / cls / "0.png")
    train, valid = folders.read_image_folder(tmp_path, "train"), folders.read_image_folder(tmp_path, "valid")
    assert train.classes == valid.classes == ("circle", "cross", "ring")
    assert valid.labels.tolist() == [1, 2], "valid's cross and ring keep train's labels 1 and 2"


def test_boxes_csv_rows_without_a_box_read_as_nan(tmp_path):
    from PIL import Image

    (tmp_path / "train" / "a").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "train" / "a" / "0.png")
    (tmp_path / "boxes.csv").write_text("path,label,x0,y0,x1,y1\ntrain/a/0.png,a,,,,\n")
    assert torch.isnan(folders.read_image_folder(tmp_path).boxes).all()
