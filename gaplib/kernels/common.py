"""Pieces every pooling kernel shares: the optional Triton import, small arithmetic helpers, and result stores.

Names inside the kernels: a *row* is one `(n, c)` feature map, `positions` index the `H * W` values of a map in
row-major `(h, w)` order, and three running tiles follow the values read so far: `total` (their sum), `maximum`
and `argmax` (the position of the first maximum). `MEAN` and `MAX` (compile-time flags) say which of the two
poolings a launch computes; concat pooling computes both.
"""

from __future__ import annotations

import functools
import os

import torch

try:  # Triton is optional: CPU-only installs may not have it, and importing it must never break gaplib
    import triton
    import triton.language as tl
except Exception:  # noqa: BLE001
    triton = None
    tl = None

HAS_GATHER = tl is not None and hasattr(tl, "gather")  # tl.gather (Triton >= 3.2): the short-map backward


def interpreting() -> bool:
    """True under Triton's CPU interpreter (`TRITON_INTERPRET=1`), which the CPU tests use."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def next_power_of_two(n: int) -> int:
    """Smallest power of two >= n (Triton's block sizes must be powers of two)."""
    return 1 << max(0, (int(n) - 1).bit_length())


def ceil_div(a: int, b: int) -> int:
    """Ceiling of a / b."""
    return -(-a // b)


def multiprocessors(x: torch.Tensor) -> int:
    """Number of multiprocessors of `x`'s GPU (a small number under the CPU interpreter)."""
    if not x.is_cuda:
        return 4
    return _multiprocessors(x.device.index if x.device.index is not None else torch.cuda.current_device())


@functools.cache
def _multiprocessors(index: int) -> int:
    """Number of multiprocessors of CUDA device `index`."""
    return torch.cuda.get_device_properties(index).multi_processor_count


def op_flags(op: str) -> dict[str, bool]:
    """The compile-time flags of pooling `op`: MEAN (gap, concat_pool) and MAX (gmp, concat_pool)."""
    return dict(MEAN=op != "gmp", MAX=op != "gap")


def mean_arguments(op: str, channels: int, map_size: int) -> tuple[int, float]:
    """(mean_column, inverse_size): where the mean's columns start (concat: after the C maxima), and 1 / (H*W)."""
    return channels if op == "concat_pool" else 0, 1.0 / map_size


if triton is not None:

    @triton.jit
    def nan_max(a, b):
        """Maximum that propagates NaN (like `torch.amax`)."""
        return tl.maximum(a, b, propagate_nan=tl.PropagateNan.ALL)

    @triton.jit
    def first_max_pair(value_a, index_a, value_b, index_b):
        """Combine (value, position) pairs: the larger value wins, NaN beats numbers, ties go to the first position."""
        nan_a = value_a != value_a
        nan_b = value_b != value_b
        same = (value_a == value_b) | (nan_a & nan_b)
        pick_a = (value_a > value_b) | (nan_a & ~nan_b) | (same & (index_a < index_b))
        return tl.where(pick_a, value_a, value_b), tl.where(pick_a, index_a, index_b)

    @triton.jit
    def image_and_channel(rows, channels):
        """The image and the channel of maps `rows` (row = image * channels + channel)."""
        image = rows // channels
        return image, rows - image * channels

    @triton.jit
    def running_tiles(BLOCK_ROWS: tl.constexpr, BLOCK_COLS: tl.constexpr):
        """The running tiles before any value is read: total 0, maximum -inf, argmax 0."""
        total = tl.zeros((BLOCK_ROWS, BLOCK_COLS), dtype=tl.float32)
        maximum = tl.full((BLOCK_ROWS, BLOCK_COLS), float("-inf"), dtype=tl.float32)
        argmax = tl.zeros((BLOCK_ROWS, BLOCK_COLS), dtype=tl.int32)
        return total, maximum, argmax

    @triton.jit
    def load_tile(pointers, mask, FULL: tl.constexpr):
        """A tile of values as float32, and the same with -inf where masked (FULL: every value there, no mask)."""
        if FULL:
            values = tl.load(pointers, eviction_policy="evict_first").to(tl.float32)
            masked_values = values
        else:
            values = tl.load(pointers, mask=mask, other=0.0, eviction_policy="evict_first").to(tl.float32)
            masked_values = tl.where(mask, values, float("-inf"))
        return values, masked_values

    @triton.jit
    def fold(total, maximum, argmax, values, masked_values, positions, MEAN: tl.constexpr, MAX: tl.constexpr,
             KEEP_ARGMAX: tl.constexpr):  # fmt: skip
        """Fold a tile of values into the running sum, maximum and argmax (masked_values: -inf where masked)."""
        if MEAN:
            total += values
        if MAX:
            new_maximum = nan_max(maximum, masked_values)
            if KEEP_ARGMAX:  # strictly larger (or the first NaN): remember where; ties keep the first
                argmax = tl.where(new_maximum != maximum, positions, argmax)
            maximum = new_maximum
        return total, maximum, argmax

    @triton.jit
    def store_pooled(out_pointer, argmax_pointer, rows, image, channel, mask, sums, maxima, argmaxes,
                     out_image_stride, mean_column, inverse_size,
                     MEAN: tl.constexpr, MAX: tl.constexpr, KEEP_ARGMAX: tl.constexpr):  # fmt: skip
        """Write the pooled values of `rows` (maps `image, channel`): the max (and its position), the mean."""
        where = image * out_image_stride + channel
        if MAX:
            tl.store(out_pointer + where, maxima.to(out_pointer.dtype.element_ty), mask=mask)
            if KEEP_ARGMAX:
                tl.store(argmax_pointer + rows, argmaxes.to(argmax_pointer.dtype.element_ty), mask=mask)
        if MEAN:
            tl.store(
                out_pointer + where + mean_column, (sums * inverse_size).to(out_pointer.dtype.element_ty), mask=mask
            )

    @triton.jit
    def load_gradients(grad_pointer, argmax_pointer, rows, image, channel, mask,
                       grad_image_stride, grad_column_stride, mean_column, inverse_size,
                       MEAN: tl.constexpr, MAX: tl.constexpr):  # fmt: skip
        """Per-map pieces of the input gradient: (gradient of the max, its position, gradient of the mean / (H*W))."""
        if MAX:
            max_gradient = tl.load(
                grad_pointer + image * grad_image_stride + channel * grad_column_stride, mask=mask, other=0.0
            ).to(tl.float32)
            argmax = tl.load(argmax_pointer + rows, mask=mask, other=0).to(tl.int32)  # masked rows: never written
        else:
            max_gradient = tl.zeros(rows.shape, dtype=tl.float32)
            argmax = tl.full(rows.shape, -1, dtype=tl.int32)  # matches no position
        if MEAN:
            mean_gradient = (
                tl.load(
                    grad_pointer + image * grad_image_stride + (channel + mean_column) * grad_column_stride,
                    mask=mask,
                    other=0.0,
                ).to(tl.float32)
                * inverse_size
            )
        else:
            mean_gradient = tl.zeros(rows.shape, dtype=tl.float32)
        return max_gradient, argmax, mean_gradient
