"""Image folders: the course data as ImageNet-style folders on disk, and any such folder read back.

- `write_image_folder`: writes a sample as `train/<class>/*.png`, `valid/<class>/*.png` and `boxes.csv`,
  the layout fastai's `ImageDataLoaders.from_folder` reads like Imagenette.
- `shapes_folder`: the shapes dataset written once under `data_dir()` and reused.
- `read_image_folder`: reads such a folder back (any image format PIL reads), whatever wrote it.

Folders are safe to point anywhere: gaplib deletes or replaces only a folder it wrote itself, atomically
(see `gaplib._store`), and a dataset that no longer matches its manifest is rebuilt, saying so.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from pathlib import Path

import numpy as np
import torch

from . import _store
from ._checks import (
    check_cost,
    check_dir,
    check_int,
    check_labels,
    check_maps,
    check_sample,
    check_str,
    check_strings,
    check_tensor,
    check_type,
)
from .data import VALID_SEED_OFFSET, Sample, _check_make_cost, _to_sample, make_shapes

__all__ = ["data_dir", "write_image_folder", "shapes_folder", "read_image_folder"]


def data_dir() -> Path:
    """Where generated folders go: `$GAPCOURSE_DATA`, else the repository's `data/`, else `./data`."""
    if os.environ.get("GAPCOURSE_DATA"):
        return Path(os.environ["GAPCOURSE_DATA"])
    repo_data = Path(__file__).resolve().parent.parent / "data"
    return repo_data if repo_data.is_dir() else Path.cwd() / "data"


def _check_sample(sample: object, name: str) -> Sample:
    """Check that `sample` is a `Sample` that can be written as PNGs: 3-channel images in [0, 1], labels in range."""
    check_sample(sample, name, Sample._fields)
    images, labels, boxes, classes = sample.images, sample.labels, sample.boxes, sample.classes
    check_maps(images, f"{name}.images")
    if images.shape[1] != 3:
        raise ValueError(f"{name}.images must have 3 (RGB) channels, got {images.shape[1]}")
    if len(images) == 0:
        raise ValueError(f"{name} is empty: it holds no image")
    if not torch.isfinite(images).all():
        raise ValueError(f"{name}.images holds NaN or inf values; images must be finite, in [0, 1]")
    lo, hi = images.min().item(), images.max().item()
    if lo < 0 or hi > 1:
        raise ValueError(
            f"{name}.images must be in [0, 1], got values from {lo:.3g} to {hi:.3g}; clamp or rescale them"
        )
    want = "distinct non-empty folder names (no / or \\)"
    check_strings(classes, f"{name}.classes", want=want)
    if any(c in (".", "..") or re.search(r"[/\\\0]", c) for c in classes):
        raise ValueError(f"{name}.classes must be {want}, got {classes!r}")
    check_labels(labels, len(images), len(classes), f"{name}.labels")
    want = f"a ({len(images)}, 4) tensor of (x0, y0, x1, y1)"
    if check_tensor(boxes, f"{name}.boxes", want).shape != (len(images), 4):
        got = tuple(boxes.shape)
        raise ValueError(f"{name}.boxes must be a ({len(images)}, 4) tensor of (x0, y0, x1, y1), got {got}")
    if torch.isinf(boxes).any():
        raise ValueError(f"{name}.boxes holds inf; use finite pixel coordinates (NaN means no box)")
    return sample


def _save_split(root: Path, split: str, sample: Sample, rows: list) -> None:
    """Write one split's PNGs under `root/split/<class>/` and collect its box rows."""
    from PIL import Image

    arr = (sample.images.detach().cpu() * 255).round().byte().permute(0, 2, 3, 1).numpy()
    for i, (img, label, box) in enumerate(zip(arr, sample.labels.tolist(), sample.boxes.tolist())):
        rel = Path(split) / sample.classes[label] / f"{i:05d}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(root / rel)
        rows.append([rel.as_posix(), sample.classes[label], *("" if math.isnan(v) else int(v) for v in box)])


def _write_splits(root: Path, train: Sample, valid: Sample) -> None:
    """Write both splits' PNGs under `root` and their boxes to `root/boxes.csv`."""
    rows: list = []
    _save_split(root, "train", train, rows)
    _save_split(root, "valid", valid, rows)
    with open(root / "boxes.csv", "w", newline="") as f:
        csv.writer(f).writerows([["path", "label", "x0", "y0", "x1", "y1"], *rows])


def write_image_folder(root: str | Path, train: Sample, valid: Sample, manifest: dict | None = None) -> Path:
    """Write `train`/`valid` as `root/{train,valid}/<class>/*.png` plus `root/boxes.csv`; returns `root`.

    `root` must be new, empty, or a dataset gaplib wrote (which is then replaced, atomically); `manifest`
    is an optional dict of JSON values recorded as the dataset's parameters.
    """
    root = _store.check_target(root)
    _check_sample(train, "train")
    _check_sample(valid, "valid")
    if tuple(valid.classes) != tuple(train.classes):
        raise ValueError(f"valid.classes {tuple(valid.classes)} must equal train.classes {tuple(train.classes)}")
    if len(train.images) > 99_999 or len(valid.images) > 99_999:
        raise ValueError("train and valid must hold at most 99,999 images each (5-digit file names)")
    if manifest is not None:
        check_type(manifest, "manifest", dict, "a dict of JSON values or None")
    try:
        params = json.loads(json.dumps(manifest or {}, sort_keys=True, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise ValueError(f"manifest must hold only JSON values (str, number, list, dict): {e}") from None

    _store.clean_stale(root)
    return _store.place(root, lambda tmp: _write_splits(tmp, train, valid), params, reuse=False)


def shapes_folder(
    size: int = 32, n_train: int = 600, n_valid: int = 300, seed: int = 0, root: str | Path | None = None
) -> Path:
    """The shapes dataset as an ImageNet-style folder, written once under `data_dir()` and reused.

    The default folder is `shapes<size>` for the default counts and seed, else a name that includes them,
    so notebooks asking for different folders at the same time never overwrite each other. A folder that
    no longer matches its manifest (files missing or changed) is rebuilt, with a one-line note.
    """
    check_int(size, "size", 8)
    check_int(n_train, "n_train", 1)
    check_int(n_valid, "n_valid", 1)
    check_int(seed, "seed", 0)
    for n, what in ((n_train, "n_train"), (n_valid, "n_valid")):
        if n > 99_999:
            raise ValueError(f"{what} must be at most 99,999 (5-digit file names), got {n}")
    _check_make_cost("shapes_folder", n_train + n_valid, size)
    if root is None:
        default = (n_train, n_valid, seed) == (600, 300, 0)
        root = data_dir() / (f"shapes{size}" if default else f"shapes{size}_{n_train}x{n_valid}_seed{seed}")
    root = _store.check_target(root)
    params = {"kind": "shapes", "size": size, "n_train": n_train, "n_valid": n_valid, "seed": seed}
    _store.clean_stale(root)
    problem = _store.mismatch(root, params)
    if problem is None:
        return root
    if root.exists() and any(root.iterdir()):
        print(f"gaplib: rebuilding {root}: {problem}")

    def write(tmp: Path) -> None:
        _write_splits(tmp, make_shapes(n_train, size, seed), make_shapes(n_valid, size, seed + VALID_SEED_OFFSET))

    return _store.place(root, write, params, reuse=True)


def _image_files(folder: Path) -> list[Path]:
    """The image files (by extension, as fastai picks them) directly inside `folder`, sorted."""
    from PIL import Image

    exts = {e.lower() for e in Image.registered_extensions()}
    return sorted(
        f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in exts and not f.name.startswith(".")
    )


def _class_names(folder: Path) -> set[str]:
    """The class subfolders of a split `folder` (hidden ones left out)."""
    return {p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")}


def _read_boxes(path: Path) -> dict[str, list[float]]:
    """`boxes.csv` as {relative path: [x0, y0, x1, y1]}; a row with four empty box cells reads as NaN."""
    need = ("path", "x0", "y0", "x1", "y1")
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or not set(need) <= set(reader.fieldnames):
                raise ValueError(f"{str(path)!r} must have the columns {need}, got {reader.fieldnames}")
            known = {}
            for i, r in enumerate(reader, start=2):
                cells = [r[k] for k in need]
                if any(c is None for c in cells):
                    raise ValueError(f"{str(path)!r} line {i} is short: it needs {need}, got {r}")
                if all(c == "" for c in cells[1:]):  # an image without a box: four empty cells
                    known[r["path"]] = [math.nan] * 4
                    continue
                try:
                    known[r["path"]] = [float(c) for c in cells[1:]]
                except (TypeError, ValueError):
                    raise ValueError(
                        f"{str(path)!r} line {i}: box values must be numbers (four, or four empty cells), got {r}"
                    ) from None
    except UnicodeDecodeError:
        raise ValueError(f"{str(path)!r} is not a text CSV file") from None
    return known


def read_image_folder(root: str | Path, split: str = "train", size: int | None = None) -> Sample:
    """Read `root/split/<class>/*` images (any format PIL reads) into a `Sample`; boxes from `boxes.csv` if present."""
    from PIL import Image, UnidentifiedImageError

    root = check_dir(root, "image folder")
    want = "a subfolder name such as 'train' or 'valid'"
    if "/" in check_str(split, "split", want) or split in (".", ".."):
        raise ValueError(f"split must be {want}, got {split!r}")
    if size is not None:
        check_int(size, "size", 1)
        check_cost(f"read_image_folder(size={size})", 0.0, 3 * 4 * 3 * size * size, "use a smaller size")
    folder = check_dir(root / split, f"split folder {split!r} of")
    own = _class_names(folder)
    if not own:
        raise FileNotFoundError(f"{str(folder)!r} has no class subfolders (expected {split}/<class>/<image>)")
    # one class list for every split (train's and this one's together), so a class missing from one split
    # does not shift the labels of the others
    classes = tuple(sorted(own | (_class_names(root / "train") if (root / "train").is_dir() else set())))
    files = [(f, c) for c, name in enumerate(classes) if (folder / name).is_dir() for f in _image_files(folder / name)]
    if not files:
        raise FileNotFoundError(f"{str(folder)!r} has class folders but no image files")
    if size is not None:
        check_cost(
            f"read_image_folder of {len(files)} images at size {size}",
            2e-9 * len(files) * size * size,
            len(files) * 3 * size * size * 9,
            "use a smaller size or fewer images",
        )
    boxes_csv = root / "boxes.csv"
    if boxes_csv.exists() and not boxes_csv.is_file():
        raise ValueError(f"{str(boxes_csv)!r} must be a CSV file of boxes, but it is a folder or a special file")
    known = _read_boxes(boxes_csv) if boxes_csv.exists() else {}
    images, labels, boxes = [], [], []
    for f, c in files:
        try:
            with Image.open(f) as im:
                img = im.convert("RGB")
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            reason = " ".join(str(e).split()) or type(e).__name__
            raise ValueError(f"cannot read image {str(f)!r} (corrupt, truncated or not an image): {reason}") from None
        if size is not None:
            img = img.resize((size, size))
        images.append(np.asarray(img, dtype=np.float32) / 255.0)
        labels.append(c)
        boxes.append(known.get(f.relative_to(root).as_posix(), [float("nan")] * 4))
    if len({im.shape for im in images}) > 1:
        raise ValueError(f"images in {str(folder)!r} have different sizes; pass size=... to resize them")
    return _to_sample(images, np.array(labels), boxes, classes)
