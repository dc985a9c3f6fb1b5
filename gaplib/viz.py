"""Pictures the course draws more than once: batches with boxes, training curves, feature-map grids, bars, CAMs,
and the results of `gaplib.experiments` (`plot_curves` for size sweeps and flip rates, `plot_summary` for ablations)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch

from ._checks import (
    check_bool,
    check_boxes,
    check_choice,
    check_int,
    check_map_stack,
    check_mapping,
    check_maps,
    check_number,
    check_rows,
    check_sequence,
    check_str,
    check_strings,
    check_tensor,
    check_type,
)
from .train import History

__all__ = ["show_batch", "plot_history", "show_feature_maps", "plot_bars", "show_cams", "plot_curves", "plot_summary"]


def show_batch(
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    classes: Sequence[str] | None = None,
    boxes: torch.Tensor | None = None,
    n: int = 16,
    ncols: int = 8,
    titles: Sequence[str] | None = None,
) -> plt.Figure:
    """Show the first `n` images `(N, 3, H, W)` in a grid, titled by class name, with boxes drawn in red.

    `titles` (one string per image shown) replace the class names, e.g. a prediction with its probability
    (notebook 08 titles its photos so).
    """
    check_maps(images, "images")
    if images.shape[1] not in (1, 3):
        raise ValueError(
            f"images must have 1 (grey) or 3 (RGB) channels to be shown as pictures, got {images.shape[1]};"
            " for feature maps use show_feature_maps"
        )
    check_int(n, "n", 1)
    check_int(ncols, "ncols", 1)
    n = min(n, len(images))
    if n == 0:
        raise ValueError("images is empty: nothing to show")
    want = "an (N, 4) tensor with one (x0, y0, x1, y1) per image"
    if boxes is not None and (check_tensor(boxes, "boxes", want).ndim != 2 or boxes.shape[1] != 4 or len(boxes) < n):
        raise ValueError(f"boxes must be {want}, got {tuple(boxes.shape)}")
    if classes is not None:
        check_strings(classes, "classes", want="a sequence of class names")
    want = f"a list of at least {n} strings, one per image shown"
    if titles is not None and len(check_sequence(titles, "titles", want)) < n:
        raise ValueError(f"titles must be {want}, got {len(titles)}")
    if labels is not None:
        want = f"a 1-D tensor or list of {n} or more int class indices"
        if isinstance(labels, torch.Tensor) and labels.ndim == 1:
            labels = labels.tolist()
        if len(check_sequence(labels, "labels", want)) < n:
            raise ValueError(f"labels must be {want}, got {len(labels)}")
        for y in labels[:n]:
            check_int(y, "each label", None)
        top = len(classes) if classes is not None else None
        bad = next((y for y in labels[:n] if y < 0 or (top is not None and y >= top)), None)
        if bad is not None:
            raise ValueError(f"labels holds {bad}, outside the class indices 0..{(top or 1) - 1} of classes")
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, min(n, ncols), figsize=(1.4 * min(n, ncols), 1.55 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        picture = images[i].detach().float().permute(1, 2, 0).clamp(0, 1).cpu().numpy()
        ax.imshow(picture[..., 0] if picture.shape[2] == 1 else picture, cmap="gray", vmin=0, vmax=1)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
        elif labels is not None:
            y = int(labels[i])
            ax.set_title(classes[y] if classes is not None else str(y), fontsize=8)
        if boxes is not None:
            x0, y0, x1, y1 = boxes[i].tolist()
            ax.add_patch(plt.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec="red", lw=1.2))
    fig.tight_layout()
    return fig


def plot_history(histories: History | Mapping[str, History], metric: str = "acc") -> plt.Figure:
    """Train (dashed) and valid (solid) curves of `metric` ('acc' or 'loss') for one or several `History`s."""
    check_choice(metric, "metric", ("acc", "loss"))
    if isinstance(histories, History):
        histories = {"model": histories}
    want = "a History or a non-empty {name: History} dict of trained runs"
    check_mapping(histories, "histories", want)
    for h in histories.values():
        if not check_type(h, "histories", History, want).train_loss:
            raise ValueError(f"histories must be {want}, got an empty History")
    for name, h in histories.items():
        curves = h.curves.values()
        if len({len(c) for c in curves}) != 1:
            raise ValueError(f"History {name!r} is partly filled: its four lists differ in length; pass fit's History")
        if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for c in curves for v in c):
            raise TypeError(f"History {name!r} must hold numbers in its lists, as fit's History does")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for i, (name, h) in enumerate(histories.items()):
        epochs = range(1, len(h.train_loss) + 1)
        c = f"C{i}"
        ax.plot(epochs, getattr(h, f"train_{metric}"), "--", color=c, label=f"{name} train")
        ax.plot(epochs, getattr(h, f"valid_{metric}"), "-", color=c, marker="o", label=f"{name} valid")
    ax.set(xlabel="epoch", ylabel="accuracy" if metric == "acc" else "cross-entropy loss")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def show_feature_maps(
    maps: torch.Tensor, n: int = 16, ncols: int = 8, titles: Sequence[str] | None = None
) -> plt.Figure:
    """Show the first `n` channels of one image's feature maps `(C, H, W)` or `(1, C, H, W)` as a grid."""
    if isinstance(maps, torch.Tensor) and maps.ndim == 3:
        maps = maps[None]
    check_maps(maps, "maps")
    if maps.shape[0] != 1:
        raise ValueError(f"show_feature_maps shows one image's maps: got a batch of {maps.shape[0]}; pass maps[i]")
    if maps.shape[1] == 0:
        raise ValueError("maps has 0 channels: there is no feature map to show")
    check_int(n, "n", 1)
    check_int(ncols, "ncols", 1)
    n = min(n, maps.shape[1])
    if titles is not None and len(check_sequence(titles, "titles", f"a list of at least {n} strings")) < n:
        raise ValueError(f"titles must be a list of at least {n} strings (one per map shown), got {titles!r}")
    nrows, ncols = math.ceil(n / ncols), min(n, ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.4 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(maps[0, i].detach().float().cpu().numpy(), cmap="viridis")
            ax.set_title(titles[i] if titles is not None else f"ch {i}", fontsize=7)
    fig.tight_layout()
    return fig


def plot_bars(values: Mapping[str, float], ylabel: str, log: bool = False, title: str | None = None) -> plt.Figure:
    """A labelled bar chart of `{name: value}` (parameter counts, accuracies, timings)."""
    check_mapping(values, "values", "a {name: number} dict, not empty: nothing to plot")
    for name, v in values.items():
        check_number(check_type(v, f"values[{name!r}]", numbers.Real, "a finite number"), f"values[{name!r}]")
    check_str(ylabel, "ylabel", "a str", empty_ok=True)
    check_bool(log, "log")
    if log and min(values.values()) <= 0:
        raise ValueError(f"log=True needs positive values, got {min(values.values())!r}")
    fig, ax = plt.subplots(figsize=(max(4, 1.1 * len(values)), 3.2))
    bars = ax.bar(list(values), list(values.values()), color=[f"C{i}" for i in range(len(values))])
    ax.bar_label(bars, labels=[f"{v:,.3g}" if isinstance(v, float) else f"{v:,}" for v in values.values()], fontsize=8)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return fig


def show_cams(
    images: torch.Tensor,
    maps: torch.Tensor,
    titles: Sequence[str] | None = None,
    boxes: torch.Tensor | None = None,
    true_boxes: torch.Tensor | None = None,
    ncols: int = 6,
    alpha: float = 0.5,
) -> plt.Figure:
    """Each image `(N, 3, H, W)` with its map `(N, h, w)` (a CAM) laid over it, `boxes` yellow, `true_boxes` red.

    The map is drawn at the image's size with bilinear smoothing and its own colour range (jet: red is
    the map's maximum), so a 4 x 4 CAM covers the whole image like its upsampled version does.
    """
    check_maps(images, "images")
    m = check_map_stack(maps, "maps")
    n = len(images)
    if len(m) != n:
        raise ValueError(f"maps must hold one map per image: {n} images but {len(m)} maps")
    for name, b in (("boxes", boxes), ("true_boxes", true_boxes)):
        if b is not None and len(check_boxes(b, name).reshape(-1, 4)) != n:
            raise ValueError(f"{name} must hold one (x0, y0, x1, y1) box per image ({n}), got {tuple(b.shape)}")
    want = f"a list of {n} strings, one per image"
    if titles is not None and len(check_sequence(titles, "titles", want)) != n:
        raise ValueError(f"titles must be {want}, got {titles!r}")
    check_int(ncols, "ncols", 1)
    check_number(alpha, "alpha", 0.0, 1.0, want="a number in [0, 1] (the map's opacity)")
    h, w = images.shape[-2:]
    nrows, ncols = math.ceil(n / ncols), min(n, ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.7 * ncols, 1.85 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i].detach().float().permute(1, 2, 0).clamp(0, 1).cpu().numpy(), extent=(0, w, h, 0))
        heat = m[i].detach().float().cpu().numpy()
        ax.imshow(heat, cmap="jet", alpha=alpha, extent=(0, w, h, 0), interpolation="bilinear")
        for b, colour in ((true_boxes, "red"), (boxes, "yellow")):
            if b is not None:
                x0, y0, x1, y1 = b.reshape(-1, 4)[i].tolist()
                ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec=colour, lw=1.5))
        ax.set(xlim=(0, w), ylim=(h, 0))
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def plot_curves(
    curves: Mapping[str, Mapping[int, float]], xlabel: str, ylabel: str, title: str | None = None
) -> plt.Figure:
    """One line per `{name: {x: y}}` curve; NaN values are drawn as × on the x axis, labelled "cannot run"."""
    check_mapping(curves, "curves", "a non-empty {name: {x: y}} dict of non-empty dicts")
    for name, curve in curves.items():
        check_mapping(curve, f"curves[{name!r}]", "a non-empty {x: y} dict (curves must be a dict of non-empty dicts)")
        for x, y in curve.items():
            check_number(x, f"curves[{name!r}]'s x", want="a number (curves map numbers to numbers)", allow_nan=True)
            check_number(
                y,
                f"curves[{name!r}][{x!r}]",
                want="a number (curves map numbers to numbers; NaN: cannot run)",
                allow_nan=True,
            )
    check_str(xlabel, "xlabel", "a str", empty_ok=True)
    check_str(ylabel, "ylabel", "a str", empty_ok=True)
    fig, ax = plt.subplots(figsize=(6, 3))
    for i, (name, curve) in enumerate(curves.items()):
        xs = sorted(curve)
        ys = [curve[x] for x in xs]
        ax.plot(xs, ys, "-o", color=f"C{i}", label=name, ms=4)
        nan_xs = [x for x, y in zip(xs, ys) if math.isnan(y)]
        if nan_xs:
            ax.plot(
                nan_xs, [0] * len(nan_xs), "x", color=f"C{i}", ms=9, mew=2, clip_on=False, label=f"{name}: cannot run"
            )
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_summary(summary: Sequence[Mapping], metric: str = "valid_acc") -> plt.Figure:
    """Bars of `metric` ('valid_acc' or 'overfit') per config of `summarize`'s output, ± one std as error bars."""
    check_choice(metric, "metric", ("valid_acc", "overfit"))
    need = {"config", f"{metric}_mean", f"{metric}_std"}
    summary = check_rows(summary, "summary", need, "the non-empty list that summarize(rows) returns")
    names = [r["config"] for r in summary]
    means = [r[f"{metric}_mean"] for r in summary]
    stds = [r[f"{metric}_std"] for r in summary]
    fig, ax = plt.subplots(figsize=(max(4, 1.3 * len(names)), 3))
    bars = ax.bar(names, means, yerr=stds, capsize=4, color=[f"C{i}" for i in range(len(names))])
    ax.bar_label(bars, labels=[f"{m:.3f}±{s:.3f}" for m, s in zip(means, stds)], fontsize=8, label_type="center")
    ax.set_ylabel({"valid_acc": "valid accuracy", "overfit": "train - valid accuracy"}[metric])
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return fig
