"""The autograd Function, and the one place that decides who pools a tensor: gaplib's kernels or PyTorch.

`choose` is that decision; `gaplib.pool` asks it before calling the kernels, and the Function's forward asks
`forward_spelling` (the half of it that concerns the forward) again with the same inputs.
"""

from __future__ import annotations

import os

import torch

from . import long_maps, short_maps, tuning
from .common import interpreting, triton

__all__ = ["available", "choose", "forward_spelling", "measured_or_opted_in", "switch", "gap", "gmp", "concat_pool"]

DTYPES = (torch.float32, torch.float16, torch.bfloat16)
OPS = ("gap", "gmp", "concat_pool")
SHORT_MAP = 64  # NCHW maps of at most this many values have kernels of their own (short_maps.py)


SWITCH = "GAPLIB_KERNELS"  # "0": never the kernels; "1": on every GPU they run on; unset or "auto": measured GPUs


def switch() -> str:
    """The `GAPLIB_KERNELS` setting: "off" (0), "on" (1) or "auto" (unset or "auto": GPUs with a tuning table)."""
    value = os.environ.get(SWITCH, "").strip().lower()
    modes = {"0": "off", "1": "on", "": "auto", "auto": "auto"}
    if value not in modes:
        raise ValueError(
            f"{SWITCH} must be 0 (PyTorch everywhere), 1 (the kernels on every GPU they run on) or auto "
            f"(the kernels on GPUs with a tuning table: H100, H200), got {os.environ[SWITCH]!r}"
        )
    return modes[value]


def available(x: torch.Tensor) -> bool:
    """True when gaplib's Triton kernels can pool `x` (a 4-D float CUDA tensor, Triton present, not switched off)."""
    if triton is None or switch() == "off":
        return False
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.dtype not in DTYPES:
        return False
    if x.numel() == 0 or x.numel() >= 2**31:
        return False
    if x.is_cuda:
        major, _ = torch.cuda.get_device_capability(x.device)
        return major >= 8 or (major == 7 and x.dtype != torch.bfloat16)
    return x.device.type == "cpu" and interpreting()


def is_channels_last(x: torch.Tensor) -> bool:
    """True when the kernels read `x` as channels_last (it is, and is not also plain contiguous with H*W > 1)."""
    if x.is_contiguous() and (x.shape[2] * x.shape[3] > 1 or x.shape[1] == 1):
        return False
    return x.is_contiguous(memory_format=torch.channels_last)


def forward_spelling(x: torch.Tensor, op: str, keep_argmax: bool) -> str:
    """Who runs this forward: "kernel", or "pytorch" where the device's table measured PyTorch's reduction faster.

    PyTorch's reductions keep no argmax, so a forward that must keep one always uses the kernel.
    """
    if keep_argmax:
        return "kernel"
    _, channels, height, width = x.shape
    size = height * width
    if is_channels_last(x):
        key = tuning.ShapeClass(
            "channels_last_forward",
            x.element_size(),
            op,
            keeps_argmax=False,
            map_size=tuning.map_size_class(size),
            channels=tuning.channels_class(channels),
        )
    elif size <= SHORT_MAP:
        key = tuning.ShapeClass("short_forward", x.element_size(), op, keeps_argmax=False)
    else:
        key = tuning.ShapeClass(
            "rows_forward", x.element_size(), op, keeps_argmax=False, map_size=tuning.map_size_class(size)
        )
    return "pytorch" if tuning.config(key, x.device, None) == tuning.PYTORCH else "kernel"


def choose(x: torch.Tensor, op: str, needs_grad: bool | None = None, min_numel: int = 0) -> str:
    """Who pools `x` with `op`: "pytorch" (all of it), "kernels" (forward and backward), or "pytorch forward".

    Which devices get what (`gaplib.pool` asks this for every CUDA tensor, with `min_numel=KERNEL_MIN_NUMEL`):
    - an H100 or H200 (a CUDA GPU whose name contains "H100" or "H200": the GPUs `tuning.TABLES` and
      `benchmarks/reference/` measured): "kernels" with that GPU's block shapes, or "pytorch forward" where its
      table measured PyTorch's reduction faster for this forward (the backward is still the kernel's);
    - every other CUDA GPU (T4, L4, A100, V100, GeForce / RTX, ...): "pytorch", because block shapes measured on
      an H100 were never measured there and may be slow or fail to compile. `GAPLIB_KERNELS=1` opts in: such a
      GPU then gets the kernels with the H100's records (compute capability 7.0 or newer; 8.0 for bfloat16);
    - CPU and MPS tensors, a machine without Triton, or `GAPLIB_KERNELS=0`: "pytorch" (under Triton's CPU
      interpreter, `TRITON_INTERPRET=1`, CPU tensors follow the H100's table, so tests check it without a GPU);
    - `x` with fewer than `min_numel` values: "pytorch", where a launch's fixed cost outweighs what it saves.

    Calling `gaplib.kernels.gap` (or `gmp`, `concat_pool`) directly uses the kernels wherever they run.
    `needs_grad` defaults to whether autograd will want the input's gradient.
    """
    if op not in OPS:
        raise ValueError(f"op must be one of {OPS}, got {op!r}")
    if not available(x) or x.numel() < min_numel or not measured_or_opted_in(x.device):
        return "pytorch"
    if needs_grad is None:
        needs_grad = x.requires_grad and torch.is_grad_enabled()
    spelling = forward_spelling(_readable(x), op, op != "gap" and needs_grad)
    return "kernels" if spelling == "kernel" else "pytorch forward"


def measured_or_opted_in(device: torch.device) -> bool:
    """True when `choose` may use the kernels on `device`: a measured GPU, `GAPLIB_KERNELS=1`, the CPU interpreter."""
    if device.type != "cuda":
        return True  # only reached under the CPU interpreter (`available`)
    return switch() == "on" or tuning.measured_table(device) is not None


def _readable(x: torch.Tensor) -> torch.Tensor:
    """`x` in a layout the kernels read: itself if NCHW-contiguous or channels_last, else an NCHW copy."""
    if x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last):
        return x
    return x.contiguous()


def pytorch_pool(x: torch.Tensor, op: str) -> torch.Tensor:
    """PyTorch's spelling of `op` (no argmax kept): `mean`, `amax`, or both side by side."""
    if op == "gap":
        return x.mean((2, 3))
    if op == "gmp":
        return x.amax((2, 3))
    return torch.cat([x.amax((2, 3)), x.mean((2, 3))], 1)


def _forward(x: torch.Tensor, op: str, keep_argmax: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Pool `x` (NCHW-contiguous or channels_last): the `(N, C)` or `(N, 2C)` result and the argmax if kept."""
    if forward_spelling(x, op, keep_argmax) == "pytorch":
        return pytorch_pool(x, op), None
    n_images, channels, height, width = x.shape
    out = torch.empty((n_images, 2 * channels if op == "concat_pool" else channels), device=x.device, dtype=x.dtype)
    channels_last = is_channels_last(x)
    if not channels_last and height * width <= SHORT_MAP:
        return out, short_maps.forward(x, out, op, keep_argmax)
    return out, long_maps.forward(x, out, op, keep_argmax, channels_last)


def _backward(grad: torch.Tensor, argmax: torch.Tensor | None, like: tuple, op: str) -> torch.Tensor:
    """Input gradient of the pooling (shape, strides, dtype from `like`), written in one pass."""
    shape, stride, dtype = like
    grad_x = torch.empty_strided(shape, stride, dtype=dtype, device=grad.device)
    channels_last = is_channels_last(grad_x)
    if not channels_last and shape[2] * shape[3] <= SHORT_MAP and short_maps.backward_supported(op):
        short_maps.backward(grad, argmax, grad_x, op)
    else:
        long_maps.backward(grad, argmax, grad_x, op, channels_last)
    return grad_x


def _backward_differentiable(grad: torch.Tensor, argmax: torch.Tensor | None, like: tuple, op: str) -> torch.Tensor:
    """The same input gradient as `_backward`, built from PyTorch ops so that autograd can differentiate it again.

    Average pooling's backward spreads each gradient evenly over its map; max pooling's scatters it to the saved
    argmax. Both are linear in `grad`, so their own gradients (a double backward) are pooling and gathering again.
    """
    shape, _, _ = like
    n_images, channels, height, width = shape
    parts = []
    if op != "gmp":
        mean_grad = grad[:, -channels:]  # gap: all of it; concat_pool: the second half
        parts.append((mean_grad / (height * width))[:, :, None, None].expand(shape))
    if op != "gap":
        flat = grad.new_zeros(n_images, channels, height * width)
        index = argmax.long().view(n_images, channels, 1)
        parts.append(flat.scatter(2, index, grad[:, :channels, None]).view(shape))
    return sum(parts[1:], parts[0])


class GlobalPool(torch.autograd.Function):
    """Global pooling with a one-pass Triton forward and backward; differentiable twice, and in forward mode.

    A first backward runs the one-pass kernel. Under `create_graph=True` (a gradient penalty, a Hessian-vector
    product) the backward is written with PyTorch ops instead, so that it can be differentiated again; forward-mode
    AD (`torch.func.jvp`, `torch.autograd.forward_ad`) pools the tangent the same way, the max at the first maximum.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, op: str) -> torch.Tensor:
        keep_argmax = op != "gap" and ctx.needs_input_grad[0]
        out, argmax = _forward(x, op, keep_argmax)
        ctx.op = op
        ctx.like = (x.shape, x.stride(), x.dtype)
        ctx.save_for_backward(argmax)
        ctx.save_for_forward(x)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (argmax,) = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: this backward must itself be differentiable
            return _backward_differentiable(grad, argmax, ctx.like, ctx.op), None
        return _backward(grad, argmax, ctx.like, ctx.op), None

    @staticmethod
    def jvp(ctx, x_tangent: torch.Tensor, _op_tangent: None) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        n_images, channels = x.shape[:2]
        mean = x_tangent.mean((2, 3))
        if ctx.op == "gap":
            return mean
        first = x.detach().flatten(2).argmax(2, keepdim=True)  # the first maximum, as the kernels keep it
        at_max = x_tangent.flatten(2).gather(2, first).view(n_images, channels)
        return at_max if ctx.op == "gmp" else torch.cat([at_max, mean], 1)


def _pool(x: torch.Tensor, op: str) -> torch.Tensor:
    """Check `x`, bring it to a layout the kernels read, and pool it."""
    if not available(x):
        raise ValueError(
            f"gaplib.kernels.{op} needs a 4-D float32/float16/bfloat16 CUDA tensor and Triton, got "
            f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__} "
            f"{getattr(x, 'dtype', '')} on {getattr(x, 'device', '?')}; "
            f"use gaplib.pool.{op}, which falls back to PyTorch"
        )
    return GlobalPool.apply(_readable(x), op)


def gap(x: torch.Tensor) -> torch.Tensor:
    """Global average pooling on the GPU, `(N, C, H, W) -> (N, C)`, summed in float32."""
    return _pool(x, "gap")


def gmp(x: torch.Tensor) -> torch.Tensor:
    """Global max pooling on the GPU, `(N, C, H, W) -> (N, C)`; the gradient goes to the first maximum."""
    return _pool(x, "gmp")


def concat_pool(x: torch.Tensor) -> torch.Tensor:
    """Max and average pooling side by side on the GPU, fastai's order: `(N, C, H, W) -> (N, 2C)`."""
    return _pool(x, "concat_pool")
