"""Triton GPU kernels for global average, max and concat pooling, built to run at memory speed.

Global pooling reads every activation once and does about one operation per value, so its speed
limit is memory bandwidth, not arithmetic. These kernels read `x` in one pass (accumulating in
float32) and write each gradient in one pass, for `(N, C, H, W)` tensors in NCHW or channels_last
layout and float32, float16 or bfloat16. `gaplib.pool` calls them on CUDA tensors when `available`
says yes; everywhere else it uses PyTorch.

Two layouts, two kernels:
- NCHW: each `(n, c)` map is a contiguous row of `H * W` values; a program reduces a tile of rows.
  For short maps (H*W <= 64) there is also a chunked variant: a program reads whole rows as one aligned,
  vectorised flat chunk and reduces each row with `tl.gather` (or a segmented scan); its backward writes
  one flat chunk per program. `_TUNED` / `_OVERRIDE` choose it ("flat_fwd"; "rows_bwd" with BLOCK_R < 0).
- channels_last: each image is an `(H * W, C)` matrix; a program reduces a strip of channels over H x W.
When too few programs would fill the GPU (few long maps), H x W is split across programs and a
small second kernel combines the float32 partial results.

Max pooling keeps, for the backward pass, the index of the first maximum of each map in row-major
`(h, w)` order, so its gradient goes to one position, as in `nn.AdaptiveMaxPool2d` (fastai's
`AdaptiveConcatPool2d`); `x.amax((2, 3))` instead splits the gradient evenly among tied maxima.
A map that contains NaN pools to NaN (its max gradient then goes to an unspecified position). Block shapes come
from `_TUNED`, measured per shape class on an H100 by `benchmarks/bench_gpu_pool.py --sweep`.
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
                    tl.store(idx_ptr + r, bi, mask=mask)
            if MODE != 1:
                tl.store(out_ptr + o + avg_off, (s * inv_l).to(out_ptr.dtype.element_ty), mask=mask)

    @triton.jit
    def _rows_fwd_kernel(x_ptr, out_ptr, idx_ptr, psum_ptr, pmax_ptr, pidx_ptr, R, C, L, l_span, out_sn, avg_off,
                         inv_l, MODE: tl.constexpr, WITH_IDX: tl.constexpr, PARTIAL: tl.constexpr,
                         BLOCK_R: tl.constexpr, BLOCK_L: tl.constexpr):
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
        for l0 in range(0, l_stop, BLOCK_L):
            ll = l0 + cols
            mask = rmask[:, None] & (ll < L)[None, :]
            v = tl.load(base + ll[None, :], mask=mask, other=0.0).to(tl.float32)
            if MODE != 1:
                acc += v
            if MODE != 0:
                v = tl.where(mask, v, float("-inf"))
                new = _nanmax(best, v)
                if WITH_IDX:  # strictly larger (or the first NaN): remember where; ties keep the first
                    bidx = tl.where(new != best, ll[None, :], bidx)
                best = new
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

    @triton.jit
    def _cl_fwd_kernel(x_ptr, out_ptr, idx_ptr, psum_ptr, pmax_ptr, pidx_ptr, R, C, L, l_span, n_cblocks, out_sn,
                       avg_off, inv_l, MODE: tl.constexpr, WITH_IDX: tl.constexpr, PARTIAL: tl.constexpr,
                       BLOCK_L: tl.constexpr, BLOCK_C: tl.constexpr):
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
        for l0 in range(0, l_stop, BLOCK_L):
            ll = l0 + rows
            mask = (ll < L)[:, None] & cmask[None, :]
            v = tl.load(base + ll[:, None] * C, mask=mask, other=0.0).to(tl.float32)
            if MODE != 1:
                acc += v
            if MODE != 0:
                v = tl.where(mask, v, float("-inf"))
                new = _nanmax(best, v)
                if WITH_IDX:  # strictly larger (or the first NaN): remember where; ties keep the first
                    bidx = tl.where(new != best, ll[:, None], bidx)
                best = new
        s = tl.sum(acc, axis=0)
        if WITH_IDX:
            m, bi = tl.reduce((best, bidx), 0, _argmax_first)
        else:
            m = tl.reduce(best, 0, _nanmax)
            bi = c
        _store_result(out_ptr, idx_ptr, psum_ptr, pmax_ptr, pidx_ptr, n * C + c, n, c, cmask, s, m, bi, sid, R,
                      out_sn, avg_off, inv_l, MODE, WITH_IDX, PARTIAL)

    @triton.jit
    def _finish_kernel(out_ptr, idx_ptr, psum_ptr, pmax_ptr, pidx_ptr, R, C, n_split, out_sn, avg_off, inv_l,
                       MODE: tl.constexpr, WITH_IDX: tl.constexpr, BLOCK: tl.constexpr):
        """Combine the float32 partials of a split reduction, in span order (so the first maximum wins)."""
        r = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = r < R
        s = tl.zeros((BLOCK,), dtype=tl.float32)
        m = tl.full((BLOCK,), float("-inf"), dtype=tl.float32)
        bi = tl.zeros((BLOCK,), dtype=tl.int32)
        for k in range(0, n_split):
            if MODE != 1:
                s += tl.load(psum_ptr + k * R + r, mask=mask, other=0.0)
            if MODE != 0:
                v = tl.load(pmax_ptr + k * R + r, mask=mask, other=float("-inf"))
                take = (v > m) | ((v != v) & (m == m))
                m = tl.where(take, v, m)
                if WITH_IDX:
                    bi = tl.where(take, tl.load(pidx_ptr + k * R + r, mask=mask, other=0), bi)
        n = r // C
        c = r - n * C
        _store_result(out_ptr, idx_ptr, psum_ptr, pmax_ptr, pidx_ptr, r, n, c, mask, s, m, bi, 0, R,
                      out_sn, avg_off, inv_l, MODE, WITH_IDX, False)

    @triton.jit
    def _grad_values(g_ptr, idx_ptr, r, n, c, mask, C, gs0, gs1, inv_l, MODE: tl.constexpr):
        """Per-map gradient pieces: (gradient of the max, its index, gradient of the mean / (H*W))."""
        if MODE == 0:
            gm = tl.zeros(r.shape, dtype=tl.float32)
            bi = tl.full(r.shape, -1, dtype=tl.int32)
        else:
            gm = tl.load(g_ptr + n * gs0 + c * gs1, mask=mask, other=0.0).to(tl.float32)
            bi = tl.load(idx_ptr + r, mask=mask, other=-1)
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

    @triton.jit
    def _flat_bwd_kernel(g_ptr, idx_ptr, gx_ptr, total, gs0, gs1, inv_l, L: tl.constexpr, C: tl.constexpr,
                         MODE: tl.constexpr, BLOCK: tl.constexpr):
        """NCHW backward for short maps: write BLOCK consecutive gradient values (aligned, vectorised stores)."""
        o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = o < total
        r = o // L
        ll = o - r * L
        n = r // C
        c = r - n * C
        gm, bi, ga = _grad_values(g_ptr, idx_ptr, r, n, c, mask, C, gs0, gs1, inv_l, MODE)
        if MODE == 0:
            val = ga
        elif MODE == 1:
            val = tl.where(ll == bi, gm, 0.0)
        else:
            val = tl.where(ll == bi, gm, 0.0) + ga
        tl.store(gx_ptr + o, val.to(gx_ptr.dtype.element_ty), mask=mask)


    @triton.jit
    def _seg_sum(a, fa, b, fb):
        """Segmented sum: a segment start (fb) restarts the running sum."""
        return tl.where(fb != 0, b, a + b), fa | fb

    @triton.jit
    def _seg_argmax(a, ia, fa, b, ib, fb):
        """Segmented first-maximum: a segment start (fb) restarts; else as `_argmax_first`."""
        m, i = _argmax_first(a, ia, b, ib)
        restart = fb != 0
        return tl.where(restart, b, m), tl.where(restart, ib, i), fa | fb

    @triton.jit
    def _flat_fwd_kernel(x_ptr, out_ptr, idx_ptr, R, C, total, out_sn, avg_off, inv_l, L: tl.constexpr,
                         ROWS: tl.constexpr, ROWS_P: tl.constexpr, L_P: tl.constexpr, BLOCK: tl.constexpr,
                         SCAN: tl.constexpr, MODE: tl.constexpr, WITH_IDX: tl.constexpr):
        """NCHW forward for short maps: ROWS whole rows = one contiguous chunk of ROWS * L values per program.

        The chunk is read with one aligned 1-D load (ROWS * L is a multiple of 8, so the loads vectorise),
        then reduced per row: SCAN=0 gathers it into a padded (ROWS_P, L_P) tile and reduces along its rows;
        SCAN=1 runs a segmented scan over the flat chunk and gathers each row's last element.
        """
        FLAT: tl.constexpr = ROWS * L
        pid = tl.program_id(0)
        f = tl.arange(0, BLOCK)
        o = pid * FLAT + f
        fmask = (f < FLAT) & (o < total)
        v = tl.load(x_ptr + o, mask=fmask, other=0.0).to(tl.float32)
        k = tl.arange(0, ROWS_P)
        r = pid * ROWS + k
        rmask = (k < ROWS) & (r < R)
        if SCAN:
            rl = f // L
            ll = f - rl * L
            start = (ll == 0).to(tl.int32)
            end = tl.where(k < ROWS, k * L + (L - 1), 0)
            if MODE != 1:
                cs, _ = tl.associative_scan((v, start), 0, _seg_sum)
                s = tl.gather(cs, end, 0)
            else:
                s = tl.zeros((ROWS_P,), dtype=tl.float32)
            if MODE != 0:
                vm = tl.where(fmask, v, float("-inf"))
                cm, ci, _ = tl.associative_scan((vm, ll, start), 0, _seg_argmax)
                m = tl.gather(cm, end, 0)
                bi = tl.gather(ci, end, 0)
            else:
                m = s
                bi = r
        else:
            rr = k[:, None]
            cc = tl.arange(0, L_P)[None, :]
            valid = (cc < L) & (rr < ROWS)
            src = tl.reshape(tl.where(valid, rr * L + cc, 0), (ROWS_P * L_P,))
            t = tl.reshape(tl.gather(v, src, 0), (ROWS_P, L_P))
            if MODE != 1:
                s = tl.sum(tl.where(valid, t, 0.0), axis=1)
            else:
                s = tl.zeros((ROWS_P,), dtype=tl.float32)
            if MODE != 0:
                tm = tl.where(valid, t, float("-inf"))
                if WITH_IDX:
                    m, bi = tl.reduce((tm, tl.broadcast_to(cc, (ROWS_P, L_P))), 1, _argmax_first)
                else:
                    m = tl.reduce(tm, 1, _nanmax)
                    bi = r
            else:
                m = s
                bi = r
        n = r // C
        c = r - n * C
        _store_result(out_ptr, idx_ptr, out_ptr, out_ptr, idx_ptr, r, n, c, rmask, s, m, bi, 0, R,
                      out_sn, avg_off, inv_l, MODE, WITH_IDX, False)

    @triton.jit
    def _chunk_bwd_kernel(g_ptr, idx_ptr, gx_ptr, R, C, total, gs0, gs1, inv_l, L: tl.constexpr,
                          ROWS: tl.constexpr, ROWS_P: tl.constexpr, BLOCK: tl.constexpr, MODE: tl.constexpr):
        """NCHW backward for short maps: ROWS whole rows = one contiguous chunk per program, one aligned 1-D store.

        The ROWS per-map gradient values are loaded once and spread over the chunk with `tl.gather`.
        """
        FLAT: tl.constexpr = ROWS * L
        pid = tl.program_id(0)
        k = tl.arange(0, ROWS_P)
        r = pid * ROWS + k
        rmask = (k < ROWS) & (r < R)
        n = r // C
        c = r - n * C
        gm, bi, ga = _grad_values(g_ptr, idx_ptr, r, n, c, rmask, C, gs0, gs1, inv_l, MODE)
        f = tl.arange(0, BLOCK)
        o = pid * FLAT + f
        fmask = (f < FLAT) & (o < total)
        rl = tl.minimum(f // L, ROWS_P - 1)
        if MODE != 1:
            val = tl.gather(ga, rl, 0)
        if MODE != 0:
            tgt = tl.gather(k * L + bi, rl, 0)
            hit = tl.where(f == tgt, tl.gather(gm, rl, 0), 0.0)
            val = hit if MODE == 1 else val + hit
        tl.store(gx_ptr + o, val.to(gx_ptr.dtype.element_ty), mask=fmask)


# --------------------------------------------------------------------------------------------------
# Launch configuration: block shapes picked per shape class (tuned on an H100, see benchmarks/)
# --------------------------------------------------------------------------------------------------
_OVERRIDE: dict[str, tuple] = {}  # benchmarks/bench_gpu_pool.py --sweep sets entries here to try other blocks

# Block configurations measured best on an H100 (benchmarks/bench_gpu_pool.py --sweep), per shape class:
# (kernel, bytes per value, H*W class[, C class], keeps argmax) -> (blocks..., num_warps[, num_stages]).
# Shapes outside these classes use the rules in the functions below.
_TUNED: dict[tuple, tuple] = {
    ("rows_fwd", 4, "short", False): (128, 16, 4),
    ("rows_fwd", 4, "short", True): (256, 8, 4),
    ("rows_fwd", 2, "short", False): (256, 8, 4),
    ("rows_fwd", 2, "short", True): (256, 8, 4),
    ("rows_bwd", 4, "short"): (0, 1024, 4),
    ("rows_bwd", 2, "short"): (0, 1024, 4),
    ("cl_fwd", 2, "short", "wide", False): (16, 128, 4),
    ("cl_fwd", 2, "short", "wide", True): (16, 128, 4),
    ("cl_bwd", 2, "short", "wide"): (4, 512, 4),
    ("cl_fwd", 2, "long", "narrow", False): (64, 64, 8),
    ("cl_fwd", 2, "long", "narrow", True): (32, 64, 4),
    ("cl_bwd", 2, "long", "narrow"): (64, 64, 8),
}


def _tune_key(kind: str, L: int, C: int, esize: int, with_idx: bool | None = None) -> tuple:
    """The shape class of a launch: the key of `_TUNED`."""
    lclass = "short" if L <= 64 else "mid" if L <= 2048 else "long"
    key = (kind, esize, lclass)
    if kind.startswith("cl"):
        key += ("wide" if C >= 512 else "mid" if C >= 128 else "narrow",)
    return key + ((with_idx,) if with_idx is not None else ())


def _split(programs: int, L: int, block_l: int, sms: int) -> tuple[int, int]:
    """How many spans to cut H*W into so that enough programs fill the GPU: (n_split, span)."""
    chunks = _cdiv(L, block_l)
    if programs >= 2 * sms or chunks < 2:
        return 1, L
    want = min(chunks, _cdiv(4 * sms, programs))
    span = _cdiv(chunks, want) * block_l
    return _cdiv(L, span), span


def _launch_opts(cfg: tuple) -> dict:
    """Triton launch options from a config tuple's tail: num_warps and, optionally, num_stages."""
    return dict(num_warps=cfg[2]) if len(cfg) < 4 else dict(num_warps=cfg[2], num_stages=cfg[3])


def _rows_fwd_cfg(R: int, L: int, C: int, esize: int, with_idx: bool) -> tuple:
    """(BLOCK_R, BLOCK_L, num_warps[, num_stages]) for the NCHW forward kernel."""
    if "rows_fwd" in _OVERRIDE:
        return _OVERRIDE["rows_fwd"]
    tuned = _TUNED.get(_tune_key("rows_fwd", L, C, esize, with_idx))
    if tuned:
        return tuned
    block_l = min(_pow2(L), 8192 // esize)
    block_r = max(1, min(_pow2(R), 2048 // block_l))
    return block_r, block_l, 4 if block_r * block_l <= 2048 else 8


def _flat_fwd_cfg(L: int, esize: int, with_idx: bool) -> tuple:
    """(ROWS, SCAN, num_warps) for the NCHW forward of short maps; ROWS = 0 means use `_rows_fwd_kernel`.

    ROWS is given for maps padded to 64 values and scaled up for shorter ones (see `_flat_rows`).
    """
    if "flat_fwd" in _OVERRIDE:
        return _OVERRIDE["flat_fwd"]
    if not _HAS_GATHER:
        return (0, 0, 4)
    # Off unless measured faster: the chunked kernels are not yet timed on an H100 (benchmarks/bench_gpu_pool.py
    # --variants compares them); a ("flat_fwd", ...) entry in _TUNED switches them on for its shape class.
    return _TUNED.get(_tune_key("flat_fwd", L, 0, esize, with_idx), (0, 0, 4))


def _flat_rows(rows: int, L: int) -> int:
    """Rows per program of the chunked short-map kernels: `rows` for 33..64 values a map, more for shorter maps.

    A power of two >= 8, so that a chunk of rows * L values starts 16-byte aligned (vector loads and stores).
    """
    return max(8, _pow2(rows) * 64 // _pow2(L))


def _cl_fwd_cfg(C: int, L: int, esize: int, with_idx: bool) -> tuple:
    """(BLOCK_L, BLOCK_C, num_warps[, num_stages]) for the channels_last forward kernel."""
    if "cl_fwd" in _OVERRIDE:
        return _OVERRIDE["cl_fwd"]
    tuned = _TUNED.get(_tune_key("cl_fwd", L, C, esize, with_idx))
    if tuned:
        return tuned
    block_c = min(_pow2(C), 512 // esize)
    block_l = max(1, min(_pow2(L), 4096 // block_c))
    return block_l, block_c, 4 if block_l * block_c <= 2048 else 8


def _rows_bwd_cfg(R: int, L: int, C: int, esize: int) -> tuple:
    """(BLOCK_R, BLOCK_L, num_warps[, num_stages]) for the NCHW backward kernel.

    BLOCK_R = 0: `_flat_bwd_kernel` (BLOCK_L values per program); BLOCK_R < 0: `_chunk_bwd_kernel` with
    `_flat_rows(-BLOCK_R, L)` whole rows per program (short maps only).
    """
    if "rows_bwd" in _OVERRIDE:
        return _OVERRIDE["rows_bwd"]
    tuned = _TUNED.get(_tune_key("rows_bwd", L, C, esize))
    if tuned:
        return tuned
    block_l = min(_pow2(L), 2048)
    block_r = max(1, min(_pow2(R), 2048 // block_l))
    return block_r, block_l, 4


def _bwd_cfg_ok(cfg: tuple, L: int) -> tuple:
    """`cfg`, or the flat backward if it asks for the chunked kernel where it does not apply."""
    if cfg[0] < 0 and (L > 64 or not _HAS_GATHER):
        return (0, 1024) + tuple(cfg[2:])
    return cfg


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


def _forward(x: torch.Tensor, mode: int, with_idx: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Pool `x` (NCHW-contiguous or channels_last): the `(N, C)` or `(N, 2C)` result and the argmax indices."""
    N, C, H, W = x.shape
    L, R = H * W, N * C
    cl = _is_cl(x)
    esize = x.element_size()
    sms = _n_sms(x)
    if cl and L <= 64 and not with_idx and mode != _CAT:
        # Short channels_last maps without indices to keep: PyTorch's own reduction measured faster on an H100
        # (81-88 % of copy bandwidth against 54-59 % for the kernel below), so use it; the backward stays ours.
        return (x.mean((2, 3)) if mode == _AVG else x.amax((2, 3))), None
    out = torch.empty((N, 2 * C if mode == _CAT else C), device=x.device, dtype=x.dtype)
    keep = with_idx
    flat = _flat_fwd_cfg(L, esize, with_idx) if not cl and L <= 64 else (0,)
    if flat[0] > 0:  # short NCHW maps: whole rows per program, read as one aligned flat chunk
        rows = _flat_rows(flat[0], L)
        idx = torch.empty(R, device=x.device, dtype=torch.int32) if with_idx else None
        block = _pow2(rows * L)
        _flat_fwd_kernel[(_cdiv(R, rows),)](
            x, out, idx if idx is not None else out, R, C, R * L, out.shape[1], C if mode == _CAT else 0, 1.0 / L,
            L=L, ROWS=rows, ROWS_P=rows, L_P=_pow2(L), BLOCK=block, SCAN=flat[1], MODE=mode, WITH_IDX=with_idx,
            num_warps=flat[2])
        return out, idx
    # Short NCHW maps: the variant that tracks the argmax measured faster on an H100 than the one that does not
    # (its final per-row reduction is cheaper), so max pooling uses it even when no gradient needs the indices.
    with_idx = with_idx or (mode != _AVG and not cl and L <= 64)
    idx = torch.empty(R, device=x.device, dtype=torch.int32) if with_idx else None
    out_sn, avg_off = out.shape[1], (C if mode == _CAT else 0)
    inv_l = 1.0 / L
    if cl:
        cfg = _cl_fwd_cfg(C, L, esize, with_idx)
        block_l, block_c = cfg[:2]
        n_cblocks = _cdiv(C, block_c)
        n_split, span = _split(N * n_cblocks, L, block_l, sms)
    else:
        cfg = _rows_fwd_cfg(R, L, C, esize, with_idx)
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
    meta = dict(MODE=mode, WITH_IDX=with_idx, PARTIAL=partial, **_launch_opts(cfg))
    if cl:
        grid = (N * n_cblocks, n_split)
        _cl_fwd_kernel[grid](x, out, idx_arg, psum, pmax, pidx, R, C, L, span, n_cblocks, out_sn, avg_off, inv_l,
                             BLOCK_L=block_l, BLOCK_C=block_c, **meta)
    else:
        grid = (_cdiv(R, block_r), n_split)
        _rows_fwd_kernel[grid](x, out, idx_arg, psum, pmax, pidx, R, C, L, span, out_sn, avg_off, inv_l,
                               BLOCK_R=block_r, BLOCK_L=block_l, **meta)
    if partial:
        block = 512
        _finish_kernel[(_cdiv(R, block),)](out, idx_arg, psum, pmax, pidx, R, C, n_split, out_sn, avg_off, inv_l,
                                           MODE=mode, WITH_IDX=with_idx, BLOCK=block, num_warps=4)
    return out, (idx if keep else None)


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
    cfg = _bwd_cfg_ok(_rows_bwd_cfg(R, L, C, esize), L)
    block_r, block_l = cfg[:2]
    if block_r < 0:  # chunked: whole rows per program, per-row gradients gathered over the chunk
        rows = _flat_rows(-block_r, L)
        _chunk_bwd_kernel[(_cdiv(R, rows),)](g, idx_arg, gx, R, C, R * L, gs0, gs1, inv_l, L=L, ROWS=rows,
                                             ROWS_P=rows, BLOCK=_pow2(rows * L), MODE=mode, **_launch_opts(cfg))
    elif block_r == 0:  # flat: BLOCK_L consecutive values per program, H*W and C compiled in
        _flat_bwd_kernel[(_cdiv(R * L, block_l),)](g, idx_arg, gx, R * L, gs0, gs1, inv_l, L=L, C=C, MODE=mode,
                                                   BLOCK=block_l, **_launch_opts(cfg))
    else:
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
