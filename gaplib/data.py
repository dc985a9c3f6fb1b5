"""The course data, made here and never downloaded.

- `make_shapes`: the default dataset, procedurally generated — one shape per image at a random
  position, scale and colour on a noisy background, with its ground-truth box. Same seed, same bytes.
- `make_digits`: scikit-learn's real handwritten digits (8x8, shipped with the package) pasted at
  random positions on a larger noisy canvas, with their boxes.
- `write_image_folder`: writes a sample as an ImageNet-style folder (`train/<class>/*.png`,
  `valid/<class>/*.png`, `boxes.csv`) that fastai's `ImageDataLoaders.from_folder` reads like
  Imagenette; `read_image_folder` reads such a folder back, whatever wrote it.
- `shapes_loaders`: PyTorch `DataLoader`s over generated tensors, for the plain-PyTorch notebooks.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from ._checks import check_dir, check_int

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
    if not classes or any(c not in SHAPES for c in classes):
        raise ValueError(f"classes must be a non-empty subset of {SHAPES}, got {classes!r}")
    if not (0 < scale[0] <= scale[1] <= 1):
        raise ValueError(f"scale must be (low, high) with 0 < low <= high <= 1, got {scale!r}")
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


def make_digits(n: int, size: int = 32, seed: int = 0, noise: float = 0.08) -> Sample:
    """`n` of scikit-learn's real 8x8 handwritten digits, upscaled 2-3x, pasted at random on a noisy canvas."""
    from sklearn.datasets import load_digits

    check_int(n, "n", 1)
    check_int(size, "size", 16)
    check_int(seed, "seed", 0)
    digits = load_digits()
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(digits.images), n, replace=n > len(digits.images))
    images, boxes = [], []
    for i in picks:
        img, base = _background(rng, size, noise)
        k = int(rng.integers(2, min(3, size // 8) + 1))
        glyph = np.kron(digits.images[i] / 16.0, np.ones((k, k)))
        side = glyph.shape[0]
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


def _save_split(root: Path, split: str, sample: Sample, rows: list) -> None:
    """Write one split's PNGs under `root/split/<class>/` and collect its box rows."""
    from PIL import Image

    arr = (sample.images * 255).round().byte().permute(0, 2, 3, 1).numpy()
    for i, (img, label, box) in enumerate(zip(arr, sample.labels.tolist(), sample.boxes.tolist())):
        rel = Path(split) / sample.classes[label] / f"{i:05d}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(root / rel)
        rows.append([rel.as_posix(), sample.classes[label], *(int(v) for v in box)])


def write_image_folder(root: str | Path, train: Sample, valid: Sample, manifest: dict | None = None) -> Path:
    """Write `train`/`valid` as `root/{train,valid}/<class>/*.png` plus `root/boxes.csv`; returns `root`."""
    root = Path(root)
    for split in ("train", "valid"):
        shutil.rmtree(root / split, ignore_errors=True)
    rows: list = []
    _save_split(root, "train", train, rows)
    _save_split(root, "valid", valid, rows)
    with open(root / "boxes.csv", "w", newline="") as f:
        csv.writer(f).writerows([["path", "label", "x0", "y0", "x1", "y1"], *rows])
    (root / "manifest.json").write_text(json.dumps(manifest or {}, sort_keys=True))
    return root


def shapes_folder(
    size: int = 32, n_train: int = 600, n_valid: int = 300, seed: int = 0, root: str | Path | None = None
) -> Path:
    """The shapes dataset as an ImageNet-style folder, written once under `data_dir()` and reused.

    The default folder is `shapes<size>` for the default counts and seed, else a name that includes them,
    so notebooks asking for different folders at the same time never overwrite each other.
    """
    if root is None:
        default = (n_train, n_valid, seed) == (600, 300, 0)
        root = data_dir() / (f"shapes{size}" if default else f"shapes{size}_{n_train}x{n_valid}_seed{seed}")
    root = Path(root)
    manifest = {"kind": "shapes", "size": size, "n_train": n_train, "n_valid": n_valid, "seed": seed}
    done = root / "manifest.json"
    if done.exists() and json.loads(done.read_text()) == manifest:
        return root
    # write beside the target, then rename: two notebooks running at once never see half a folder
    tmp = root.parent / f".{root.name}.{os.getpid()}.tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    train = make_shapes(n_train, size, seed)
    valid = make_shapes(n_valid, size, seed + VALID_SEED_OFFSET)
    write_image_folder(tmp, train, valid, manifest)
    if done.exists() and json.loads(done.read_text()) == manifest:  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
        return root
    shutil.rmtree(root, ignore_errors=True)
    try:
        tmp.rename(root)
    except OSError:  # lost a race to a process that renamed its own copy in between
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def read_image_folder(root: str | Path, split: str = "train", size: int | None = None) -> Sample:
    """Read `root/split/<class>/*` images (any format PIL reads) into a `Sample`; boxes from `boxes.csv` if present."""
    from PIL import Image

    folder = check_dir(Path(root) / split, f"split folder {split!r} of")
    classes = tuple(sorted(p.name for p in folder.iterdir() if p.is_dir()))
    if not classes:
        raise FileNotFoundError(f"{str(folder)!r} has no class subfolders (expected {split}/<class>/<image>)")
    files = [(f, c) for c, name in enumerate(classes) for f in sorted((folder / name).iterdir()) if f.is_file()]
    if not files:
        raise FileNotFoundError(f"{str(folder)!r} has class folders but no image files")
    boxes_csv, known = Path(root) / "boxes.csv", {}
    if boxes_csv.exists():
        with open(boxes_csv) as f:
            known = {r["path"]: [float(r[k]) for k in ("x0", "y0", "x1", "y1")] for r in csv.DictReader(f)}
    images, labels, boxes = [], [], []
    for f, c in files:
        img = Image.open(f).convert("RGB")
        if size is not None:
            img = img.resize((size, size))
        images.append(np.asarray(img, dtype=np.float32) / 255.0)
        labels.append(c)
        boxes.append(known.get(f.relative_to(root).as_posix(), [float("nan")] * 4))
    if len({im.shape for im in images}) > 1:
        raise ValueError(f"images in {str(folder)!r} have different sizes; pass size=... to resize them")
    return _to_sample(images, np.array(labels), boxes, classes)


def make_loader(sample: Sample, bs: int = 64, shuffle: bool = False, seed: int = 0) -> DataLoader:
    """A `DataLoader` of (image, label) batches over a `Sample`, `num_workers=0`, seeded shuffling."""
    check_int(bs, "bs", 1)
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(sample.images, sample.labels), bs, shuffle=shuffle, generator=gen, num_workers=0)


def shapes_loaders(
    size: int = 32, n_train: int = 1000, n_valid: int = 500, bs: int = 64, seed: int = 0
) -> tuple[DataLoader, DataLoader]:
    """Train (shuffled) and valid loaders over freshly generated shapes; valid uses `seed + VALID_SEED_OFFSET`."""
    train = make_shapes(n_train, size, seed)
    valid = make_shapes(n_valid, size, seed + VALID_SEED_OFFSET)
    return make_loader(train, bs, shuffle=True, seed=seed), make_loader(valid, bs * 2)


if __name__ == "__main__":
    print(shapes_folder())
