"""The autograd Function, the `torch.library` ops, and the one place that decides who pools a tensor.

`plan` is that decision, made once per call from the tensor's metadata (shape, strides, dtype, device; nothing is
copied or read): PyTorch, or the kernels, with the forward either theirs or PyTorch's reduction where the GPU's
table measured it faster. `choose` says the same in words; `gaplib.pool` asks `plan` and hands it to `run`.

Eagerly, `GlobalPool` (an autograd Function) calls the kernels: differentiable twice and in forward mode. Under
`torch.compile` the same kernels are the ops `gaplib::global_pool` and `gaplib::global_pool_backward`
(`torch.library.custom_op`, torch >= 2.4), whose shapes Inductor knows without running them, so a model that pools
with gaplib compiles without a graph break. On torch 2.3 (no `custom_op`) compiling falls back to the eager
Function, which Dynamo cannot trace (a graph break, same numbers). The device facts (GPU name, compute
capability) and the table look-up are read once when Dynamo traces, as constants: an `override` or a
`GAPLIB_KERNELS` change after a model compiled does not reach that compiled model.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import torch

from . import long_maps, short_maps, tuning
from .common import interpreting, triton

__all__ = [
    "available",
    "choose",
    "plan",
    "run",
    "Plan",
    "forward_spelling",
    "measured_or_opted_in",
    "switch",
    "gap",
    "gmp",
    "concat_pool",
]

DTYPES = (torch.float32, torch.float16, torch.bfloat16)
OPS = ("gap", "gmp", "concat_pool")
SHORT_MAP = 64  # NCHW maps of at most this many values have kernels of their own (short_maps.py)
HAS_LIBRARY = hasattr(torch.library, "custom_op") and hasattr(torch.library, "register_autograd")  # torch >= 2.4


SWITCH = "GAPLIB_KERNELS"  # "0": never the kernels; "1": on every GPU they run on; unset or "auto": measured GPUs


def _constant_when_traced(fn):
    """Mark `fn` (plain arguments in, a plain value out) as read once when Dynamo traces it, not traced itself."""
    mark = getattr(getattr(torch, "compiler", None), "assume_constant_result", None)
    return mark(fn) if mark is not None else fn


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


@_constant_when_traced
def _gpu_runs(device: torch.device, dtype: torch.dtype) -> bool:
    """True when CUDA `device` can run the kernels in `dtype` (compute capability 7.0, 8.0 for bfloat16)."""
    major, _ = torch.cuda.get_device_capability(device)
    return major >= 8 or (major == 7 and dtype != torch.bfloat16)


@_constant_when_traced
def _measured(device: torch.device) -> bool:
    """True when `device`'s GPU has a measured tuning table (an H100 or H200)."""
    return tuning.measured_table(device) is not None


def available(x: torch.Tensor) -> bool:
    """True when gaplib's Triton kernels can pool `x` (a 4-D float CUDA tensor, Triton present, not switched off)."""
    if triton is None or switch() == "off":
        return False
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.dtype not in DTYPES:
        return False
    if x.numel() == 0 or x.numel() >= 2**31:
        return False
    if x.is_cuda:
        return _gpu_runs(x.device, x.dtype)
    return x.device.type == "cpu" and interpreting()


def is_channels_last(x: torch.Tensor) -> bool:
    """True when the kernels read `x` as channels_last (it is, and is not also plain contiguous with H*W > 1).

    An input in neither layout is copied to NCHW before the kernels read it, and is not channels_last either.
    """
    if x.is_contiguous() and (x.shape[2] * x.shape[3] > 1 or x.shape[1] == 1):
        return False
    return x.is_contiguous(memory_format=torch.channels_last)


@_constant_when_traced
def _table_says_pytorch(key: tuple, device: torch.device) -> bool:
    """True when `device`'s tuning table measured PyTorch's reduction faster for the forward of shape class `key`."""
    return tuning.config(tuning.ShapeClass(*key), device, None) == tuning.PYTORCH


def forward_spelling(x: torch.Tensor, op: str, keep_argmax: bool) -> str:
    """Who runs this forward: "kernel", or "pytorch" where the device's table measured PyTorch's reduction faster.

    PyTorch's reductions keep no argmax, so a forward that must keep one always uses the kernel. Reads only `x`'s
    metadata: a strided input is judged as the NCHW copy the kernels would read.
    """
    if keep_argmax:
        return "kernel"
    if is_channels_last(x):
        kernel = "channels_last_forward"
    else:
        kernel = "short_forward" if x.shape[2] * x.shape[3] <= SHORT_MAP else "rows_forward"
    key = tuning.shape_class(kernel, x, op, keeps_argmax=False)
    return "pytorch" if _table_says_pytorch(tuple(key), x.device) else "kernel"


class Plan(NamedTuple):
    """One call's decision, made from metadata: who runs the forward, and whether it keeps the argmax."""

    kernel_forward: bool  # False: PyTorch's reduction runs the forward (measured faster); the kernel the backward
    keep_argmax: bool  # max pooling with a gradient to come keeps each map's first maximum for the backward


def _needs_grad(x: torch.Tensor) -> bool:
    """True when autograd will want `x`'s gradient."""
    return x.requires_grad and torch.is_grad_enabled()


def _plan(x: torch.Tensor, op: str, needs_grad: bool) -> Plan:
    """The plan for `x` once the kernels are picked: the forward's spelling and whether the argmax is kept."""
    keep_argmax = op != "gap" and needs_grad
    return Plan(forward_spelling(x, op, keep_argmax) == "kernel", keep_argmax)


def plan(x: torch.Tensor, op: str, needs_grad: bool | None = None, min_numel: int = 0) -> Plan | None:
    """`choose`'s decision as a `Plan` for `run`, or None where PyTorch pools `x` (see `choose` for who gets what)."""
    if op not in OPS:
        raise ValueError(f"op must be one of {OPS}, got {op!r}")
    if not available(x) or x.numel() < min_numel or not measured_or_opted_in(x.device):
        return None
    return _plan(x, op, _needs_grad(x) if needs_grad is None else needs_grad)


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
    decided = plan(x, op, needs_grad, min_numel)
    if decided is None:
        return "pytorch"
    return "kernels" if decided.kernel_forward else "pytorch forward"


def measured_or_opted_in(device: torch.device) -> bool:
    """True when `choose` may use the kernels on `device`: a measured GPU, `GAPLIB_KERNELS=1`, the CPU interpreter."""
    if device.type != "cuda":
        return True  # only reached under the CPU interpreter (`available`)
    return switch() == "on" or _measured(device)


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


def _short_nchw(x: torch.Tensor) -> bool:
    """True when `x` (in a layout the kernels read) goes to the short-map NCHW kernels (short_maps.py)."""
    return not is_channels_last(x) and x.shape[2] * x.shape[3] <= SHORT_MAP


def _argmax_like(x: torch.Tensor, keep_argmax: bool) -> torch.Tensor:
    """An empty tensor shaped like the argmax the kernels keep for `x` (one per map: uint8 for short maps)."""
    rows = x.shape[0] * x.shape[1] if keep_argmax else 0
    return x.new_empty((rows,), dtype=torch.uint8 if _short_nchw(x) else torch.int32)


def _pooled_shape(x: torch.Tensor, op: str) -> tuple[int, int]:
    """`(N, C)`, or `(N, 2C)` for concat pooling."""
    return (x.shape[0], 2 * x.shape[1] if op == "concat_pool" else x.shape[1])


def _forward(x: torch.Tensor, op: str, keep_argmax: bool, kernel_forward: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Pool `x` (NCHW-contiguous or channels_last): the pooled result and the argmax (empty unless kept)."""
    if not kernel_forward:
        return pytorch_pool(x, op), _argmax_like(x, False)
    out = x.new_empty(_pooled_shape(x, op))
    if _short_nchw(x):
        argmax = short_maps.forward(x, out, op, keep_argmax)
    else:
        argmax = long_maps.forward(x, out, op, keep_argmax, is_channels_last(x))
    return out, _argmax_like(x, False) if argmax is None else argmax


def _backward(grad: torch.Tensor, argmax: torch.Tensor, like: tuple, op: str) -> torch.Tensor:
    """Input gradient of the pooling (shape, strides, dtype from `like`), written in one pass."""
    shape, stride, dtype = like
    grad_x = torch.empty_strided(shape, stride, dtype=dtype, device=grad.device)
    kept = argmax if argmax.numel() else None
    if _short_nchw(grad_x) and short_maps.backward_supported(op):
        short_maps.backward(grad, kept, grad_x, op)
    else:
        long_maps.backward(grad, kept, grad_x, op, is_channels_last(grad_x))
    return grad_x


def _backward_differentiable(grad: torch.Tensor, argmax: torch.Tensor, like: tuple, op: str) -> torch.Tensor:
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
    The forward returns the pooled values and the argmax (not differentiable); `run` keeps the first.
    """

    @staticmethod
    def forward(x: torch.Tensor, op: str, keep_argmax: bool, kernel_forward: bool) -> tuple[torch.Tensor, ...]:
        return _forward(x, op, keep_argmax, kernel_forward)

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: tuple) -> None:
        x, op, _, _ = inputs
        ctx.mark_non_differentiable(output[1])
        ctx.set_materialize_grads(False)  # else autograd fills a zero "gradient" of the argmax: one more kernel
        ctx.op = op
        ctx.like = (x.shape, x.stride(), x.dtype)
        ctx.save_for_backward(output[1])
        ctx.save_for_forward(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor, _grad_argmax: None) -> tuple[torch.Tensor, None, None, None]:
        (argmax,) = ctx.saved_tensors
        if grad is None:  # gradients not materialized: nothing reached the pooled values
            return None, None, None, None
        if torch.is_grad_enabled():  # create_graph=True: this backward must itself be differentiable
            return _backward_differentiable(grad, argmax, ctx.like, ctx.op), None, None, None
        return _backward(grad, argmax, ctx.like, ctx.op), None, None, None

    @staticmethod
    def jvp(ctx, x_tangent: torch.Tensor, *_constants: None) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        n_images, channels = x.shape[:2]
        mean = x_tangent.mean((2, 3))
        if ctx.op == "gap":
            return mean, None
        first = x.detach().flatten(2).argmax(2, keepdim=True)  # the first maximum, as the kernels keep it
        at_max = x_tangent.flatten(2).gather(2, first).view(n_images, channels)
        return (at_max if ctx.op == "gmp" else torch.cat([at_max, mean], 1)), None


if HAS_LIBRARY:

    @torch.library.custom_op(
        "gaplib::global_pool",
        mutates_args=(),
        schema="(Tensor x, str op, bool keep_argmax, bool kernel_forward) -> (Tensor, Tensor)",
    )
    def _global_pool_op(x: torch.Tensor, op: str, keep_argmax: bool, kernel_forward: bool):
        """The forward as an op: the pooled values and the argmax (empty unless kept)."""
        return _forward(x, op, keep_argmax, kernel_forward)

    @_global_pool_op.register_fake
    def _global_pool_shapes(x: torch.Tensor, op: str, keep_argmax: bool, kernel_forward: bool):
        """The op's outputs without running it (what torch.compile traces with)."""
        return x.new_empty(_pooled_shape(x, op)), _argmax_like(x, keep_argmax and kernel_forward)

    @torch.library.custom_op(
        "gaplib::global_pool_backward",
        mutates_args=(),
        schema="(Tensor grad, Tensor argmax, str op, SymInt[] shape, SymInt[] stride, ScalarType dtype) -> Tensor",
    )
    def _global_pool_backward_op(grad, argmax, op, shape, stride, dtype):
        """The backward as an op: the input gradient, in the input's shape, strides and dtype."""
        return _backward(grad, argmax, (shape, stride, dtype), op)

    @_global_pool_backward_op.register_fake
    def _global_pool_backward_shapes(grad, argmax, op, shape, stride, dtype):
        """The input gradient's shape, strides and dtype, without running the backward."""
        return torch.empty_strided(shape, stride, dtype=dtype, device=grad.device)

    def _op_setup_context(ctx, inputs: tuple, output: tuple) -> None:
        """Save what the op's backward needs: the argmax, the op, the input's shape, strides and dtype."""
        x, op, _, _ = inputs
        ctx.op, ctx.like = op, (x.shape, x.stride(), x.dtype)
        ctx.save_for_backward(output[1])

    def _op_backward(ctx, grad: torch.Tensor, _grad_argmax: None) -> tuple[torch.Tensor, None, None, None]:
        """The op's backward: the backward op, fed the saved argmax."""
        (argmax,) = ctx.saved_tensors
        shape, stride, dtype = ctx.like
        grad_x = torch.ops.gaplib.global_pool_backward(grad, argmax, ctx.op, list(shape), list(stride), dtype)
        return grad_x, None, None, None

    torch.library.register_autograd("gaplib::global_pool", _op_backward, setup_context=_op_setup_context)


def _compiling() -> bool:
    """True while torch.compile traces (the ops stand in for the Function there), else False."""
    return HAS_LIBRARY and torch.compiler.is_compiling()


def run(x: torch.Tensor, op: str, decided: Plan) -> torch.Tensor:
    """Pool `x` with the kernels as `plan` decided (strided inputs are copied to NCHW first)."""
    x = _readable(x)
    if _compiling():
        return torch.ops.gaplib.global_pool(x, op, decided.keep_argmax, decided.kernel_forward)[0]
    return GlobalPool.apply(x, op, decided.keep_argmax, decided.kernel_forward)[0]


def _pool(x: torch.Tensor, op: str) -> torch.Tensor:
    """Check `x`, plan from its metadata, and pool it with the kernels."""
    if not available(x):
        raise ValueError(
            f"gaplib.kernels.{op} needs a 4-D float32/float16/bfloat16 CUDA tensor and Triton, got "
            f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__} "
            f"{getattr(x, 'dtype', '')} on {getattr(x, 'device', '?')}; "
            f"use gaplib.pool.{op}, which falls back to PyTorch"
        )
    return run(x, op, _plan(x, op, _needs_grad(x)))


def gap(x: torch.Tensor) -> torch.Tensor:
    """Global average pooling on the GPU, `(N, C, H, W) -> (N, C)`, summed in float32."""
    return _pool(x, "gap")


def gmp(x: torch.Tensor) -> torch.Tensor:
    """Global max pooling on the GPU, `(N, C, H, W) -> (N, C)`; the gradient goes to the first maximum."""
    return _pool(x, "gmp")


def concat_pool(x: torch.Tensor) -> torch.Tensor:
    """Max and average pooling side by side on the GPU, fastai's order: `(N, C, H, W) -> (N, 2C)`."""
    return _pool(x, "concat_pool")
