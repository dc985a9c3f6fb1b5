"""The checks of tensors, models, loaders and samples."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch.utils.data import DataLoader


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


def check_filled_maps(x: object, name: str, use: str) -> torch.Tensor:
    """`check_maps`, and at least one image, all of finite values; `use` names what needs them ("predict")."""
    check_maps(x, name)
    if len(x) == 0:
        raise ValueError(f"{name} is empty: there is nothing to {use}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} holds NaN or inf values; to {use} needs finite values")
    return x


def check_model(model: object) -> torch.nn.Module:
    """Check that `model` is an `nn.Module`."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    return model


def check_tensor(value: object, name: str, want: str = "a torch.Tensor") -> torch.Tensor:
    """Check that `value` is a torch tensor (its shape and values are the caller's to check)."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be {want}, got {type(value).__name__}")
    return value


def check_loader(dl: object, name: str = "dl") -> DataLoader:
    """Check that `dl` is a non-empty `DataLoader`."""
    if not isinstance(dl, DataLoader):
        raise TypeError(f"{name} must be a torch DataLoader, got {type(dl).__name__}; see gaplib.data.make_loader")
    if len(dl) == 0:
        raise ValueError(f"{name} is empty: it yields no batch")
    return dl


def check_logits(out: object, n: int | None = None, where: str = "", hint: str = "") -> torch.Tensor:
    """Check that a model's output `out` is `(N, n_classes)` class scores (`n` rows when given)."""
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or (n is not None and len(out) != n):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        rows = "N" if n is None else str(n)
        raise ValueError(f"model must return ({rows}, n_classes) logits{where}, got {got}{hint}")
    return out


def check_sample(sample: object, name: str = "sample", fields: Sequence[str] = ("images", "labels")) -> tuple:
    """Check that `sample` is a `gaplib.data.Sample` (a named tuple with at least `fields`)."""
    if not isinstance(sample, tuple) or not all(hasattr(sample, f) for f in fields):
        got = type(sample).__name__
        raise TypeError(f"{name} must be a gaplib.data.Sample ({', '.join(fields)}, ...), got {got}")
    return sample


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


def check_class_index(idx: object, n_classes: int) -> int:
    """Check that `idx` is a valid class index for `n_classes` classes."""
    if isinstance(idx, torch.Tensor) and idx.numel() == 1:
        idx = int(idx)
    if isinstance(idx, bool) or not isinstance(idx, int):
        raise TypeError(f"class index must be an int, got {type(idx).__name__}")
    if not 0 <= idx < n_classes:
        raise IndexError(f"class index {idx} is out of range for {n_classes} classes (0..{n_classes - 1})")
    return idx


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
