"""Kernels for maps of more than 64 values (NCHW), and for channels_last maps of any size.

- NCHW: each `(n, c)` map is a contiguous row of `H * W` values; a program reduces a tile of rows, walking along
  them `cols` positions at a time.
- channels_last: each image is an `(H * W, C)` matrix; a program reduces a strip of `cols` channels, walking down
  `H * W` `rows` positions at a time.

When too few programs would fill the GPU (a few long maps), `H * W` is split into spans, one program each; each
program stores float32 partial results, and the last program of a group to finish (counted with an atomic) combines
them, which saves the launch of a second kernel. The backward writes each tile of the input gradient in one pass.
"""

from __future__ import annotations

import torch

from . import tuning
from .common import ceil_div, mean_arguments, multiprocessors, op_flags, triton

if triton is not None:
    import triton.language as tl

    from .common import (
        first_max_pair,
        fold,
        image_and_channel,
        load_gradients,
        load_tile,
        nan_max,
        running_tiles,
        store_pooled,
    )

__all__ = ["forward", "backward"]

SPLIT_PROGRAMS_PER_SM = 4  # a split reduction aims at this many programs per multiprocessor
_COUNTERS: dict[tuple, torch.Tensor] = {}


def _counters(device: torch.device) -> torch.Tensor:
    """Zeroed int32 counters for split reductions on `device`'s current stream (each kernel leaves them at 0).

    One buffer per stream, never freed: launches on one stream run one after another, so they can share it, and a
    CUDA graph that captured a launch keeps pointing at live memory. It holds one counter per program group; a
    split happens only below 2 programs per multiprocessor, so 4096 is plenty.
    """
    key = (device.type, device.index, 0)
    if device.type == "cuda":
        stream = torch.cuda.current_stream(device)
        key = ("cuda", stream.device_index, stream.stream_id)
    if key not in _COUNTERS:
        _COUNTERS[key] = torch.zeros(4096, dtype=torch.int32, device=device)
    return _COUNTERS[key]


if triton is not None:

    @triton.jit
    def combine_partials(partial_sums, partial_maxima, partial_argmaxes, rows, mask, n_rows, n_spans,
                         MEAN: tl.constexpr, MAX: tl.constexpr, KEEP_ARGMAX: tl.constexpr):  # fmt: skip
        """Combine the partials of `rows` over all spans, in span order (so the first maximum wins ties)."""
        sums = tl.zeros(rows.shape, dtype=tl.float32)
        maxima = tl.full(rows.shape, float("-inf"), dtype=tl.float32)
        argmaxes = tl.zeros(rows.shape, dtype=tl.int32)
        for span in range(0, n_spans):  # .cg: read from L2, where the other programs' partials are
            where = span * n_rows + rows
            if MEAN:
                sums += tl.load(partial_sums + where, mask=mask, other=0.0, cache_modifier=".cg")
            if MAX:
                values = tl.load(partial_maxima + where, mask=mask, other=float("-inf"), cache_modifier=".cg")
                if KEEP_ARGMAX:  # an earlier span wins ties: its positions are smaller
                    positions = tl.load(partial_argmaxes + where, mask=mask, other=0, cache_modifier=".cg")
                    maxima, argmaxes = first_max_pair(maxima, argmaxes, values, positions)
                else:
                    maxima = nan_max(maxima, values)
        return sums, maxima, argmaxes

    @triton.jit
    def reduce_tiles(total, maximum, argmax, rows, AXIS: tl.constexpr, MAX: tl.constexpr, KEEP_ARGMAX: tl.constexpr):
        """The running tiles reduced along AXIS: each map's sum, maximum and argmax (the first maximum)."""
        sums = tl.sum(total, axis=AXIS)
        maxima = sums  # (not stored unless MAX)
        argmaxes = rows  # (not stored unless KEEP_ARGMAX)
        if KEEP_ARGMAX:
            maxima, argmaxes = tl.reduce((maximum, argmax), AXIS, first_max_pair)
        elif MAX:
            maxima = tl.reduce(maximum, AXIS, nan_max)
        return sums, maxima, argmaxes

    @triton.jit
    def store_forward(out_pointer, argmax_pointer, partial_sums, partial_maxima, partial_argmaxes, counters, group,
                      span, n_spans, n_rows, rows, image, channel, mask, sums, maxima, argmaxes, out_image_stride,
                      mean_column, inverse_size, MEAN: tl.constexpr, MAX: tl.constexpr, KEEP_ARGMAX: tl.constexpr,
                      SPLIT: tl.constexpr):  # fmt: skip
        """Write the results of maps `rows` (`image, channel`); SPLIT: this span's partials, the last span all of them.

        A split program stores its float32 partials (row `span` of each (n_spans, n_rows) buffer) and counts itself
        done on its group's counter (an atomic with acquire-release order, after a barrier, so every thread's
        partials are visible first); the one that sees n_spans - 1 combines them, writes the results and sets the
        counter back to 0 for the next launch.
        """
        if SPLIT:
            where = span * n_rows + rows
            if MEAN:
                tl.store(partial_sums + where, sums, mask=mask)
            if MAX:
                tl.store(partial_maxima + where, maxima, mask=mask)
                if KEEP_ARGMAX:
                    tl.store(partial_argmaxes + where, argmaxes, mask=mask)
            tl.debug_barrier()
            done = tl.atomic_add(counters + group, 1, sem="acq_rel", scope="gpu")
            if done == n_spans - 1:
                sums, maxima, argmaxes = combine_partials(partial_sums, partial_maxima, partial_argmaxes, rows, mask,
                                                          n_rows, n_spans, MEAN, MAX, KEEP_ARGMAX)  # fmt: skip
                store_pooled(out_pointer, argmax_pointer, rows, image, channel, mask, sums, maxima, argmaxes,
                             out_image_stride, mean_column, inverse_size, MEAN, MAX, KEEP_ARGMAX)  # fmt: skip
                tl.atomic_xchg(counters + group, 0)
        else:
            store_pooled(out_pointer, argmax_pointer, rows, image, channel, mask, sums, maxima, argmaxes,
                         out_image_stride, mean_column, inverse_size, MEAN, MAX, KEEP_ARGMAX)  # fmt: skip

    @triton.jit
    def rows_forward_kernel(x_pointer, out_pointer, argmax_pointer, partial_sums, partial_maxima, partial_argmaxes,
                            counters, n_spans, n_rows, channels, map_size, span_size,
                            out_image_stride, mean_column, inverse_size,
                            MEAN: tl.constexpr, MAX: tl.constexpr, KEEP_ARGMAX: tl.constexpr, SPLIT: tl.constexpr,
                            BLOCK_ROWS: tl.constexpr, BLOCK_COLS: tl.constexpr, STAGES: tl.constexpr,
                            EVEN: tl.constexpr):  # fmt: skip
        """NCHW forward: each program reduces BLOCK_ROWS contiguous maps (one span of each when H*W is split)."""
        group = tl.program_id(0)
        span = tl.program_id(1)
        rows = group * BLOCK_ROWS + tl.arange(0, BLOCK_ROWS)
        row_mask = rows < n_rows
        cols = tl.arange(0, BLOCK_COLS)
        starts = x_pointer + rows[:, None] * map_size
        if SPLIT:
            cols += span * span_size
            stop = span_size
        else:
            stop = map_size
        total, maximum, argmax = running_tiles(BLOCK_ROWS, BLOCK_COLS)
        for step in tl.range(0, stop, BLOCK_COLS, num_stages=STAGES):  # STAGES > 1: loads prefetched (cp.async)
            positions = step + cols
            mask = row_mask[:, None] & (positions < map_size)[None, :]  # (unused, compiled away, when EVEN)
            values, masked_values = load_tile(starts + positions[None, :], mask, FULL=EVEN)
            total, maximum, argmax = fold(
                total, maximum, argmax, values, masked_values, positions[None, :], MEAN, MAX, KEEP_ARGMAX
            )
        sums, maxima, argmaxes = reduce_tiles(total, maximum, argmax, rows, AXIS=1, MAX=MAX, KEEP_ARGMAX=KEEP_ARGMAX)
        image, channel = image_and_channel(rows, channels)
        store_forward(out_pointer, argmax_pointer, partial_sums, partial_maxima, partial_argmaxes, counters, group,
                      span, n_spans, n_rows, rows, image, channel, row_mask, sums, maxima, argmaxes,
                      out_image_stride, mean_column, inverse_size, MEAN, MAX, KEEP_ARGMAX, SPLIT)  # fmt: skip

    @triton.jit
    def channels_last_forward_kernel(x_pointer, out_pointer, argmax_pointer, partial_sums, partial_maxima,
                                     partial_argmaxes, counters, n_spans, n_rows, channels, map_size, span_size,
                                     channel_blocks, out_image_stride, mean_column, inverse_size,
                                     MEAN: tl.constexpr, MAX: tl.constexpr, KEEP_ARGMAX: tl.constexpr,
                                     SPLIT: tl.constexpr, BLOCK_ROWS: tl.constexpr, BLOCK_COLS: tl.constexpr,
                                     STAGES: tl.constexpr, EVEN: tl.constexpr):  # fmt: skip
        """channels_last forward: each program reduces a (H*W, BLOCK_COLS) strip of one image over H*W."""
        group = tl.program_id(0)
        span = tl.program_id(1)
        image = group // channel_blocks
        channel = (group - image * channel_blocks) * BLOCK_COLS + tl.arange(0, BLOCK_COLS)
        channel_mask = channel < channels
        steps = tl.arange(0, BLOCK_ROWS)
        starts = x_pointer + image * map_size * channels + channel[None, :]
        if SPLIT:
            steps += span * span_size
            stop = span_size
        else:
            stop = map_size
        total, maximum, argmax = running_tiles(BLOCK_ROWS, BLOCK_COLS)
        for step in tl.range(0, stop, BLOCK_ROWS, num_stages=STAGES):  # STAGES > 1: loads prefetched (cp.async)
            positions = step + steps
            mask = (positions < map_size)[:, None] & channel_mask[None, :]  # (unused, compiled away, when EVEN)
            values, masked_values = load_tile(starts + positions[:, None] * channels, mask, FULL=EVEN)
            total, maximum, argmax = fold(
                total, maximum, argmax, values, masked_values, positions[:, None], MEAN, MAX, KEEP_ARGMAX
            )
        rows = image * channels + channel
        sums, maxima, argmaxes = reduce_tiles(total, maximum, argmax, rows, AXIS=0, MAX=MAX, KEEP_ARGMAX=KEEP_ARGMAX)
        store_forward(out_pointer, argmax_pointer, partial_sums, partial_maxima, partial_argmaxes, counters, group,
                      span, n_spans, n_rows, rows, image, channel, channel_mask, sums, maxima, argmaxes,
                      out_image_stride, mean_column, inverse_size, MEAN, MAX, KEEP_ARGMAX, SPLIT)  # fmt: skip

    @triton.jit
    def rows_backward_kernel(grad_pointer, argmax_pointer, grad_x_pointer, n_rows, channels, map_size,
                             grad_image_stride, grad_column_stride, mean_column, inverse_size,
                             MEAN: tl.constexpr, MAX: tl.constexpr,
                             BLOCK_ROWS: tl.constexpr, BLOCK_COLS: tl.constexpr):  # fmt: skip
        """NCHW backward: write a (BLOCK_ROWS, BLOCK_COLS) tile of the input gradient in one pass."""
        rows = tl.program_id(0) * BLOCK_ROWS + tl.arange(0, BLOCK_ROWS)
        positions = tl.program_id(1) * BLOCK_COLS + tl.arange(0, BLOCK_COLS)
        row_mask = rows < n_rows
        image, channel = image_and_channel(rows, channels)
        max_gradient, argmax, mean_gradient = load_gradients(grad_pointer, argmax_pointer, rows, image, channel,
                                                             row_mask, grad_image_stride, grad_column_stride,
                                                             mean_column, inverse_size, MEAN, MAX)  # fmt: skip
        if MAX:
            values = tl.where(positions[None, :] == argmax[:, None], max_gradient[:, None], 0.0)
            if MEAN:
                values += mean_gradient[:, None]
        else:
            values = tl.broadcast_to(mean_gradient[:, None], (BLOCK_ROWS, BLOCK_COLS))
        mask = row_mask[:, None] & (positions < map_size)[None, :]
        tl.store(
            grad_x_pointer + rows[:, None] * map_size + positions[None, :],
            values.to(grad_x_pointer.dtype.element_ty),
            mask=mask,
        )

    @triton.jit
    def channels_last_backward_kernel(grad_pointer, argmax_pointer, grad_x_pointer, channels, map_size,
                                      channel_blocks, grad_image_stride, grad_column_stride, mean_column,
                                      inverse_size, MEAN: tl.constexpr, MAX: tl.constexpr,
                                      BLOCK_ROWS: tl.constexpr, BLOCK_COLS: tl.constexpr):  # fmt: skip
        """channels_last backward: write a (BLOCK_ROWS positions, BLOCK_COLS channels) tile of one image's gradient."""
        group = tl.program_id(0)
        image = group // channel_blocks
        channel = (group - image * channel_blocks) * BLOCK_COLS + tl.arange(0, BLOCK_COLS)
        positions = tl.program_id(1) * BLOCK_ROWS + tl.arange(0, BLOCK_ROWS)
        channel_mask = channel < channels
        max_gradient, argmax, mean_gradient = load_gradients(grad_pointer, argmax_pointer, image * channels + channel,
                                                             image, channel, channel_mask, grad_image_stride,
                                                             grad_column_stride, mean_column, inverse_size,
                                                             MEAN, MAX)  # fmt: skip
        if MAX:
            values = tl.where(positions[:, None] == argmax[None, :], max_gradient[None, :], 0.0)
            if MEAN:
                values += mean_gradient[None, :]
        else:
            values = tl.broadcast_to(mean_gradient[None, :], (BLOCK_ROWS, BLOCK_COLS))
        mask = (positions < map_size)[:, None] & channel_mask[None, :]
        tl.store(
            grad_x_pointer + image * map_size * channels + positions[:, None] * channels + channel[None, :],
            values.to(grad_x_pointer.dtype.element_ty),
            mask=mask,
        )


def _split(programs: int, map_size: int, step: int, sms: int) -> tuple[int, int]:
    """How many spans to cut H*W into so that enough programs fill the GPU: (number of spans, span size).

    Spans are whole steps; a span count that divides the steps (so that every span is full) is preferred down to
    half the wanted count.
    """
    steps = ceil_div(map_size, step)
    if programs >= 2 * sms or steps < 2:
        return 1, map_size
    want = min(steps, ceil_div(SPLIT_PROGRAMS_PER_SM * sms, programs))
    want = next((d for d in range(want, want // 2, -1) if steps % d == 0), want)
    span = ceil_div(steps, want) * step
    return ceil_div(map_size, span), span


def forward(x: torch.Tensor, out: torch.Tensor, op: str, keep_argmax: bool, channels_last: bool) -> torch.Tensor | None:
    """Pool `x` (NCHW-contiguous, or channels_last) into `out`; return each map's argmax (int32) if asked for."""
    n_images, channels, height, width = x.shape
    size, n_rows = height * width, n_images * channels
    flags = op_flags(op)
    argmax = torch.empty(n_rows, device=x.device, dtype=torch.int32) if keep_argmax else None
    kernel = "channels_last_forward" if channels_last else "rows_forward"
    record = tuning.launch_record(kernel, x, op, keep_argmax)
    if channels_last:
        channel_blocks = ceil_div(channels, record.cols)
        programs = n_images * channel_blocks
        n_spans, span_size = _split(programs, size, record.rows, multiprocessors(x))
        even = size % record.rows == 0 and channels % record.cols == 0
    else:
        programs = ceil_div(n_rows, record.rows)
        n_spans, span_size = _split(programs, size, record.cols, multiprocessors(x))
        even = size % record.cols == 0 and n_rows % record.rows == 0
    split = n_spans > 1
    even = even and (not split or size % span_size == 0)
    partials = (None, None, None, None)
    if split:
        partial = lambda dtype, kept: torch.empty((n_spans, n_rows), device=x.device, dtype=dtype) if kept else None
        partials = (partial(torch.float32, flags["MEAN"]), partial(torch.float32, flags["MAX"]),
                    partial(torch.int32, keep_argmax), _counters(x.device))  # fmt: skip
    options = dict(**flags, KEEP_ARGMAX=keep_argmax, SPLIT=split, BLOCK_ROWS=record.rows, BLOCK_COLS=record.cols,
                   STAGES=record.stages, EVEN=even, num_warps=record.warps)  # fmt: skip
    if record.stages > 1:
        options["num_stages"] = record.stages
    sizes = (n_spans, n_rows, channels, size, span_size, *((channel_blocks,) if channels_last else ()))
    launch = channels_last_forward_kernel if channels_last else rows_forward_kernel
    launch[(programs, n_spans)](x, out, argmax, *partials, *sizes, out.shape[1], *mean_arguments(op, channels, size),
                                **options)  # fmt: skip
    return argmax


def backward(
    grad: torch.Tensor, argmax: torch.Tensor | None, grad_x: torch.Tensor, op: str, channels_last: bool
) -> None:
    """Write the input gradient `grad_x` of a pooling from the pooled gradient `grad` and the saved argmax."""
    n_images, channels, height, width = grad_x.shape
    size, n_rows = height * width, n_images * channels
    kernel = "channels_last_backward" if channels_last else "rows_backward"
    record = tuning.launch_record(kernel, grad_x, op)
    options = dict(**op_flags(op), BLOCK_ROWS=record.rows, BLOCK_COLS=record.cols, num_warps=record.warps)
    pieces = (*grad.stride(), *mean_arguments(op, channels, size))
    if channels_last:
        channel_blocks = ceil_div(channels, record.cols)
        grid = (n_images * channel_blocks, ceil_div(size, record.rows))
        channels_last_backward_kernel[grid](grad, argmax, grad_x, channels, size, channel_blocks, *pieces, **options)
    else:
        grid = (ceil_div(n_rows, record.rows), ceil_div(size, record.cols))
        rows_backward_kernel[grid](grad, argmax, grad_x, n_rows, channels, size, *pieces, **options)
