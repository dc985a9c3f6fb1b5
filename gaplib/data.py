"""The course data, made here and never downloaded: samples of images with labels and boxes, and their loaders.

- `make_shapes`: the default dataset, procedurally generated — one shape per image at a random
  position, scale and colour on a noisy background, with its ground-truth box. Same seed, same bytes.
- `make_digits`: scikit-learn's real handwritten digits (8x8, shipped with the package) pasted at
  random positions on a larger noisy canvas, with their boxes.
- `make_loader` / `shapes_loaders`: PyTorch `DataLoader`s over such samples, for the plain-PyTorch
  notebooks; `random_shifts` is their translation augmentation.

Writing samples to image folders and reading folders back is `gaplib.folders`'s job.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from ._checks import (
    check_bool,
    check_cost,
    check_int,
    check_labels,
    check_maps,
    check_number,
    check_range,
    check_sample,
    check_strings,
)

__all__ = [
    "SHAPES",
    "DIGITS",
    "VALID_SEED_OFFSET",
    "Sample",
    "make_shapes",
    "make_digits",
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
