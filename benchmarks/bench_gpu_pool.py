"""Benchmark global pooling on a GPU against the memory-bandwidth roofline.

Global pooling reads each activation once, so its floor is (bytes read + bytes written) / bandwidth.
This script measures the GPU's device-to-device copy bandwidth (bytes read + written per second),
then times, for each shape x dtype x layout, PyTorch's spellings and gaplib's Triton kernels,
forward and backward, and prints a markdown table of microseconds and % of copy bandwidth. It writes
the table to benchmarks/results/gpu_pool.md and the numbers to benchmarks/results/gpu_pool.csv.

How the time of one call is measured: a CUDA graph holds many back-to-back calls that cycle over
several inputs together larger than the L2 cache (so data comes from device memory, not the cache,
and launch overhead stays out of the numbers); the median over replays, divided by the calls per
graph, is the time of one call. Backward times the backward pass alone (`torch.autograd.grad` on a
retained forward graph). "Bytes" is what the operation must move: its input read plus its output
written (forward: the maps and the pooled vector; backward: the pooled gradient and the map gradient).

Usage: python benchmarks/bench_gpu_pool.py [--quick] [--sweep] [--variants] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

from gaplib import kernels

try:
    import triton
    import triton.language as tl
except ImportError:  # the script then explains and exits in main()
    triton = None

SHAPES = [(256, 2048, 7, 7), (256, 512, 7, 7), (128, 256, 32, 32), (64, 64, 112, 112)]
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
LAYOUTS = ["NCHW", "channels_last"]
# the rows of GitHub issue 5, marked in the table
ISSUE_ROWS = {
    ((256, 2048, 7, 7), "fp32", "NCHW"),
    ((256, 2048, 7, 7), "bf16", "NCHW"),
    ((256, 512, 7, 7), "fp32", "NCHW"),
    ((128, 256, 32, 32), "fp32", "NCHW"),
    ((64, 64, 112, 112), "bf16", "channels_last"),
}

_max_pool, _avg_pool = nn.AdaptiveMaxPool2d(1), nn.AdaptiveAvgPool2d(1)


def fastai_concat(x: torch.Tensor) -> torch.Tensor:
    """fastai's `AdaptiveConcatPool2d(1)` computation: cat of adaptive max and average pooling, (N, 2C, 1, 1)."""
    return torch.cat([_max_pool(x), _avg_pool(x)], 1)


# (op, implementation, function); op decides how many bytes the output has
IMPLS = [
    ("avg", "x.mean((2,3))", lambda x: x.mean((2, 3))),
    ("avg", "nn.AdaptiveAvgPool2d(1)", _avg_pool),
    ("avg", "gaplib gap", kernels.gap),
    ("max", "x.amax((2,3))", lambda x: x.amax((2, 3))),
    ("max", "nn.AdaptiveMaxPool2d(1)", _max_pool),
    ("max", "gaplib gmp", kernels.gmp),
    ("concat", "fastai AdaptiveConcatPool2d", fastai_concat),
    ("concat", "gaplib concat_pool", kernels.concat_pool),
]


def _replayer(call, n_inputs: int, calls: int, stream):
    """A function that runs `calls` calls of `call(i)`: a CUDA graph replay, or eager if capture fails."""
    try:
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=stream):
            for i in range(calls):
                call(i % n_inputs)
        graph.replay()
        torch.cuda.synchronize()
        return graph.replay, "graph"
    except Exception as e:  # noqa: BLE001 - an op that cannot be captured is timed eagerly
        torch.cuda.synchronize()
        print(f"  (graph capture failed: {type(e).__name__}: {str(e)[:120]}; timing eagerly)", flush=True)

        def run():
            for i in range(calls):
                call(i % n_inputs)

        return run, "eager"


def _event_time(run, reps: int) -> float:
    """Median seconds of `run()` measured with CUDA events."""
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        run()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times)


def _graph_time(call, n_inputs: int, reps: int, target_s: float = 1e-3, stream=None) -> tuple[float, str]:
    """Seconds per call of `call(i)` (i cycles over n_inputs), from replays of a CUDA graph of many calls.

    Warm-up and capture run on `stream` (a side stream by default); work whose autograd graph was built on
    that stream has its backward captured there too.
    """
    stream = stream if stream is not None else torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):  # warm-up on the capture stream, as graph capture asks
        for i in range(2 * n_inputs):
            call(i % n_inputs)
    torch.cuda.synchronize()
    probe = max(n_inputs, 8)
    run, how = _replayer(call, n_inputs, probe, stream)
    estimate = _event_time(run, 3) / probe
    calls = int(min(3000, max(probe, math.ceil(target_s / max(estimate, 1e-7)))))
    if calls > probe:
        del run
        run, how = _replayer(call, n_inputs, calls, stream)
    return _event_time(run, reps) / calls, how


if triton is not None:

    @triton.jit
    def _copy_kernel(src, dst, n, BLOCK: tl.constexpr):
        """dst[:n] = src[:n], BLOCK values per program."""
        o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = o < n
        tl.store(dst + o, tl.load(src + o, mask=m), mask=m)


def triton_copy(src: torch.Tensor, dst: torch.Tensor, block: int = 4096, warps: int = 8) -> None:
    """Copy contiguous `src` into `dst` with a plain Triton kernel."""
    n = src.numel()
    _copy_kernel[(triton.cdiv(n, block),)](src, dst, n, BLOCK=block, num_warps=warps)


def copy_bandwidth(reps: int = 20) -> float:
    """Device-to-device copy bandwidth in bytes/s (read + written): the best of several ways to copy 1 GiB."""
    n = 256 * 2**20  # 1 GiB of float32 each way
    src = torch.randn(n, device="cuda")
    dst = torch.empty_like(src)
    nbytes = 2 * src.numel() * src.element_size()
    ways = {
        "dst.copy_(src)": lambda i: dst.copy_(src),
        "torch.add(src, 0, out=dst)": lambda i: torch.add(src, 0, out=dst),
        "Triton copy 4096/8": lambda i: triton_copy(src, dst, 4096, 8),
        "Triton copy 2048/4": lambda i: triton_copy(src, dst, 2048, 4),
        "Triton copy 8192/8": lambda i: triton_copy(src, dst, 8192, 8),
    }
    best = 0.0
    for name, way in ways.items():
        sec, how = _graph_time(way, 1, reps, target_s=5e-3)
        best = max(best, nbytes / sec)
        print(f"copy bandwidth, {name:28} ({how}): {nbytes / sec / 1e12:.3f} TB/s", flush=True)
    assert torch.equal(src, dst), "the copy kernels must copy"
    return best


def make_inputs(shape, dtype, layout, l2_bytes: int) -> list[torch.Tensor]:
    """Several random inputs, together at least 4x the L2 cache, in the wanted layout."""
    nbytes = math.prod(shape) * dtype.itemsize
    k = int(min(64, max(2, math.ceil(4 * l2_bytes / nbytes))))
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    return [torch.randn(shape, device="cuda", dtype=dtype).contiguous(memory_format=fmt) for _ in range(k)]


def time_forward(fn, xs, bw: float, train: bool = False, reps: int = 15) -> tuple[float, str]:
    """Seconds per forward call of fn (train=True: inputs require grad, so max pooling keeps indices)."""
    if train:
        xs = [x.detach().requires_grad_(True) for x in xs]

    def call(i):
        with torch.set_grad_enabled(train):
            fn(xs[i])

    return _graph_time(call, len(xs), reps)


def time_backward(fn, xs, bw: float, reps: int = 15) -> tuple[float, str]:
    """Seconds per backward call of fn alone (autograd.grad on retained forward graphs)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):  # forward on the capture stream, so its backward runs (and is captured) there
        xs = [x.detach().requires_grad_(True) for x in xs]
        ys = [fn(x) for x in xs]
        gs = [torch.randn_like(y) for y in ys]
    torch.cuda.synchronize()

    def call(i):
        torch.autograd.grad(ys[i], xs[i], gs[i], retain_graph=True)

    return _graph_time(call, len(xs), reps, stream=stream)


def time_zero(xs, reps: int = 15) -> float:
    """Seconds per `zero_()` of a tensor like one input: what writing these bytes alone takes (the backward's floor)."""
    outs = [torch.empty_like(x) for x in xs]
    sec, _ = _graph_time(lambda i: outs[i].zero_(), len(outs), reps)
    return sec


def time_copy(xs, reps: int = 15) -> float:
    """Seconds per copy of one input (same bytes read, as many written) with the Triton copy kernel."""
    outs = [torch.empty_like(x) for x in xs]
    sec, _ = _graph_time(lambda i: triton_copy(xs[i], outs[i]), len(xs), reps)
    return sec


def op_bytes(shape, dtype, op: str) -> int:
    """Bytes an op must move: the maps once plus the pooled vector (2C values for concat)."""
    n, c = shape[:2]
    return (math.prod(shape) + n * c * (2 if op == "concat" else 1)) * dtype.itemsize


def run(shapes, dtypes, layouts, bw: float, l2: int, with_backward: bool = True) -> list[dict]:
    """Time every implementation on every case; one dict per (case, implementation)."""
    rows = []
    for shape in shapes:
        for dname in dtypes:
            for layout in layouts:
                xs = make_inputs(shape, DTYPES[dname], layout, l2)
                copy_s = time_copy(xs)  # what a plain copy of these bytes reaches at this size
                copy_bytes = 2 * xs[0].numel() * xs[0].element_size()
                rows.append(
                    dict(
                        shape="x".join(map(str, shape)),
                        dtype=dname,
                        layout=layout,
                        op="copy",
                        impl="copy, same bytes",
                        issue=(tuple(shape), dname, layout) in ISSUE_ROWS,
                        fwd_us=copy_s * 1e6,
                        fwd_pct=100 * copy_bytes / copy_s / bw,
                        timing="graph",
                    )
                )
                for op, impl, fn in IMPLS:
                    nbytes = op_bytes(shape, DTYPES[dname], op)
                    fwd, how = time_forward(fn, xs, bw)
                    row = dict(
                        shape="x".join(map(str, shape)),
                        dtype=dname,
                        layout=layout,
                        op=op,
                        impl=impl,
                        issue=(tuple(shape), dname, layout) in ISSUE_ROWS,
                        fwd_us=fwd * 1e6,
                        fwd_pct=100 * nbytes / fwd / bw,
                        timing=how,
                    )
                    if op != "avg":  # forward when the input requires grad: max pooling keeps its indices
                        fwd_t, _ = time_forward(fn, xs, bw, train=True)
                        row.update(train_us=fwd_t * 1e6, train_pct=100 * nbytes / fwd_t / bw)
                    if with_backward:
                        bwd, _ = time_backward(fn, xs, bw)
                        row.update(bwd_us=bwd * 1e6, bwd_pct=100 * nbytes / bwd / bw)
                    rows.append(row)
                    print(
                        f"{row['shape']:>16} {dname} {layout:>13} {impl:>28}  fwd {row['fwd_us']:8.1f} us "
                        f"{row['fwd_pct']:5.1f}%  "
                        + (f"bwd {row['bwd_us']:8.1f} us {row['bwd_pct']:5.1f}%" if with_backward else ""),
                        flush=True,
                    )
                del xs
                torch.cuda.empty_cache()
    return rows


def speedups(rows: list[dict]) -> dict:
    """gaplib concat_pool speed-up over the AdaptiveConcatPool2d computation, per case: (fwd, train, bwd)."""
    out = {}
    for r in rows:
        if r["impl"] == "gaplib concat_pool":
            key = (r["shape"], r["dtype"], r["layout"])
            ref = next(
                q for q in rows if (q["shape"], q["dtype"], q["layout"]) == key and q["impl"].startswith("fastai")
            )
            out[key] = (
                ref["fwd_us"] / r["fwd_us"],
                ref["train_us"] / r["train_us"],
                ref.get("bwd_us", math.nan) / r.get("bwd_us", math.nan),
            )
    return out


def markdown(rows: list[dict], bw: float, device: str) -> str:
    """The results as a markdown report."""
    lines = [
        "# Global pooling at memory speed: GPU benchmark",
        "",
        f"Device: {device}; torch {torch.__version__}; measured device-to-device copy bandwidth "
        f"**{bw / 1e12:.2f} TB/s** (bytes read + written).",
        "",
        "Time per call (CUDA-graph replays over inputs larger than L2) and % of copy bandwidth = "
        "(input bytes + output bytes) / time / copy bandwidth. `train fwd` is the forward pass when the input "
        "requires grad (max pooling then keeps indices). `bwd` is the backward pass alone. * = a row of issue 5.",
        "",
        f"gaplib kernel block configurations per shape class (`gaplib.kernels._TUNED`): `{kernels._TUNED}`.",
        "",
        "| shape | dtype | layout | implementation | fwd µs | fwd % | train fwd µs | train fwd % | bwd µs | bwd % |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        tr = f"{r['train_us']:.1f} | {r['train_pct']:.0f}" if "train_us" in r else " | "
        bw_ = f"{r['bwd_us']:.1f} | {r['bwd_pct']:.0f}" if "bwd_us" in r else " | "
        mark = "*" if r["issue"] else ""
        name = f"**{r['impl']}**" if r["impl"].startswith("gaplib") else r["impl"]
        lines.append(
            f"| {r['shape']}{mark} | {r['dtype']} | {r['layout']} | {name} | {r['fwd_us']:.1f} | "
            f"{r['fwd_pct']:.0f} | {tr} | {bw_} |"
        )
    sp = speedups(rows)
    if sp:
        lines += [
            "",
            "## gaplib concat_pool vs fastai's AdaptiveConcatPool2d computation (speed-up)",
            "",
            "| shape | dtype | layout | fwd | train fwd | bwd |",
            "|---|---|---|---:|---:|---:|",
        ]
        for (s, d, lay), (f, t, b) in sp.items():
            lines.append(f"| {s} | {d} | {lay} | {f:.1f}x | {t:.1f}x | {b:.1f}x |")
        lines.append("")
        lines.append(
            f"Smallest speed-up: fwd {min(v[0] for v in sp.values()):.1f}x, train fwd "
            f"{min(v[1] for v in sp.values()):.1f}x, bwd {min(v[2] for v in sp.values()):.1f}x."
        )
    mine = [r for r in rows if r["impl"].startswith("gaplib")]
    if mine:
        lines += ["", "## gaplib kernels: smallest % of copy bandwidth over all cases", ""]
        for key in ("fwd_pct", "train_pct", "bwd_pct"):
            vals = [(r[key], r) for r in mine if key in r]
            if vals:
                v, r = min(vals, key=lambda t: t[0])
                lines.append(f"- {key}: {v:.0f} % ({r['impl']}, {r['shape']} {r['dtype']} {r['layout']})")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------- sweep
SWEEP_CASES = [  # (shape, dtype, layout, full): full = try every config; else a short list (short NCHW: --variants)
    ((128, 256, 32, 32), "fp32", "NCHW", True),
    ((256, 2048, 7, 7), "bf16", "channels_last", False),
    ((64, 64, 112, 112), "bf16", "channels_last", True),
]


def _candidates(kind: str, shape, full: bool) -> list[tuple]:
    """Block configurations to try for one kernel on one shape."""
    n, c, h, w = shape
    L = h * w
    bl = kernels._pow2(L)
    bc = min(kernels._pow2(c), 512)
    if kind == "rows_fwd":
        if bl <= 2048:
            cands = [
                (2, bl, 4),
                (4, bl, 8),
                (1, bl, 4),
                (2, bl, 8),
                (4, 256, 4),
                (8, 256, 8),
                (1, 1024, 4, 3),
                (2, 1024, 8, 3),
                (4, 256, 4, 3),
                (1, 512, 4, 3),
                (2, 256, 4, 4),
            ]
        else:
            cands = [
                (1, 2048, 4),
                (1, 4096, 8),
                (2, 2048, 8),
                (1, 1024, 4),
                (4, 512, 4),
                (2, 1024, 8),
                (1, 2048, 4, 3),
                (1, 1024, 4, 3),
            ]
    elif kind == "rows_bwd":
        cands = [(2, 1024, 4), (1, 2048, 4), (4, 1024, 8), (1, 4096, 8), (1, 1024, 4), (2, 2048, 8)]
    elif kind == "cl_fwd":
        if bc >= 512:
            cands = [(8, 256, 4), (16, 256, 4), (16, 128, 4), (32, 128, 8), (64, 64, 8), (8, 512, 4), (64, 32, 4)]
        elif bc >= 128:
            cands = [(16, bc, 4), (32, bc // 2, 4), (32, bc, 8), (8, bc, 4), (64, 64, 4), (16, 64, 4)]
        else:
            cands = [
                (32, bc, 4),
                (64, bc, 4),
                (64, bc, 8),
                (128, bc, 8),
                (16, bc, 4),
                (256, bc, 8),
                (128, 32, 4),
                (256, 32, 8),
                (64, 64, 8, 3),
                (32, 64, 4, 3),
                (64, 64, 4, 3),
                (128, 32, 4, 3),
                (32, 64, 4, 2),
                (64, 32, 4, 4),
            ]
    else:  # cl_bwd
        if bc >= 512:
            cands = [(4, 512, 4), (8, 256, 4), (16, 256, 8), (16, 128, 4), (32, 128, 8)]
        else:
            cands = [(2048 // bc, bc, 4), (4096 // bc, bc, 8), (1024 // bc, bc, 4), (8192 // bc, bc, 8)]
    return cands if full else cands[:4]


def sweep(bw: float, l2: int) -> dict:
    """Try block configurations per shape class, keep the fastest in `kernels._TUNED`, and return the picks."""
    print(
        "\n## sweep: % of copy bandwidth per block config  (config = kernel blocks, num_warps[, num_stages])",
        flush=True,
    )
    fns = {"avg": kernels.gap, "max": kernels.gmp, "concat": kernels.concat_pool}
    picks = {}
    for shape, dname, layout, full in SWEEP_CASES:
        dtype = DTYPES[dname]
        n, c, h, w = shape
        xs = make_inputs(shape, dtype, layout, l2)
        fk, bk = ("cl_fwd", "cl_bwd") if layout == "channels_last" else ("rows_fwd", "rows_bwd")
        for kind, ops in ((fk, ("avg", "concat", "max-train", "concat-train")), (bk, ("avg", "max", "concat"))):
            scores = {}
            for cfg in [None] + _candidates(kind, shape, full):  # None: the current default
                kernels._OVERRIDE.clear()
                if cfg is not None:
                    kernels._OVERRIDE[kind] = cfg
                res, pct = [], {}
                for op in ops:
                    name = op.split("-")[0]
                    nbytes = op_bytes(shape, dtype, name)
                    try:
                        if kind.endswith("fwd"):
                            t, how = time_forward(fns[name], xs, bw, train=op.endswith("train"), reps=7)
                        else:
                            t, how = time_backward(fns[name], xs, bw, reps=7)
                        pct[op] = 100 * nbytes / t / bw
                        res.append(f"{op} {pct[op]:5.1f}%" + ("" if how == "graph" else "(eager)"))
                    except Exception as e:  # noqa: BLE001 - a config that does not compile is reported
                        pct[op] = 0.0
                        res.append(f"{op} FAIL {type(e).__name__}: {str(e)[:80]}")
                scores[cfg] = pct
                print(
                    f"SWEEP {'x'.join(map(str, shape)):>14} {dname} {layout:>13} {kind:8} {cfg!s:18} " + "  ".join(res),
                    flush=True,
                )
            kernels._OVERRIDE.clear()
            esize = dtype.itemsize
            if kind.endswith("fwd"):  # (keeps argmax, own entry for concat) -> the ops a pick must serve
                groups = {
                    (False, ""): ("avg",),
                    (False, "concat"): ("concat",),
                    (True, ""): ("max-train", "concat-train"),
                }
            else:
                groups = {(None, ""): ops}
            for (with_idx, tag), group in groups.items():
                best = max(scores, key=lambda k: sum(scores[k][o] for o in group))
                key = kernels._tune_key(kind, h * w, c, esize, with_idx) + ((tag,) if tag else ())
                if best is not None:
                    picks[key] = best
                    kernels._TUNED[key] = best
                print(f"PICK {key} -> {best if best is not None else 'default'}", flush=True)
        del xs
        torch.cuda.empty_cache()
    print("TUNED =", {k: kernels._TUNED[k] for k in sorted(kernels._TUNED, key=str)}, flush=True)
    return picks


# --------------------------------------------------------------------------------------- variants
VARIANT_CASES = [((256, 2048, 7, 7), "fp32"), ((256, 512, 7, 7), "fp32"), ((256, 2048, 7, 7), "bf16")]
# short NCHW maps, forward blocks to try: "short_fwd" = (BLOCK_R, BLOCK_L, num_warps, KEY) of the tile kernel,
# "pairs_fwd" = (BLOCK_P, BLOCK_W, num_warps) of the 16-bit kernel that reads values two to an int32 word
SHORT_FWD = [
    (32, 16, 1),
    (16, 16, 1),
    (32, 8, 1),
    (8, 16, 1),
    (16, 8, 1),
    (16, 32, 1),
    (8, 32, 1),
    (64, 8, 2),
    (64, 16, 2),
    (128, 8, 4),
    (128, 4, 4),
    (64, 32, 4),
    (256, 16, 8),
]
PAIRS_FWD = [
    (64, 16, 4),
    (32, 16, 2),
    (128, 16, 8),
    (64, 8, 4),
    (128, 8, 4),
    (32, 8, 1),
    (256, 8, 8),
    (128, 8, 8),
    (64, 8, 2),
    (32, 8, 2),
    (256, 8, 4),
    (128, 8, 2),
]
# "window_fwd" = (BLOCK_R, num_warps) of the kernel that reads each row through its aligned 16-byte window (no argmax)
WINDOW_FWD = [(16, 1), (32, 1), (16, 2), (32, 2), (64, 2), (32, 4), (64, 4), (128, 4), (128, 8)]
# "short_bwd" = (ROWS, num_warps[, PACK]); PACK 1 (16-bit only): values and argmax packed per row, one gather
SHORT_BWD = [(32, 4), (64, 4), (64, 8), (128, 8), (256, 8), (128, 4)]
SHORT_BWD_PACKED = [(128, 4, 1), (256, 8, 1), (512, 8, 1), (256, 16, 1), (512, 16, 1), (256, 4, 1)]


def _fwd_candidates(dname: str, with_idx: bool) -> list[dict]:
    """`kernels._OVERRIDE` settings to try for one short-map forward."""
    keys = (0, 1 if dname != "fp32" else 2) if with_idx else (0,)
    off = {"window_fwd": (0, 0)}
    tile = [dict(off, pairs_fwd=(0, 0, 4), short_fwd=cfg + (k,)) for cfg in SHORT_FWD for k in keys]
    window = [] if with_idx else [{"window_fwd": cfg} for cfg in WINDOW_FWD]
    return window + (tile if dname == "fp32" else [dict(off, pairs_fwd=cfg) for cfg in PAIRS_FWD] + tile[-len(keys) :])


def variants(bw: float, l2: int, only: str = "") -> list[dict]:
    """% of copy bandwidth of short-map NCHW kernel blocks, per operation, on the issue's 7 x 7 shapes."""
    fns = {"avg": kernels.gap, "max": kernels.gmp, "concat": kernels.concat_pool}
    out = []
    for shape, dname in VARIANT_CASES:
        if only and only not in f"{'x'.join(map(str, shape))} {dname}":
            continue
        dtype = DTYPES[dname]
        xs = make_inputs(shape, dtype, "NCHW", l2)
        nbytes = xs[0].numel() * xs[0].element_size()
        case = f"{'x'.join(map(str, shape))} {dname}"
        print(
            f"VAR {case} copy {100 * 2 * nbytes / time_copy(xs) / bw:5.1f} "
            f"zero_ {100 * nbytes / time_zero(xs) / bw:5.1f}  (% of copy bandwidth)",
            flush=True,
        )
        jobs = [
            (op, "fwd", train, cand)
            for op, train in (("avg", False), ("max", False), ("max", True), ("concat", False), ("concat", True))
            for cand in _fwd_candidates(dname, train)
        ]
        bwd = SHORT_BWD + (SHORT_BWD_PACKED if dname != "fp32" else [])
        jobs += [
            (op, "bwd", None, {"short_bwd": cfg})
            for op in ("avg", "max", "concat")
            for cfg in bwd
            if op != "avg" or len(cfg) == 2
        ]
        best = {}
        for op, kind, train, cand in jobs:
            kernels._OVERRIDE.clear()
            kernels._OVERRIDE.update(cand)
            label = op + ("-train" if train else "") + ("-bwd" if kind == "bwd" else "")
            try:
                if kind == "fwd":
                    t, _ = time_forward(fns[op], xs, bw, train=train, reps=5)
                else:
                    t, _ = time_backward(fns[op], xs, bw, reps=5)
                pct = 100 * op_bytes(shape, dtype, op) / t / bw
            except Exception as e:  # noqa: BLE001 - a variant that fails is reported, not fatal
                pct = 0.0
                print(f"  FAIL {label} {cand}: {type(e).__name__}: {str(e)[:200]}", flush=True)
            out.append(dict(case=case, op=label, cand=cand, pct=pct))
            best[label] = max(best.get(label, (-1.0, "")), (pct, str(cand)))
            print(f"VAR {case} {label:13} {pct:5.1f}  {cand}", flush=True)
        for label, (pct, cand) in best.items():
            print(f"BEST {case} {label:13} {pct:5.1f}  {cand}", flush=True)
        kernels._OVERRIDE.clear()
        del xs
        torch.cuda.empty_cache()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the rows of issue 5's table")
    parser.add_argument("--sweep", action="store_true", help="also try block configurations of the kernels")
    parser.add_argument("--no-table", action="store_true", help="skip the main table (with --sweep)")
    parser.add_argument(
        "--variants",
        action="store_true",
        help="try block shapes of the short-map NCHW kernels on the issue's 7 x 7 shapes, then stop",
    )
    parser.add_argument("--only", default="", help="with --variants: only the cases whose name contains this")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"), help="folder for the results")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(
            "bench_gpu_pool.py measures GPU kernels and needs a CUDA GPU; none is visible here. "
            "Run it on a GPU machine (see notebooks/09_gap_at_memory_speed.ipynb for the CPU version of the story)."
        )
        return 1
    if not kernels.available(torch.empty(1, 1, 1, 1, device="cuda")):
        print("gaplib's Triton kernels are not available here (Triton missing, GPU too old, or GAPLIB_KERNELS=0).")
        return 1
    props = torch.cuda.get_device_properties(0)
    l2 = getattr(props, "L2_cache_size", 50 * 2**20)
    device = f"{props.name} ({props.multi_processor_count} SMs, {l2 / 2**20:.0f} MiB L2)"
    t0 = time.time()
    bw = copy_bandwidth()
    print(f"{device}: copy bandwidth {bw / 1e12:.3f} TB/s (read + write)", flush=True)
    if args.variants:
        variants(bw, l2, args.only)
        return 0
    if args.sweep:
        picks = sweep(bw, l2)
        (Path(args.out) / "tuned.txt").parent.mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "tuned.txt").write_text(repr(picks) + "\n")
    if args.no_table:
        return 0
    if args.quick:
        rows = []
        for shape, dname, layout in sorted(ISSUE_ROWS):
            rows += run([shape], [dname], [layout], bw, l2)
    else:
        rows = run(SHAPES, list(DTYPES), LAYOUTS, bw, l2)
    report = markdown(rows, bw, device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_pool.md").write_text(report)
    with open(out / "gpu_pool.csv", "w", newline="") as f:
        fields = [
            "shape",
            "dtype",
            "layout",
            "op",
            "impl",
            "issue",
            "fwd_us",
            "fwd_pct",
            "train_us",
            "train_pct",
            "bwd_us",
            "bwd_pct",
            "timing",
        ]
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    print()
    print(report)
    print(f"wrote {out / 'gpu_pool.md'} and {out / 'gpu_pool.csv'} in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
