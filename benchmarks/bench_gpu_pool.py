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

Contenders per op: PyTorch's eager spellings, the same spellings through `torch.compile` (compiled once per shape,
dtype and layout, `dynamic=False`, warmed up outside the timing; a compile failure is reported, not fatal), and
gaplib's kernels. The report races every gaplib cell against the best eager and the best compiled spelling
(benchmarks/gpu_pool_report.py builds it from the rows, testable without a GPU).

Usage: python benchmarks/bench_gpu_pool.py [--quick] [--cells REGEX] [--impls gaplib,eager,compiled] [--budget S]
                                           [--sweep [--only KERNEL]] [--out DIR] [--dry-run]
       python benchmarks/bench_gpu_pool.py --compare BEFORE.csv AFTER.csv [--out DIR]   (no GPU needed)
       python benchmarks/bench_gpu_pool.py --profile [--from-csv RUN.csv] [--profile-cells 20] [--out DIR]

`--profile` runs the gaplib op and a same-bytes copy of each lagging cell of a finished run (under 90 % of copy or
behind PyTorch) once under Nsight Compute (`ncu`) and writes one reason per cell, derived by explicit rules from
the metrics (`gpu_pool_report.profile_reasons`).

`--sweep` first tries the block records of SWEEP_JOBS through the public `gaplib.kernels.tuning.override` and
puts each job's fastest into this GPU's table with `tuning.set_config` (for this run); the table that follows
then measures them. Copy the picks it prints into gaplib/kernels/tuning.py to keep them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))  # gpu_pool_report, beside this file
import gpu_pool_report as report  # noqa: E402

from gaplib import kernels  # noqa: E402
from gaplib.kernels import tuning  # noqa: E402
from gaplib.timing import cuda_graph_time  # noqa: E402

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


def cat_amax_mean(x: torch.Tensor) -> torch.Tensor:
    """Concat pooling spelled with tensor reductions, in fastai's order (max, then average): (N, 2C)."""
    return torch.cat([x.amax((2, 3)), x.mean((2, 3))], 1)


# (op, implementation, function); op decides how many bytes the output has
IMPLS = [
    ("avg", "x.mean((2,3))", lambda x: x.mean((2, 3))),
    ("avg", "nn.AdaptiveAvgPool2d(1)", _avg_pool),
    ("avg", "gaplib gap", kernels.gap),
    ("max", "x.amax((2,3))", lambda x: x.amax((2, 3))),
    ("max", "nn.AdaptiveMaxPool2d(1)", _max_pool),
    ("max", "gaplib gmp", kernels.gmp),
    ("concat", "fastai AdaptiveConcatPool2d", fastai_concat),
    ("concat", "cat(x.amax, x.mean)", cat_amax_mean),
    ("concat", "gaplib concat_pool", kernels.concat_pool),
]
FUNCTIONS = {"avg": kernels.gap, "max": kernels.gmp, "concat": kernels.concat_pool}
# the spellings torch.compile races: compiled anew for every case (shape, dtype, layout) with dynamic=False
COMPILED = [
    ("avg", "compiled x.mean((2,3))", lambda x: x.mean((2, 3))),
    ("max", "compiled x.amax((2,3))", lambda x: x.amax((2, 3))),
    ("concat", "compiled cat(x.amax, x.mean)", cat_amax_mean),
]
KINDS = ("gaplib", "eager", "compiled")


if triton is not None:

    @triton.jit
    def _copy_kernel(src, dst, n, BLOCK: tl.constexpr):
        """dst[:n] = src[:n], BLOCK values per program."""
        o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = o < n
        tl.store(dst + o, tl.load(src + o, mask=m), mask=m)

    @triton.jit
    def _cell_mark_kernel(flag):
        """Does nothing useful: marks where a profiled cell starts and ends in the kernel sequence."""
        tl.store(flag, 1)


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


def contenders(kinds=KINDS) -> list[tuple[str, str, object, bool]]:
    """(op, implementation, function, compiled?) of the kinds asked for ('gaplib', 'eager', 'compiled')."""
    eager = [(op, impl, fn, False) for op, impl, fn in IMPLS if report.kind(impl) in kinds]
    return eager + ([(op, impl, fn, True) for op, impl, fn in COMPILED] if "compiled" in kinds else [])


def warm_up(fn, x: torch.Tensor) -> float:
    """Seconds to run `fn` once without and once with autograd (forward and backward): a compile happens here."""
    start = time.time()
    with torch.no_grad():
        fn(x)
    xr = x.detach().requires_grad_(True)
    y = fn(xr)
    torch.autograd.grad(y, xr, torch.ones_like(y))
    torch.cuda.synchronize()
    return time.time() - start


def time_contender(op: str, fn, xs, shape, dname: str, bw: float) -> dict:
    """Forward, training-forward (not for avg) and backward time and % of copy bandwidth of one contender."""
    nbytes = op_bytes(shape, DTYPES[dname], op)
    fwd, how = time_forward(fn, xs, bw)
    row = dict(fwd_us=fwd * 1e6, fwd_pct=100 * nbytes / fwd / bw, timing=how)
    if op != "avg":  # forward when the input requires grad: max pooling keeps its indices
        fwd_t, _ = time_forward(fn, xs, bw, train=True)
        row.update(train_us=fwd_t * 1e6, train_pct=100 * nbytes / fwd_t / bw)
    bwd, _ = time_backward(fn, xs, bw)
    row.update(bwd_us=bwd * 1e6, bwd_pct=100 * nbytes / bwd / bw)
    return row


def keep_backward_buffers() -> None:
    """Let compiled backwards run many times on one retained graph, as `time_backward` replays them.

    AOTAutograd donates the saved buffers of a compiled backward by default, and a second backward over the same graph
    then fails ("compiled with non-empty donated buffers"): the compiled max and concat backward did on an H100.
    """
    try:
        from torch._functorch import config as functorch_config

        functorch_config.donated_buffer = False
    except (ImportError, AttributeError):  # a torch without the option has no donated buffers either
        pass


def run(cases, bw: float, l2: int, deadline: float = math.inf, csv_path: Path | None = None, kinds=KINDS) -> list[dict]:
    """Time every contender of `kinds` on every (shape, dtype, layout) case; one dict per (case, implementation).

    Two passes: the copy, zero_, gaplib and eager rows of every case first, then the compiled rows (their compiles
    take most of the time), so a run cut by `deadline` (a time.time() value, checked before each case) still has
    every gaplib cell. Rewrites `csv_path` after every case. A contender that fails (a compile error, say) gets a
    row with its `error` instead of times.
    """
    rows: list[dict] = []
    passes = [[k for k in kinds if k != "compiled"], ["compiled"] if "compiled" in kinds else []]
    if "compiled" in kinds:
        keep_backward_buffers()
    for n_pass, pass_kinds in enumerate(passes):
        for shape, dname, layout in cases if pass_kinds else []:
            if time.time() > deadline:
                what = "compiled rows" if n_pass else "table"
                print(f"{what} stopped at the time budget before {_case_name(shape)} {dname} {layout}", flush=True)
                break
            rows += run_case(shape, dname, layout, bw, l2, pass_kinds, with_copy=n_pass == 0 or not passes[0])
            if csv_path is not None:
                report.write_csv(_in_case_order(rows), csv_path)
    return _in_case_order(rows)


def _in_case_order(rows: list[dict]) -> list[dict]:
    """Rows grouped by case (first appearance), each case's rows in their order."""
    return [r for case_rows in report.by_case(rows).values() for r in case_rows]


def run_case(shape, dname: str, layout: str, bw: float, l2: int, kinds, with_copy: bool = True) -> list[dict]:
    """The rows of one case: its copy and zero_ (with_copy) and the contenders of `kinds`."""
    started, rows = time.time(), []
    xs = make_inputs(shape, DTYPES[dname], layout, l2)
    base = dict(
        shape=_case_name(shape), dtype=dname, layout=layout, target=(tuple(shape), dname, layout) in TARGET_ROWS
    )
    if with_copy:
        copy_s = time_copy(xs)  # what a plain copy of these bytes reaches at this size
        zero_s = time_zero(xs)  # what writing them alone reaches (the backward is nearly all writes)
        copy_bytes = 2 * xs[0].numel() * xs[0].element_size()
        copy_pct, zero_pct = 100 * copy_bytes / copy_s / bw, 100 * copy_bytes / 2 / zero_s / bw
        rows.append(
            dict(base, op="copy", impl="copy, same bytes", fwd_us=copy_s * 1e6, fwd_pct=copy_pct, timing="graph")
        )
        zero = dict(base, op="zero", impl="zero_(), same bytes written", fwd_us=zero_s * 1e6, fwd_pct=zero_pct)
        rows.append(dict(zero, timing="graph"))
    if "compiled" in kinds and hasattr(torch, "_dynamo"):
        torch._dynamo.reset()  # one compile per case: no cache of earlier shapes, no recompile limit reached
    for op, impl, fn, compiled in contenders(kinds):
        row = dict(base, op=op, impl=impl)
        try:
            if compiled:
                fn = torch.compile(fn, dynamic=False, fullgraph=True)
                row["compile_s"] = warm_up(fn, xs[0])
            row.update(time_contender(op, fn, xs, shape, dname, bw))
        except Exception as e:  # noqa: BLE001 - one failing contender (a compile error) must not end the run
            torch.cuda.synchronize()
            said = str(e).strip().splitlines()
            row["error"] = f"{type(e).__name__}: {said[0][:200] if said else ''}"
            print(f"{row['shape']:>16} {dname} {layout:>13} {impl:>28}  FAILED {row['error']}", flush=True)
            rows.append(row)
            continue
        rows.append(row)
        print(
            f"{row['shape']:>16} {dname} {layout:>13} {impl:>28}  fwd {row['fwd_us']:8.1f} us "
            f"{row['fwd_pct']:5.1f}%  bwd {row['bwd_us']:8.1f} us {row['bwd_pct']:5.1f}%"
            + (f"  (compile {row['compile_s']:.1f} s)" if compiled else ""),
            flush=True,
        )
    del xs
    torch.cuda.empty_cache()
    print(f"case {_case_name(shape)} {dname} {layout} ({', '.join(kinds)}): {time.time() - started:.1f} s", flush=True)
    return rows


def _compiled_cases(rows: list[dict], cases) -> list[list[dict]]:
    """Per case, its compiled rows (an empty list: the budget stopped the compiled pass before the case)."""
    found = report.by_case([r for r in rows if report.kind(r["impl"]) == "compiled"])
    return [found.get((_case_name(s), d, lay), []) for s, d, lay in cases]


def measured(rows: list[dict]) -> list[dict]:
    """The rows with times (not the contenders that failed)."""
    return [r for r in rows if "fwd_us" in r]


def speedups(rows: list[dict]) -> dict:
    """gaplib concat_pool speed-up over the AdaptiveConcatPool2d computation, per case: (fwd, train, bwd)."""
    out = {}
    rows = measured(rows)
    for r in rows:
        if r["impl"] == "gaplib concat_pool":
            key = report.case_key(r)
            ref = next((q for q in rows if report.case_key(q) == key and q["impl"].startswith("fastai")), None)
            if ref is None:
                continue
            out[key] = tuple(ref.get(k, math.nan) / r.get(k, math.nan) for k in ("fwd_us", "train_us", "bwd_us"))
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
        try:
            choice = kernels.choose(x, OP_NAMES[row["op"]], needs_grad=keep)
        except Exception:  # noqa: BLE001 - another gaplib version's choose: the other reasons still hold
            choice = ""
        if choice == "pytorch forward":
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
    """Markdown: gaplib cells against a same-bytes copy (count, likely reasons below 90 %), then the race."""
    lines, slow, total, good = [], [], 0, 0
    rows = measured(rows)
    cases = report.by_case(rows)
    for r in rows:
        if report.kind(r["impl"]) != "gaplib":
            continue
        case_rows = cases[report.case_key(r)]
        copy = next(q for q in case_rows if q["op"] == "copy")
        for column, key in COLUMNS.items():
            if key not in r:
                continue
            total += 1
            share = r[key] / copy["fwd_pct"]
            good += share >= 0.9
            name = f"{r['impl']} {r['shape']} {r['dtype']} {r['layout']} {column}"
            if share < 0.9:
                slow.append(f"| {name} | {r[key]:.0f} | {100 * share:.0f} | {why_slow(r, column, case_rows, bw)} |")
    lines += [
        "",
        "## gaplib against a copy of the same bytes",
        "",
        f"{good} of {total} gaplib cells reach 90 % of the speed of a plain copy of the same bytes (the case's "
        "`copy, same bytes` row). The others, with the likely reasons read off the case's structure "
        "(`--profile` measures them):",
        "",
        "| cell | % of copy bandwidth | % of same-bytes copy | why |",
        "|---|---:|---:|---|",
        *slow,
    ]
    return lines + report.race_lines(report.race(rows))


def records(table: str) -> list[str]:
    """The device table's records as markdown list items."""
    out = []
    for key, record in sorted(tuning.TABLES[table].items(), key=lambda kv: str(kv[0])):
        fields = ", ".join(f"{k}={v}" for k, v in key._asdict().items() if v is not None and k != "kernel")
        out.append(f"- `{key.kernel}` ({fields}): `{record}`")
    return out


def markdown(rows: list[dict], bw: float, device: str, picks: dict | None = None, complete: bool = True) -> str:
    """The results as a markdown report."""
    try:
        table = tuning.table_name(_device())
        kept = records(table)
    except Exception as e:  # noqa: BLE001 - a machine without a tuned GPU (the tests) or another gaplib version
        table, kept = "unknown", [f"- (no tuning table here: {type(e).__name__}: {e})"]
    failed = [r for r in rows if "error" in r]
    eager_timed = [r for r in rows if r.get("timing") not in (None, "graph")]
    compiles = [r for r in rows if "compile_s" in r]
    rows = measured(rows)
    lines = [
        "# Global pooling at memory speed: GPU benchmark",
        "",
        f"Device: {device}; torch {torch.__version__}; Triton {triton.__version__}; measured device-to-device copy "
        f"bandwidth **{bw / 1e12:.2f} TB/s** (bytes read + written).",
        "",
        "Time per call (CUDA-graph replays over inputs larger than L2) and % of copy bandwidth = "
        "(input bytes + output bytes) / time / copy bandwidth. `train fwd` is the forward pass when the input "
        "requires grad (max pooling then keeps indices). `bwd` is the backward pass alone. "
        "* = a target row (PyTorch measured at 2-68 % of copy bandwidth). `compiled ...` rows are "
        "`torch.compile(fn, dynamic=False, fullgraph=True)` of the spelling, compiled anew for each case and "
        "warmed up (forward, and forward + backward) before timing."
        + ("" if complete else " **The run stopped at its time budget: cases are missing.**"),
        "",
        f"gaplib package: `{Path(kernels.__file__).resolve().parent.parent}`.",
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
    if compiles:
        secs = [r["compile_s"] for r in compiles]
        lines += [
            "",
            f"torch.compile: {len(secs)} compiles (forward and forward + backward of one spelling on one case), "
            f"{sum(secs):.0f} s in all, {min(secs):.1f}-{max(secs):.1f} s each.",
        ]
    if failed:
        lines += ["", "## Contenders that failed", ""]
        lines += [f"- {r['impl']} {r['shape']} {r['dtype']} {r['layout']}: {r['error']}" for r in failed]
    if eager_timed:
        lines += ["", "Timed eagerly (the CUDA graph capture failed), so launch overhead is in these rows:", ""]
        lines += [f"- {r['impl']} {r['shape']} {r['dtype']} {r['layout']}" for r in eager_timed]
    lines += ["", f"## The `{table}` table's records after this run", "", *kept]
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


# ------------------------------------------------------------------------------------------- profile
def gaplib_kernel_names() -> list[str]:
    """The names of gaplib's Triton kernels (the JIT functions of the gaplib.kernels modules)."""
    names = set()
    for mod_name, mod in list(sys.modules.items()):
        if mod_name.startswith("gaplib.kernels") and mod is not None:
            names |= {n for n, v in vars(mod).items() if type(v).__name__ == "JITFunction" and n.endswith("_kernel")}
    return sorted(names)


def cell_spec(cell: report.Cell) -> dict:
    """What the profiled program needs to run one cell."""
    return dict(shape=cell.shape, dtype=cell.dtype, layout=cell.layout, op=cell.op, column=cell.column)


def profile_child(spec_path: str) -> int:
    """Run each cell of the spec once between two mark kernels, in an NVTX range ncu profiles (no output)."""
    cells = json.loads(Path(spec_path).read_text())
    flag = torch.zeros(1, device="cuda", dtype=torch.int32)
    for c in cells:
        shape = tuple(int(v) for v in c["shape"].split("x"))
        x = make_inputs(shape, DTYPES[c["dtype"]], c["layout"], 0)[0]
        out = torch.empty_like(x)
        fn = FUNCTIONS[c["op"]]
        if c["column"] == "fwd":

            def op(fn=fn, x=x):
                with torch.no_grad():
                    fn(x)
        else:
            xr = x.detach().requires_grad_(True)
            if c["column"] == "train fwd":
                op = lambda fn=fn, xr=xr: fn(xr)  # noqa: E731
            else:
                y = fn(xr)
                g = torch.randn_like(y)
                op = lambda y=y, xr=xr, g=g: torch.autograd.grad(y, xr, g, retain_graph=True)  # noqa: E731
        for _ in range(2):  # compile and warm up outside the profiled range
            op()
            triton_copy(x, out)
        _cell_mark_kernel[(1,)](flag)
        torch.cuda.synchronize()
        torch.cuda.nvtx.range_push("gc_profile")
        _cell_mark_kernel[(1,)](flag)
        triton_copy(x, out)
        op()
        _cell_mark_kernel[(1,)](flag)
        torch.cuda.synchronize()
        torch.cuda.nvtx.range_pop()
    return 0


def ncu_command(
    ncu: str, metrics: list[str], spec: Path, log: Path, n_cells: int, nvtx: bool = True, base_units: bool = True
) -> list[str]:
    """The `ncu` command line that profiles the cells of `spec` (metrics only, CSV into `log`)."""
    # the clocks stay as the timed run had them (ncu locks them to base clocks by default)
    cmd = [ncu, "--csv", "--clock-control", "none", *(["--print-units", "base"] if base_units else [])]
    cmd += ["--metrics", ",".join(metrics), "--log-file", str(log)]
    if nvtx:
        cmd += ["--nvtx", "--nvtx-include", "gc_profile/", "--launch-count", str(12 * n_cells)]
    else:  # everything the program launches (warm-ups too: slower, but the marks still find the cells)
        cmd += ["--launch-count", str(60 * n_cells)]
    return cmd + [sys.executable, str(Path(__file__).resolve()), "--profile-child", str(spec)]


def profile(csv_path: Path, out: Path, limit: int, ncu: str = "ncu", timeout: float = 300) -> int:
    """Profile the lagging gaplib cells of a finished run with ncu; write profile.md (and ncu's CSV) to `out`."""
    cells = report.lagging(report.race(measured(report.read_csv(csv_path))), limit)
    md = out / "profile.md"
    if not cells:
        md.write_text("# Profile\n\nNo gaplib cell lags in this run: nothing to profile.\n")
        return 0
    spec = Path(os.environ.get("TMPDIR", "/tmp")) / f"gc_profile_cells_{os.getpid()}.json"
    spec.write_text(json.dumps([cell_spec(c) for c in cells]))
    log, tried, kernels_found = out / "profile_ncu.csv", [], []
    attempts = [  # (metrics, NVTX range filter, base units): each next one asks ncu for less
        (report.PROFILE_METRICS, True, True),
        (report.CORE_METRICS, True, True),
        (report.CORE_METRICS, True, False),
        (report.CORE_METRICS, False, False),
    ]
    deadline = time.time() + timeout
    for metrics, nvtx, base_units in attempts:
        left = deadline - time.time()
        if left < 10:
            break
        log.unlink(missing_ok=True)
        cmd = ncu_command(ncu, metrics, spec, log, len(cells), nvtx, base_units)
        print("profile:", " ".join(cmd), flush=True)
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=left)
            said = (done.stdout + done.stderr).strip().splitlines()[-3:]
        except (OSError, subprocess.TimeoutExpired) as e:
            said = [f"{type(e).__name__}: {e}"]
        text = log.read_text(errors="replace") if log.is_file() else ""
        kernels_found = report.parse_ncu_csv(text)
        groups = report.split_cells(kernels_found, len(cells))
        tried.append(f"{len(metrics)} metrics, nvtx={nvtx}: {len(kernels_found)} kernels; " + " / ".join(said)[:300])
        print("profile:", tried[-1], flush=True)
        if any(k for _, k in groups):
            break
    groups = report.split_cells(kernels_found, len(cells))
    names = gaplib_kernel_names()
    infos = []
    for c in cells:
        shape = tuple(int(v) for v in c.shape.split("x"))
        infos.append(
            dict(column=c.column, read_bytes=math.prod(shape) * DTYPES[c.dtype].itemsize, gaplib_kernels=names)
        )
    lines = report.profile_lines(cells, groups, infos)
    lines += ["", "ncu runs: " + "; ".join(tried)]
    md.write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)
    spec.unlink(missing_ok=True)
    return 0 if any(k for _, k in groups) else 1


# ------------------------------------------------------------------------------------------- command line
def build_parser() -> argparse.ArgumentParser:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the five target rows (TARGET_ROWS)")
    parser.add_argument("--cells", default="", help="only the cases whose 'SHAPE DTYPE LAYOUT' matches this regex")
    parser.add_argument(
        "--impls", default=",".join(KINDS), help="contender kinds to time, of gaplib,eager,compiled (copy always)"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the cases and contenders; measure nothing")
    parser.add_argument("--sweep", action="store_true", help="first try block records of the kernels (SWEEP_JOBS)")
    parser.add_argument("--only", default="", help="with --sweep: only the jobs whose kernel name contains this")
    parser.add_argument("--no-table", action="store_true", help="skip the main table (with --sweep)")
    parser.add_argument("--budget", type=float, default=1e9, help="seconds: stop sweeping / timing after this")
    parser.add_argument("--sweep-budget", type=float, default=300, help="seconds the sweep may take at most")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"), help="folder for the results")
    parser.add_argument("--tag", default="gpu_pool", help="results are TAG.md and TAG.csv in --out")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"), help="compare two result CSVs")
    parser.add_argument("--tolerance", type=float, default=0.03, help="with --compare: slower by more than this")
    parser.add_argument("--profile", action="store_true", help="profile the lagging cells of --from-csv with ncu")
    parser.add_argument("--from-csv", default="", help="with --profile: the run's CSV (default: OUT/TAG.csv)")
    parser.add_argument("--profile-cells", type=int, default=20, help="with --profile: at most this many cells")
    parser.add_argument("--profile-timeout", type=float, default=300, help="with --profile: seconds for ncu")
    parser.add_argument("--ncu", default="ncu", help="with --profile: the Nsight Compute command")
    parser.add_argument("--profile-child", default="", help=argparse.SUPPRESS)
    return parser


def select_cases(quick: bool = False, cells: str = "") -> list[tuple]:
    """The (shape, dtype, layout) cases to time: the target rows first, then the rest; `cells` filters by regex."""
    everything = [(s, d, lay) for s in SHAPES for d in DTYPES for lay in LAYOUTS]
    cases = sorted(TARGET_ROWS) + ([] if quick else [c for c in everything if c not in TARGET_ROWS])
    pattern = re.compile(cells) if cells else None
    return [c for c in cases if pattern is None or pattern.search(f"{_case_name(c[0])} {c[1]} {c[2]}")]


def parse_kinds(text: str) -> tuple[str, ...]:
    """The contender kinds of a comma list, checked."""
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise SystemExit(f"--impls must be a comma list of {', '.join(KINDS)}, got {text!r}")
    return kinds


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    if args.compare:
        lines, ok = report.compare(*(report.read_csv(Path(p)) for p in args.compare), tolerance=args.tolerance)
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare.md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
        return 0 if ok else 3
    kinds = parse_kinds(args.impls)
    cases = select_cases(args.quick, args.cells)
    if args.dry_run:
        print(f"{len(cases)} cases: " + "; ".join(f"{_case_name(s)} {d} {lay}" for s, d, lay in cases))
        print("contenders: " + ", ".join(impl for _, impl, _, _ in contenders(kinds)))
        return 0
    if args.profile_child:
        return profile_child(args.profile_child)
    if not torch.cuda.is_available():
        print(
            "bench_gpu_pool.py measures GPU kernels and needs a CUDA GPU; none is visible here. "
            "Run it on a GPU machine (see notebooks/09_gap_at_memory_speed.ipynb for the CPU version of the story)."
        )
        return 1
    if not kernels.available(torch.empty(1, 1, 1, 1, device="cuda")):
        print("gaplib's Triton kernels are not available here (Triton missing, GPU too old, or GAPLIB_KERNELS=0).")
        return 1
    out.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out / f"{args.tag}.csv", out / f"{args.tag}.md"
    if args.profile:
        source = Path(args.from_csv) if args.from_csv else csv_path
        return profile(source, out, args.profile_cells, args.ncu, args.profile_timeout)
    props = torch.cuda.get_device_properties(0)
    l2 = getattr(props, "L2_cache_size", 50 * 2**20)
    device = f"{props.name} ({props.multi_processor_count} SMs, {l2 / 2**20:.0f} MiB L2)"
    t0 = time.time()
    print(f"gaplib from {Path(kernels.__file__).resolve().parent.parent}; contenders: {', '.join(kinds)}", flush=True)
    bw = copy_bandwidth()
    print(f"{device}: copy bandwidth {bw / 1e12:.3f} TB/s (read + write)", flush=True)
    picks = {}
    if args.sweep:
        picks = sweep(bw, l2, min(t0 + args.budget, time.time() + args.sweep_budget), args.only)
        (out / "picks.txt").write_text(repr(picks) + "\n")
    if args.no_table:
        return 0
    rows = run(cases, bw, l2, deadline=t0 + args.budget, csv_path=csv_path, kinds=kinds)
    complete = len({report.case_key(r) for r in rows}) == len(cases) and (
        "compiled" not in kinds or all(len(v) for v in _compiled_cases(rows, cases))
    )
    try:
        text = markdown(rows, bw, device, picks, complete=complete)
    except Exception:  # noqa: BLE001 - the CSV holds the numbers; show why the report failed
        traceback.print_exc()
        return 1
    md_path.write_text(text)
    print()
    print(text)
    print(f"wrote {md_path} and {csv_path} in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
