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
from .common import ceil_div, multiprocessors, next_power_of_two, triton

if triton is not None:
    import triton.language as tl

    from .common import first_max_pair, fold, load_gradients, nan_max, store_pooled

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
    def store_partials(
        partial_sums,
        partial_maxima,
        partial_argmaxes,
        span,
        rows,
        n_rows,
        mask,
        sums,
        maxima,
        argmaxes,
        MEAN: tl.constexpr,
        MAX: tl.constexpr,
        KEEP_ARGMAX: tl.constexpr,
    ):
        """Store one span's float32 partial results of `rows` (row `span` of each (n_spans, n_rows) buffer)."""
        where = span * n_rows + rows
        if MEAN:
            tl.store(partial_sums + where, sums, mask=mask)
        if MAX:
            tl.store(partial_maxima + where, maxima, mask=mask)
            if KEEP_ARGMAX:
                tl.store(partial_argmaxes + where, argmaxes, mask=mask)

    @triton.jit
    def combine_partials(
        partial_sums,
        partial_maxima,
        partial_argmaxes,
        rows,
        mask,
        n_rows,
        n_spans,
        MEAN: tl.constexpr,
        MAX: tl.constexpr,
        KEEP_ARGMAX: tl.constexpr,
    ):
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
    def finish_split(
        out_pointer,
        argmax_pointer,
        partial_sums,
        partial_maxima,
        partial_argmaxes,
        counters,
        group,
        n_spans,
        rows,
        image,
        channel,
        mask,
        n_rows,
        out_image_stride,
        mean_column,
        inverse_size,
        MEAN: tl.constexpr,
        MAX: tl.constexpr,
        KEEP_ARGMAX: tl.constexpr,
    ):
        """After a program stored its partials: the last of its group's n_spans programs writes the results.

        Each program counts itself done on the group's counter (an atomic with acquire-release order, after a
        barrier, so every thread's partials are visible first); the one that sees n_spans - 1 combines them and
        sets the counter back to 0 for the next launch.
        """
        tl.debug_barrier()
        done = tl.atomic_add(counters + group, 1, sem="acq_rel", scope="gpu")
        if done == n_spans - 1:
            sums, maxima, argmaxes = combine_partials(
                partial_sums, partial_maxima, partial_argmaxes, rows, mask, n_rows, n_spans, MEAN, MAX, KEEP_ARGMAX
            )
            store_pooled(
                out_pointer,
                argmax_pointer,
                rows,
                image,
                channel,
                mask,
                sums,
                maxima,
                argmaxes,
                out_image_stride,
                mean_column,
                inverse_size,
                MEAN,
                MAX,
                KEEP_ARGMAX,
            )
            tl.atomic_xchg(counters + group, 0)

    @triton.jit
    def rows_forward_kernel(
        x_pointer,
        out_pointer,
        argmax_pointer,
        partial_sums,
        partial_maxima,
        partial_argmaxes,
        counters,
        n_spans,
        n_rows,
        channels,
        map_size,
        span_size,
        out_image_stride,
        mean_column,
        inverse_size,
        MEAN: tl.constexpr,
        MAX: tl.constexpr,
        KEEP_ARGMAX: tl.constexpr,
        SPLIT: tl.constexpr,
        BLOCK_ROWS: tl.constexpr,
        BLOCK_COLS: tl.constexpr,
        STAGES: tl.constexpr,
        EVEN: tl.constexpr,
    ):
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
        total = tl.zeros((BLOCK_ROWS, BLOCK_COLS), dtype=tl.float32)
        maximum = tl.full((BLOCK_ROWS, BLOCK_COLS), float("-inf"), dtype=tl.float32)
        argmax = tl.zeros((BLOCK_ROWS, BLOCK_COLS), dtype=tl.int32)
        for step in tl.range(0, stop, BLOCK_COLS, num_stages=STAGES):  # STAGES > 1: loads prefetched (cp.async)
            positions = step + cols
            if EVEN:  # every tile is full: no masks
                values = tl.load(starts + positions[None, :], eviction_policy="evict_first").to(tl.float32)
                masked_values = values
            else:
                mask = row_mask[:, None] & (positions < map_size)[None, :]
                values = tl.load(starts + positions[None, :], mask=mask, other=0.0, eviction_policy="evict_first").to(
                    tl.float32
                )
                masked_values = tl.where(mask, values, float("-inf"))
            total, maximum, argmax = fold(
                total, maximum, argmax, values, masked_values, positions[None, :], MEAN, MAX, KEEP_ARGMAX
            )
        sums = tl.sum(total, axis=1)
        maxima = sums  # (not stored unless MAX)
        argmaxes = rows  # (not stored unless KEEP_ARGMAX)
        if KEEP_ARGMAX:
            maxima, argmaxes = tl.reduce((maximum, argmax), 1, first_max_pair)
        elif MAX:
            maxima = tl.reduce(maximum, 1, nan_max)
        image = rows // channels
        channel = rows - image * channels
        if SPLIT:
            store_partials(
                partial_sums,
                partial_maxima,
                partial_argmaxes,
                span,
                rows,
                n_rows,
                row_mask,
                sums,
                maxima,
                argmaxes,
                MEAN,
                MAX,
                KEEP_ARGMAX,
            )
            finish_split(
                out_pointer,
                argmax_pointer,
                partial_sums,
                partial_maxima,
                partial_argmaxes,
                counters,
                group,
                n_spans,
                rows,
                image,
                channel,
                row_mask,
                n_rows,
                out_image_stride,
                mean_column,
                inverse_size,
                MEAN,
                MAX,
                KEEP_ARGMAX,
            )
        else:
            store_pooled(
                out_pointer,
                argmax_pointer,
                rows,
                image,
                channel,
                row_mask,
                sums,
                maxima,
                argmaxes,
                out_image_stride,
                mean_column,
                inverse_size,
                MEAN,
                MAX,
                KEEP_ARGMAX,
            )

    @triton.jit
    def channels_last_forward_kernel(
        x_pointer,
        out_pointer,
        argmax_pointer,
        partial_sums,
        partial_maxima,
        partial_argmaxes,
        counters,
        n_spans,
        n_rows,
        channels,
        map_size,
        span_size,
        channel_blocks,
        out_image_stride,
        mean_column,
        inverse_size,
        MEAN: tl.constexpr,
        MAX: tl.constexpr,
        KEEP_ARGMAX: tl.constexpr,
        SPLIT: tl.constexpr,
        BLOCK_ROWS: tl.constexpr,
        BLOCK_COLS: tl.constexpr,
        STAGES: tl.constexpr,
        EVEN: tl.constexpr,
    ):
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
        total = tl.zeros((BLOCK_ROWS, BLOCK_COLS), dtype=tl.float32)
        maximum = tl.full((BLOCK_ROWS, BLOCK_COLS), float("-inf"), dtype=tl.float32)
        argmax = tl.zeros((BLOCK_ROWS, BLOCK_COLS), dtype=tl.int32)
        for step in tl.range(0, stop, BLOCK_ROWS, num_stages=STAGES):  # STAGES > 1: loads prefetched (cp.async)
            positions = step + steps
            if EVEN:  # every tile is full: no masks
                values = tl.load(starts + positions[:, None] * channels, eviction_policy="evict_first").to(tl.float32)
                masked_values = values
            else:
                mask = (positions < map_size)[:, None] & channel_mask[None, :]
                values = tl.load(
                    starts + positions[:, None] * channels, mask=mask, other=0.0, eviction_policy="evict_first"
                ).to(tl.float32)
                masked_values = tl.where(mask, values, float("-inf"))
            total, maximum, argmax = fold(
                total, maximum, argmax, values, masked_values, positions[:, None], MEAN, MAX, KEEP_ARGMAX
            )
        rows = image * channels + channel
        sums = tl.sum(total, axis=0)
        maxima = sums  # (not stored unless MAX)
        argmaxes = rows  # (not stored unless KEEP_ARGMAX)
        if KEEP_ARGMAX:
            maxima, argmaxes = tl.reduce((maximum, argmax), 0, first_max_pair)
        elif MAX:
            maxima = tl.reduce(maximum, 0, nan_max)
        if SPLIT:
            store_partials(
                partial_sums,
                partial_maxima,
                partial_argmaxes,
                span,
                rows,
                n_rows,
                channel_mask,
                sums,
                maxima,
                argmaxes,
                MEAN,
                MAX,
                KEEP_ARGMAX,
            )
            finish_split(
                out_pointer,
                argmax_pointer,
                partial_sums,
                partial_maxima,
                partial_argmaxes,
                counters,
                group,
                n_spans,
                rows,
                image,
                channel,
                channel_mask,
                n_rows,
                out_image_stride,
                mean_column,
                inverse_size,
                MEAN,
                MAX,
                KEEP_ARGMAX,
            )
        else:
            store_pooled(
                out_pointer,
                argmax_pointer,
                rows,
                image,
                channel,
                channel_mask,
                sums,
                maxima,
                argmaxes,
                out_image_stride,
                mean_column,
                inverse_size,
                MEAN,
                MAX,
                KEEP_ARGMAX,
            )

    @triton.jit
    def rows_backward_kernel(
        grad_pointer,
        argmax_pointer,
        grad_x_pointer,
        n_rows,
        channels,
        map_size,
        grad_image_stride,
        grad_column_stride,
        mean_column,
        inverse_size,
        MEAN: tl.constexpr,
        MAX: tl.constexpr,
        BLOCK_ROWS: tl.constexpr,
        BLOCK_COLS: tl.constexpr,
    ):
        """NCHW backward: write a (BLOCK_ROWS, BLOCK_COLS) tile of the input gradient in one pass."""
        rows = tl.program_id(0) * BLOCK_ROWS + tl.arange(0, BLOCK_ROWS)
        positions = tl.program_id(1) * BLOCK_COLS + tl.arange(0, BLOCK_COLS)
        row_mask = rows < n_rows
        image = rows // channels
        channel = rows - image * channels
        max_gradient, argmax, mean_gradient = load_gradients(
            grad_pointer,
            argmax_pointer,
            rows,
            image,
            channel,
            row_mask,
            grad_image_stride,
            grad_column_stride,
            mean_column,
            inverse_size,
            MEAN,
            MAX,
        )
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
    def channels_last_backward_kernel(
        grad_pointer,
        argmax_pointer,
        grad_x_pointer,
        channels,
        map_size,
        channel_blocks,
        grad_image_stride,
        grad_column_stride,
        mean_column,
        inverse_size,
        MEAN: tl.constexpr,
        MAX: tl.constexpr,
        BLOCK_ROWS: tl.constexpr,
        BLOCK_COLS: tl.constexpr,
    ):
        """channels_last backward: write a (BLOCK_ROWS positions, BLOCK_COLS channels) tile of one image's gradient."""
        group = tl.program_id(0)
        image = group // channel_blocks
        channel = (group - image * channel_blocks) * BLOCK_COLS + tl.arange(0, BLOCK_COLS)
        positions = tl.program_id(1) * BLOCK_ROWS + tl.arange(0, BLOCK_ROWS)
        channel_mask = channel < channels
        max_gradient, argmax, mean_gradient = load_gradients(
            grad_pointer,
            argmax_pointer,
            image * channels + channel,
            image,
            channel,
            channel_mask,
            grad_image_stride,
            grad_column_stride,
            mean_column,
            inverse_size,
            MEAN,
            MAX,
        )
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


def _forward_record(x: torch.Tensor, op: str, keep_argmax: bool, channels_last: bool) -> tuning.BlockConfig:
    """The BlockConfig of a long-map (or channels_last) forward launch: the device's table, else a rule of thumb."""
    _, channels, height, width = x.shape
    size, value_bytes = height * width, x.element_size()
    if channels_last:
        block_cols = min(next_power_of_two(channels), 512 // value_bytes)
        block_rows = max(1, min(next_power_of_two(size), 4096 // block_cols))
        key = tuning.ShapeClass(
            "channels_last_forward",
            value_bytes,
            op,
            keep_argmax,
            tuning.map_size_class(size),
            tuning.channels_class(channels),
        )
    else:
        block_cols = min(next_power_of_two(size), 8192 // value_bytes)
        block_rows = max(1, min(next_power_of_two(x.shape[0] * channels), 2048 // block_cols))
        key = tuning.ShapeClass("rows_forward", value_bytes, op, keep_argmax, tuning.map_size_class(size))
    rule = tuning.BlockConfig(block_rows, block_cols, 4 if block_rows * block_cols <= 2048 else 8)
    record = tuning.config(key, x.device, rule)
    return record if isinstance(record, tuning.BlockConfig) else rule


def forward(x: torch.Tensor, out: torch.Tensor, op: str, keep_argmax: bool, channels_last: bool) -> torch.Tensor | None:
    """Pool `x` (NCHW-contiguous, or channels_last) into `out`; return each map's argmax (int32) if asked for."""
    n_images, channels, height, width = x.shape
    size, n_rows = height * width, n_images * channels
    mean, maximum = op != "gmp", op != "gap"
    argmax = torch.empty(n_rows, device=x.device, dtype=torch.int32) if keep_argmax else None
    record = _forward_record(x, op, keep_argmax, channels_last)
    if channels_last:
        channel_blocks = ceil_div(channels, record.cols)
        n_spans, span_size = _split(n_images * channel_blocks, size, record.rows, multiprocessors(x))
        even = size % record.rows == 0 and channels % record.cols == 0
    else:
        n_spans, span_size = _split(ceil_div(n_rows, record.rows), size, record.cols, multiprocessors(x))
        even = size % record.cols == 0 and n_rows % record.rows == 0
    split = n_spans > 1
    even = even and (not split or size % span_size == 0)
    partials = (None, None, None, None)
    if split:
        partials = (
            torch.empty((n_spans, n_rows), device=x.device, dtype=torch.float32) if mean else None,
            torch.empty((n_spans, n_rows), device=x.device, dtype=torch.float32) if maximum else None,
            torch.empty((n_spans, n_rows), device=x.device, dtype=torch.int32) if keep_argmax else None,
            _counters(x.device),
        )
    options = dict(
        MEAN=mean,
        MAX=maximum,
        KEEP_ARGMAX=keep_argmax,
        SPLIT=split,
        BLOCK_ROWS=record.rows,
        BLOCK_COLS=record.cols,
        STAGES=record.stages,
        EVEN=even,
        num_warps=record.warps,
    )
    if record.stages > 1:
        options["num_stages"] = record.stages
    shared = (n_spans, n_rows, channels, size, span_size)
    pooled = (out.shape[1], channels if op == "concat_pool" else 0, 1.0 / size)
    if channels_last:
        channels_last_forward_kernel[(n_images * channel_blocks, n_spans)](
            x, out, argmax, *partials, *shared, channel_blocks, *pooled, **options
        )
    else:
        rows_forward_kernel[(ceil_div(n_rows, record.rows), n_spans)](
            x, out, argmax, *partials, *shared, *pooled, **options
        )
    return argmax


def backward(
    grad: torch.Tensor, argmax: torch.Tensor | None, grad_x: torch.Tensor, op: str, channels_last: bool
) -> None:
    """Write the input gradient `grad_x` of a pooling from the pooled gradient `grad` and the saved argmax."""
    n_images, channels, height, width = grad_x.shape
    size, value_bytes = height * width, grad_x.element_size()
    pieces = (*grad.stride(), channels if op == "concat_pool" else 0, 1.0 / size)
    flags = dict(MEAN=op != "gmp", MAX=op != "gap")
    if channels_last:
        block_cols = min(next_power_of_two(channels), 512 // value_bytes)
        rule = tuning.BlockConfig(max(1, min(next_power_of_two(size), 2048 // block_cols)), block_cols, 4)
        key = tuning.ShapeClass(
            "channels_last_backward",
            value_bytes,
            op,
            None,
            tuning.map_size_class(size),
            tuning.channels_class(channels),
        )
        record = tuning.config(key, grad_x.device, rule) or rule
        channel_blocks = ceil_div(channels, record.cols)
        channels_last_backward_kernel[(n_images * channel_blocks, ceil_div(size, record.rows))](
            grad,
            argmax,
            grad_x,
            channels,
            size,
            channel_blocks,
            *pieces,
            **flags,
            BLOCK_ROWS=record.rows,
            BLOCK_COLS=record.cols,
            num_warps=record.warps,
        )
        return
    n_rows = n_images * channels
    block_cols = min(next_power_of_two(size), 2048)
    rule = tuning.BlockConfig(max(1, min(next_power_of_two(n_rows), 2048 // block_cols)), block_cols, 4)
    key = tuning.ShapeClass("rows_backward", value_bytes, op, None, tuning.map_size_class(size))
    record = tuning.config(key, grad_x.device, rule) or rule
    rows_backward_kernel[(ceil_div(n_rows, record.rows), ceil_div(size, record.cols))](
        grad,
        argmax,
        grad_x,
        n_rows,
        channels,
        size,
        *pieces,
        **flags,
        BLOCK_ROWS=record.rows,
        BLOCK_COLS=record.cols,
        num_warps=record.warps,
    )
