"""Global pooling: turn `(N, C, H, W)` feature maps into one vector per image, whatever H x W.

Each pooling is a function (the computation) and an `nn.Module` that calls it, as in
`torch.nn.functional` and `torch.nn.modules.pooling`. On a CUDA tensor the functions use
gaplib's Triton kernels (`gaplib.kernels`) when they can; elsewhere they use PyTorch's fastest
spelling (`x.mean((2, 3))`, `x.amax((2, 3))`).
"""

from __future__ import annotations

import torch
from torch import nn

from ._checks import check_maps

__all__ = ["gap", "gmp", "concat_pool", "GlobalAvgPool", "GlobalMaxPool", "ConcatPool"]


def _kernels(x: torch.Tensor):
    """gaplib's GPU kernels module when `x` lives on a GPU that can run them, else None."""
    if not x.is_cuda:
        return None
    try:
        from . import kernels
    except ImportError:
        return None
    return kernels if kernels.available(x) else None


def gap(x: torch.Tensor) -> torch.Tensor:
    """Global average pooling: the mean of each feature map, `(N, C, H, W) -> (N, C)`."""
    check_maps(x)
    k = _kernels(x)
    return k.gap(x) if k is not None else x.mean((2, 3))


def gmp(x: torch.Tensor) -> torch.Tensor:
    """Global max pooling: the largest value of each feature map, `(N, C, H, W) -> (N, C)`."""
    check_maps(x)
    k = _kernels(x)
    return k.gmp(x) if k is not None else x.amax((2, 3))


def concat_pool(x: torch.Tensor) -> torch.Tensor:
    """Max and average pooling side by side, in fastai's order: `(N, C, H, W) -> (N, 2C)`."""
    check_maps(x)
    k = _kernels(x)
    return k.concat_pool(x) if k is not None else torch.cat([x.amax((2, 3)), x.mean((2, 3))], 1)


class GlobalAvgPool(nn.Module):
    """Layer form of `gap`: `(N, C, H, W) -> (N, C)`, no parameters, any H x W."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return gap(x)


class GlobalMaxPool(nn.Module):
    """Layer form of `gmp`: `(N, C, H, W) -> (N, C)`, no parameters, any H x W."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return gmp(x)


class ConcatPool(nn.Module):
    """Layer form of `concat_pool` (fastai's `AdaptiveConcatPool2d`, flattened): `(N, C, H, W) -> (N, 2C)`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return concat_pool(x)
