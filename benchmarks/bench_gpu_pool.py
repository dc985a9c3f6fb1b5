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

Usage: python benchmarks/bench_gpu_pool.py [--quick] [--sweep [--only KERNEL]] [--budget S] [--out DIR]

`--sweep` first tries the block records of SWEEP_JOBS through the public `gaplib.kernels.tuning.override` and
puts each job's fastest into this GPU's table with `tuning.set_config` (for this run); the table that follows
then measures them. Copy the picks it prints into gaplib/kernels/tuning.py to keep them.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
import traceback
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from gaplib import kernels
from gaplib.kernels import tuning
from gaplib.timing import cuda_graph_time

try:
    import triton
    import triton.language as tl
except ImportError:  # the script then explains and exits in main()
    triton = None

SHAPES = [(256, 2048, 7, 7), (256, 512, 7, 7), (128, 256, 32, 32), (64, 64, 112, 112)]
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
LAYOUTS = ["NCHW", "channels_last"]
# the five cells where PyTorch's pooling was measured at 2-68 % of copy bandwidth on an H100 (the kernels' targets:
# >= 85 % forward, >= 80 % backward); marked * in the table, and all that --quick runs
TARGET_ROWS = {
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
        sec, how = cuda_graph_time(way, 1, reps, target_s=5e-3)
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

    return cuda_graph_time(call, len(xs), reps)


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

    return cuda_graph_time(call, len(xs), reps, stream=stream)


def time_zero(xs, reps: int = 15) -> float:
    """Seconds per `zero_()` of a tensor like one input: what writing these bytes alone takes (the backward's floor)."""
    outs = [torch.empty_like(x) for x in xs]
    sec, _ = cuda_graph_time(lambda i: outs[i].zero_(), len(outs), reps)
    return sec


def time_copy(xs, reps: int = 15) -> float:
    """Seconds per copy of one input (same bytes read, as many written) with the Triton copy kernel."""
    outs = [torch.empty_like(x) for x in xs]
    sec, _ = cuda_graph_time(lambda i: triton_copy(xs[i], outs[i]), len(xs), reps)
    return sec


def op_bytes(shape, dtype, op: str) -> int:
    """Bytes an op must move: the maps once plus the pooled vector (2C values for concat)."""
    n, c = shape[:2]
    return (math.prod(shape) + n * c * (2 if op == "concat" else 1)) * dtype.itemsize


def _device() -> torch.device:
    """The GPU (the CPU only when this module is imported on a machine without one, e.g. to test the report)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _case_name(shape) -> str:
    return "x".join(map(str, shape))


def run(cases, bw: float, l2: int, deadline: float = math.inf, csv_path: Path | None = None) -> list[dict]:
    """Time every implementation on every (shape, dtype, layout) case; one dict per (case, implementation).

    Stops before a case once `deadline` (a time.time() value) has passed; rewrites `csv_path` after every case.
    """
    rows = []
    for shape, dname, layout in cases:
        if time.time() > deadline:
            print(f"table stopped at its time budget before {_case_name(shape)} {dname} {layout}", flush=True)
            break
        xs = make_inputs(shape, DTYPES[dname], layout, l2)
        base = dict(
            shape=_case_name(shape), dtype=dname, layout=layout, target=(tuple(shape), dname, layout) in TARGET_ROWS
        )
        copy_s = time_copy(xs)  # what a plain copy of these bytes reaches at this size
        zero_s = time_zero(xs)  # what writing them alone reaches (the backward is nearly all writes)
        copy_bytes = 2 * xs[0].numel() * xs[0].element_size()
        rows.append(
            dict(
                base,
                op="copy",
                impl="copy, same bytes",
                fwd_us=copy_s * 1e6,
                fwd_pct=100 * copy_bytes / copy_s / bw,
                timing="graph",
            )
        )
        rows.append(
            dict(
                base,
                op="zero",
                impl="zero_(), same bytes written",
                fwd_us=zero_s * 1e6,
                fwd_pct=100 * copy_bytes / 2 / zero_s / bw,
                timing="graph",
            )
        )
        for op, impl, fn in IMPLS:
            nbytes = op_bytes(shape, DTYPES[dname], op)
            fwd, how = time_forward(fn, xs, bw)
            row = dict(base, op=op, impl=impl, fwd_us=fwd * 1e6, fwd_pct=100 * nbytes / fwd / bw, timing=how)
            if op != "avg":  # forward when the input requires grad: max pooling keeps its indices
                fwd_t, _ = time_forward(fn, xs, bw, train=True)
                row.update(train_us=fwd_t * 1e6, train_pct=100 * nbytes / fwd_t / bw)
            bwd, _ = time_backward(fn, xs, bw)
            row.update(bwd_us=bwd * 1e6, bwd_pct=100 * nbytes / bwd / bw)
            rows.append(row)
            print(
                f"{row['shape']:>16} {dname} {layout:>13} {impl:>28}  fwd {row['fwd_us']:8.1f} us "
                f"{row['fwd_pct']:5.1f}%  bwd {row['bwd_us']:8.1f} us {row['bwd_pct']:5.1f}%",
                flush=True,
            )
        del xs
        torch.cuda.empty_cache()
        if csv_path is not None:
            write_csv(rows, csv_path)
    return rows


CSV_FIELDS = [
    "shape",
    "dtype",
    "layout",
    "op",
    "impl",
    "target",
    "fwd_us",
    "fwd_pct",
    "train_us",
    "train_pct",
    "bwd_us",
    "bwd_pct",
    "timing",
]


def write_csv(rows: list[dict], path: Path) -> None:
    """All rows so far as CSV."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


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


COLUMNS = {"fwd": "fwd_pct", "train fwd": "train_pct", "bwd": "bwd_pct"}
OP_NAMES = {"avg": "gap", "max": "gmp", "concat": "concat_pool"}


def why_slow(row: dict, column: str, case_rows: list[dict], bw: float) -> str:
    """The likely reasons, from the case's structure and its copy / zero_ rows, that a gaplib cell misses 90 %."""
    n, c, h, w = map(int, row["shape"].split("x"))
    dtype = DTYPES[row["dtype"]]
    size, nbytes = h * w, op_bytes((n, c, h, w), dtype, row["op"])
    zero = next(r for r in case_rows if r["op"] == "zero")
    reasons = []
    if column == "bwd":
        if row["bwd_pct"] >= 0.9 * zero["fwd_pct"]:
            reasons.append(
                f"writes: the backward is nearly all writes, and a plain write of these bytes (zero_) "
                f"reaches {zero['fwd_pct']:.0f} % of copy bandwidth here"
            )
    else:
        x = torch.empty((n, c, h, w), dtype=dtype, device=_device())
        if row["layout"] == "channels_last":
            x = x.contiguous(memory_format=torch.channels_last)
        keep = column == "train fwd"
        if kernels.choose(x, OP_NAMES[row["op"]], needs_grad=keep) == "pytorch forward":
            launches = "two reductions and a cat" if row["op"] == "concat" else "one reduction"
            reasons.append(
                f"launches: PyTorch's forward ({launches}), picked by this GPU's table as faster than the kernel"
            )
        if keep:
            reasons.append(
                "argmax: each value also costs a compare-and-select of its position, and (value, position) "
                "pairs are reduced across threads"
            )
        if row["layout"] == "NCHW" and size <= 64 and (size * dtype.itemsize) % 16:
            reasons.append(
                f"alignment: rows of {size * dtype.itemsize} B start off 16-byte boundaries, so loads are "
                "narrower than 16 B (more memory requests per byte)"
            )
        del x
    floor_us = nbytes / bw * 1e6
    if floor_us < 15:
        reasons.append(
            f"bytes: {nbytes / 1e6:.0f} MB is {floor_us:.1f} µs at copy speed, so a launch's fixed start and "
            "drain (a few µs) is a large share"
        )
    return "; ".join(reasons) or "not established (needs a profile)"


def analysis(rows: list[dict], bw: float) -> list[str]:
    """Markdown: gaplib cells against a same-bytes copy (count, and why below 90 %) and against PyTorch's best."""
    lines, slow, slower, total, good = [], [], [], 0, 0
    for r in rows:
        if not r["impl"].startswith("gaplib"):
            continue
        case_rows = [q for q in rows if (q["shape"], q["dtype"], q["layout"]) == (r["shape"], r["dtype"], r["layout"])]
        copy = next(q for q in case_rows if q["op"] == "copy")
        torch_rows = [q for q in case_rows if q["op"] == r["op"] and not q["impl"].startswith(("gaplib", "fastai"))]
        for column, key in COLUMNS.items():
            if key not in r:
                continue
            total += 1
            share = r[key] / copy["fwd_pct"]
            good += share >= 0.9
            name = f"{r['impl']} {r['shape']} {r['dtype']} {r['layout']} {column}"
            if share < 0.9:
                slow.append(f"| {name} | {r[key]:.0f} | {100 * share:.0f} | {why_slow(r, column, case_rows, bw)} |")
            best = max((q for q in torch_rows if key in q), key=lambda q: q[key], default=None)
            if best is not None and best[key] > 1.03 * r[key]:
                slower.append(f"| {name} | {r[key]:.0f} | {best['impl']} | {best[key]:.0f} |")
    lines += [
        "",
        "## gaplib against a copy of the same bytes",
        "",
        f"{good} of {total} gaplib cells reach 90 % of the speed of a plain copy of the same bytes (the case's "
        "`copy, same bytes` row). The others, with the likely reasons read off the case's structure:",
        "",
        "| cell | % of copy bandwidth | % of same-bytes copy | why |",
        "|---|---:|---:|---|",
        *slow,
    ]
    lines += [
        "",
        "## Cells where a PyTorch spelling is faster (by more than 3 %)",
        "",
        "`train fwd` cells keep the argmax for the kernel backward, which PyTorch's `amax` does not (its "
        "backward runs at a fraction of ours), so they cannot be handed to PyTorch alone.",
        "",
        "| cell | gaplib % | fastest PyTorch spelling | its % |",
        "|---|---:|---|---:|",
        *slower,
    ]
    return lines


def records(table: str) -> list[str]:
    """The device table's records as markdown list items."""
    out = []
    for key, record in sorted(tuning.TABLES[table].items(), key=lambda kv: str(kv[0])):
        fields = ", ".join(f"{k}={v}" for k, v in key._asdict().items() if v is not None and k != "kernel")
        out.append(f"- `{key.kernel}` ({fields}): `{record}`")
    return out


def markdown(rows: list[dict], bw: float, device: str, picks: dict | None = None, complete: bool = True) -> str:
    """The results as a markdown report."""
    table = tuning.table_name(_device())
    lines = [
        "# Global pooling at memory speed: GPU benchmark",
        "",
        f"Device: {device}; torch {torch.__version__}; Triton {triton.__version__}; measured device-to-device copy "
        f"bandwidth **{bw / 1e12:.2f} TB/s** (bytes read + written).",
        "",
        "Time per call (CUDA-graph replays over inputs larger than L2) and % of copy bandwidth = "
        "(input bytes + output bytes) / time / copy bandwidth. `train fwd` is the forward pass when the input "
        "requires grad (max pooling then keeps indices). `bwd` is the backward pass alone. "
        "* = a target row (PyTorch measured at 2-68 % of copy bandwidth)."
        + ("" if complete else " **The run stopped at its time budget: cases are missing.**"),
        "",
        f"gaplib used the `{table}` tuning table (`gaplib.kernels.tuning.TABLES['{table}']`)"
        + (f"; the sweep of this run changed {len(picks)} records in it first:" if picks else "."),
        "",
        *(f"- `{k}` -> `{v}`" for k, v in (picks or {}).items()),
        "",
        "| shape | dtype | layout | implementation | fwd µs | fwd % | train fwd µs | train fwd % | bwd µs | bwd % |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        tr = f"{r['train_us']:.1f} | {r['train_pct']:.0f}" if "train_us" in r else " | "
        bw_ = f"{r['bwd_us']:.1f} | {r['bwd_pct']:.0f}" if "bwd_us" in r else " | "
        mark = "*" if r["target"] else ""
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
    lines += analysis(rows, bw)
    lines += ["", f"## The `{table}` table's records after this run", "", *records(table)]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------- sweep
B = tuning.BlockConfig
AS_IS = "as is"  # a sweep candidate that keeps the device table's current record
SHORT_BACKWARD = [B(32, warps=4), B(64, warps=4), B(64, warps=8), B(128, warps=8), B(256, warps=8), B(128, warps=4)]
SHORT_BACKWARD_PACKED = [B(128, warps=4, packed=True), B(256, warps=8, packed=True), B(512, warps=16, packed=True)]
WINDOW = [B(16, warps=1), B(32, warps=2), B(32, warps=4), B(64, warps=4), B(128, warps=4), B(128, warps=8), None]
PAIRS = [B(64, 16, 4), B(32, 8, 2), B(64, 8, 2), B(128, 8, 4), B(128, 16, 8), B(256, 8, 8)]
CL_SHORT = [
    B(16, 128, 4),
    B(64, 32, 4),
    B(64, 64, 4),
    B(64, 64, 8),
    B(64, 128, 8),
    B(32, 64, 4, stages=2),
    B(8, 256, 4, stages=4),
    B(64, 16, 2),
]
CL_SHORT_BACKWARD = [B(4, 512, 4), B(8, 256, 4), B(16, 128, 4), B(16, 256, 8), B(64, 64, 8), B(32, 128, 8)]
ROWS_MID = [
    B(1, 1024, 4),
    B(2, 1024, 8),
    B(4, 256, 4, stages=3),
    B(2, 512, 4),
    B(1, 1024, 8),
    B(4, 1024, 8),
    B(1, 512, 4, stages=3),
]
CL_LONG = [
    B(32, 64, 4, stages=4),
    B(64, 64, 8, stages=3),
    B(128, 64, 8, stages=4),
    B(64, 64, 4, stages=4),
    B(32, 64, 4, stages=3),
    B(64, 32, 4, stages=4),
]


class SweepJob(NamedTuple):
    """One cell the sweep tunes: a kernel's record for one shape class, scored on some ops, from some candidates.

    `fields` pick the `tuning.ShapeClass` whose record changes; `ops` are "avg", "max", "concat" (forward
    without argmax), with "-train" (forward keeping the argmax) or "-bwd" (backward alone).
    """

    shape: tuple[int, int, int, int]
    dtype: str
    layout: str
    kernel: str
    fields: dict
    ops: tuple[str, ...]
    candidates: list


# the weakest H200 cells first (the sweep stops at its time budget)
SWEEP_JOBS = [
    SweepJob(
        shape=(256, 2048, 7, 7),
        dtype="fp32",
        layout="channels_last",
        kernel="channels_last_forward",
        fields=dict(keeps_argmax=True, map_size="short", channels="wide"),
        ops=("max-train", "concat-train"),
        candidates=CL_SHORT,
    ),
    SweepJob(
        shape=(256, 2048, 7, 7),
        dtype="bf16",
        layout="channels_last",
        kernel="channels_last_forward",
        fields=dict(keeps_argmax=True, map_size="short", channels="wide"),
        ops=("max-train", "concat-train"),
        candidates=CL_SHORT,
    ),
    SweepJob(
        shape=(256, 2048, 7, 7),
        dtype="bf16",
        layout="NCHW",
        kernel="window_forward",
        fields=dict(op="gap"),
        ops=("avg",),
        candidates=WINDOW,
    ),
    SweepJob(
        shape=(256, 2048, 7, 7),
        dtype="bf16",
        layout="NCHW",
        kernel="window_forward",
        fields=dict(op="gmp"),
        ops=("max",),
        candidates=WINDOW,
    ),
    SweepJob(
        shape=(128, 256, 32, 32),
        dtype="fp32",
        layout="NCHW",
        kernel="rows_forward",
        fields=dict(op="concat_pool", keeps_argmax=False, map_size="mid"),
        ops=("concat",),
        candidates=ROWS_MID,
    ),
    SweepJob(
        shape=(256, 2048, 7, 7),
        dtype="fp32",
        layout="channels_last",
        kernel="channels_last_forward",
        fields=dict(op="concat_pool", keeps_argmax=False, map_size="short", channels="wide"),
        ops=("concat",),
        candidates=[tuning.PYTORCH] + CL_SHORT[:6],
    ),
    SweepJob(
        shape=(256, 2048, 7, 7),
        dtype="bf16",
        layout="NCHW",
        kernel="pairs_forward",
        fields=dict(op="gmp", keeps_argmax=True),
        ops=("max-train",),
        candidates=PAIRS,
    ),
    SweepJob(
        shape=(256, 2048, 7, 7),
        dtype="bf16",
        layout="NCHW",
        kernel="pairs_forward",
        fields=dict(op="concat_pool", keeps_argmax=True),
        ops=("concat-train",),
        candidates=PAIRS,
    ),
    SweepJob(
        shape=(256, 2048, 7, 7),
        dtype="bf16",
        layout="NCHW",
        kernel="window_forward",
        fields=dict(op="concat_pool"),
        ops=("concat",),
        candidates=WINDOW,
    ),
    SweepJob(
        shape=(256, 2048, 7, 7),
        dtype="fp32",
        layout="channels_last",
        kernel="channels_last_backward",
        fields=dict(map_size="short", channels="wide"),
        ops=("avg-bwd", "max-bwd", "concat-bwd"),
        candidates=CL_SHORT_BACKWARD,
    ),
    SweepJob(
        shape=(256, 2048, 7, 7),
        dtype="fp32",
        layout="NCHW",
        kernel="short_backward",
        fields=dict(),
        ops=("avg-bwd", "max-bwd", "concat-bwd"),
        candidates=SHORT_BACKWARD,
    ),
    SweepJob(
        shape=(256, 2048, 7, 7),
        dtype="bf16",
        layout="NCHW",
        kernel="short_backward",
        fields=dict(op="gmp"),
        ops=("max-bwd",),
        candidates=SHORT_BACKWARD_PACKED,
    ),
    SweepJob(
        shape=(256, 2048, 7, 7),
        dtype="bf16",
        layout="NCHW",
        kernel="short_backward",
        fields=dict(op="concat_pool"),
        ops=("concat-bwd",),
        candidates=SHORT_BACKWARD_PACKED,
    ),
    SweepJob(
        shape=(64, 64, 112, 112),
        dtype="bf16",
        layout="channels_last",
        kernel="channels_last_forward",
        fields=dict(keeps_argmax=False, map_size="long", channels="narrow"),
        ops=("avg", "concat"),
        candidates=CL_LONG,
    ),
]
FUNCTIONS = {"avg": kernels.gap, "max": kernels.gmp, "concat": kernels.concat_pool}


def _score(op: str, xs, shape, dtype, bw: float) -> float:
    """% of copy bandwidth of one sweep op ("max-train", "avg-bwd", ...) on inputs `xs`."""
    name = op.split("-")[0]
    if op.endswith("-bwd"):
        t, _ = time_backward(FUNCTIONS[name], xs, bw, reps=7)
    else:
        t, _ = time_forward(FUNCTIONS[name], xs, bw, train=op.endswith("-train"), reps=7)
    return 100 * op_bytes(shape, dtype, name) / t / bw


def sweep(bw: float, l2: int, deadline: float, only: str = "") -> dict:
    """Try the candidates of each job, put the fastest into this GPU's table (tuning.set_config); return the picks."""
    table = tuning.table_name(_device())
    print(f"\n## sweep into the {table} table: % of copy bandwidth per record", flush=True)
    picks = {}
    for job in SWEEP_JOBS:
        shape, dname, layout, kernel, fields, ops, candidates = job
        if only and only not in kernel:
            continue
        if time.time() > deadline:
            print(f"SWEEP stopped at its time budget before {kernel} {shape} {dname} {layout}", flush=True)
            break
        dtype = DTYPES[dname]
        key = tuning.ShapeClass(kernel, dtype.itemsize, **fields)
        xs = make_inputs(shape, dtype, layout, l2)
        scores = {}
        for candidate in [AS_IS] + candidates:
            records = {} if candidate is AS_IS else {kernel: candidate}
            try:
                with tuning.override(**records):
                    pct = {op: _score(op, xs, shape, dtype, bw) for op in ops}
            except Exception as e:  # noqa: BLE001 - a record that does not compile is reported, not fatal
                print(f"  FAIL {kernel} {candidate}: {type(e).__name__}: {str(e)[:160]}", flush=True)
                continue
            scores[candidate] = pct
            print(f"SWEEP {key} {candidate!s:60} " + "  ".join(f"{o} {p:5.1f}%" for o, p in pct.items()), flush=True)
        best = max(scores, key=lambda c: sum(scores[c].values()))
        if best is not AS_IS and sum(scores[best].values()) > 1.02 * sum(scores[AS_IS].values()):
            tuning.set_config(table, key, best)  # keep a pick only when it beats the current record by 2 %
            picks[key] = best
        print(f"PICK {key} -> {picks.get(key, AS_IS)}", flush=True)
        del xs
        torch.cuda.empty_cache()
    print("PICKS =", picks, flush=True)
    return picks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the five target rows (TARGET_ROWS)")
    parser.add_argument("--sweep", action="store_true", help="first try block records of the kernels (SWEEP_JOBS)")
    parser.add_argument("--only", default="", help="with --sweep: only the jobs whose kernel name contains this")
    parser.add_argument("--no-table", action="store_true", help="skip the main table (with --sweep)")
    parser.add_argument("--budget", type=float, default=1e9, help="seconds: stop sweeping / timing after this")
    parser.add_argument("--sweep-budget", type=float, default=300, help="seconds the sweep may take at most")
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
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bw = copy_bandwidth()
    print(f"{device}: copy bandwidth {bw / 1e12:.3f} TB/s (read + write)", flush=True)
    picks = {}
    if args.sweep:
        picks = sweep(bw, l2, min(t0 + args.budget, time.time() + args.sweep_budget), args.only)
        (out / "picks.txt").write_text(repr(picks) + "\n")
    if args.no_table:
        return 0
    everything = [(s, d, lay) for s in SHAPES for d in DTYPES for lay in LAYOUTS]  # the target rows first
    cases = sorted(TARGET_ROWS) + ([] if args.quick else [c for c in everything if c not in TARGET_ROWS])
    rows = run(cases, bw, l2, deadline=t0 + args.budget, csv_path=out / "gpu_pool.csv")
    complete = len({(r["shape"], r["dtype"], r["layout"]) for r in rows}) == len(cases)
    try:
        report = markdown(rows, bw, device, picks, complete=complete)
    except Exception:  # noqa: BLE001 - the CSV holds the numbers; show why the report failed
        traceback.print_exc()
        return 1
    (out / "gpu_pool.md").write_text(report)
    print()
    print(report)
    print(f"wrote {out / 'gpu_pool.md'} and {out / 'gpu_pool.csv'} in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
