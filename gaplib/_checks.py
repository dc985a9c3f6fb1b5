"""Input checks shared by gaplib's public functions: each raises one clear, one-line error."""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

__all__ = [
    "check_stats",
    "check_maps",
    "check_model",
    "check_int",
    "check_ints",
    "check_widths",
    "check_number",
    "check_bool",
    "check_choice",
    "check_labels",
    "check_cost",
    "check_class_index",
    "check_dir",
    "check_fraction",
    "check_map_stack",
    "check_boxes",
    "check_images",
    "machine_memory",
    "MAX_SECONDS",
]

MAX_SECONDS = 600  # work estimated to take longer than this is refused up front, with the estimate


def check_maps(x: object, name: str = "x") -> torch.Tensor:
    """Check that `x` is a floating `(N, C, H, W)` tensor with a non-empty grid."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, C, H, W), got {type(x).__name__}")
    if x.layout != torch.strided:
        raise TypeError(f"{name} must be a dense tensor, got the {x.layout} layout; use x.to_dense()")
    if x.ndim != 4:
        raise ValueError(
            f"{name} must be 4-D (N, C, H, W), got {x.ndim}-D shape {tuple(x.shape)}"
            + ("; add a batch axis with x[None]" if x.ndim == 3 else "")
        )
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating tensor (float32/float16/bfloat16), got {x.dtype}; use x.float()")
    if x.shape[2] < 1 or x.shape[3] < 1:
        raise ValueError(f"{name} has an empty grid: H x W = {x.shape[2]} x {x.shape[3]}, need at least 1 x 1")
    return x


def check_model(model: object) -> torch.nn.Module:
    """Check that `model` is an `nn.Module`."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    return model


def check_int(value: object, name: str, minimum: int = 1) -> int:
    """Check that `value` is an int of at least `minimum`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {_short(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_ints(values: object, name: str, minimum: int = 1) -> list[int]:
    """Check that `values` is a non-empty sequence of ints, each at least `minimum`."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, (Sequence, range)) or len(values) == 0:
        raise ValueError(f"{name} must be a non-empty list of ints, got {_short(values)}")
    return [check_int(v, f"each of {name}", minimum) for v in values]


def check_widths(widths: object, name: str = "widths") -> tuple[int, ...]:
    """Check that `widths` is a non-empty sequence of positive channel counts."""
    if isinstance(widths, (str, bytes, Mapping)) or not isinstance(widths, (Sequence, range)) or len(widths) == 0:
        raise ValueError(f"{name} must be a non-empty sequence of channel counts, got {_short(widths)}")
    return tuple(check_int(w, "each width", 1) for w in widths)


def check_number(
    value: object, name: str, low: float = -math.inf, high: float = math.inf, low_open: bool = False
) -> float:
    """Check that `value` is a finite real number in [`low`, `high`] (`(low, high]` with `low_open`)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.requires_grad:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {_short(value)}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < low or value > high or (low_open and value == low):
        if high == math.inf:
            want = f"{'>' if low_open else '>='} {low:g}"
        else:
            want = f"in {'(' if low_open else '['}{low:g}, {high:g}]"
        raise ValueError(f"{name} must be {want}, got {value!r}")
    return float(value)


def check_bool(value: object, name: str) -> bool:
    """Check that `value` is True or False."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {_short(value)}")
    return value


def check_choice(value: object, name: str, choices: Sequence[str]) -> str:
    """Check that `value` is one of the strings `choices`."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {_short(value)}")
    return value


def check_labels(labels: object, n: int, n_classes: int | None = None, name: str = "labels") -> torch.Tensor:
    """Check that `labels` is a 1-D integer tensor of `n` class indices, each in [0, `n_classes`)."""
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"{name} must be a 1-D integer torch.Tensor, got {type(labels).__name__}")
    if labels.ndim != 1 or len(labels) != n:
        raise ValueError(f"{name} must be a 1-D tensor with one label per image ({n}), got shape {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer class indices, got {labels.dtype}; use labels.long()")
    if len(labels) and (labels.min() < 0 or (n_classes is not None and labels.max() >= n_classes)):
        bad = int(labels.min()) if labels.min() < 0 else int(labels.max())
        top = f"0..{n_classes - 1}" if n_classes is not None else ">= 0"
        raise ValueError(f"{name} holds {bad}, outside the class indices {top}")
    return labels


def machine_memory() -> int:
    """This machine's physical memory in bytes (16 GiB when the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 * 2**30


def check_cost(what: str, seconds: float, nbytes: float, hint: str) -> None:
    """Refuse up front work estimated to need more memory than the machine has, or more than `MAX_SECONDS`."""
    mem = machine_memory()
    if nbytes > mem:
        need, have = f"~{nbytes / 2**30:,.1f} GiB", f"{mem / 2**30:.0f} GiB"
        raise ValueError(f"{what} would need {need} of memory, more than this machine's {have}; {hint}")
    if seconds > MAX_SECONDS:
        took = f"~{seconds / 60:,.0f} min (estimated)"
        raise ValueError(f"{what} would take {took}, over gaplib's {MAX_SECONDS // 60} min limit; {hint}")


def _short(value: object) -> str:
    """`repr(value)` cut to one short line."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def check_fraction(value: object, name: str) -> float:
    """Check that `value` is a number in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {_short(value)}")
    return float(value)


def check_class_index(idx: object, n_classes: int) -> int:
    """Check that `idx` is a valid class index for `n_classes` classes."""
    if isinstance(idx, torch.Tensor) and idx.numel() == 1:
        idx = int(idx)
    if isinstance(idx, bool) or not isinstance(idx, int):
        raise TypeError(f"class index must be an int, got {type(idx).__name__}")
    if not 0 <= idx < n_classes:
        raise IndexError(f"class index {idx} is out of range for {n_classes} classes (0..{n_classes - 1})")
    return idx


def check_dir(path: str | Path, name: str = "folder") -> Path:
    """Check that `path` is an existing directory."""
    if isinstance(path, str) and not path.strip():
        raise ValueError(f"{name} must be a folder path, got the empty string {path!r}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a folder path (str or Path), got {type(path).__name__}")
    p = Path(path)
    if not p.is_dir():
        raise FileNotFoundError(f"{name} {str(p)!r} does not exist or is not a directory")
    return p


def check_map_stack(maps: object, name: str = "maps") -> torch.Tensor:
    """Check that `maps` is a floating `(N, H, W)` stack of maps (or one `(H, W)` map) of finite values; returns 3-D."""
    if not isinstance(maps, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, H, W) or (H, W), got {type(maps).__name__}")
    if maps.ndim not in (2, 3):
        hint = "; pass one class's maps, e.g. maps[:, k]" if maps.ndim == 4 else ""
        got = f"{maps.ndim}-D shape {tuple(maps.shape)}"
        raise ValueError(f"{name} must be 3-D (N, H, W) or 2-D (H, W), got {got}{hint}")
    if not maps.is_floating_point():
        raise TypeError(f"{name} must be a floating tensor, got {maps.dtype}; use maps.float()")
    if maps.numel() == 0:
        raise ValueError(f"{name} is empty: shape {tuple(maps.shape)}")
    if not bool(torch.isfinite(maps).all()):
        raise ValueError(f"{name} holds NaN or inf values")
    return maps if maps.ndim == 3 else maps[None]


def check_boxes(boxes: object, name: str = "boxes") -> torch.Tensor:
    """Check that `boxes` is `(N, 4)` (or one `(4,)`) of finite (x0, y0, x1, y1) with x0 <= x1 and y0 <= y1."""
    if not isinstance(boxes, torch.Tensor):
        got = type(boxes).__name__
        raise TypeError(f"{name} must be a torch.Tensor of (x0, y0, x1, y1) boxes, shape (N, 4) or (4,), got {got}")
    if boxes.shape[-1:] != (4,) or boxes.ndim not in (1, 2):
        raise ValueError(f"{name} must have shape (N, 4) or (4,) as (x0, y0, x1, y1), got {tuple(boxes.shape)}")
    if not bool(torch.isfinite(boxes.float()).all()):
        raise ValueError(f"{name} holds NaN or inf coordinates")
    if bool((boxes[..., 2] < boxes[..., 0]).any() | (boxes[..., 3] < boxes[..., 1]).any()):
        raise ValueError(f"{name} must be (x0, y0, x1, y1) with x0 <= x1 and y0 <= y1; some box has x1 < x0 or y1 < y0")
    return boxes


def check_images(images: object, name: str = "images") -> torch.Tensor:
    """Check that `images` is a floating `(N, 3, H, W)` batch (at least 8 x 8 pixels) of values in [0, 1]."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor (N, 3, H, W) of values in [0, 1], got {type(images).__name__}")
    if images.ndim != 4:
        hint = "; add a batch axis with images[None]" if images.ndim == 3 else ""
        raise ValueError(f"{name} must be 4-D (N, 3, H, W), got {images.ndim}-D shape {tuple(images.shape)}{hint}")
    if images.shape[1] != 3:
        raise ValueError(f"{name} must have 3 colour channels in axis 1 (N, 3, H, W), got shape {tuple(images.shape)}")
    if images.shape[0] < 1 or images.shape[2] < 8 or images.shape[3] < 8:
        raise ValueError(f"{name} must hold at least one image of at least 8 x 8 pixels, got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise TypeError(f"{name} must be floating with values in [0, 1], got {images.dtype}; use images.float() / 255")
    lo, hi = float(images.min()), float(images.max())
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo < -1e-3 or hi > 1 + 1e-3:
        hint = "; divide 0-255 values by 255" if hi > 1.5 else ""
        got = f"min {lo:.3g}, max {hi:.3g}"
        raise ValueError(f"{name} must hold values in [0, 1] (not yet normalised), got {got}{hint}")
    return images


def check_stats(stats: object) -> tuple[list[float], list[float]] | None:
    """Check that `stats` is None or `(mean, std)`: three finite numbers each, every std > 0."""
    if stats is None:
        return None
    want = "stats must be None or (mean, std), each 3 numbers (one per colour channel), e.g. ((0.5,) * 3, (0.5,) * 3)"
    if not isinstance(stats, (tuple, list)) or len(stats) != 2:
        raise ValueError(f"{want}; got {stats!r}")
    out = []
    for part, name in zip(stats, ("mean", "std")):
        if isinstance(part, (str, bytes)) or not hasattr(part, "__len__") or len(part) != 3:
            raise ValueError(f"{want}; got {name} {part!r}")
        values = [float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None for v in part]
        if any(v is None or not math.isfinite(v) for v in values):
            raise ValueError(f"{want}; got {name} {part!r}")
        out.append(values)
    if min(out[1]) <= 0:
        raise ValueError(f"stats std must be > 0 for every channel, got {stats[1]!r}")
    return out[0], out[1]
