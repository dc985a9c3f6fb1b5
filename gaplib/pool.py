"""Global pooling: turn `(N, C, H, W)` feature maps into one vector per image, whatever H x W.

Each pooling is a function (the computation) and an `nn.Module` that calls it, as in
`torch.nn.functional` and `torch.nn.modules.pooling`. On a CUDA tensor `gap`, `gmp` and
`concat_pool` use gaplib's Triton kernels (`gaplib.kernels`) on the GPUs they were tuned on (H100,
H200: `gaplib.kernels.choose` says which devices get what); elsewhere they use PyTorch's fastest
spelling: `x.mean((2, 3))`, and for inference `x.amax((2, 3))`, whose forward is many times faster than
`nn.AdaptiveMaxPool2d(1)`'s. When a gradient is needed, max pooling uses `F.adaptive_max_pool2d`, whose
backward scatters the gradient to the argmax it saved: one gradient rule everywhere (the first maximum of
each map in row-major order gets it all, as in `nn.AdaptiveMaxPool2d`, fastai and gaplib's kernels), where
`amax` would share it among tied maxima; on a CPU it is also the faster backward
(`benchmarks/bench_pools.py --backward` measures both).
All three compile under `torch.compile(..., fullgraph=True)` (the kernels are `torch.library` ops there) and
differentiate twice and in forward mode, as PyTorch's modules do.

`gem` (generalized mean) and `lse_pool` (log-sum-exp) sit between average and max pooling, with a
knob (`p`, `r`) that can be learned; they always use PyTorch.
"""

from __future__ import annotations

import math
import os

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_bool, check_maps, check_number

__all__ = [
    "gap",
    "gmp",
    "concat_pool",
    "gem",
    "lse_pool",
    "GlobalAvgPool",
    "GlobalMaxPool",
    "ConcatPool",
    "GeM",
    "LSEPool",
]


# Below this many values a Triton launch's fixed cost (tens of microseconds from Python) outweighs the
# bandwidth it saves, so small feature maps stay on PyTorch's kernels; notebook 09 measures both.
KERNEL_MIN_NUMEL = 1 << 22


def _by_kernels(x: torch.Tensor, op: str) -> torch.Tensor | None:
    """`x` pooled by gaplib's GPU kernels when their one decision, `gaplib.kernels.choose`, picks them, else None.

    The decision is made once, from `x`'s metadata, and handed to the launch. CPU tensors stay on PyTorch without
    asking, except under Triton's CPU interpreter (`TRITON_INTERPRET=1`), where tests pool them with the kernels.
    """
    if not x.is_cuda and os.environ.get("TRITON_INTERPRET", "0") != "1":
        return None
    try:
        from .kernels import function
    except ImportError:
        return None
    decided = function.plan(x, op, min_numel=KERNEL_MIN_NUMEL)
    return None if decided is None else function.run(x, op, decided)


def _torch_max(x: torch.Tensor) -> torch.Tensor:
    """PyTorch's global max of `x`: `amax` for inference; with a gradient to compute, the argmax-saving pool.

    The gradient rule is the same on every device and at every size: it goes to the first maximum of each map in
    row-major order, as in `nn.AdaptiveMaxPool2d`, fastai's `AdaptiveConcatPool2d` and gaplib's kernels
    (`amax` would split it evenly among tied maxima, which are common in float16/bfloat16 and after a ReLU).
    """
    if x.requires_grad and torch.is_grad_enabled():
        return F.adaptive_max_pool2d(x, 1).flatten(1)  # same values; gradient to one (the first) maximum
    return x.amax((2, 3))


def gap(x: torch.Tensor) -> torch.Tensor:
    """Global average pooling: the mean of each feature map, `(N, C, H, W) -> (N, C)`.

    Notebook 03 builds it and checks it against PyTorch's spellings.
    """
    check_maps(x)
    pooled = _by_kernels(x, "gap")
    return x.mean((2, 3)) if pooled is None else pooled


def gmp(x: torch.Tensor) -> torch.Tensor:
    """Global max pooling: the largest value of each feature map, `(N, C, H, W) -> (N, C)`."""
    check_maps(x)
    pooled = _by_kernels(x, "gmp")
    return _torch_max(x) if pooled is None else pooled


def concat_pool(x: torch.Tensor) -> torch.Tensor:
    """Max and average pooling side by side, in fastai's order: `(N, C, H, W) -> (N, 2C)`."""
    check_maps(x)
    pooled = _by_kernels(x, "concat_pool")
    return torch.cat([_torch_max(x), x.mean((2, 3))], 1) if pooled is None else pooled


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


def _check_knob(value: object, name: str) -> float | torch.Tensor:
    """Check that `value` is a positive finite number, or a one-element floating tensor (e.g. an `nn.Parameter`)."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or not value.is_floating_point():
            got = f"{value.dtype} {tuple(value.shape)}"
            raise ValueError(f"{name} must be a number or a one-element float tensor, got {got}")
        v = float(value.detach())
        if not (v > 0 and math.isfinite(v)):
            raise ValueError(f"{name} must be positive and finite, got the tensor value {v!r}")
        return value
    return check_number(value, name, 0.0, low_open=True, want="a positive finite number")


SERIES_BELOW = 1e-4  # |knob * value| under which `_log_mean_exp` uses its two-term series (error < 1e-12 relative)


def _log_mean_exp(v: torch.Tensor, k: float | torch.Tensor) -> torch.Tensor:
    """`log(mean(exp(k * v))) / k` over the last axis of `v <= 0`, accurate for every `k > 0`, tiny ones too.

    As `k -> 0` it tends to `mean(v)`, exactly: where `k * v` is tiny, `exp` would round to 1 and lose it,
    so maps whose `k * |v|` stays below `SERIES_BELOW` use the series `mean(v) + k * var(v) / 2`; the others use
    `log1p(mean(expm1(k * v))) / k`, which keeps the small differences that `log(mean(exp(.)))` would round away.
    """
    k_value = float(k.detach()) if isinstance(k, torch.Tensor) else k
    kv = v * k
    tiny = kv.detach().amin(-1) > -SERIES_BELOW  # per map: every |k * v| is small
    centred = v - v.mean(-1, keepdim=True)
    series = v.mean(-1) + 0.5 * (centred * (centred * k)).mean(-1)
    # a k so small that it rounds to 0 against v: every map is tiny (read v's largest value only then: a GPU sync)
    k_safe = k if k_value > 1e-30 or k_value * float(v.detach().abs().amax()) > 0 else 1.0
    exact = torch.log1p(torch.expm1(torch.where(tiny[..., None], 0.0, kv)).mean(-1)) / k_safe
    return torch.where(tiny, series, exact)


def _float_compute(x: torch.Tensor) -> torch.Tensor:
    """`x` in float32 when it is float16/bfloat16 (their `expm1` / `log1p` lose the small terms), else itself."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def gem(x: torch.Tensor, p: float | torch.Tensor = 3.0, eps: float = 1e-6) -> torch.Tensor:
    """Generalized-mean (GeM) pooling `mean(x**p) ** (1/p)` per map, `(N, C, H, W) -> (N, C)`.

    `p=1` is average pooling, a large `p` approaches max pooling and a small `p` the geometric mean (its exact
    limit as `p -> 0`, which `gem` reaches at any tiny `p`). GeM assumes non-negative maps (put it after a ReLU):
    values below `eps` are clamped to `eps`, so negative activations count as 0. It never overflows or loses the
    small terms: with `m` each map's max, it computes `m * exp(log(mean(exp(p * log(x / m)))) / p)`, the same
    value; typical learned `p` is 2-5.

    Notebook 06 builds it.
    """
    check_maps(x)
    p, eps = _check_knob(p, "p"), _check_knob(eps, "eps")
    xf = _float_compute(x).clamp(min=eps)
    top = torch.finfo(xf.dtype).max  # a larger p is max pooling to the last bit; capped so that p * 0 stays 0
    p = p.clamp(max=top) if isinstance(p, torch.Tensor) else min(p, top)
    m = xf.detach().amax((2, 3), keepdim=True)  # gem is 1-homogeneous, so d(result)/dm is exactly 0
    out = torch.exp(_log_mean_exp(torch.log(xf / m).flatten(2), p)) * m.flatten(1)
    return out.to(x.dtype)


def lse_pool(x: torch.Tensor, r: float | torch.Tensor = 5.0) -> torch.Tensor:
    """Log-sum-exp pooling `log(mean(exp(r * x))) / r` per map, `(N, C, H, W) -> (N, C)`.

    A smooth maximum: a small `r` approaches average pooling (its exact limit as `r -> 0`, which `lse_pool`
    reaches at any tiny `r`), a large `r` max pooling. Unlike `gem` it accepts negative values, and it never
    overflows: it is computed as `m + log(mean(exp(r * (x - m)))) / r` with `m` each map's max, so `exp` only ever
    sees values <= 0. `r` must be finite in `x`'s dtype.

    Notebook 06 builds it.
    """
    check_maps(x)
    r = _check_knob(r, "r")
    top = torch.finfo(x.dtype).max
    rv = float(r.detach()) if isinstance(r, torch.Tensor) else r
    if rv > top:
        raise ValueError(f"r = {rv:.3g} overflows {x.dtype} (largest {top:.3g}); use a smaller r")
    xf = _float_compute(x)
    m = xf.detach().amax((2, 3), keepdim=True)  # d(result)/dm is exactly 0, so m needs no gradient
    return (m.flatten(1) + _log_mean_exp((xf - m).flatten(2), r)).to(x.dtype)


class _KnobPool(nn.Module):
    """Base of `GeM` and `LSEPool`: a pooling with one positive scalar knob, a parameter or a fixed buffer."""

    knob = "p"

    def __init__(self, value: float, learnable: bool) -> None:
        super().__init__()
        t = torch.tensor(_check_knob(value, self.knob), dtype=torch.float32)
        check_bool(learnable, "learnable")
        if learnable:
            self.register_parameter(self.knob, nn.Parameter(t))
        else:
            self.register_buffer(self.knob, t)

    def extra_repr(self) -> str:
        value = getattr(self, self.knob)
        return f"{self.knob}={value.item():.3g}, learnable={isinstance(value, nn.Parameter)}"


class GeM(_KnobPool):
    """Layer form of `gem`, `(N, C, H, W) -> (N, C)`, with `p` a learned `nn.Parameter` unless `learnable=False`."""

    knob = "p"

    def __init__(self, p: float = 3.0, learnable: bool = True, eps: float = 1e-6) -> None:
        super().__init__(p, learnable)
        self.eps = _check_knob(eps, "eps")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return gem(x, self.p, self.eps)


class LSEPool(_KnobPool):
    """Layer form of `lse_pool`, `(N, C, H, W) -> (N, C)`, with a fixed `r` unless `learnable=True`."""

    knob = "r"

    def __init__(self, r: float = 5.0, learnable: bool = False) -> None:
        super().__init__(r, learnable)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return lse_pool(x, self.r)
