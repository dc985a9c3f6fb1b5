"""Triton GPU kernels for global average, max and concat pooling, built to run at memory speed.

Global pooling reads every activation once and does about one operation per value, so its speed
limit is memory bandwidth, not arithmetic. These kernels read `x` in one pass (accumulating in
float32) and write each gradient in one pass, for `(N, C, H, W)` tensors in NCHW or channels_last
layout and float32, float16 or bfloat16. `gaplib.pool` calls them on CUDA tensors when `available`
says yes; everywhere else it uses PyTorch.

Two layouts, two kernels:
- NCHW: each `(n, c)` map is a contiguous row of `H * W` values; a program reduces a tile of rows.
  Short maps (H*W <= 64, e.g. the 7 x 7 maps of a ResNet's last block) have kernels of their own: the forward
  unrolls H*W at compile time and reads 16-bit values two at a time as int32 words (without argmax: each row
  through the aligned window of 16-byte vectors around it, neighbours' values masked); the backward writes whole
  rows as one aligned flat chunk (16-bit: each row's values and argmax packed in one gathered integer; float32:
  the argmax values go on top afterwards).
- channels_last: each image is an `(H * W, C)` matrix; a program reduces a strip of channels over H x W.
  For short maps whose argmax is not needed, PyTorch's own reductions measured faster and are used instead.
When too few programs would fill the GPU (few long maps), H x W is split across programs; each stores float32
partial results, and the last program of each group to finish (counted with an atomic) combines them.

Max pooling keeps, for the backward pass, the index of the first maximum of each map in row-major
`(h, w)` order, so its gradient goes to one position, as in `nn.AdaptiveMaxPool2d` (fastai's
`AdaptiveConcatPool2d`); `x.amax((2, 3))` instead splits the gradient evenly among tied maxima.
A map that contains NaN pools to NaN (its max gradient then goes to an unspecified position). Block shapes come
from `_TUNED`, measured per shape class on an H100 by `benchmarks/bench_gpu_pool.py --sweep` / `--variants`.
The module imports on machines without Triton or a GPU; `available` is then False.
Set `GAPLIB_KERNELS=0` to switch the kernels off.
"""

from __future__ import annotations

import functools
import os

import torch
from torch.autograd.function import once_differentiable

try:  # Triton is optional: CPU-only installs may not have it, and importing it must never break gaplib
    import triton
    import triton.language as tl
except Exception:  # noqa: BLE001
    triton = None
    tl = None

__all__ = ["available", "gap", "gmp", "concat_pool"]
_HAS_GATHER = tl is not None and hasattr(tl, "gather")  # tl.gather (Triton >= 3.2) drives the short-map kernels

_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
_AVG, _MAX, _CAT = 0, 1, 2
_NAMES = {_AVG: "gap", _MAX: "gmp", _CAT: "concat_pool"}


def _interpreting() -> bool:
    """True under Triton's CPU interpreter (`TRITON_INTERPRET=1`), which the CPU tests use."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def available(x: torch.Tensor) -> bool:
    """True when gaplib's Triton kernels can pool `x` (a 4-D float CUDA tensor, Triton present)."""
    if triton is None or os.environ.get("GAPLIB_KERNELS", "1").strip() == "0":
        return False
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.dtype not in _DTYPES:
        return False
    if x.numel() == 0 or x.numel() >= 2**31:
        return False
    if x.is_cuda:
        major, _ = torch.cuda.get_device_capability(x.device)
        return major >= 8 or (major == 7 and x.dtype != torch.bfloat16)
    return x.device.type == "cpu" and _interpreting()


@functools.cache
def _sm_count(index: int) -> int:
    """Number of multiprocessors of CUDA device `index`."""
    return torch.cuda.get_device_properties(index).multi_processor_count


def _n_sms(x: torch.Tensor) -> int:
    """Multiprocessors available to `x` (a small number on the CPU interpreter)."""
    return _sm_count(x.device.index if x.device.index is not None else torch.cuda.current_device()) if x.is_cuda else 4


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


def _pow2(n: int) -> int:
    """Smallest power of two >= n."""
    return 1 << max(0, (int(n) - 1).bit_length())


def _cdiv(a: int, b: int) -> int:
    """Ceiling of a / b."""
    return -(-a // b)


# --------------------------------------------------------------------------------------------------
# Triton kernels (defined only when Triton imports)
# --------------------------------------------------------------------------------------------------
if triton is not None:

    @triton.jit
    def _nanmax(a, b):
        """Maximum that propagates NaN."""
        return tl.maximum(a, b, propagate_nan=tl.PropagateNan.ALL)

    @triton.jit
    def _argmax_first(v1, i1, v2, i2):
        """Combine (value, index) pairs: larger value wins, NaN beats numbers, ties go to the smaller index."""
        nan1 = v1 != v1
        nan2 = v2 != v2
        same = (v1 == v2) | (nan1 & nan2)
        pick1 = (v1 > v2) | (nan1 & ~nan2) | (same & (i1 < i2))
        return tl.where(pick1, v1, v2), tl.where(pick1, i1, i2)

    @triton.jit
    def _store_result(out_ptr, idx_ptr, psum_ptr, pmax_ptr, pidx_ptr, r, n, c, mask, s, m, bi, sid, R,
                      out_sn, avg_off, inv_l, MODE: tl.constexpr, WITH_IDX: tl.constexpr, PARTIAL: tl.constexpr):
        """Write a program's per-map results: final outputs, or float32 partials when H x W is split."""
        if PARTIAL:
            p = sid * R + r
            if MODE != 1:
                tl.store(psum_ptr + p, s, mask=mask)
            if MODE != 0:
                tl.store(pmax_ptr + p, m, mask=mask)
                if WITH_IDX:
                    tl.store(pidx_ptr + p, bi, mask=mask)
        else:
            o = n * out_sn + c
            if MODE != 0:
                tl.store(out_ptr + o, m.to(out_ptr.dtype.element_ty), mask=mask)
                if WITH_IDX:
                    tl.store(idx_ptr + r, bi.to(idx_ptr.dtype.element_ty), mask=mask)
            if MODE != 1:
                tl.store(out_ptr + o + avg_off, (s * inv_l).to(out_ptr.dtype.element_ty), mask=mask)

    @triton.jit
    def _track(acc, best, bidx, v, vm, pos, MODE: tl.constexpr, WITH_IDX: tl.constexpr):
        """Fold a tile of values into the running sum / max / index of the max (vm: v with -inf where masked)."""
        if MODE != 1:
            acc += v
        if MODE != 0:
            new = _nanmax(best, vm)
            if WITH_IDX:  # strictly larger (or the first NaN): remember where; ties keep the first
                bidx = tl.where(new != best, pos, bidx)
            best = new
        return acc, best, bidx

    @triton.jit
    def _rows_fwd_kernel(x_ptr, out_ptr, idx_ptr, psum_ptr, pmax_ptr, pidx_ptr, cnt_ptr, n_split, R, C, L, l_span,
                         out_sn, avg_off, inv_l, MODE: tl.constexpr, WITH_IDX: tl.constexpr, PARTIAL: tl.constexpr,
                         BLOCK_R: tl.constexpr, BLOCK_L: tl.constexpr, STAGES: tl.constexpr, EVEN: tl.constexpr):
        """NCHW forward: each program reduces BLOCK_R contiguous rows of L values (one span of them if split)."""
        pid = tl.program_id(0)
        sid = tl.program_id(1)
        r = pid * BLOCK_R + tl.arange(0, BLOCK_R)
        rmask = r < R
        cols = tl.arange(0, BLOCK_L)
        base = x_ptr + r[:, None] * L
        if PARTIAL:
            cols += sid * l_span
            l_stop = l_span
        else:
            l_stop = L
        acc = tl.zeros((BLOCK_R, BLOCK_L), dtype=tl.float32)
        best = tl.full((BLOCK_R, BLOCK_L), float("-inf"), dtype=tl.float32)
        bidx = tl.zeros((BLOCK_R, BLOCK_L), dtype=tl.int32)
        for l0 in tl.range(0, l_stop, BLOCK_L, num_stages=STAGES):  # STAGES > 1: loads prefetched (cp.async)
            ll = l0 + cols
            if EVEN:  # every tile is full: no masks
                v = tl.load(base + ll[None, :], eviction_policy="evict_first").to(tl.float32)
                vm = v
            else:
                mask = rmask[:, None] & (ll < L)[None, :]
                v = tl.load(base + ll[None, :], mask=mask, other=0.0, eviction_policy="evict_first").to(tl.float32)
                vm = tl.where(mask, v, float("-inf"))
            acc, best, bidx = _track(acc, best, bidx, v, vm, ll[None, :], MODE, WITH_IDX)
        s = tl.sum(acc, axis=1)
        if WITH_IDX:
            m, bi = tl.reduce((best, bidx), 1, _argmax_first)
        else:
            m = tl.reduce(best, 1, _nanmax)
            bi = r
        n = r // C
        c = r - n * C
        _store_result(out_ptr, idx_ptr, psum_ptr, pmax_ptr, pidx_ptr, r, n, c, rmask, s, m, bi, sid, R,
                      out_sn, avg_off, inv_l, MODE, WITH_IDX, PARTIAL)
        if PARTIAL:
            _finish_split(out_ptr, idx_ptr, psum_ptr, pmax_ptr, pidx_ptr, cnt_ptr, pid, n_split, r, n, c, rmask, R,
                          out_sn, avg_off, inv_l, MODE, WITH_IDX)

    @triton.jit
    def _cl_fwd_kernel(x_ptr, out_ptr, idx_ptr, psum_ptr, pmax_ptr, pidx_ptr, cnt_ptr, n_split, R, C, L, l_span,
                       n_cblocks, out_sn, avg_off, inv_l, MODE: tl.constexpr, WITH_IDX: tl.constexpr,
                       PARTIAL: tl.constexpr, BLOCK_L: tl.constexpr, BLOCK_C: tl.constexpr, STAGES: tl.constexpr,
                       EVEN: tl.constexpr):
        """channels_last forward: each program reduces a (H*W, BLOCK_C) strip of one image over H*W."""
        pid = tl.program_id(0)
        sid = tl.program_id(1)
        n = pid // n_cblocks
        c = (pid - n * n_cblocks) * BLOCK_C + tl.arange(0, BLOCK_C)
        cmask = c < C
        rows = tl.arange(0, BLOCK_L)
        base = x_ptr + n * L * C + c[None, :]
        if PARTIAL:
            rows += sid * l_span
            l_stop = l_span
        else:
            l_stop = L
        acc = tl.zeros((BLOCK_L, BLOCK_C), dtype=tl.float32)
        best = tl.full((BLOCK_L, BLOCK_C), float("-inf"), dtype=tl.float32)
        bidx = tl.zeros((BLOCK_L, BLOCK_C), dtype=tl.int32)
        for l0 in tl.range(0, l_stop, BLOCK_L, num_stages=STAGES):  # STAGES > 1: loads prefetched (cp.async)
            ll = l0 + rows
            if EVEN:  # every tile is full: no masks
                v = tl.load(base + ll[:, None] * C, eviction_policy="evict_first").to(tl.float32)
                vm = v
            else:
                mask = (ll < L)[:, None] & cmask[None, :]
                v = tl.load(base + ll[:, None] * C, mask=mask, other=0.0, eviction_policy="evict_first").to(tl.float32)
                vm = tl.where(mask, v, float("-inf"))
            acc, best, bidx = _track(acc, best, bidx, v, vm, ll[:, None], MODE, WITH_IDX)
        s = tl.sum(acc, axis=0)
        if WITH_IDX:
            m, bi = tl.reduce((best, bidx), 0, _argmax_first)
        else:
            m = tl.reduce(best, 0, _nanmax)
            bi = c
        _store_result(out_ptr, idx_ptr, psum_ptr, pmax_ptr, pidx_ptr, n * C + c, n, c, cmask, s, m, bi, sid, R,
                      out_sn, avg_off, inv_l, MODE, WITH_IDX, PARTIAL)
        if PARTIAL:
            _finish_split(out_ptr, idx_ptr, psum_ptr, pmax_ptr, pidx_ptr, cnt_ptr, pid, n_split, n * C + c, n, c, cmask,
                          R, out_sn, avg_off, inv_l, MODE, WITH_IDX)

    @triton.jit
    def _combine(psum_ptr, pmax_ptr, pidx_ptr, r, mask, R, n_split, MODE: tl.constexpr, WITH_IDX: tl.constexpr):
        """Combine the float32 partials of rows `r` of a split reduction, in span order (so the first maximum wins)."""
        s = tl.zeros(r.shape, dtype=tl.float32)
        m = tl.full(r.shape, float("-inf"), dtype=tl.float32)
        bi = tl.zeros(r.shape, dtype=tl.int32)
        for k in range(0, n_split):  # .cg: read from L2, where the other programs' partials are
            if MODE != 1:
                s += tl.load(psum_ptr + k * R + r, mask=mask, other=0.0, cache_modifier=".cg")
            if MODE != 0:
                v = tl.load(pmax_ptr + k * R + r, mask=mask, other=float("-inf"), cache_modifier=".cg")
                if WITH_IDX:  # an earlier span wins ties: its positions are smaller
                    m, bi = _argmax_first(m, bi, v, tl.load(pidx_ptr + k * R + r, mask=mask, other=0,
                                                            cache_modifier=".cg"))
                else:
                    m = _nanmax(m, v)
        return s, m, bi

    @triton.jit
    def _finish_split(out_ptr, idx_ptr, psum_ptr, pmax_ptr, pidx_ptr, cnt_ptr, group, n_split, r, n, c, mask, R,
                      out_sn, avg_off, inv_l, MODE: tl.constexpr, WITH_IDX: tl.constexpr):
        """After a program stored its partials: the last of the group's n_split programs writes the results.

        Each program counts itself done on the group's counter (an atomic with acquire-release order, after a
        barrier, so every thread's partials are visible first); the one that sees n_split - 1 combines them and
        sets the counter back to 0 for the next launch. This saves the launch of a second kernel.
        """
        tl.debug_barrier()
        done = tl.atomic_add(cnt_ptr + group, 1, sem="acq_rel", scope="gpu")
        if done == n_split - 1:
            s, m, bi = _combine(psum_ptr, pmax_ptr, pidx_ptr, r, mask, R, n_split, MODE, WITH_IDX)
            _store_result(out_ptr, idx_ptr, psum_ptr, pmax_ptr, pidx_ptr, r, n, c, mask, s, m, bi, 0, R,
                          out_sn, avg_off, inv_l, MODE, WITH_IDX, False)
            tl.atomic_xchg(cnt_ptr + group, 0)

    @triton.jit
    def _grad_values(g_ptr, idx_ptr, r, n, c, mask, C, gs0, gs1, inv_l, MODE: tl.constexpr):
        """Per-map gradient pieces: (gradient of the max, its index, gradient of the mean / (H*W))."""
        if MODE == 0:
            gm = tl.zeros(r.shape, dtype=tl.float32)
            bi = tl.full(r.shape, -1, dtype=tl.int32)
        else:
            gm = tl.load(g_ptr + n * gs0 + c * gs1, mask=mask, other=0.0).to(tl.float32)
            bi = tl.load(idx_ptr + r, mask=mask, other=0).to(tl.int32)  # masked rows are never written
        if MODE == 0:
            ga = tl.load(g_ptr + n * gs0 + c * gs1, mask=mask, other=0.0).to(tl.float32) * inv_l
        elif MODE == 2:
            ga = tl.load(g_ptr + n * gs0 + (C + c) * gs1, mask=mask, other=0.0).to(tl.float32) * inv_l
        else:
            ga = tl.zeros(r.shape, dtype=tl.float32)
        return gm, bi, ga

    @triton.jit
    def _rows_bwd_kernel(g_ptr, idx_ptr, gx_ptr, R, C, L, gs0, gs1, inv_l, MODE: tl.constexpr,
                         BLOCK_R: tl.constexpr, BLOCK_L: tl.constexpr):
        """NCHW backward: write a (BLOCK_R, BLOCK_L) tile of the input gradient in one pass."""
        r = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
        ll = tl.program_id(1) * BLOCK_L + tl.arange(0, BLOCK_L)
        rmask = r < R
        n = r // C
        c = r - n * C
        gm, bi, ga = _grad_values(g_ptr, idx_ptr, r, n, c, rmask, C, gs0, gs1, inv_l, MODE)
        if MODE == 0:
            val = tl.broadcast_to(ga[:, None], (BLOCK_R, BLOCK_L))
        elif MODE == 1:
            val = tl.where(ll[None, :] == bi[:, None], gm[:, None], 0.0)
        else:
            val = tl.where(ll[None, :] == bi[:, None], gm[:, None], 0.0) + ga[:, None]
        mask = rmask[:, None] & (ll < L)[None, :]
        tl.store(gx_ptr + r[:, None] * L + ll[None, :], val.to(gx_ptr.dtype.element_ty), mask=mask)

    @triton.jit
    def _cl_bwd_kernel(g_ptr, idx_ptr, gx_ptr, C, L, n_cblocks, gs0, gs1, inv_l, MODE: tl.constexpr,
                       BLOCK_L: tl.constexpr, BLOCK_C: tl.constexpr):
        """channels_last backward: write a (BLOCK_L, BLOCK_C) tile of one image's gradient in one pass."""
        pid = tl.program_id(0)
        n = pid // n_cblocks
        c = (pid - n * n_cblocks) * BLOCK_C + tl.arange(0, BLOCK_C)
        ll = tl.program_id(1) * BLOCK_L + tl.arange(0, BLOCK_L)
        cmask = c < C
        gm, bi, ga = _grad_values(g_ptr, idx_ptr, n * C + c, n, c, cmask, C, gs0, gs1, inv_l, MODE)
        if MODE == 0:
            val = tl.broadcast_to(ga[None, :], (BLOCK_L, BLOCK_C))
        elif MODE == 1:
            val = tl.where(ll[:, None] == bi[None, :], gm[None, :], 0.0)
        else:
            val = tl.where(ll[:, None] == bi[None, :], gm[None, :], 0.0) + ga[None, :]
        mask = (ll < L)[:, None] & cmask[None, :]
        tl.store(gx_ptr + n * L * C + ll[:, None] * C + c[None, :], val.to(gx_ptr.dtype.element_ty), mask=mask)

    # ---- short NCHW maps (H*W <= 64): many rows of a few dozen values each -------------------------------------
    # Rows of H*W values rarely start on a 16-byte boundary (7 x 7 = 49), so a row's own loads cannot be vectorised;
    # what limits speed is then how many memory requests the loads make (the window kernel below sidesteps this
    # when no argmax is needed, by loading the aligned vectors around each row). The forward loads a
    # (BLOCK_R, BLOCK_L) tile per step, its loop unrolled at compile time (H*W is a constexpr), so no step but the
    # last needs a column mask.
    # 16-bit inputs are read as 32-bit words, one word = two values, rows taken in pairs (two rows of L values are
    # L words, so a pair starts on a word): half the requests. The argmax of 16-bit maps is reduced as one packed
    # int32 key (value bits, then 63 - index), so the cross-lane reduction is a plain integer max.
    @triton.jit
    def _sortable(b):
        """int32 bits of a float32 -> an int32 that orders like the floats (NaN with the sign bit clear: largest)."""
        return tl.where(b < 0, b ^ 0x7FFFFFFF, b)

    @triton.jit
    def _first_argmax(best, bidx, KEY: tl.constexpr):
        """Per row (axis 1) of per-lane (max, index) tiles: the max and the index of its first occurrence.

        KEY 1: values that came from 16-bit floats have six zero low bits in float32, which then hold 63 - index,
        and an int32 max does the whole reduction (L <= 64). KEY 2: the same with an int64 key, for any float32.
        KEY 0: a (value, index) reduction.
        """
        b = tl.where(best != best, 0x7FC00000, best.to(tl.int32, bitcast=True))
        if KEY == 1:
            kmax = tl.max((_sortable(b) & -64) | (63 - bidx), axis=1)
            m = _sortable(tl.where(kmax < 0, kmax | 63, kmax & -64)).to(tl.float32, bitcast=True)
            bi = 63 - (kmax & 63)
        elif KEY == 2:
            kmax = tl.max((_sortable(b).to(tl.int64) << 32) | (63 - bidx).to(tl.int64), axis=1)
            m = _sortable((kmax >> 32).to(tl.int32)).to(tl.float32, bitcast=True)
            bi = 63 - (kmax & 63).to(tl.int32)
        else:
            m, bi = tl.reduce((best, bidx), 1, _argmax_first)
        return m, bi

    @triton.jit
    def _short_fwd_kernel(x_ptr, out_ptr, idx_ptr, R, C, out_sn, avg_off, inv_l, L: tl.constexpr,
                          BLOCK_R: tl.constexpr, BLOCK_L: tl.constexpr, MODE: tl.constexpr, WITH_IDX: tl.constexpr,
                          EVEN_R: tl.constexpr, KEY: tl.constexpr):
        """NCHW forward of short maps: BLOCK_R rows per program, H*W in BLOCK_L-column steps unrolled when compiled."""
        r = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
        rmask = r < R
        cols = tl.arange(0, BLOCK_L)
        base = x_ptr + r[:, None] * L
        acc = tl.zeros((BLOCK_R, BLOCK_L), dtype=tl.float32)
        best = tl.full((BLOCK_R, BLOCK_L), float("-inf"), dtype=tl.float32)
        bidx = tl.zeros((BLOCK_R, BLOCK_L), dtype=tl.int32)
        for l0 in tl.static_range(0, L, BLOCK_L):
            ll = l0 + cols
            if l0 + BLOCK_L <= L and EVEN_R:  # a full step: no mask at all
                v = tl.load(base + ll[None, :], eviction_policy="evict_first").to(tl.float32)
                vm = v
            else:
                mask = (ll < L)[None, :] & rmask[:, None]
                v = tl.load(base + ll[None, :], mask=mask, other=0.0, eviction_policy="evict_first").to(tl.float32)
                vm = tl.where(mask, v, float("-inf"))
            acc, best, bidx = _track(acc, best, bidx, v, vm, ll[None, :], MODE, WITH_IDX)
        s = tl.sum(acc, axis=1)
        m = s
        bi = r
        if MODE != 0:
            if WITH_IDX:
                m, bi = _first_argmax(best, bidx, KEY)
            else:
                m = tl.reduce(best, 1, _nanmax)
        n = r // C
        _store_result(out_ptr, idx_ptr, out_ptr, out_ptr, idx_ptr, r, n, r - n * C, rmask, s, m, bi, 0, R,
                      out_sn, avg_off, inv_l, MODE, WITH_IDX, False)

    @triton.jit
    def _window_fwd_kernel(x_ptr, out_ptr, idx_ptr, R, C, out_sn, avg_off, inv_l, total, L: tl.constexpr,
                           VEC: tl.constexpr, WIN: tl.constexpr, BLOCK_W: tl.constexpr, BLOCK_R: tl.constexpr,
                           MODE: tl.constexpr):
        """NCHW forward of short maps, no argmax: each row read through its window of whole 16-byte vectors.

        A row of L values starts anywhere, but the VEC-aligned window around it can be loaded in wide, aligned
        vectors; the few values of the neighbouring rows it also holds are masked out (they come from the cache).
        WIN values (whole vectors) cover a row wherever it starts in a vector; idx_ptr is unused (no argmax).
        """
        r = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
        rmask = r < R
        start = r * L
        first = start // VEC * VEC
        j = tl.arange(0, BLOCK_W)
        o = first[:, None] + j[None, :]
        v = tl.load(x_ptr + o, mask=(j < WIN)[None, :] & (o < total), other=0.0,
                    eviction_policy="evict_first").to(tl.float32)
        pos = o - start[:, None]
        inside = (pos >= 0) & (pos < L)
        s = tl.sum(tl.where(inside, v, 0.0), axis=1)
        m = s
        if MODE != 0:
            m = tl.reduce(tl.where(inside, v, float("-inf")), 1, _nanmax)
        n = r // C
        _store_result(out_ptr, out_ptr, out_ptr, out_ptr, out_ptr, r, n, r - n * C, rmask, s, m, r, 0, R,
                      out_sn, avg_off, inv_l, MODE, False, False)

    @triton.jit
    def _halves(w, F16: tl.constexpr):
        """The two 16-bit floats of an int32 word as float32: (low half, high half)."""
        if F16:
            lo = (w & 0xFFFF).to(tl.int16).to(tl.float16, bitcast=True).to(tl.float32)
            hi = (w >> 16).to(tl.int16).to(tl.float16, bitcast=True).to(tl.float32)
        else:  # bfloat16 is the top half of a float32
            lo = (w << 16).to(tl.float32, bitcast=True)
            hi = (w & -65536).to(tl.float32, bitcast=True)
        return lo, hi

    @triton.jit
    def _pair_words(w_ptr, p, pmask, cols, acc, best, bidx, Q0: tl.constexpr, Q1: tl.constexpr, OFF: tl.constexpr,
                    L: tl.constexpr, BLOCK_W: tl.constexpr, EVEN: tl.constexpr, F16: tl.constexpr,
                    MODE: tl.constexpr, WITH_IDX: tl.constexpr):
        """Fold words Q0..Q1-1 of each row pair (both halves in one row, at index 2q - OFF, 2q + 1 - OFF)."""
        base = w_ptr + p[:, None] * L
        for q0 in tl.static_range(Q0, Q1, BLOCK_W):
            q = q0 + cols
            mask = (q < Q1)[None, :] & pmask[:, None]  # unused (and compiled away) on full steps
            if q0 + BLOCK_W <= Q1 and EVEN:
                lo, hi = _halves(tl.load(base + q[None, :], eviction_policy="evict_first"), F16)
            else:
                lo, hi = _halves(tl.load(base + q[None, :], mask=mask, other=0, eviction_policy="evict_first"), F16)
            pos = 2 * q[None, :] - OFF
            pm = lo
            if MODE != 0:
                if WITH_IDX or MODE == 1:  # (max alone: this form measured ~3 points faster on an H100 than _nanmax)
                    take_lo = (lo >= hi) | (lo != lo)  # the first maximum of the two (NaN first)
                    pm = tl.where(take_lo, lo, hi)
                    pos = tl.where(take_lo, pos, pos + 1)
                else:
                    pm = _nanmax(lo, hi)
                if not (q0 + BLOCK_W <= Q1 and EVEN):
                    pm = tl.where(mask, pm, float("-inf"))
            acc, best, bidx = _track(acc, best, bidx, lo + hi, pm, pos, MODE, WITH_IDX)
        return acc, best, bidx

    @triton.jit
    def _pair_result(acc, best, bidx, s1, m1, i1, MODE: tl.constexpr, WITH_IDX: tl.constexpr):
        """Reduce one row's tiles and merge the value (s1, m1 at index i1) of the word it shares with the other row."""
        s = tl.sum(acc, axis=1) + s1
        m = s
        bi = i1
        if MODE != 0:
            if WITH_IDX:
                m, bi = _first_argmax(best, bidx, 1)
                m, bi = _argmax_first(m, bi, m1, i1)
            else:
                m = _nanmax(tl.reduce(best, 1, _nanmax), m1)
        return s, m, bi

    @triton.jit
    def _pairs_fwd_kernel(w_ptr, out_ptr, idx_ptr, R, C, out_sn, avg_off, inv_l, L: tl.constexpr,
                          BLOCK_P: tl.constexpr, BLOCK_W: tl.constexpr, MODE: tl.constexpr, WITH_IDX: tl.constexpr,
                          EVEN: tl.constexpr, F16: tl.constexpr):
        """NCHW forward of short 16-bit maps read as int32 words: BLOCK_P row pairs (2 rows = L words) per program.

        Words 0 .. L//2 - 1 of a pair hold row A; for odd L, word L//2 holds A's last value and B's first; the rest
        hold row B.
        """
        HALF: tl.constexpr = L // 2
        ODD: tl.constexpr = L % 2
        p = tl.program_id(0) * BLOCK_P + tl.arange(0, BLOCK_P)
        pmask = 2 * p < R
        cols = tl.arange(0, BLOCK_W)
        zero = tl.zeros((BLOCK_P, BLOCK_W), dtype=tl.float32)
        ninf = tl.full((BLOCK_P, BLOCK_W), float("-inf"), dtype=tl.float32)
        izero = tl.zeros((BLOCK_P, BLOCK_W), dtype=tl.int32)
        acc_a, best_a, idx_a = _pair_words(w_ptr, p, pmask, cols, zero, ninf, izero, 0, HALF, 0, L, BLOCK_W, EVEN,
                                           F16, MODE, WITH_IDX)
        acc_b, best_b, idx_b = _pair_words(w_ptr, p, pmask, cols, zero, ninf, izero, HALF + ODD, L, L, L, BLOCK_W,
                                           EVEN, F16, MODE, WITH_IDX)
        if ODD:  # the shared word: A's last value (index L - 1) and B's first (index 0)
            lo, hi = _halves(tl.load(w_ptr + p * L + HALF, mask=pmask, other=0, eviction_policy="evict_first"), F16)
            mlo = lo
            mhi = hi
        else:
            lo = tl.zeros((BLOCK_P,), dtype=tl.float32)
            hi = lo
            mlo = tl.full((BLOCK_P,), float("-inf"), dtype=tl.float32)
            mhi = mlo
        sa, ma, ia = _pair_result(acc_a, best_a, idx_a, lo, mlo, tl.full((BLOCK_P,), L - 1, dtype=tl.int32),
                                  MODE, WITH_IDX)
        sb, mb, ib = _pair_result(acc_b, best_b, idx_b, hi, mhi, tl.zeros((BLOCK_P,), dtype=tl.int32), MODE,
                                  WITH_IDX)
        for k in tl.static_range(2):
            r = 2 * p + k
            n = r // C
            if k == 0:
                _store_result(out_ptr, idx_ptr, out_ptr, out_ptr, idx_ptr, r, n, r - n * C, pmask, sa, ma, ia, 0, R,
                              out_sn, avg_off, inv_l, MODE, WITH_IDX, False)
            else:
                _store_result(out_ptr, idx_ptr, out_ptr, out_ptr, idx_ptr, r, n, r - n * C, pmask, sb, mb, ib, 0, R,
                              out_sn, avg_off, inv_l, MODE, WITH_IDX, False)

    @triton.jit
    def _bits16(v, dtype: tl.constexpr):
        """float32 values rounded to the 16-bit float `dtype`, as their bits in the low half of an int32."""
        return v.to(dtype).to(tl.int16, bitcast=True).to(tl.int32) & 0xFFFF

    @triton.jit
    def _short_bwd_kernel(g_ptr, idx_ptr, gx_ptr, R, C, total, gs0, gs1, inv_l, L: tl.constexpr,
                          ROWS: tl.constexpr, BLOCK: tl.constexpr, MODE: tl.constexpr, PACK: tl.constexpr):
        """NCHW backward of short maps: ROWS whole rows = one contiguous chunk per program.

        One aligned, vectorised store writes the whole chunk. PACK 0: its base values (0, or the mean's gradient
        spread over each row with `tl.gather`), then, after a barrier, one store per map adds the max's gradient at its
        argmax. PACK 1 (16-bit gradients): each row's argmax and final 16-bit values travel packed in one integer, so
        one gather gives every position its value and no second store is needed.
        """
        FLAT: tl.constexpr = ROWS * L
        pid = tl.program_id(0)
        k = tl.arange(0, ROWS)
        r = pid * ROWS + k
        rmask = r < R
        n = r // C
        gm, bi, ga = _grad_values(g_ptr, idx_ptr, r, n, r - n * C, rmask, C, gs0, gs1, inv_l, MODE)
        f = tl.arange(0, BLOCK)
        o = pid * FLAT + f
        fmask = (f < FLAT) & (o < total)
        row = tl.minimum(f // L, ROWS - 1)
        DT: tl.constexpr = gx_ptr.dtype.element_ty
        if PACK and MODE != 0:  # (argmax, value there[, value elsewhere]) of each row, gathered at once
            if MODE == 1:
                kg = tl.gather((bi << 16) | _bits16(gm, DT), row, 0)
                hit = (f - row * L) == (kg >> 16)
                bits = tl.where(hit, kg & 0xFFFF, 0)
            else:
                key = (bi.to(tl.int64) << 32) | (_bits16(gm + ga, DT).to(tl.int64) << 16) | _bits16(ga, DT)
                kg = tl.gather(key, row, 0)
                hit = (f - row * L) == (kg >> 32).to(tl.int32)
                bits = tl.where(hit, (kg >> 16).to(tl.int32), kg.to(tl.int32)) & 0xFFFF
            tl.store(gx_ptr + o, bits.to(tl.int16).to(DT, bitcast=True), mask=fmask)
        else:
            if MODE == 1:
                val = tl.zeros((BLOCK,), dtype=tl.float32)
            else:
                val = tl.gather(ga, row, 0)
            tl.store(gx_ptr + o, val.to(DT), mask=fmask)
            if MODE != 0:
                tl.debug_barrier()  # the chunk's base values are written before the argmax values overwrite theirs
                tl.store(gx_ptr + pid * FLAT + k * L + bi, (gm + ga).to(DT), mask=rmask)


# --------------------------------------------------------------------------------------------------
# Launch configuration: block shapes picked per shape class (tuned on an H100, see benchmarks/)
# --------------------------------------------------------------------------------------------------
_OVERRIDE: dict[str, tuple] = {}  # benchmarks/bench_gpu_pool.py --sweep sets entries here to try other blocks

# Block configurations measured best on an H100 (benchmarks/bench_gpu_pool.py --sweep / --variants), per shape class:
# (kernel, bytes per value, H*W class[, C class], keeps argmax[, "concat"]) -> (blocks..., num_warps[, stages]);
# short NCHW maps: (kernel, bytes per value, mode[, keeps argmax]) -> (blocks..., num_warps[, KEY or PACK]).
# Shapes outside these classes use the rules in the functions below.
_TUNED: dict[tuple, tuple] = {
    ("short_fwd", 4, _AVG, False): (16, 16, 1, 0),
    ("short_fwd", 4, _MAX, False): (16, 16, 1, 0),
    ("short_fwd", 4, _MAX, True): (16, 8, 1, 2),
    ("short_fwd", 4, _CAT, False): (16, 8, 1, 0),
    ("short_fwd", 4, _CAT, True): (16, 8, 1, 2),
    ("window_fwd", 4, _AVG): (32, 4),
    ("window_fwd", 4, _MAX): (32, 4),
    ("window_fwd", 4, _CAT): (16, 1),
    ("window_fwd", 2, _AVG): (32, 4),
    ("window_fwd", 2, _MAX): (128, 8),  # (bfloat16 concat: the pairs kernel below measured faster)
    ("pairs_fwd", 2, _AVG, False): (64, 16, 4),
    ("pairs_fwd", 2, _MAX, False): (128, 8, 4),
    ("pairs_fwd", 2, _MAX, True): (64, 8, 2),
    ("pairs_fwd", 2, _CAT, False): (32, 8, 2),
    ("pairs_fwd", 2, _CAT, True): (64, 8, 2),
    ("short_fwd", 2, _AVG, False): (128, 4, 4, 0),
    ("short_fwd", 2, _MAX, False): (128, 4, 4, 0),
    ("short_fwd", 2, _MAX, True): (128, 4, 4, 1),
    ("short_fwd", 2, _CAT, False): (128, 4, 4, 0),
    ("short_fwd", 2, _CAT, True): (128, 4, 4, 0),
    ("short_bwd", 4): (64, 4),
    ("short_bwd", 2): (128, 8),
    ("short_bwd", 2, _MAX): (512, 16, 1),
    ("short_bwd", 2, _CAT): (512, 16, 1),
    ("rows_fwd", 4, "mid", False): (1, 1024, 4),
    ("rows_fwd", 4, "mid", False, "concat"): (2, 1024, 8),
    ("rows_fwd", 4, "mid", True): (4, 256, 4, 3),
    ("rows_bwd", 4, "mid"): (1, 1024, 4),
    ("cl_fwd", 2, "short", "wide", True): (16, 128, 4),
    ("cl_bwd", 2, "short", "wide"): (4, 512, 4),
    ("cl_fwd", 2, "long", "narrow", False): (32, 64, 4, 4),
    ("cl_fwd", 2, "long", "narrow", True): (32, 64, 4, 4),
    ("cl_bwd", 2, "long", "narrow"): (64, 64, 8),
}


def _tune_key(kind: str, L: int, C: int, esize: int, with_idx: bool | None = None) -> tuple:
    """The shape class of a launch: the key of `_TUNED`."""
    lclass = "short" if L <= 64 else "mid" if L <= 2048 else "long"
    key = (kind, esize, lclass)
    if kind.startswith("cl"):
        key += ("wide" if C >= 512 else "mid" if C >= 128 else "narrow",)
    return key + ((with_idx,) if with_idx is not None else ())


_SPLIT_PER_SM = 4  # a split reduction aims at this many programs per multiprocessor


def _split(programs: int, L: int, block_l: int, sms: int) -> tuple[int, int]:
    """How many spans to cut H*W into so that enough programs fill the GPU: (n_split, span).

    Spans are whole BLOCK_L chunks; a span count that divides the chunks (so that every span is full) is preferred
    down to half the wanted count.
    """
    chunks = _cdiv(L, block_l)
    if programs >= 2 * sms or chunks < 2:
        return 1, L
    want = min(chunks, _cdiv(_SPLIT_PER_SM * sms, programs))
    want = next((d for d in range(want, want // 2, -1) if chunks % d == 0), want)
    span = _cdiv(chunks, want) * block_l
    return _cdiv(L, span), span


def _launch_opts(cfg: tuple) -> dict:
    """Triton launch options from a config tuple's tail: num_warps and, optionally, num_stages."""
    return dict(num_warps=cfg[2]) if len(cfg) < 4 else dict(num_warps=cfg[2], num_stages=cfg[3])


def _tuned_fwd(key: tuple, mode: int) -> tuple | None:
    """The `_TUNED` entry of a forward launch: concat's own (key + ("concat",)) if measured, else the shared one."""
    return (_TUNED.get(key + ("concat",)) if mode == _CAT else None) or _TUNED.get(key)


def _rows_fwd_cfg(R: int, L: int, C: int, esize: int, with_idx: bool, mode: int = _AVG) -> tuple:
    """(BLOCK_R, BLOCK_L, num_warps[, num_stages]) for the NCHW forward kernel (concat may have its own)."""
    if "rows_fwd" in _OVERRIDE:
        return _OVERRIDE["rows_fwd"]
    tuned = _tuned_fwd(_tune_key("rows_fwd", L, C, esize, with_idx), mode)
    if tuned:
        return tuned
    block_l = min(_pow2(L), 8192 // esize)
    block_r = max(1, min(_pow2(R), 2048 // block_l))
    return block_r, block_l, 4 if block_r * block_l <= 2048 else 8


def _short_fwd_cfg(esize: int, mode: int, with_idx: bool) -> tuple:
    """(BLOCK_R, BLOCK_L, num_warps, KEY) for `_short_fwd_kernel` (NCHW maps of at most 64 values)."""
    key = 0 if not with_idx else 1 if esize == 2 else 2
    cfg = _OVERRIDE.get("short_fwd") or _TUNED.get(("short_fwd", esize, mode, with_idx), (128, 16, 4, key))
    return cfg[:3] + (2 if cfg[3] == 1 and esize != 2 else cfg[3],)  # the int32 key holds only 16-bit values


def _window_fwd_cfg(esize: int, mode: int) -> tuple:
    """(BLOCK_R, num_warps) for `_window_fwd_kernel` (short NCHW maps, no argmax); BLOCK_R = 0: don't use it."""
    if "window_fwd" in _OVERRIDE:
        return _OVERRIDE["window_fwd"]
    return _TUNED.get(("window_fwd", esize, mode), (0, 0))


def _pairs_fwd_cfg(mode: int, with_idx: bool) -> tuple:
    """(BLOCK_P, BLOCK_W, num_warps) for `_pairs_fwd_kernel` (16-bit short NCHW maps); BLOCK_P = 0: don't use it."""
    if "pairs_fwd" in _OVERRIDE:
        return _OVERRIDE["pairs_fwd"]
    return _TUNED.get(("pairs_fwd", 2, mode, with_idx), (64, 16, 4))


def _short_bwd_cfg(esize: int, mode: int) -> tuple:
    """(ROWS, num_warps, PACK) for `_short_bwd_kernel`: whole rows per program (a power of two); PACK: 16-bit only."""
    cfg = _OVERRIDE.get("short_bwd") or _TUNED.get(("short_bwd", esize, mode)) or _TUNED.get(("short_bwd", esize))
    cfg = cfg or (64, 8)
    return cfg[:2] + ((cfg[2] if len(cfg) > 2 and esize == 2 else 0),)


def _cl_fwd_cfg(C: int, L: int, esize: int, with_idx: bool, mode: int = _AVG) -> tuple:
    """(BLOCK_L, BLOCK_C, num_warps[, num_stages]) for the channels_last forward kernel (concat may have its own)."""
    if "cl_fwd" in _OVERRIDE:
        return _OVERRIDE["cl_fwd"]
    tuned = _tuned_fwd(_tune_key("cl_fwd", L, C, esize, with_idx), mode)
    if tuned:
        return tuned
    block_c = min(_pow2(C), 512 // esize)
    block_l = max(1, min(_pow2(L), 4096 // block_c))
    return block_l, block_c, 4 if block_l * block_c <= 2048 else 8


def _rows_bwd_cfg(R: int, L: int, C: int, esize: int) -> tuple:
    """(BLOCK_R, BLOCK_L, num_warps[, num_stages]) for the NCHW backward kernel."""
    if "rows_bwd" in _OVERRIDE:
        return _OVERRIDE["rows_bwd"]
    tuned = _TUNED.get(_tune_key("rows_bwd", L, C, esize))
    if tuned:
        return tuned
    block_l = min(_pow2(L), 2048)
    block_r = max(1, min(_pow2(R), 2048 // block_l))
    return block_r, block_l, 4


def _cl_bwd_cfg(C: int, L: int, esize: int) -> tuple:
    """(BLOCK_L, BLOCK_C, num_warps[, num_stages]) for the channels_last backward kernel."""
    if "cl_bwd" in _OVERRIDE:
        return _OVERRIDE["cl_bwd"]
    tuned = _TUNED.get(_tune_key("cl_bwd", L, C, esize))
    if tuned:
        return tuned
    block_c = min(_pow2(C), 512 // esize)
    block_l = max(1, min(_pow2(L), 2048 // block_c))
    return block_l, block_c, 4


# --------------------------------------------------------------------------------------------------
# Launchers
# --------------------------------------------------------------------------------------------------
def _is_cl(x: torch.Tensor) -> bool:
    """True when `x` is laid out channels_last (and not also plain contiguous with H*W > 1)."""
    L = x.shape[2] * x.shape[3]
    if x.is_contiguous() and (L > 1 or x.shape[1] == 1):
        return False
    return x.is_contiguous(memory_format=torch.channels_last)


def _short_forward(x: torch.Tensor, out: torch.Tensor, mode: int, with_idx: bool) -> torch.Tensor | None:
    """Pool NCHW maps of at most 64 values into `out`; return the argmax indices if asked for."""
    N, C, H, W = x.shape
    L, R = H * W, N * C
    # an index below 64 fits a byte: a quarter of the int32 traffic for the backward to read
    idx = torch.empty(R, device=x.device, dtype=torch.uint8) if with_idx else None
    args = (out, idx if with_idx else out, R, C, out.shape[1], C if mode == _CAT else 0, 1.0 / L)
    window = _window_fwd_cfg(x.element_size(), mode) if not with_idx else (0,)
    pairs = _pairs_fwd_cfg(mode, with_idx) if x.element_size() == 2 else (0,)
    if window[0] > 0 and x.storage_offset() % (16 // x.element_size()) == 0:  # wide aligned loads
        block_r, warps = window
        vec = 16 // x.element_size()
        win = (L + 2 * vec - 2) // vec * vec
        _window_fwd_kernel[(_cdiv(R, block_r),)](x, *args, R * L, L=L, VEC=vec, WIN=win, BLOCK_W=_pow2(win),
                                                 BLOCK_R=block_r, MODE=mode, num_warps=warps)
    elif pairs[0] > 0 and R % 2 == 0 and x.storage_offset() % 2 == 0:  # 16-bit maps, read as int32 words
        block_p, block_w, warps = pairs
        _pairs_fwd_kernel[(_cdiv(R // 2, block_p),)](
            x.view(-1).view(torch.int32), *args, L=L, BLOCK_P=block_p, BLOCK_W=block_w, MODE=mode,
            WITH_IDX=with_idx, EVEN=(R // 2) % block_p == 0, F16=x.dtype == torch.float16, num_warps=warps)
    else:
        block_r, block_l, warps, key = _short_fwd_cfg(x.element_size(), mode, with_idx)
        _short_fwd_kernel[(_cdiv(R, block_r),)](x, *args, L=L, BLOCK_R=block_r, BLOCK_L=block_l, MODE=mode,
                                                 WITH_IDX=with_idx, EVEN_R=R % block_r == 0, KEY=key,
                                                 num_warps=warps)
    return idx


def _forward(x: torch.Tensor, mode: int, with_idx: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Pool `x` (NCHW-contiguous or channels_last): the `(N, C)` or `(N, 2C)` result and the argmax indices."""
    N, C, H, W = x.shape
    L, R = H * W, N * C
    cl = _is_cl(x)
    esize = x.element_size()
    sms = _n_sms(x)
    if cl and L <= 64 and not with_idx:
        # Short channels_last maps without indices to keep: PyTorch's own reductions measured faster on an H100
        # (67-90 % of copy bandwidth; for concat two of them, ~40 %, against 21-34 % for the kernel below), so use
        # them; the backward stays ours.
        if mode == _CAT:
            return torch.cat([x.amax((2, 3)), x.mean((2, 3))], 1), None
        return (x.mean((2, 3)) if mode == _AVG else x.amax((2, 3))), None
    out = torch.empty((N, 2 * C if mode == _CAT else C), device=x.device, dtype=x.dtype)
    if not cl and L <= 64:
        return out, _short_forward(x, out, mode, with_idx)
    idx = torch.empty(R, device=x.device, dtype=torch.int32) if with_idx else None
    out_sn, avg_off = out.shape[1], (C if mode == _CAT else 0)
    inv_l = 1.0 / L
    if cl:
        cfg = _cl_fwd_cfg(C, L, esize, with_idx, mode)
        block_l, block_c = cfg[:2]
        n_cblocks = _cdiv(C, block_c)
        n_split, span = _split(N * n_cblocks, L, block_l, sms)
    else:
        cfg = _rows_fwd_cfg(R, L, C, esize, with_idx, mode)
        block_r, block_l = cfg[:2]
        n_split, span = _split(_cdiv(R, block_r), L, block_l, sms)
    partial = n_split > 1
    if partial:
        psum = torch.empty((n_split, R), device=x.device, dtype=torch.float32)
        pmax = torch.empty((n_split, R), device=x.device, dtype=torch.float32)
        pidx = torch.empty((n_split, R), device=x.device, dtype=torch.int32) if with_idx else pmax
    else:
        psum = pmax = pidx = out
    idx_arg = idx if idx is not None else out
    cnt = _counters(x.device) if partial else idx_arg
    even = L % block_l == 0 and (not partial or L % span == 0) and (C % block_c == 0 if cl else R % block_r == 0)
    meta = dict(MODE=mode, WITH_IDX=with_idx, PARTIAL=partial, STAGES=cfg[3] if len(cfg) > 3 else 1, EVEN=even,
                **_launch_opts(cfg))
    if cl:
        grid = (N * n_cblocks, n_split)
        _cl_fwd_kernel[grid](x, out, idx_arg, psum, pmax, pidx, cnt, n_split, R, C, L, span, n_cblocks, out_sn,
                             avg_off, inv_l, BLOCK_L=block_l, BLOCK_C=block_c, **meta)
    else:
        grid = (_cdiv(R, block_r), n_split)
        _rows_fwd_kernel[grid](x, out, idx_arg, psum, pmax, pidx, cnt, n_split, R, C, L, span, out_sn, avg_off,
                               inv_l, BLOCK_R=block_r, BLOCK_L=block_l, **meta)
    return out, idx


def _backward(g: torch.Tensor, idx: torch.Tensor | None, meta: tuple, mode: int) -> torch.Tensor:
    """Gradient of the pooling w.r.t. its input (shape, strides, dtype from `meta`), written in one pass."""
    shape, stride, dtype = meta
    N, C, H, W = shape
    L, R = H * W, N * C
    gx = torch.empty_strided(shape, stride, dtype=dtype, device=g.device)
    idx_arg = idx if idx is not None else g
    gs0, gs1 = g.stride()
    inv_l = 1.0 / L
    esize = gx.element_size()
    if _is_cl(gx):
        cfg = _cl_bwd_cfg(C, L, esize)
        block_l, block_c = cfg[:2]
        n_cblocks = _cdiv(C, block_c)
        grid = (N * n_cblocks, _cdiv(L, block_l))
        _cl_bwd_kernel[grid](g, idx_arg, gx, C, L, n_cblocks, gs0, gs1, inv_l, MODE=mode,
                             BLOCK_L=block_l, BLOCK_C=block_c, **_launch_opts(cfg))
        return gx
    if L <= 64 and (_HAS_GATHER or mode == _MAX):  # short maps: whole rows per program, aligned flat stores
        rows, warps, pack = _short_bwd_cfg(esize, mode)
        _short_bwd_kernel[(_cdiv(R, rows),)](g, idx_arg, gx, R, C, R * L, gs0, gs1, inv_l, L=L, ROWS=rows,
                                             BLOCK=_pow2(rows * L), MODE=mode, PACK=pack, num_warps=warps)
        return gx
    cfg = _rows_bwd_cfg(R, L, C, esize)
    block_r, block_l = cfg[:2]
    grid = (_cdiv(R, block_r), _cdiv(L, block_l))
    _rows_bwd_kernel[grid](g, idx_arg, gx, R, C, L, gs0, gs1, inv_l, MODE=mode,
                           BLOCK_R=block_r, BLOCK_L=block_l, **_launch_opts(cfg))
    return gx


class _GlobalPool(torch.autograd.Function):
    """Global pooling with a one-pass Triton forward and backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, mode: int) -> torch.Tensor:
        with_idx = mode != _AVG and ctx.needs_input_grad[0]
        out, idx = _forward(x, mode, with_idx)
        ctx.mode = mode
        ctx.x_meta = (x.shape, x.stride(), x.dtype)
        ctx.save_for_backward(idx)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        (idx,) = ctx.saved_tensors
        return _backward(g, idx, ctx.x_meta, ctx.mode), None


def _pool(x: torch.Tensor, mode: int) -> torch.Tensor:
    """Check `x`, bring it to a layout the kernels read, and pool it."""
    if not available(x):
        raise ValueError(
            f"gaplib.kernels.{_NAMES[mode]} needs a 4-D float32/float16/bfloat16 CUDA tensor and Triton, got "
            f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__} "
            f"{getattr(x, 'dtype', '')} on {getattr(x, 'device', '?')}; "
            f"use gaplib.pool.{_NAMES[mode]}, which falls back to PyTorch"
        )
    if not (x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last)):
        x = x.contiguous()
    return _GlobalPool.apply(x, mode)


def gap(x: torch.Tensor) -> torch.Tensor:
    """Global average pooling on the GPU, `(N, C, H, W) -> (N, C)`, summed in float32."""
    return _pool(x, _AVG)


def gmp(x: torch.Tensor) -> torch.Tensor:
    """Global max pooling on the GPU, `(N, C, H, W) -> (N, C)`; the gradient goes to the first maximum."""
    return _pool(x, _MAX)


def concat_pool(x: torch.Tensor) -> torch.Tensor:
    """Max and average pooling side by side on the GPU, fastai's order: `(N, C, H, W) -> (N, 2C)`."""
    return _pool(x, _CAT)
