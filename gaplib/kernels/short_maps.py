"""Kernels for NCHW maps of at most 64 values (the 7 x 7 maps of a ResNet's last block): many rows of a few values.

A row of H*W values rarely starts on a 16-byte boundary (7 x 7 = 49), so a row's own loads cannot be wide; what
limits speed is then how many memory requests the loads make. Three forward kernels attack that:
- `window_forward_kernel` (no argmax): each row is read through the aligned window of whole 16-byte vectors around
  it, in wide loads; the few values of the neighbouring rows it also holds are masked out (they come from cache).
- `pairs_forward_kernel` (16-bit values): values are read as 32-bit words, two values a word, rows taken in pairs
  (two rows of L values are L words, so a pair starts on a word): half the requests.
- `short_forward_kernel` (the general one): a tile of rows per program, H*W in steps unrolled when compiled (H*W is
  a compile-time constant), so only the last step needs a column mask.
The argmax of short maps can be reduced as one packed integer key (value bits, then 63 - position), so that finding
the first maximum across threads is a plain integer max. The backward writes whole rows as one aligned chunk.
"""

from __future__ import annotations

import torch

from . import tuning
from .common import HAS_GATHER, ceil_div, mean_arguments, next_power_of_two, op_flags, triton

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

__all__ = ["forward", "backward", "backward_supported"]

if triton is not None:

    @triton.jit
    def sortable(bits):
        """int32 bits of a float32 -> an int32 that orders like the floats (NaN with the sign bit clear: largest)."""
        return tl.where(bits < 0, bits ^ 0x7FFFFFFF, bits)

    @triton.jit
    def first_argmax(maximum, argmax, KEY_BITS: tl.constexpr):
        """Per row (axis 1) of per-lane (maximum, position) tiles: the max and the position of its first occurrence.

        KEY_BITS 32: values that came from 16-bit floats have six zero low bits in float32, which then hold
        63 - position, and one int32 max does the whole reduction (H*W <= 64). KEY_BITS 64: the same with an int64
        key, for any float32. KEY_BITS 0: a (value, position) reduction.
        """
        bits = tl.where(maximum != maximum, 0x7FC00000, maximum.to(tl.int32, bitcast=True))
        if KEY_BITS == 32:
            key = tl.max((sortable(bits) & -64) | (63 - argmax), axis=1)
            maxima = sortable(tl.where(key < 0, key | 63, key & -64)).to(tl.float32, bitcast=True)
            argmaxes = 63 - (key & 63)
        elif KEY_BITS == 64:
            key = tl.max((sortable(bits).to(tl.int64) << 32) | (63 - argmax).to(tl.int64), axis=1)
            maxima = sortable((key >> 32).to(tl.int32)).to(tl.float32, bitcast=True)
            argmaxes = 63 - (key & 63).to(tl.int32)
        else:
            maxima, argmaxes = tl.reduce((maximum, argmax), 1, first_max_pair)
        return maxima, argmaxes

    @triton.jit
    def short_forward_kernel(x_pointer, out_pointer, argmax_pointer, n_rows, channels,
                             out_image_stride, mean_column, inverse_size,
                             MAP_SIZE: tl.constexpr, BLOCK_ROWS: tl.constexpr, BLOCK_COLS: tl.constexpr,
                             MEAN: tl.constexpr, MAX: tl.constexpr, KEEP_ARGMAX: tl.constexpr,
                             EVEN_ROWS: tl.constexpr, KEY_BITS: tl.constexpr):  # fmt: skip
        """NCHW forward of short maps: BLOCK_ROWS rows per program, H*W in BLOCK_COLS steps unrolled when compiled."""
        rows = tl.program_id(0) * BLOCK_ROWS + tl.arange(0, BLOCK_ROWS)
        row_mask = rows < n_rows
        cols = tl.arange(0, BLOCK_COLS)
        starts = x_pointer + rows[:, None] * MAP_SIZE
        total, maximum, argmax = running_tiles(BLOCK_ROWS, BLOCK_COLS)
        for step in tl.static_range(0, MAP_SIZE, BLOCK_COLS):
            positions = step + cols
            mask = (positions < MAP_SIZE)[None, :] & row_mask[:, None]  # (unused, compiled away, on full steps)
            full = step + BLOCK_COLS <= MAP_SIZE and EVEN_ROWS  # a full step: no mask at all
            values, masked_values = load_tile(starts + positions[None, :], mask, full)
            total, maximum, argmax = fold(
                total, maximum, argmax, values, masked_values, positions[None, :], MEAN, MAX, KEEP_ARGMAX
            )
        sums = tl.sum(total, axis=1)
        maxima = sums  # (not stored unless MAX)
        argmaxes = rows  # (not stored unless KEEP_ARGMAX)
        if KEEP_ARGMAX:
            maxima, argmaxes = first_argmax(maximum, argmax, KEY_BITS)
        elif MAX:
            maxima = tl.reduce(maximum, 1, nan_max)
        image, channel = image_and_channel(rows, channels)
        store_pooled(out_pointer, argmax_pointer, rows, image, channel, row_mask, sums, maxima, argmaxes,
                     out_image_stride, mean_column, inverse_size, MEAN, MAX, KEEP_ARGMAX)  # fmt: skip

    @triton.jit
    def window_forward_kernel(x_pointer, out_pointer, n_rows, channels, out_image_stride, mean_column, inverse_size,
                              n_values, MAP_SIZE: tl.constexpr, VECTOR: tl.constexpr, WINDOW: tl.constexpr,
                              BLOCK_WINDOW: tl.constexpr, BLOCK_ROWS: tl.constexpr,
                              MEAN: tl.constexpr, MAX: tl.constexpr):  # fmt: skip
        """NCHW forward of short maps, no argmax: each row read through its window of whole 16-byte vectors.

        A row of MAP_SIZE values starts anywhere, but the VECTOR-aligned window around it can be loaded in wide,
        aligned vectors; the values of the neighbouring rows it also holds are masked out. WINDOW values (whole
        vectors) cover a row wherever it starts in a vector.
        """
        rows = tl.program_id(0) * BLOCK_ROWS + tl.arange(0, BLOCK_ROWS)
        row_mask = rows < n_rows
        starts = rows * MAP_SIZE
        window_starts = starts // VECTOR * VECTOR
        offsets = tl.arange(0, BLOCK_WINDOW)
        where = window_starts[:, None] + offsets[None, :]
        values = tl.load(
            x_pointer + where,
            mask=(offsets < WINDOW)[None, :] & (where < n_values),
            other=0.0,
            eviction_policy="evict_first",
        ).to(tl.float32)
        positions = where - starts[:, None]
        inside = (positions >= 0) & (positions < MAP_SIZE)
        sums = tl.sum(tl.where(inside, values, 0.0), axis=1)
        maxima = sums  # (not stored unless MAX)
        if MAX:
            maxima = tl.reduce(tl.where(inside, values, float("-inf")), 1, nan_max)
        image, channel = image_and_channel(rows, channels)
        store_pooled(out_pointer, None, rows, image, channel, row_mask, sums, maxima, rows,
                     out_image_stride, mean_column, inverse_size, MEAN, MAX, KEEP_ARGMAX=False)  # fmt: skip

    @triton.jit
    def halves(words, FLOAT16: tl.constexpr):
        """The two 16-bit floats of int32 words as float32: (low half, high half)."""
        if FLOAT16:
            low = (words & 0xFFFF).to(tl.int16).to(tl.float16, bitcast=True).to(tl.float32)
            high = (words >> 16).to(tl.int16).to(tl.float16, bitcast=True).to(tl.float32)
        else:  # bfloat16 is the top half of a float32
            low = (words << 16).to(tl.float32, bitcast=True)
            high = (words & -65536).to(tl.float32, bitcast=True)
        return low, high

    @triton.jit
    def fold_pair_words(word_pointer, pairs, pair_mask, cols, FIRST: tl.constexpr, STOP: tl.constexpr,
                        SHIFT: tl.constexpr, MAP_SIZE: tl.constexpr, BLOCK_ROWS: tl.constexpr,
                        BLOCK_COLS: tl.constexpr, EVEN: tl.constexpr, FLOAT16: tl.constexpr,
                        MEAN: tl.constexpr, MAX: tl.constexpr, KEEP_ARGMAX: tl.constexpr):  # fmt: skip
        """Fold words FIRST..STOP-1 of each pair, all in one row (word q: positions 2q - SHIFT, 2q + 1 - SHIFT)."""
        total, maximum, argmax = running_tiles(BLOCK_ROWS, BLOCK_COLS)
        starts = word_pointer + pairs[:, None] * MAP_SIZE
        for step in tl.static_range(FIRST, STOP, BLOCK_COLS):
            words = step + cols
            mask = (words < STOP)[None, :] & pair_mask[:, None]  # unused (and compiled away) on full steps
            if step + BLOCK_COLS <= STOP and EVEN:
                low, high = halves(tl.load(starts + words[None, :], eviction_policy="evict_first"), FLOAT16)
            else:
                low, high = halves(
                    tl.load(starts + words[None, :], mask=mask, other=0, eviction_policy="evict_first"), FLOAT16
                )
            positions = 2 * words[None, :] - SHIFT
            pair_max = low
            if MAX:
                if KEEP_ARGMAX or not MEAN:  # (max alone: this form measured ~3 points faster on an H100 than nan_max)
                    take_low = (low >= high) | (low != low)  # the first maximum of the two (NaN first)
                    pair_max = tl.where(take_low, low, high)
                    positions = tl.where(take_low, positions, positions + 1)
                else:
                    pair_max = nan_max(low, high)
                if not (step + BLOCK_COLS <= STOP and EVEN):
                    pair_max = tl.where(mask, pair_max, float("-inf"))
            total, maximum, argmax = fold(
                total, maximum, argmax, low + high, pair_max, positions, MEAN, MAX, KEEP_ARGMAX
            )
        return total, maximum, argmax

    @triton.jit
    def pair_result(total, maximum, argmax, shared_sum, shared_max, shared_position,
                    MEAN: tl.constexpr, MAX: tl.constexpr, KEEP_ARGMAX: tl.constexpr):  # fmt: skip
        """Reduce one row's tiles and merge in the value of the word it shares with the other row of its pair."""
        sums = tl.sum(total, axis=1) + shared_sum
        maxima = sums  # (not stored unless MAX)
        argmaxes = shared_position  # (not stored unless KEEP_ARGMAX)
        if KEEP_ARGMAX:
            maxima, argmaxes = first_argmax(maximum, argmax, 32)
            maxima, argmaxes = first_max_pair(maxima, argmaxes, shared_max, shared_position)
        elif MAX:
            maxima = nan_max(tl.reduce(maximum, 1, nan_max), shared_max)
        return sums, maxima, argmaxes

    @triton.jit
    def pairs_forward_kernel(word_pointer, out_pointer, argmax_pointer, n_rows, channels,
                             out_image_stride, mean_column, inverse_size,
                             MAP_SIZE: tl.constexpr, BLOCK_ROWS: tl.constexpr, BLOCK_COLS: tl.constexpr,
                             MEAN: tl.constexpr, MAX: tl.constexpr, KEEP_ARGMAX: tl.constexpr,
                             EVEN: tl.constexpr, FLOAT16: tl.constexpr):  # fmt: skip
        """NCHW forward of short 16-bit maps read as int32 words: BLOCK_ROWS row pairs (2 rows = MAP_SIZE words) each.

        Words 0 .. MAP_SIZE//2 - 1 of a pair hold its first row A; for odd MAP_SIZE, word MAP_SIZE//2 holds A's last
        value and the second row B's first; the rest hold row B.
        """
        HALF: tl.constexpr = MAP_SIZE // 2
        ODD: tl.constexpr = MAP_SIZE % 2
        pairs = tl.program_id(0) * BLOCK_ROWS + tl.arange(0, BLOCK_ROWS)
        pair_mask = 2 * pairs < n_rows
        cols = tl.arange(0, BLOCK_COLS)
        total_a, maximum_a, argmax_a = fold_pair_words(word_pointer, pairs, pair_mask, cols, FIRST=0, STOP=HALF,
                                                       SHIFT=0, MAP_SIZE=MAP_SIZE, BLOCK_ROWS=BLOCK_ROWS,
                                                       BLOCK_COLS=BLOCK_COLS, EVEN=EVEN, FLOAT16=FLOAT16,
                                                       MEAN=MEAN, MAX=MAX, KEEP_ARGMAX=KEEP_ARGMAX)  # fmt: skip
        total_b, maximum_b, argmax_b = fold_pair_words(word_pointer, pairs, pair_mask, cols, FIRST=HALF + ODD,
                                                       STOP=MAP_SIZE, SHIFT=MAP_SIZE, MAP_SIZE=MAP_SIZE,
                                                       BLOCK_ROWS=BLOCK_ROWS, BLOCK_COLS=BLOCK_COLS, EVEN=EVEN,
                                                       FLOAT16=FLOAT16, MEAN=MEAN, MAX=MAX,
                                                       KEEP_ARGMAX=KEEP_ARGMAX)  # fmt: skip
        if ODD:  # the shared word: A's last value (position MAP_SIZE - 1) and B's first (position 0)
            word = tl.load(
                word_pointer + pairs * MAP_SIZE + HALF, mask=pair_mask, other=0, eviction_policy="evict_first"
            )
            low, high = halves(word, FLOAT16)
            max_low = low
            max_high = high
        else:
            low = tl.zeros((BLOCK_ROWS,), dtype=tl.float32)
            high = low
            max_low = tl.full((BLOCK_ROWS,), float("-inf"), dtype=tl.float32)
            max_high = max_low
        last = tl.full((BLOCK_ROWS,), MAP_SIZE - 1, dtype=tl.int32)
        sums_a, maxima_a, argmaxes_a = pair_result(total_a, maximum_a, argmax_a, low, max_low, last,
                                                   MEAN, MAX, KEEP_ARGMAX)  # fmt: skip
        first = tl.zeros((BLOCK_ROWS,), dtype=tl.int32)
        sums_b, maxima_b, argmaxes_b = pair_result(total_b, maximum_b, argmax_b, high, max_high, first,
                                                   MEAN, MAX, KEEP_ARGMAX)  # fmt: skip
        image, channel = image_and_channel(2 * pairs, channels)
        store_pooled(out_pointer, argmax_pointer, 2 * pairs, image, channel, pair_mask, sums_a, maxima_a, argmaxes_a,
                     out_image_stride, mean_column, inverse_size, MEAN, MAX, KEEP_ARGMAX)  # fmt: skip
        image, channel = image_and_channel(2 * pairs + 1, channels)
        store_pooled(out_pointer, argmax_pointer, 2 * pairs + 1, image, channel, pair_mask, sums_b, maxima_b,
                     argmaxes_b, out_image_stride, mean_column, inverse_size, MEAN, MAX, KEEP_ARGMAX)  # fmt: skip

    @triton.jit
    def bits16(values, dtype: tl.constexpr):
        """float32 values rounded to the 16-bit float `dtype`, as their bits in the low half of an int32."""
        return values.to(dtype).to(tl.int16, bitcast=True).to(tl.int32) & 0xFFFF

    @triton.jit
    def short_backward_kernel(grad_pointer, argmax_pointer, grad_x_pointer, n_rows, channels, n_values,
                              grad_image_stride, grad_column_stride, mean_column, inverse_size,
                              MAP_SIZE: tl.constexpr, ROWS: tl.constexpr, BLOCK: tl.constexpr,
                              MEAN: tl.constexpr, MAX: tl.constexpr, PACKED: tl.constexpr):  # fmt: skip
        """NCHW backward of short maps: ROWS whole rows = one contiguous chunk per program.

        One aligned, vectorised store writes the whole chunk. Not PACKED: its base values (0, or the mean's gradient
        spread over each row with `tl.gather`), then, after a barrier, one store per map adds the max's gradient at
        its argmax. PACKED (16-bit gradients): each row's argmax and final 16-bit values travel packed in one
        integer, so one gather gives every position its value and no second store is needed.
        """
        CHUNK: tl.constexpr = ROWS * MAP_SIZE
        program = tl.program_id(0)
        local_rows = tl.arange(0, ROWS)
        rows = program * ROWS + local_rows
        row_mask = rows < n_rows
        image, channel = image_and_channel(rows, channels)
        max_gradient, argmax, mean_gradient = load_gradients(grad_pointer, argmax_pointer, rows, image, channel,
                                                             row_mask, grad_image_stride, grad_column_stride,
                                                             mean_column, inverse_size, MEAN, MAX)  # fmt: skip
        flat = tl.arange(0, BLOCK)
        where = program * CHUNK + flat
        flat_mask = (flat < CHUNK) & (where < n_values)
        row_of = tl.minimum(flat // MAP_SIZE, ROWS - 1)
        DTYPE: tl.constexpr = grad_x_pointer.dtype.element_ty
        if PACKED and MAX:  # (argmax, value there[, value elsewhere]) of each row, gathered at once
            if not MEAN:
                key = tl.gather((argmax << 16) | bits16(max_gradient, DTYPE), row_of, 0)
                hit = (flat - row_of * MAP_SIZE) == (key >> 16)
                bits = tl.where(hit, key & 0xFFFF, 0)
            else:
                key = (
                    (argmax.to(tl.int64) << 32)
                    | (bits16(max_gradient + mean_gradient, DTYPE).to(tl.int64) << 16)
                    | bits16(mean_gradient, DTYPE)
                )
                key = tl.gather(key, row_of, 0)
                hit = (flat - row_of * MAP_SIZE) == (key >> 32).to(tl.int32)
                bits = tl.where(hit, (key >> 16).to(tl.int32), key.to(tl.int32)) & 0xFFFF
            tl.store(grad_x_pointer + where, bits.to(tl.int16).to(DTYPE, bitcast=True), mask=flat_mask)
        else:
            if MEAN:
                values = tl.gather(mean_gradient, row_of, 0)
            else:
                values = tl.zeros((BLOCK,), dtype=tl.float32)
            tl.store(grad_x_pointer + where, values.to(DTYPE), mask=flat_mask)
            if MAX:
                tl.debug_barrier()  # the chunk's base values are written before the argmax values overwrite theirs
                tl.store(
                    grad_x_pointer + program * CHUNK + local_rows * MAP_SIZE + argmax,
                    (max_gradient + mean_gradient).to(DTYPE),
                    mask=row_mask,
                )


def forward(x: torch.Tensor, out: torch.Tensor, op: str, keep_argmax: bool) -> torch.Tensor | None:
    """Pool NCHW maps of at most 64 values into `out`; return each map's argmax (uint8) if asked for."""
    n_images, channels, height, width = x.shape
    size, n_rows, value_bytes = height * width, n_images * channels, x.element_size()
    # a position below 64 fits a byte: a quarter of the int32 traffic for the backward to read
    argmax = torch.empty(n_rows, device=x.device, dtype=torch.uint8) if keep_argmax else None
    pooled = (n_rows, channels, out.shape[1], *mean_arguments(op, channels, size))
    vector = 16 // value_bytes
    window = None if keep_argmax else tuning.launch_record("window_forward", x, op)
    pairs = tuning.launch_record("pairs_forward", x, op, keep_argmax) if value_bytes == 2 else None
    if window is not None and x.storage_offset() % vector == 0:  # wide aligned loads
        width_needed = (size + 2 * vector - 2) // vector * vector
        window_forward_kernel[(ceil_div(n_rows, window.rows),)](
            x, out, *pooled, n_rows * size, MAP_SIZE=size, VECTOR=vector, WINDOW=width_needed,
            BLOCK_WINDOW=next_power_of_two(width_needed), BLOCK_ROWS=window.rows, **op_flags(op),
            num_warps=window.warps,
        )  # fmt: skip
    elif pairs is not None and n_rows % 2 == 0 and x.storage_offset() % 2 == 0:
        pairs_forward_kernel[(ceil_div(n_rows // 2, pairs.rows),)](
            x.view(-1).view(torch.int32), out, argmax, *pooled, MAP_SIZE=size, BLOCK_ROWS=pairs.rows,
            BLOCK_COLS=pairs.cols, **op_flags(op), KEEP_ARGMAX=keep_argmax, EVEN=(n_rows // 2) % pairs.rows == 0,
            FLOAT16=x.dtype == torch.float16, num_warps=pairs.warps,
        )  # fmt: skip
    else:
        record = tuning.launch_record("short_forward", x, op, keep_argmax)
        short_forward_kernel[(ceil_div(n_rows, record.rows),)](
            x, out, argmax, *pooled, MAP_SIZE=size, BLOCK_ROWS=record.rows, BLOCK_COLS=record.cols, **op_flags(op),
            KEEP_ARGMAX=keep_argmax, EVEN_ROWS=n_rows % record.rows == 0,
            KEY_BITS=_key_bits(record, value_bytes) if keep_argmax else 0, num_warps=record.warps,
        )  # fmt: skip
    return argmax


def _key_bits(record: tuning.BlockConfig, value_bytes: int) -> int:
    """How `first_argmax` finds the first maximum: 0 (value, position) pairs, else a packed key of 32 or 64 bits."""
    if record.argmax_method == "reduce":
        return 0
    return 32 if value_bytes == 2 and record.argmax_method in ("auto", "key32") else 64  # int32 keys: 16-bit values


def backward_supported(op: str) -> bool:
    """True when this Triton has what the short-map backward needs (`tl.gather`; max pooling alone needs none)."""
    return HAS_GATHER or op == "gmp"


def backward(grad: torch.Tensor, argmax: torch.Tensor | None, grad_x: torch.Tensor, op: str) -> None:
    """Write the input gradient `grad_x` of short NCHW maps, whole rows per program in aligned flat chunks."""
    n_images, channels, height, width = grad_x.shape
    size, n_rows = height * width, n_images * channels
    record = tuning.launch_record("short_backward", grad_x, op)
    short_backward_kernel[(ceil_div(n_rows, record.rows),)](
        grad, argmax, grad_x, n_rows, channels, n_rows * size, *grad.stride(), *mean_arguments(op, channels, size),
        MAP_SIZE=size, ROWS=record.rows, BLOCK=next_power_of_two(record.rows * size), **op_flags(op),
        PACKED=record.packed and grad_x.element_size() == 2, num_warps=record.warps,
    )  # fmt: skip
