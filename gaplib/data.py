"""The course data, made here and never downloaded.

- `make_shapes`: the default dataset, procedurally generated — one shape per image at a random
  position, scale and colour on a noisy background, with its ground-truth box. Same seed, same bytes.
- `make_digits`: scikit-learn's real handwritten digits (8x8, shipped with the package) pasted at
  random positions on a larger noisy canvas, with their boxes.
- `write_image_folder`: writes a sample as an ImageNet-style folder (`train/<class>/*.png`,
  `valid/<class>/*.png`, `boxes.csv`) that fastai's `ImageDataLoaders.from_folder` reads like
  Imagenette; `read_image_folder` reads such a folder back, whatever wrote it.

Folders are safe to point anywhere: gaplib deletes or replaces only a folder it wrote itself (one
with its `manifest.json`), and refuses anything else (`.`, the home folder, a symbolic link, a file,
a folder of yours). It builds beside the target and renames into place, so a folder is either the
old complete dataset or the new one, never half of one; the manifest lists every file with a content
hash, and a dataset that no longer matches it is rebuilt, saying so.
- `shapes_loaders`: PyTorch `DataLoader`s over generated tensors, for the plain-PyTorch notebooks.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import math
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from ._checks import (
    check_bool,
    check_cost,
    check_dir,
    check_int,
    check_labels,
    check_maps,
    check_number,
    check_path,
    check_range,
    check_sample,
    check_str,
    check_strings,
    check_tensor,
    check_type,
)

__all__ = [
    "SHAPES",
    "DIGITS",
    "Sample",
    "make_shapes",
    "make_digits",
    "data_dir",
    "write_image_folder",
    "shapes_folder",
    "read_image_folder",
    "make_loader",
    "random_shifts",
    "shapes_loaders",
]

SHAPES = ("circle", "cross", "diamond", "ring", "square", "triangle")  # alphabetical, as folder readers sort them
DIGITS = tuple(str(i) for i in range(10))
VALID_SEED_OFFSET = 10_000  # the validation split of seed s is generated with seed s + VALID_SEED_OFFSET


class Sample(NamedTuple):
    """Images `(N, 3, H, W)` float32 in [0, 1], labels `(N,)` int64, boxes `(N, 4)` as (x0, y0, x1, y1), class names."""

    images: torch.Tensor
    labels: torch.Tensor
    boxes: torch.Tensor
    classes: tuple[str, ...]


def _shape_mask(kind: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Boolean mask of shape `kind` of half-size `r` in offsets (dx, dy) from its centre."""
    d2 = dx**2 + dy**2
    if kind == "circle":
        return d2 <= r**2
    if kind == "square":
        return (np.abs(dx) <= 0.85 * r) & (np.abs(dy) <= 0.85 * r)
    if kind == "triangle":
        return (dy <= r) & (np.abs(dx) <= (dy + r) / 2)
    if kind == "cross":
        arm = r / 3
        return ((np.abs(dx) <= arm) & (np.abs(dy) <= r)) | ((np.abs(dy) <= arm) & (np.abs(dx) <= r))
    if kind == "ring":
        return (d2 <= r**2) & (d2 >= (0.55 * r) ** 2)
    if kind == "diamond":
        return np.abs(dx) + np.abs(dy) <= r
    raise ValueError(f"unknown shape {kind!r}; choose from {SHAPES}")


def _background(rng: np.random.Generator, size: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """A noisy background `(size, size, 3)` and its base colour."""
    base = rng.uniform(0.0, 1.0, 3)
    img = base + rng.normal(0.0, noise, (size, size, 3))
    return img, base


def _contrasting_colour(rng: np.random.Generator, base: np.ndarray) -> np.ndarray:
    """A random colour at least 0.5 away (Euclidean) from `base`."""
    while True:
        colour = rng.uniform(0.0, 1.0, 3)
        if np.linalg.norm(colour - base) >= 0.5:
            return colour


def _box_of(mask: np.ndarray) -> list[float]:
    """Tight (x0, y0, x1, y1) box of a boolean mask, x1/y1 exclusive."""
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def _to_sample(images: list[np.ndarray], labels: np.ndarray, boxes: list, classes: tuple[str, ...]) -> Sample:
    """Stack HWC float images into a `Sample`, quantised to 8 bits so tensors equal their saved PNGs."""
    arr = np.clip(np.stack(images), 0.0, 1.0)
    arr = np.round(arr * 255.0).astype(np.uint8)
    x = torch.from_numpy(arr).permute(0, 3, 1, 2).float().div(255.0).contiguous()
    return Sample(x, torch.as_tensor(labels, dtype=torch.int64), torch.tensor(boxes, dtype=torch.float32), classes)


def _check_make_cost(what: str, n: int, size: int) -> None:
    """Refuse up front a sample that would take minutes or more memory than the machine has to make."""
    pixels = n * size * size
    # measured on a 2-core laptop CPU: ~150 us per image plus ~150 ns per pixel; float64 HWC work arrays,
    # the uint8 copy and the float32 result come to ~21 bytes per pixel and channel
    check_cost(
        f"{what}(n={n}, size={size})",
        seconds=150e-6 * n + 150e-9 * pixels,
        nbytes=21 * 3 * pixels,
        hint="ask for fewer or smaller images",
    )


def make_shapes(
    n: int,
    size: int = 32,
    seed: int = 0,
    classes: tuple[str, ...] = SHAPES,
    scale: tuple[float, float] = (0.3, 0.6),
    noise: float = 0.08,
) -> Sample:
    """`n` images of one shape each, at random position, scale (fraction of `size`) and colour, with boxes."""
    check_int(n, "n", 1)
    check_int(size, "size", 8)
    check_int(seed, "seed", 0)
    classes = check_strings(classes, "classes", SHAPES, f"a non-empty subset of {SHAPES}, each name once")
    scale = check_range(scale, "scale", 0.0, 1.0)
    check_number(noise, "noise", 0.0, 1.0)
    _check_make_cost("make_shapes", n, size)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(classes))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    images, boxes = [], []
    for label in labels:
        img, base = _background(rng, size, noise)
        r = rng.uniform(*scale) * size / 2
        cx, cy = rng.uniform(r, size - r, 2)
        mask = _shape_mask(classes[label], xx - cx, yy - cy, r)
        if not mask.any():  # a very small shape can miss every pixel centre: keep the centre pixel
            mask[min(int(cy), size - 1), min(int(cx), size - 1)] = True
        img[mask] = _contrasting_colour(rng, base) + rng.normal(0.0, noise, (int(mask.sum()), 3))
        images.append(img)
        boxes.append(_box_of(mask))
    return _to_sample(images, labels, boxes, tuple(classes))


def make_digits(n: int, size: int = 32, seed: int = 0, noise: float = 0.08, zoom: float = 1.0) -> Sample:
    """`n` of scikit-learn's real 8x8 handwritten digits, upscaled 2-3x, pasted at random on a noisy canvas.

    `zoom` scales every glyph once more (nearest neighbour, `round(8 * k * zoom)` px for k = 2 or 3):
    `zoom=size / 32` draws the 32 px scene at `size` px (the digit scales with the canvas), while the
    default keeps the digit's pixel size whatever the canvas. A k = 3 glyph is drawn only where it fits;
    `zoom` goes from 0.25 to `size / 16` (where a k = 2 glyph fills the canvas).
    """
    from sklearn.datasets import load_digits

    check_int(n, "n", 1)
    check_int(size, "size", 16)
    check_int(seed, "seed", 0)
    check_number(noise, "noise", 0.0, 1.0)
    check_number(zoom, "zoom", 0.25, size / 16)  # the smallest glyph (k = 2) is 4 px up to the canvas side
    _check_make_cost("make_digits", n, size)
    digits = load_digits()
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(digits.images), n, replace=n > len(digits.images))
    largest = 3 if round(24 * zoom) <= size else 2  # for zoom=1 this is min(3, size // 8), as it always was
    images, boxes = [], []
    for i in picks:
        img, base = _background(rng, size, noise)
        k = int(rng.integers(2, largest + 1))
        side = round(8 * k * zoom)
        rows = np.arange(side) * 8 // side  # nearest neighbour: equals np.kron(glyph, ones((k, k))) for zoom=1
        glyph = digits.images[i][np.ix_(rows, rows)] / 16.0
        x0, y0 = (int(v) for v in rng.integers(0, size - side + 1, 2))
        colour = _contrasting_colour(rng, base)
        patch = img[y0 : y0 + side, x0 : x0 + side]
        img[y0 : y0 + side, x0 : x0 + side] = patch * (1 - glyph[..., None]) + colour * glyph[..., None]
        images.append(img)
        boxes.append(_box_of(np.pad(glyph > 0, ((y0, size - y0 - side), (x0, size - x0 - side)))))
    return _to_sample(images, digits.target[picks], boxes, DIGITS)


def data_dir() -> Path:
    """Where generated folders go: `$GAPCOURSE_DATA`, else the repository's `data/`, else `./data`."""
    if os.environ.get("GAPCOURSE_DATA"):
        return Path(os.environ["GAPCOURSE_DATA"])
    repo_data = Path(__file__).resolve().parent.parent / "data"
    return repo_data if repo_data.is_dir() else Path.cwd() / "data"


# ---- checking what gets written ---------------------------------------------------------------------

_MARK = "gaplib image folder"  # manifests gaplib writes carry {"written_by": _MARK}
_OURS = {"train", "valid", "manifest.json", "boxes.csv"}  # the only names gaplib puts in a dataset folder
_IMAGE_NAME = re.compile(r"^\d{5}\.png$")  # the only image names it writes


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


def _check_target(root: object, name: str = "root") -> Path:
    """Check that `root` is a folder path gaplib may write a dataset to (the folder itself comes later)."""
    path = check_path(root, name).expanduser()
    if path.is_symlink():
        raise ValueError(f"{name} {str(path)!r} is a symbolic link; gaplib writes only to a real folder")
    full = path.resolve()
    for other, what in ((Path.cwd().resolve(), "the current folder"), (Path.home().resolve(), "the home folder")):
        if full == other or full in other.parents:
            raise ValueError(f"{name} {str(path)!r} is {what} or above it; give a new folder for the dataset")
    if path.exists() and not path.is_dir():
        raise ValueError(f"{name} {str(path)!r} is a file, not a folder; give a new folder for the dataset")
    if any(p.exists() and not p.is_dir() for p in path.parents):
        raise ValueError(f"{name} {str(path)!r} lies under a file, not a folder")
    _check_ours(path, name)
    return path


def _read_manifest(root: Path) -> dict | None:
    """gaplib's manifest of `root`, or None when it is missing, unreadable, truncated or not gaplib's."""
    try:
        manifest = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(manifest, dict) and manifest.get("written_by") == _MARK and isinstance(manifest.get("files"), list)
    return manifest if ok else None


def _files_of(root: Path) -> list[str]:
    """Every file under `root` (except `manifest.json`) as sorted posix paths relative to `root`."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = Path(dirpath).relative_to(root)
        out += [(rel / f).as_posix() for f in filenames if (rel / f).as_posix() != "manifest.json"]
    return sorted(out)


def _check_ours(root: Path, name: str) -> None:
    """Refuse `root` if it exists, is not empty, and holds anything gaplib did not write there."""
    if not root.is_dir() or not any(root.iterdir()):
        return
    refuse = f"{name} {str(root)!r} already exists and is not a gaplib dataset"
    top = {p.name for p in root.iterdir()}
    if "manifest.json" not in top:
        raise ValueError(f"{refuse} (no manifest.json); gaplib deletes only what it wrote: give a new folder")
    if not top <= _OURS:
        raise ValueError(f"{refuse}: it holds {sorted(top - _OURS)[0]!r}; move that away or give a new folder")
    links = [p for p in root.rglob("*") if p.is_symlink()]
    if links:
        raise ValueError(f"{refuse}: it holds the symbolic link {str(links[0])!r}; give a new folder")
    manifest = _read_manifest(root)
    files = _files_of(root)
    if manifest is not None:  # a readable manifest of ours: everything present must be listed in it
        listed = set(manifest["files"])
        extra = [f for f in files if f not in listed]
    else:  # unreadable or older manifest: accept only gaplib's own layout and names
        extra = [
            f
            for f in files
            if f != "boxes.csv"
            and not (
                f.count("/") == 2 and f.split("/")[0] in ("train", "valid") and _IMAGE_NAME.match(f.rsplit("/", 1)[1])
            )
        ]
    if extra:
        raise ValueError(f"{name} {str(root)!r} holds {extra[0]!r}, which gaplib did not write; move it away first")


def _content_hash(root: Path, files: list[str]) -> str:
    """sha256 over each file's relative path and bytes, in order."""
    h = hashlib.sha256()
    for rel in files:
        h.update(rel.encode() + b"\0" + hashlib.sha256((root / rel).read_bytes()).digest())
    return h.hexdigest()


def _mismatch(root: Path, params: dict) -> str | None:
    """Why `root` is not a complete gaplib dataset written with `params`, or None when it is."""
    if not root.is_dir():
        return "it does not exist"
    manifest = _read_manifest(root)
    if manifest is None:
        return "its manifest.json is missing, unreadable or from an older gaplib"
    if manifest.get("params") != json.loads(json.dumps(params)):
        return "it was written with other parameters"
    files = _files_of(root)
    if files != manifest["files"]:
        missing = len(set(manifest["files"]) - set(files))
        return f"{missing} of its {len(manifest['files'])} files are missing"
    try:
        if _content_hash(root, files) != manifest.get("sha256"):
            return "its files differ from what its manifest records"
    except OSError as e:
        return f"a file cannot be read ({e.strerror})"
    return None


def _pid_alive(pid: int) -> bool:
    """Whether a process with id `pid` runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]  # temp names say which machine built them
_FOREIGN_STALE_S = 24 * 3600  # a build from another machine (shared disk) counts as dead after a day


def _clean_stale(root: Path) -> None:
    """Remove the temporary folders of `root` that builds by dead processes left beside it.

    A build is dead when its process id no longer runs on this machine; one started on another machine
    sharing the disk (its name carries that machine's tag) is left alone for a day.
    """
    pattern = re.compile(rf"^\.{re.escape(root.name)}\.(\d+)(\.[0-9a-f]+)?\.(tmp|old)$")
    if not root.parent.is_dir():
        return
    for p in root.parent.iterdir():
        m = pattern.match(p.name)
        if not m or not p.is_dir() or p.is_symlink():
            continue
        token = (m.group(2) or ".")[1:]
        if len(token) == 16 and token[:8] != _HOST:
            try:
                dead = time.time() - p.stat().st_mtime > _FOREIGN_STALE_S
            except OSError:
                continue
        else:
            dead = not _pid_alive(int(m.group(1)))
        if dead:
            shutil.rmtree(p, ignore_errors=True)


def _place(root: Path, write: Callable[[Path], None], params: dict, reuse: bool) -> Path:
    """Build a dataset with `write(tmp)` beside `root`, then move it into place atomically.

    The old `root` (checked to be gaplib's) is moved aside and removed only once the new copy is in place.
    With `reuse`, a complete copy with the same `params` that another process put there first wins.
    """
    root.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}.{_HOST}{secrets.token_hex(4)}"
    tmp, old = root.parent / f".{root.name}.{tag}.tmp", root.parent / f".{root.name}.{tag}.old"
    tmp.mkdir()
    try:
        write(tmp)
        files = _files_of(tmp)
        manifest = {"written_by": _MARK, "params": params, "files": files, "sha256": _content_hash(tmp, files)}
        (tmp / "manifest.json").write_text(json.dumps(manifest, sort_keys=True))
        for _ in range(10):
            if reuse and _mismatch(root, params) is None:  # another process finished first
                shutil.rmtree(tmp, ignore_errors=True)
                return root
            moved = False
            if root.exists():
                _check_ours(root, "root")  # still ours: move it aside, never delete it before the new copy is in
                try:
                    root.rename(old)
                    moved = True
                except FileNotFoundError:
                    continue
            try:
                tmp.rename(root)
            except OSError as e:
                if moved and not root.exists():
                    old.rename(root)  # put the old copy back
                shutil.rmtree(old, ignore_errors=True)
                if e.errno in (errno.ENOTEMPTY, errno.EEXIST):  # another process put its copy there in between
                    continue
                raise
            shutil.rmtree(old, ignore_errors=True)
            return root
        raise RuntimeError(f"could not move the new dataset into {str(root)!r}: other processes keep replacing it")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _save_split(root: Path, split: str, sample: Sample, rows: list) -> None:
    """Write one split's PNGs under `root/split/<class>/` and collect its box rows."""
    from PIL import Image

    arr = (sample.images.detach().cpu() * 255).round().byte().permute(0, 2, 3, 1).numpy()
    for i, (img, label, box) in enumerate(zip(arr, sample.labels.tolist(), sample.boxes.tolist())):
        rel = Path(split) / sample.classes[label] / f"{i:05d}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(root / rel)
        rows.append([rel.as_posix(), sample.classes[label], *("" if math.isnan(v) else int(v) for v in box)])


def write_image_folder(root: str | Path, train: Sample, valid: Sample, manifest: dict | None = None) -> Path:
    """Write `train`/`valid` as `root/{train,valid}/<class>/*.png` plus `root/boxes.csv`; returns `root`.

    `root` must be new, empty, or a dataset gaplib wrote (which is then replaced, atomically); `manifest`
    is an optional dict of JSON values recorded as the dataset's parameters.
    """
    root = _check_target(root)
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

    def write(tmp: Path) -> None:
        rows: list = []
        _save_split(tmp, "train", train, rows)
        _save_split(tmp, "valid", valid, rows)
        with open(tmp / "boxes.csv", "w", newline="") as f:
            csv.writer(f).writerows([["path", "label", "x0", "y0", "x1", "y1"], *rows])

    _clean_stale(root)
    return _place(root, write, params, reuse=False)


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
    root = _check_target(root)
    params = {"kind": "shapes", "size": size, "n_train": n_train, "n_valid": n_valid, "seed": seed}
    _clean_stale(root)
    problem = _mismatch(root, params)
    if problem is None:
        return root
    if root.exists() and any(root.iterdir()):
        print(f"gaplib: rebuilding {root}: {problem}")

    def write(tmp: Path) -> None:
        train = make_shapes(n_train, size, seed)
        valid = make_shapes(n_valid, size, seed + VALID_SEED_OFFSET)
        rows: list = []
        _save_split(tmp, "train", train, rows)
        _save_split(tmp, "valid", valid, rows)
        with open(tmp / "boxes.csv", "w", newline="") as f:
            csv.writer(f).writerows([["path", "label", "x0", "y0", "x1", "y1"], *rows])

    return _place(root, write, params, reuse=True)


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


def random_shifts(images: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each image of `(N, C, H, W)` `images` moved by its own random (dx, dy) in [-max_shift, max_shift] pixels.

    The border is extended (replicate padding), as `experiments.shift_images` does for one fixed shift:
    the standard "random translation" augmentation of a from-scratch CNN, drawn from `generator`.
    """
    check_maps(images, "images")
    check_int(max_shift, "max_shift", 0)
    n, _, h, w = images.shape
    if max_shift == 0 or n == 0:
        return images
    if max_shift >= min(h, w):
        raise ValueError(f"max_shift must be smaller than the images' {h}x{w} grid, got {max_shift}")
    padded = torch.nn.functional.pad(images, (max_shift,) * 4, mode="replicate")
    offsets = torch.randint(0, 2 * max_shift + 1, (n, 2), generator=generator).tolist()
    return torch.stack([padded[i, :, y : y + h, x : x + w] for i, (y, x) in enumerate(offsets)])


def make_loader(sample: Sample, bs: int = 64, shuffle: bool = False, seed: int = 0, shift: int = 0) -> DataLoader:
    """A `DataLoader` of (image, label) batches over a `Sample`, `num_workers=0`, seeded shuffling.

    `shift > 0` augments: every batch is moved by `random_shifts(images, shift)`, fresh shifts each epoch,
    drawn from the loader's own seeded generator (so `fit`'s seed fixes them too); the loader's `unshifted`
    attribute then reads the same images as they are, where `fit` measures the final train accuracy.
    """
    check_sample(sample, "sample")
    check_maps(sample.images, "sample.images")
    if len(sample.images) == 0:
        raise ValueError("sample is empty: it holds no image")
    check_labels(
        sample.labels, len(sample.images), len(sample.classes) if hasattr(sample, "classes") else None, "sample.labels"
    )
    check_int(bs, "bs", 1)
    check_bool(shuffle, "shuffle")
    check_int(seed, "seed", 0)
    check_int(shift, "shift", 0)
    h, w = sample.images.shape[-2:]
    if shift >= min(h, w):
        raise ValueError(f"shift must be smaller than the images' {h}x{w} grid, got {shift}")
    gen = torch.Generator().manual_seed(seed)
    collate = None
    if shift:

        def collate(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
            images, labels = torch.stack([b[0] for b in batch]), torch.stack([b[1] for b in batch])
            return random_shifts(images, shift, gen), labels

    dataset = TensorDataset(sample.images, sample.labels)
    loader = DataLoader(dataset, bs, shuffle=shuffle, generator=gen, num_workers=0, collate_fn=collate)
    if shift:  # the same images as they are: `fit` measures train accuracy on them (the plateau criterion)
        loader.unshifted = DataLoader(dataset, bs, shuffle=False, num_workers=0)
    return loader


def shapes_loaders(
    size: int = 32, n_train: int = 1000, n_valid: int = 500, bs: int = 64, seed: int = 0, shift: int = 0
) -> tuple[DataLoader, DataLoader]:
    """Train (shuffled) and valid loaders over freshly generated shapes; valid uses `seed + VALID_SEED_OFFSET`.

    `shift > 0` augments the training loader with random translations of up to `shift` pixels (`make_loader`).
    """
    for v, what, low in (
        (size, "size", 8),
        (n_train, "n_train", 1),
        (n_valid, "n_valid", 1),
        (bs, "bs", 1),
        (seed, "seed", 0),
        (shift, "shift", 0),
    ):
        check_int(v, what, low)
    _check_make_cost("shapes_loaders", n_train + n_valid, size)
    train = make_shapes(n_train, size, seed)
    valid = make_shapes(n_valid, size, seed + VALID_SEED_OFFSET)
    return make_loader(train, bs, shuffle=True, seed=seed, shift=shift), make_loader(valid, bs * 2)
