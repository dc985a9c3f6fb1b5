"""The reports of benchmarks/bench_gpu_pool.py, as pure functions of its result rows (testable without a GPU).

A result row is a dict: shape ("256x2048x7x7"), dtype, layout, op ("copy", "zero", "avg", "max", "concat"), impl,
target, fwd_us / fwd_pct, train_us / train_pct, bwd_us / bwd_pct (% = of the measured copy bandwidth), timing,
compile_s (compiled spellings), error (a spelling that failed). This module builds from them: the race of each
gaplib cell against the best eager and the best compiled PyTorch spelling, the before/after comparison of two runs,
and the reasons a lagging cell lags, derived by explicit rules from Nsight Compute metrics (parsed from `ncu --csv`).
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

GOOD_SHARE = 90.0  # a gaplib cell is "at memory speed" at this % of its case's same-bytes copy
BEHIND = 1.03  # a PyTorch spelling this many times faster puts a gaplib cell "behind"
COLUMNS = {"fwd": ("fwd_us", "fwd_pct"), "train fwd": ("train_us", "train_pct"), "bwd": ("bwd_us", "bwd_pct")}
POOLING_OPS = ("avg", "max", "concat")
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
    "compile_s",
    "error",
]
NUMERIC = {"fwd_us", "fwd_pct", "train_us", "train_pct", "bwd_us", "bwd_pct", "compile_s"}


# ------------------------------------------------------------------------------------------- rows and CSV
def kind(impl: str) -> str:
    """'gaplib', 'compiled' (a torch.compile spelling) or 'eager' (a PyTorch spelling run as written)."""
    if impl.startswith("gaplib"):
        return "gaplib"
    return "compiled" if impl.startswith("compiled") else "eager"


def case_key(row: dict) -> tuple[str, str, str]:
    """(shape, dtype, layout) of a row."""
    return row["shape"], row["dtype"], row["layout"]


def by_case(rows: list[dict]) -> dict[tuple[str, str, str], list[dict]]:
    """Rows grouped by case, in the order the cases first appear."""
    cases: dict = {}
    for r in rows:
        cases.setdefault(case_key(r), []).append(r)
    return cases


def write_csv(rows: list[dict], path: Path) -> None:
    """All rows as CSV (columns CSV_FIELDS; a value a row lacks is left empty)."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: Path) -> list[dict]:
    """Rows written by write_csv, numbers as floats; an empty value is left out of its row (as in a fresh run)."""
    rows = []
    with open(path, newline="") as f:
        for raw in csv.DictReader(f):
            row = {}
            for k, v in raw.items():
                if k is None or v in (None, ""):
                    continue
                row[k] = float(v) if k in NUMERIC else (v == "True" if k == "target" else v)
            rows.append(row)
    return rows


# ------------------------------------------------------------------------------------------- the race
@dataclass(frozen=True)
class Cell:
    """One gaplib cell (implementation x case x column) against the best eager and best compiled spelling.

    `pct` values are % of the copy bandwidth; shares are % of this case's same-bytes copy (the copy row's %).
    `eager` and `compiled` are (spelling, its %), or None where the run has no such spelling for the cell.
    """

    impl: str
    shape: str
    dtype: str
    layout: str
    op: str
    column: str
    pct: float
    copy_pct: float
    eager: tuple[str, float] | None
    compiled: tuple[str, float] | None

    @property
    def name(self) -> str:
        """'gaplib gap 256x2048x7x7 fp32 NCHW fwd'."""
        return f"{self.impl} {self.shape} {self.dtype} {self.layout} {self.column}"

    def share(self, pct: float | None = None) -> float:
        """% of the case's same-bytes copy that `pct` (default: this cell's) is."""
        return 100 * (self.pct if pct is None else pct) / self.copy_pct

    @property
    def best(self) -> tuple[str, float] | None:
        """The faster of the best eager and the best compiled spelling."""
        found = [c for c in (self.eager, self.compiled) if c is not None]
        return max(found, key=lambda c: c[1]) if found else None

    @property
    def ratio(self) -> float | None:
        """gaplib's speed over the best PyTorch spelling's (> 1: gaplib is faster)."""
        best = self.best
        return self.pct / best[1] if best else None

    @property
    def at_memory_speed(self) -> bool:
        """At least GOOD_SHARE % of the same-bytes copy."""
        return self.share() >= GOOD_SHARE

    def behind(self, which: str = "best") -> bool:
        """A PyTorch spelling ('best', 'eager' or 'compiled') is faster by more than BEHIND."""
        other = {"best": self.best, "eager": self.eager, "compiled": self.compiled}[which]
        return other is not None and other[1] > BEHIND * self.pct


def _best(rows: list[dict], key: str) -> tuple[str, float] | None:
    """(impl, %) of the row with the highest `key` among `rows`, or None."""
    found = [(r["impl"], r[key]) for r in rows if key in r and not math.isnan(r[key])]
    return max(found, key=lambda c: c[1]) if found else None


def race(rows: list[dict]) -> list[Cell]:
    """Every measured gaplib cell with the best eager and compiled spelling of the same op, case and column."""
    cells = []
    for key, case_rows in by_case(rows).items():
        copy = next((r for r in case_rows if r["op"] == "copy" and "fwd_pct" in r), None)
        if copy is None:
            continue
        for r in case_rows:
            if kind(r["impl"]) != "gaplib" or r["op"] not in POOLING_OPS:
                continue
            same_op = [q for q in case_rows if q["op"] == r["op"]]
            for column, (_, pct_key) in COLUMNS.items():
                if pct_key not in r:
                    continue
                eager = _best([q for q in same_op if kind(q["impl"]) == "eager"], pct_key)
                compiled = _best([q for q in same_op if kind(q["impl"]) == "compiled"], pct_key)
                cells.append(Cell(r["impl"], *key, r["op"], column, r[pct_key], copy["fwd_pct"], eager, compiled))
    return cells


def _spelling(cell: Cell, found: tuple[str, float] | None) -> str:
    """'name | share' table cells for a best spelling (blank where there is none)."""
    return f"{found[0]} | {cell.share(found[1]):.0f}" if found else "| "


def race_summary(cells: list[Cell]) -> dict[str, int]:
    """Counts: cells, at memory speed, behind the best / eager / compiled spelling, cells with a compiled rival."""
    return {
        "cells": len(cells),
        "at_memory_speed": sum(c.at_memory_speed for c in cells),
        "behind": sum(c.behind() for c in cells),
        "behind_eager": sum(c.behind("eager") for c in cells),
        "behind_compiled": sum(c.behind("compiled") for c in cells),
        "with_compiled": sum(c.compiled is not None for c in cells),
    }


def race_lines(cells: list[Cell], reasons: dict[str, str] | None = None) -> list[str]:
    """Markdown: the summary counts and one table row per gaplib cell (reasons: cell name -> why it lags)."""
    s = race_summary(cells)
    reasons = reasons or {}
    lines = [
        "",
        "## gaplib against the best eager and the best compiled PyTorch spelling",
        "",
        f"{s['at_memory_speed']} of {s['cells']} gaplib cells reach {GOOD_SHARE:.0f} % of a same-bytes copy. "
        f"{s['behind']} are behind the best PyTorch spelling by more than {100 * (BEHIND - 1):.0f} % "
        f"({s['behind_eager']} behind eager, {s['behind_compiled']} behind compiled; "
        f"{s['with_compiled']} cells have a compiled rival).",
        "",
        "Shares are % of the case's same-bytes copy; `gaplib vs best` is gaplib's speed over the faster of the two "
        "(above 1.00: gaplib is faster). `train fwd` rivals are the spelling run on an input that requires grad "
        "(what its own backward needs is kept: `amax` keeps its input, compiled code what its backward reads).",
        "",
        "| cell | gaplib % of copy | best eager | % of copy | best compiled | % of copy | gaplib vs best | why |",
        "|---|---:|---|---:|---|---:|---:|---|",
    ]
    for c in cells:
        ratio = f"{c.ratio:.2f}" if c.ratio is not None else ""
        mark = " **behind**" if c.behind() else ""
        lines.append(
            f"| {c.name} | {c.share():.0f} | {_spelling(c, c.eager)} | {_spelling(c, c.compiled)} | "
            f"{ratio}{mark} | {reasons.get(c.name, '')} |"
        )
    return lines


def lagging(cells: list[Cell], limit: int = 20) -> list[Cell]:
    """The cells under GOOD_SHARE % of copy or behind PyTorch, behind ones first, then the lowest shares; `limit`."""
    slow = [c for c in cells if not c.at_memory_speed or c.behind()]
    slow.sort(key=lambda c: (not c.behind(), c.share()))
    return slow[:limit]


# ------------------------------------------------------------------------------------------- before / after
def compare(before: list[dict], after: list[dict], tolerance: float = 0.03) -> tuple[list[str], bool]:
    """Markdown comparing the gaplib cells two runs share, by time per call; ok when none is slower by `tolerance`.

    A cell's time is compared as measured; the case's copy time ratio (after / before) is shown beside it, so a
    machine that itself ran slower shows up as a copy ratio above 1.
    """

    def times(rows: list[dict]) -> tuple[dict, dict]:
        cells, copies = {}, {}
        for r in rows:
            if r["op"] == "copy" and "fwd_us" in r:
                copies[case_key(r)] = r["fwd_us"]
            if kind(r["impl"]) == "gaplib":
                for column, (us_key, _) in COLUMNS.items():
                    if us_key in r:
                        cells[(r["impl"], *case_key(r), column)] = r[us_key]
        return cells, copies

    (b, b_copy), (a, a_copy) = times(before), times(after)
    shared = [k for k in a if k in b]
    ratios = {k: a[k] / b[k] for k in shared}
    slower = sorted((k for k in shared if ratios[k] > 1 + tolerance), key=lambda k: -ratios[k])
    faster = sum(ratios[k] < 1 - tolerance for k in shared)
    ok = bool(shared) and not slower
    verdict = (
        f"no cell slower by more than {100 * tolerance:.0f} %"
        if ok
        else (f"{len(slower)} cells slower by more than {100 * tolerance:.0f} %" if shared else "no shared cells")
    )
    lines = [
        "# gaplib before / after: time per call of every gaplib cell both runs measured",
        "",
        f"{len(shared)} shared cells ({len(b)} before, {len(a)} after): **{verdict}**; {faster} faster by more "
        f"than {100 * tolerance:.0f} %. Geometric mean after / before: "
        + (f"{math.exp(sum(math.log(v) for v in ratios.values()) / len(ratios)):.3f}." if ratios else "n/a."),
        "",
        "| cell | before µs | after µs | after / before | copy after / before |",
        "|---|---:|---:|---:|---:|",
    ]
    worst = slower + sorted((k for k in shared if k not in slower), key=lambda k: -ratios[k])
    for k in worst:
        impl, shape, dtype, layout, column = k
        copy = a_copy.get((shape, dtype, layout), math.nan) / b_copy.get((shape, dtype, layout), math.nan)
        lines.append(
            f"| {impl} {shape} {dtype} {layout} {column} | {b[k]:.1f} | {a[k]:.1f} | {ratios[k]:.3f}"
            f"{' **slower**' if k in slower else ''} | {copy:.3f} |"
        )
    return lines, ok


# ------------------------------------------------------------------------------------------- Nsight Compute
PROFILE_METRICS = [
    "gpu__time_duration.sum",
    "dram__throughput.avg.pct_of_peak_sustained_elapsed",
    "sm__throughput.avg.pct_of_peak_sustained_elapsed",
    "sm__warps_active.avg.pct_of_peak_sustained_active",
    "launch__grid_size",
    "launch__block_size",
    "launch__registers_per_thread",
    "launch__waves_per_multiprocessor",
    "device__attribute_multiprocessor_count",
    "dram__bytes_read.sum",
    "dram__bytes_write.sum",
    "lts__t_sector_hit_rate.pct",
    "l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum",
    "l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum",
]
# the metrics every GPU since Volta has under these names: the profile retries with these alone if ncu rejects one
CORE_METRICS = PROFILE_METRICS[:8]
MARK = "cell_mark_kernel"  # a tiny Triton kernel the profiled program launches before and after each cell
COPY = "copy_kernel"  # the benchmark's Triton copy of the cell's input (same bytes)
UNITS = {  # ncu's units -> the base unit (ns, byte), for a run whose `--print-units base` did not apply
    "nsecond": 1.0,
    "usecond": 1e3,
    "msecond": 1e6,
    "second": 1e9,
    "byte": 1.0,
    "kbyte": 1e3,
    "mbyte": 1e6,
    "gbyte": 1e9,
    "kibyte": 2**10,
    "mibyte": 2**20,
    "gibyte": 2**30,
}


def parse_number(text: str) -> float | None:
    """A metric value as ncu prints it ('1,234.5', '2,048', '9,5', 'n/a') as a float, or None."""
    text = text.strip().strip('"')
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", text):
        text = text.replace(",", "")
    elif re.fullmatch(r"-?\d+,\d+", text):
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return None


def parse_ncu_csv(text: str) -> list[dict]:
    """One dict per profiled kernel, in launch order: 'id', 'name' and each metric as a float (or None).

    Reads both forms `ncu --csv` prints: long (one line per metric: 'Metric Name', 'Metric Value') and wide
    (`--page raw`: one line per kernel, a column per metric, a line of units under the header). Lines before the
    header (ncu's '==PROF==' messages, the program's own output) are skipped.
    """
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith('"ID"')), None)
    if start is None:
        return []
    reader = csv.DictReader(io.StringIO("\n".join(line for line in lines[start:] if line.startswith('"'))))
    kernels: dict[str, dict] = {}
    long_form = "Metric Name" in (reader.fieldnames or [])
    units: dict[str, str] = {}
    for row in reader:
        kid = (row.get("ID") or "").strip()
        if not kid.isdigit():  # the units line of the wide form
            units = {k: (v or "") for k, v in row.items() if k}
            continue
        kernel = kernels.setdefault(kid, {"id": int(kid), "name": row.get("Kernel Name", "")})
        found = (
            [(row["Metric Name"], row.get("Metric Value", ""), row.get("Metric Unit", ""))]
            if long_form
            else [(k, v or "", units.get(k, "")) for k, v in row.items() if k and "__" in k]
        )
        for name, value, unit in found:
            number = parse_number(value)
            scale = UNITS.get(unit.strip().lower(), 1.0)
            kernel[name] = None if number is None else number * scale
    return sorted(kernels.values(), key=lambda k: k["id"])


def split_cells(kernels: list[dict], n_cells: int) -> list[tuple[dict | None, list[dict]]]:
    """Per cell, (its copy kernel, its other kernels): the kernels between a pair of MARK kernels, in order.

    The profiled program launches MARK before and after each cell's copy and op, so the groups hold exactly the
    cells' kernels even where ncu profiled other kernels too (warm-up, input set-up). Missing cells are (None, []).
    """
    groups: list[list[dict]] = []
    inside = False
    for k in kernels:
        if MARK in k["name"]:
            if not inside:
                groups.append([])
            inside = not inside
        elif inside:
            groups[-1].append(k)
    out: list[tuple[dict | None, list[dict]]] = []
    for group in groups[:n_cells]:
        copy = next((k for k in group if COPY in k["name"]), None)
        out.append((copy, [k for k in group if k is not copy]))
    return out + [(None, [])] * (n_cells - len(out))


def _main_kernel(kernels: list[dict]) -> dict | None:
    """The longest of a cell's kernels."""
    return max(kernels, key=lambda k: k.get("gpu__time_duration.sum") or 0.0, default=None)


def profile_reasons(kernels: list[dict], copy: dict | None, info: dict) -> list[str]:
    """Short reasons, from explicit rules on the metrics, why a cell's kernels run below a same-bytes copy.

    `kernels`: the metric dicts of the cell's kernels (parse_ncu_csv); `copy`: the copy kernel's, same bytes;
    `info`: 'column' ('fwd', 'train fwd', 'bwd'), 'read_bytes' (what the op must read), 'gaplib_kernels' (names
    of gaplib's Triton kernels). The rules, first ones first, at most three reasons:
    1. PyTorch: the longest kernel is not one of gaplib's (the tuning table sent the cell to PyTorch);
    2. one partial wave: fewer programs than one wave of the SMs (waves per SM < 1);
    3. a tail: 1 to 4 waves whose last is at most half full;
    4. compute-bound: SM throughput >= 70 % of peak while DRAM < 75 %;
    5. latency-bound: < 35 % of warps active with SM < 60 % and DRAM < 75 % (too few loads in flight);
    6. extra reads: DRAM reads > 1.1x the bytes the op must read (forward only);
    7. narrow loads: < 8 sectors per global load request with DRAM < 85 % (16 is a warp of 16-byte loads);
    8. several kernels: other kernels take > 5 % of the cell's kernel time;
    9. at DRAM speed: DRAM within 90 % of the copy's (what is lost is outside the memory phase: a short kernel's
       start and drain, or launch gaps);
    else the measured figures, saying no rule fired.
    """
    main = _main_kernel(kernels)
    if main is None:
        return ["no kernel of this cell was profiled"]
    dram = main.get("dram__throughput.avg.pct_of_peak_sustained_elapsed")
    sm = main.get("sm__throughput.avg.pct_of_peak_sustained_elapsed")
    warps, grid = main.get("sm__warps_active.avg.pct_of_peak_sustained_active"), main.get("launch__grid_size")
    waves, sms = main.get("launch__waves_per_multiprocessor"), main.get("device__attribute_multiprocessor_count")
    time_ns = main.get("gpu__time_duration.sum")
    reasons = []
    if info.get("gaplib_kernels") and not any(n in main["name"] for n in info["gaplib_kernels"]):
        reasons.append(f"runs PyTorch's `{main['name'][:60]}` (the tuning table picks PyTorch for this cell)")
    if waves is not None and waves < 1:
        on = f" on {sms:.0f} SMs" if sms else ""
        reasons.append(f"grid of {grid or 0:.0f} programs is {waves:.2f} of one wave{on}: SMs idle")
    elif waves is not None and 1 < waves < 4 and 0 < waves % 1 <= 0.5:
        reasons.append(
            f"grid of {grid or 0:.0f} programs = {waves:.2f} waves: the last wave is {100 * (waves % 1):.0f} % full"
        )
    if sm is not None and dram is not None and sm >= 70 and dram < 75:
        what = " (argmax compare-and-select)" if info.get("column") == "train fwd" else ""
        reasons.append(f"DRAM {dram:.0f} % of peak at {sm:.0f} % SM busy: compute-bound{what}")
    elif warps is not None and warps < 35 and (sm or 0) < 60 and (dram or 0) < 75:
        regs, block = main.get("launch__registers_per_thread"), main.get("launch__block_size")
        reasons.append(
            f"{warps:.0f} % of warps active (block {block or 0:.0f}, {regs or 0:.0f} registers/thread): "
            f"too few loads in flight, DRAM {dram or 0:.0f} %"
        )
    read = main.get("dram__bytes_read.sum")
    if info.get("column") != "bwd" and read and info.get("read_bytes") and read > 1.1 * info["read_bytes"]:
        hit = main.get("lts__t_sector_hit_rate.pct")
        reasons.append(
            f"reads {read / info['read_bytes']:.2f}x the input's bytes from DRAM"
            + (f" (L2 hit {hit:.0f} %)" if hit is not None else "")
        )
    sectors, requests = (
        main.get("l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum"),
        main.get("l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum"),
    )
    if sectors and requests and sectors / requests < 8 and (dram or 0) < 85:
        reasons.append(f"{sectors / requests:.1f} sectors per load request (16 for 16-byte loads): narrow loads")
    total = sum(k.get("gpu__time_duration.sum") or 0.0 for k in kernels)
    if len(kernels) > 1 and time_ns and total - time_ns > 0.05 * total:
        reasons.append(
            f"{len(kernels)} kernels per call: the others take {100 * (total - time_ns) / total:.0f} % of its time"
        )
    copy_dram = copy.get("dram__throughput.avg.pct_of_peak_sustained_elapsed") if copy else None
    if not reasons and dram is not None and copy_dram and dram >= 0.9 * copy_dram:
        short = f"a {time_ns / 1e3:.1f} µs kernel's start and drain" if time_ns and time_ns < 20e3 else "launch gaps"
        reasons.append(
            f"DRAM {dram:.0f} % of peak, as busy as the copy ({copy_dram:.0f} %): the time lost is outside the "
            f"memory phase ({short})"
        )
    if not reasons:
        figures = {"DRAM": dram, "SM": sm, "warps": warps}
        reasons.append("no rule fired: " + ", ".join(f"{k} {v:.0f} %" for k, v in figures.items() if v is not None))
    return reasons[:3]


def profile_lines(cells: list[Cell], groups: list[tuple[dict | None, list[dict]]], infos: list[dict]) -> list[str]:
    """Markdown: per profiled cell, the main kernel's metrics beside the copy's, and the reasons."""
    lines = [
        "# Why the lagging gaplib cells lag: Nsight Compute metrics and the rules' reasons",
        "",
        "One launch of each cell's op and of a same-bytes Triton copy, profiled with `ncu` (caches flushed between "
        "kernels); the reasons come from `gpu_pool_report.profile_reasons`, whose docstring lists the rules.",
        "",
        "| cell | % of copy | kernel | µs | DRAM % | SM % | warps % | grid | waves | copy µs | copy DRAM % | why |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]

    def fmt(m: dict | None, name: str, digits: int = 0, scale: float = 1.0) -> str:
        v = m.get(name) if m else None
        return "" if v is None else f"{v * scale:.{digits}f}"

    for cell, (copy, kernels), info in zip(cells, groups, infos):
        main = _main_kernel(kernels)
        name = main["name"][:40] if main else ""
        lines.append(
            f"| {cell.name} | {cell.share():.0f} | `{name}` | {fmt(main, 'gpu__time_duration.sum', 1, 1e-3)} | "
            f"{fmt(main, 'dram__throughput.avg.pct_of_peak_sustained_elapsed')} | "
            f"{fmt(main, 'sm__throughput.avg.pct_of_peak_sustained_elapsed')} | "
            f"{fmt(main, 'sm__warps_active.avg.pct_of_peak_sustained_active')} | {fmt(main, 'launch__grid_size')} | "
            f"{fmt(main, 'launch__waves_per_multiprocessor', 2)} | {fmt(copy, 'gpu__time_duration.sum', 1, 1e-3)} | "
            f"{fmt(copy, 'dram__throughput.avg.pct_of_peak_sustained_elapsed')} | "
            f"{'; '.join(profile_reasons(kernels, copy, info))} |"
        )
    return lines
