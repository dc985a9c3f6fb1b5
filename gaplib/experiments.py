"""Experiments that probe a trained model: image-size sweeps, translation flip rates, head ablations.

- `size_sweep`: accuracy of one trained model on freshly made images at several sizes (NaN where
  the model cannot run at a size, e.g. a flatten head away from its training size).
- `shift_images` / `flip_rate`: translate images by a few pixels and count how often the prediction
  changes.
- `run_ablation` / `summarize`: train several heads on the same data over several seeds (optionally
  each at the same small grid of learning rates, `best_lr` keeps each head's best) and report mean ± std
  of valid accuracy, train − valid accuracy (`overfit`) and head parameters (the shape of NiN's Table 5).
- `train_rise`: how much train accuracy still rose over the last epochs (≈ 0 once a model plateaus).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ._checks import (
    check_bool,
    check_callable,
    check_choice,
    check_cost,
    check_filled_maps,
    check_int,
    check_ints,
    check_loader,
    check_mapping,
    check_maps,
    check_model,
    check_number,
    check_rows,
    check_sample,
    check_sequence,
    check_type,
)
from .data import Sample, make_shapes
from .models import count_params
from .train import History, accuracy, fit, predict, reached_plateau, set_seed

__all__ = [
    "SWEEP_SEED",
    "size_sweep",
    "shift_images",
    "flip_rate",
    "run_ablation",
    "summarize",
    "best_lr",
    "train_rise",
]

SWEEP_SEED = 20_000  # default seed of freshly made test images: no course split uses it
_PAD_MODES = ("replicate", "reflect", "constant", "circular")
_ROWS = "the non-empty list of dicts that run_ablation returns"


def size_sweep(
    model: nn.Module,
    sizes: Sequence[int],
    n: int = 300,
    seed: int = SWEEP_SEED,
    make: Callable[..., Sample] = make_shapes,
    bs: int = 128,
) -> dict[int, float]:
    """Accuracy of one trained `model` on `n` images `make(n, size, seed)` per size; NaN where it cannot run.

    A model that raises a `RuntimeError` at a size (a flatten head fed the wrong number of features, an
    image too small for its pooling layers) gets `nan` there instead of stopping the sweep, so size-locked
    and any-size models plot side by side. A model that runs at none of the `sizes` (wrong input channels,
    say) is broken rather than size-locked: that is a `ValueError` quoting its first error.

    Notebook 03 builds the sweep.
    """
    check_model(model)
    sizes = check_ints(sizes, "sizes", 1)
    check_int(n, "n", 1)
    check_int(seed, "seed", 0)
    check_int(bs, "bs", 1)
    check_callable(make, "make", "callable as make(n, size, seed) -> Sample")
    pixels = n * sum(s * s for s in sizes)
    check_cost(
        f"size_sweep over {len(sizes)} sizes of {n} images",
        3e-7 * pixels,
        4 * 21 * 3 * n * max(sizes) ** 2,
        "use fewer or smaller sizes, or a smaller n",
    )
    out, errors = {}, []
    for size in sizes:
        sample = check_sample(make(n, size, seed), "the output of make(n, size, seed)")
        try:
            out[size] = accuracy(model, sample.images, sample.labels, bs)
        except RuntimeError as e:  # the model cannot run at this size
            out[size] = math.nan
            errors.append(" ".join(str(e).split())[:150])
    if len(errors) == len(sizes):
        raise ValueError(f"model cannot run at any of the sizes {sizes} (not size-locked but broken): {errors[0]}")
    return out


def shift_images(images: torch.Tensor, dx: int, dy: int, mode: str = "replicate") -> torch.Tensor:
    """Translate `images` `(N, C, H, W)` by `dx` px right and `dy` px down; uncovered pixels come from `mode` padding.

    `mode` is `F.pad`'s: 'replicate' (repeat the edge, the default), 'reflect', 'constant' (zeros) or
    'circular' (wrap around, like `torch.roll`).
    """
    check_maps(images, "images")
    if images.shape[1] == 0:
        raise ValueError("images has 0 channels: there is nothing to shift")
    for v, name, side in ((dx, "dx", images.shape[3]), (dy, "dy", images.shape[2])):
        if abs(check_int(v, name, None)) >= side:
            raise ValueError(f"|{name}| = {abs(v)} must be smaller than the image side {side}")
    check_choice(mode, "mode", _PAD_MODES)
    if dx == 0 and dy == 0:
        return images.clone()
    h, w = images.shape[2:]
    padded = F.pad(images, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)), mode=mode)
    x0, y0 = max(-dx, 0), max(-dy, 0)
    return padded[:, :, y0 : y0 + h, x0 : x0 + w].contiguous()


def flip_rate(
    model: nn.Module, images: torch.Tensor, shifts: Sequence[int], mode: str = "replicate", bs: int = 256
) -> dict[int, float]:
    """Fraction of predictions that change when `images` move by `s` px, averaged over right, left, down, up.

    Notebook 03 builds it.
    """
    check_model(model)
    check_filled_maps(images, "images", "measure a flip rate")
    shifts = check_ints(shifts, "shifts", 0)
    check_int(bs, "bs", 1)
    check_choice(mode, "mode", _PAD_MODES)
    if max(shifts) >= min(images.shape[2:]):
        raise ValueError(f"shifts must be smaller than the image side {min(images.shape[2:])}, got {max(shifts)}")
    logits = predict(model, images, bs)
    if logits.shape[1] < 2:
        raise ValueError(f"model must return logits for 2 or more classes to flip between, got {logits.shape[1]}")
    base = logits.argmax(1)
    out = {}
    for s in shifts:
        moves = [(s, 0), (-s, 0), (0, s), (0, -s)] if s > 0 else [(0, 0)]
        rates = [
            (predict(model, shift_images(images, dx, dy, mode), bs).argmax(1) != base).float().mean().item()
            for dx, dy in moves
        ]
        out[s] = sum(rates) / len(rates)
    return out


def run_ablation(
    builders: Mapping[str, Callable[[], nn.Module]],
    train_dl: DataLoader,
    valid_dl: DataLoader,
    seeds: Sequence[int] = (0, 1, 2),
    epochs: int = 8,
    lr: float = 1e-2,
    keep_models: bool = False,
    progress: bool = True,
    lrs: Sequence[float] | None = None,
    valid_each_epoch: bool = True,
) -> list[dict]:
    """Train each `builders[name]()` once per seed (and per lr of `lrs`) with `fit`; one row per run.

    A row holds `config`, `seed`, `lr`, `valid_acc`, `train_acc`, `overfit` (train − valid accuracy),
    `head_params`, `seconds` and the run's per-epoch `history`. Train accuracy is measured after training
    in eval mode (dropout off), so `overfit` compares like with like, and `plateaued` says whether the run
    reached the course's plateau (`gaplib.train.reached_plateau`). `lrs` gives every config the same
    learning-rate grid (instead of the single `lr`); `best_lr(rows)` then keeps each config's best.
    With `keep_models`, each row also holds its trained `model`. `valid_each_epoch=False` scores the
    validation set after training only (`fit`'s option: same results, less time; the history's earlier
    valid entries are NaN).
    """
    check_mapping(builders, "builders", "a non-empty {name: function returning a fresh nn.Module} dict")
    for name, build in builders.items():
        if not callable(build) or isinstance(build, nn.Module):  # a model, not a builder: every seed would share it
            raise TypeError(f"builders[{name!r}] must be callable with no arguments, got {type(build).__name__}")
    seeds = check_ints(seeds, "seeds", 0)
    check_int(epochs, "epochs", 1)
    check_number(lr, "lr", 0.0, low_open=True)
    check_bool(keep_models, "keep_models")
    check_bool(progress, "progress")
    check_bool(valid_each_epoch, "valid_each_epoch")
    check_loader(train_dl, "train_dl")
    check_loader(valid_dl, "valid_dl")
    grid = [lr] if lrs is None else check_sequence(lrs, "lrs", "a non-empty list of learning rates")
    for v in grid:
        check_number(v, "each learning rate", 0.0, low_open=True, want="a number > 0")
    runs = [(name, rate, seed) for name in builders for rate in grid for seed in seeds]
    if progress:
        from fastprogress.fastprogress import progress_bar

        runs = progress_bar(runs)
    rows = []
    for name, rate, seed in runs:
        set_seed(seed)
        model = check_model(builders[name]())
        t0 = time.perf_counter()
        hist = fit(
            model,
            train_dl,
            valid_dl,
            epochs=epochs,
            lr=rate,
            seed=seed,
            progress=False,
            valid_each_epoch=valid_each_epoch,
        )
        train_acc = hist.final_train_acc
        row = {
            "config": name,
            "seed": seed,
            "lr": rate,
            "valid_acc": hist.valid_acc[-1],
            "train_acc": train_acc,
            "overfit": train_acc - hist.valid_acc[-1],
            "plateaued": reached_plateau(train_acc),
            "head_params": count_params(model)["head"],
            "seconds": time.perf_counter() - t0,
            "history": hist,
        }
        if keep_models:
            row["model"] = model.cpu().eval()
        rows.append(row)
    return rows


def summarize(rows: Sequence[Mapping]) -> list[dict]:
    """One row per config (in first-seen order): seeds, mean ± std of `valid_acc`, `overfit`, `head_params`."""
    rows = check_rows(rows, "rows", {"config", "valid_acc", "overfit", "head_params"}, _ROWS)
    for r in rows:
        for key in ("valid_acc", "overfit", "head_params"):
            check_number(r[key], f"row {r['config']!r}'s {key}")
    out = []
    for name in dict.fromkeys(r["config"] for r in rows):
        group = [r for r in rows if r["config"] == name]
        acc, overfit = [r["valid_acc"] for r in group], [r["overfit"] for r in group]
        out.append(
            {
                "config": name,
                "seeds": len(group),
                "valid_acc_mean": statistics.fmean(acc),
                "valid_acc_std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
                "overfit_mean": statistics.fmean(overfit),
                "overfit_std": statistics.stdev(overfit) if len(overfit) > 1 else 0.0,
                "head_params": max(r["head_params"] for r in group),
            }
        )
    return out


def best_lr(rows: Sequence[Mapping]) -> list[dict]:
    """The rows of each config's best learning rate (highest mean `valid_acc` over its seeds), in order."""
    rows = check_rows(rows, "rows", {"config", "lr", "valid_acc"}, _ROWS)
    best = {}
    for name in dict.fromkeys(r["config"] for r in rows):
        by_lr: dict[float, list[float]] = {}
        for r in rows:
            if r["config"] == name:
                by_lr.setdefault(r["lr"], []).append(r["valid_acc"])
        best[name] = max(by_lr, key=lambda v: statistics.fmean(by_lr[v]))
    return [dict(r) for r in rows if r["lr"] == best[r["config"]]]


def train_rise(history: History, last: int = 3) -> float:
    """How much train accuracy rose over the `last` epochs of `history`: ≈ 0 once training has plateaued."""
    check_type(history, "history", History, "a non-empty gaplib.train.History")
    if not history.train_acc:
        raise ValueError("history must be a non-empty gaplib.train.History, got one with no epoch")
    check_int(last, "last", 1)
    if last >= len(history.train_acc):
        raise ValueError(f"last must be smaller than the number of epochs ({len(history.train_acc)}), got {last}")
    return history.train_acc[-1] - max(history.train_acc[:-last])
