"""Input checks shared by gaplib's public functions: each raises one clear, one-line error."""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["check_maps", "check_model", "check_int", "check_class_index", "check_dir", "check_fraction"]


def check_maps(x: object, name: str = "x") -> torch.Tensor:
    """Check that `x` is a floating `(N, C, H, W)` tensor with a non-empty grid."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, C, H, W), got {type(x).__name__}")
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
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_fraction(value: object, name: str) -> float:
    """Check that `value` is a number in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
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
    p = Path(path)
    if not p.is_dir():
        raise FileNotFoundError(f"{name} {str(p)!r} does not exist or is not a directory")
    return p
