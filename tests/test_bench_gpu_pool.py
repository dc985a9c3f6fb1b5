"""benchmarks/bench_gpu_pool.py and its reports (benchmarks/gpu_pool_report.py), without a GPU: the race of gaplib
against eager and compiled PyTorch, the before/after comparison, the ncu CSV parser and the profile's rules, all on
synthetic timings and metrics; the command line up to the point where it needs a GPU."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "scripts"))
import gpu_pool_report as report  # noqa: E402
import gpu_reference as generator  # noqa: E402  (scripts/gpu_reference.py parses the tables the bench writes)

spec = importlib.util.spec_from_file_location("bench_gpu_pool", ROOT / "benchmarks" / "bench_gpu_pool.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

CASE = dict(shape="256x2048x7x7", dtype="bf16", layout="NCHW", target=True)


def row(op, impl, fwd, train=None, bwd=None, **extra):
    """A result row with % of copy bandwidth `fwd` / `train` / `bwd` (times from a 50 µs copy at 100 %)."""
    r = dict(CASE, op=op, impl=impl, fwd_pct=fwd, fwd_us=5000 / fwd, timing="graph", **extra)
    if train is not None:
        r.update(train_pct=train, train_us=5000 / train)
    if bwd is not None:
        r.update(bwd_pct=bwd, bwd_us=5000 / bwd)
    return r


def case_rows(gap=(95, None, 90), gmp=(80, 60, 90), concat=(88, 70, 92), compiled=True):
    """One case: copy at 100 %, zero_, eager, compiled and gaplib rows with the given gaplib shares."""
    rows = [
        row("copy", "copy, same bytes", 100.0),
        row("zero", "zero_(), same bytes written", 80.0),
        row("avg", "x.mean((2,3))", 15.0, bwd=40.0),
        row("avg", "nn.AdaptiveAvgPool2d(1)", 16.0, bwd=39.0),
        row("avg", "gaplib gap", gap[0], bwd=gap[2]),
        row("max", "x.amax((2,3))", 11.0, 11.0, 4.0),
        row("max", "gaplib gmp", gmp[0], gmp[1], gmp[2]),
        row("concat", "fastai AdaptiveConcatPool2d", 2.0, 2.0, 4.0),
        row("concat", "cat(x.amax, x.mean)", 10.0, 10.0, 5.0),
        row("concat", "gaplib concat_pool", concat[0], concat[1], concat[2]),
    ]
    if compiled:
        rows += [
            row("avg", "compiled x.mean((2,3))", 60.0, bwd=97.0, compile_s=2.0),
            row("max", "compiled x.amax((2,3))", 85.0, 70.0, 50.0, compile_s=3.0),
            row("concat", "compiled cat(x.amax, x.mean)", 40.0, 35.0, 45.0, compile_s=4.0),
        ]
    return rows


def test_the_bench_imports_without_a_gpu_and_names_every_contender_once():
    impls = [impl for _, impl, _, _ in bench.contenders()]
    assert len(impls) == len(set(impls)) == len(bench.IMPLS) + len(bench.COMPILED)
    assert {report.kind(i) for i in impls} == {"gaplib", "eager", "compiled"}
    assert [i for _, i, _, _ in bench.contenders(("gaplib",))] == ["gaplib gap", "gaplib gmp", "gaplib concat_pool"]


def test_the_compiled_spellings_compute_what_the_eager_ones_do():
    x = torch.randn(2, 3, 5, 5)
    torch.testing.assert_close(bench.cat_amax_mean(x), bench.fastai_concat(x).flatten(1))
    for op, _, fn in bench.COMPILED:
        eager = next(f for o, i, f in bench.IMPLS if o == op and report.kind(i) == "eager")
        torch.testing.assert_close(fn(x).flatten(1), eager(x).flatten(1))


def test_race_finds_the_best_eager_and_compiled_spelling_per_cell():
    cells = {c.name: c for c in report.race(case_rows())}
    assert len(cells) == 8  # gap fwd/bwd, gmp and concat fwd/train fwd/bwd
    gap_bwd = cells["gaplib gap 256x2048x7x7 bf16 NCHW bwd"]
    assert gap_bwd.eager == ("x.mean((2,3))", 40.0) and gap_bwd.compiled == ("compiled x.mean((2,3))", 97.0)
    assert gap_bwd.best == gap_bwd.compiled and gap_bwd.ratio == pytest.approx(90 / 97)
    assert gap_bwd.behind() and gap_bwd.behind("compiled") and not gap_bwd.behind("eager")
    gmp_fwd = cells["gaplib gmp 256x2048x7x7 bf16 NCHW fwd"]
    assert gmp_fwd.behind() and not gmp_fwd.at_memory_speed  # 80 vs compiled 85 (> 3 %)
    concat_fwd = cells["gaplib concat_pool 256x2048x7x7 bf16 NCHW fwd"]
    assert concat_fwd.eager == ("cat(x.amax, x.mean)", 10.0) and not concat_fwd.behind()
    assert cells["gaplib gap 256x2048x7x7 bf16 NCHW fwd"].at_memory_speed


def test_within_three_percent_is_not_behind_and_no_rival_is_not_behind():
    rows = case_rows(gmp=(83, 60, 90))  # compiled amax 85: 2.4 % faster
    cell = next(c for c in report.race(rows) if c.name.endswith("gmp 256x2048x7x7 bf16 NCHW fwd"))
    assert not cell.behind() and cell.ratio == pytest.approx(83 / 85)
    lone = [r for r in case_rows(compiled=False) if report.kind(r["impl"]) != "eager"]
    assert all(c.best is None and c.ratio is None and not c.behind() for c in report.race(lone))


def test_share_is_of_the_cases_copy_not_of_the_bandwidth():
    rows = case_rows()
    rows[0] = dict(rows[0], fwd_pct=80.0)  # this case's copy reaches 80 % of the machine's copy bandwidth
    cell = next(c for c in report.race(rows) if c.name.endswith("gap 256x2048x7x7 bf16 NCHW fwd"))
    assert cell.share() == pytest.approx(100 * 95 / 80) and cell.at_memory_speed


def test_race_summary_and_lines_count_what_the_cells_say():
    cells = report.race(case_rows())
    s = report.race_summary(cells)
    assert s["cells"] == 8 and s["with_compiled"] == 8
    assert s["at_memory_speed"] == sum(c.share() >= 90 for c in cells)
    assert s["behind"] == sum(c.best is not None and c.best[1] > 1.03 * c.pct for c in cells) > 0
    lines = report.race_lines(cells, reasons={cells[0].name: "a reason"})
    table = [line for line in lines if line.startswith("| gaplib")]
    assert len(table) == 8 and "a reason" in table[0]
    assert sum("**behind**" in line for line in table) == s["behind"]
    assert f"{s['at_memory_speed']} of 8 gaplib cells" in "\n".join(lines)


def test_lagging_puts_behind_cells_first_then_the_lowest_shares_and_stops_at_the_limit():
    cells = report.race(case_rows())
    slow = report.lagging(cells, limit=20)
    assert all(not c.at_memory_speed or c.behind() for c in slow)
    flags = [c.behind() for c in slow]
    assert flags == sorted(flags, reverse=True)
    rest = [c.share() for c in slow if not c.behind()]
    assert rest == sorted(rest)
    assert len(report.lagging(cells, limit=2)) == 2


def test_csv_round_trip_keeps_numbers_and_leaves_missing_values_out(tmp_path):
    rows = case_rows() + [dict(CASE, op="max", impl="compiled broken", error="BackendCompilerFailed: boom")]
    report.write_csv(rows, tmp_path / "r.csv")
    back = report.read_csv(tmp_path / "r.csv")
    assert back == rows


def test_markdown_report_has_the_race_failures_and_rows_the_reference_parser_reads():
    rows = case_rows() + [dict(CASE, op="max", impl="compiled x.amax((2,3))", error="RuntimeError: no")]
    rows[3] = dict(rows[3], timing="eager")
    text = bench.markdown(rows, 3.0e12, "a test GPU (132 SMs, 50 MiB L2)")
    assert "## gaplib against the best eager and the best compiled PyTorch spelling" in text
    assert "## Contenders that failed" in text and "RuntimeError: no" in text
    assert "Timed eagerly" in text and "nn.AdaptiveAvgPool2d(1) 256x2048x7x7" in text
    assert "torch.compile: 3 compiles" in text
    info, parsed = generator.parse(text)
    assert info["copy_tb_s"] == 3.0
    stored = parsed["256x2048x7x7", "bf16", "NCHW"]
    assert stored["compiled x.mean((2,3))"] == (83.3, 60.0, None, None, 51.5, 97.0)
    assert "gaplib gap" in stored and len(stored) == len(case_rows())


def test_compare_flags_cells_slower_by_more_than_the_tolerance(tmp_path):
    before = case_rows(compiled=False)
    same = [dict(r) for r in before]
    lines, ok = report.compare(before, same)
    assert ok and "no cell slower by more than 3 %" in lines[2]
    after = [dict(r) for r in before]
    i = next(i for i, r in enumerate(after) if r["impl"] == "gaplib gmp")
    after[i] = dict(after[i], train_us=after[i]["train_us"] * 1.05, bwd_us=after[i]["bwd_us"] * 1.02)
    lines, ok = report.compare(before, after)
    assert not ok and "1 cells slower by more than 3 %" in lines[2]
    assert "gaplib gmp 256x2048x7x7 bf16 NCHW train fwd" in lines[6] and "**slower**" in lines[6]
    assert not report.compare(before, [])[1]  # nothing shared proves nothing
    report.write_csv(before, tmp_path / "b.csv")
    report.write_csv(after, tmp_path / "a.csv")
    assert bench.main(["--compare", str(tmp_path / "b.csv"), str(tmp_path / "a.csv"), "--out", str(tmp_path)]) == 3
    assert "**slower**" in (tmp_path / "compare.md").read_text()
    assert bench.main(["--compare", str(tmp_path / "b.csv"), str(tmp_path / "b.csv"), "--out", str(tmp_path)]) == 0


HEADER = (
    '"ID","Process ID","Process Name","Host Name","Kernel Name","Context","Stream","Block Size","Grid Size",'
    '"Device","CC","Section Name","Metric Name","Metric Unit","Metric Value"'
)


def long_line(kid, kernel, metric, unit, value):
    """One line of ncu's long CSV form."""
    head = f'"{kid}","1","python","h","{kernel}","1","7","(128, 1, 1)","(1, 1, 1)","0","9.0",'
    return head + f'"Command line profiler metrics","{metric}","{unit}","{value}"'


LONG_CSV = "\n".join(
    [
        "==PROF== Connected to process 1234",
        "some output of the program",
        HEADER,
        long_line(0, "_cell_mark_kernel", "gpu__time_duration.sum", "nsecond", "1,216"),
        long_line(1, "_copy_kernel", "gpu__time_duration.sum", "usecond", "35.5"),
        long_line(1, "_copy_kernel", "dram__throughput.avg.pct_of_peak_sustained_elapsed", "%", "91.2"),
        long_line(2, "window_forward_kernel", "launch__grid_size", "", "4,096"),
        long_line(2, "window_forward_kernel", "dram__bytes_read.sum", "Mbyte", "52.4"),
        long_line(2, "window_forward_kernel", "sm__throughput.avg.pct_of_peak_sustained_elapsed", "%", "n/a"),
        long_line(3, "_cell_mark_kernel", "gpu__time_duration.sum", "nsecond", "1,100"),
        "==PROF== Disconnected from process 1234",
    ]
)

WIDE_CSV = """"ID","Kernel Name","gpu__time_duration.sum","dram__throughput.avg.pct_of_peak_sustained_elapsed"
"","","nsecond","%"
"0","_cell_mark_kernel","1000","0.1"
"1","_copy_kernel","35500","91.2"
"2","window_forward_kernel","20000","80"
"3","_cell_mark_kernel","1000","0.1"
"4","warm_up_kernel","9000","50"
"5","_cell_mark_kernel","1000","0.1"
"6","_copy_kernel","35000","90"
"7","amax_kernel","40000","60"
"8","fill_kernel","4000","10"
"9","_cell_mark_kernel","1000","0.1"
"""


def test_parse_ncu_csv_reads_the_long_form_with_units_separators_and_na():
    kernels = report.parse_ncu_csv(LONG_CSV)
    assert [k["name"] for k in kernels] == ["_cell_mark_kernel", "_copy_kernel", "window_forward_kernel"] + [
        "_cell_mark_kernel"
    ]
    assert kernels[0]["gpu__time_duration.sum"] == 1216.0
    assert kernels[1]["gpu__time_duration.sum"] == pytest.approx(35500.0)  # usecond -> ns
    assert kernels[2]["launch__grid_size"] == 4096.0 and kernels[2]["dram__bytes_read.sum"] == pytest.approx(52.4e6)
    assert kernels[2]["sm__throughput.avg.pct_of_peak_sustained_elapsed"] is None
    assert report.parse_ncu_csv("==PROF== nothing profiled\n") == []


def test_parse_ncu_csv_reads_the_wide_form_and_split_cells_uses_the_marks():
    kernels = report.parse_ncu_csv(WIDE_CSV)
    assert len(kernels) == 10 and kernels[1]["dram__throughput.avg.pct_of_peak_sustained_elapsed"] == 91.2
    groups = report.split_cells(kernels, 3)
    (copy0, k0), (copy1, k1), missing = groups
    assert copy0["name"] == "_copy_kernel" and [k["name"] for k in k0] == ["window_forward_kernel"]
    assert [k["name"] for k in k1] == ["amax_kernel", "fill_kernel"]  # warm_up_kernel sat between the cells
    assert missing == (None, [])
    assert report.parse_number("9,5") == 9.5 and report.parse_number("1,234.5") == 1234.5
    assert report.parse_number("n/a") is None


def metrics(name="rows_forward_kernel", **values):
    """A synthetic kernel at memory speed unless `values` say otherwise."""
    base = {
        "name": name,
        "gpu__time_duration.sum": 40_000.0,
        "dram__throughput.avg.pct_of_peak_sustained_elapsed": 88.0,
        "sm__throughput.avg.pct_of_peak_sustained_elapsed": 40.0,
        "sm__warps_active.avg.pct_of_peak_sustained_active": 70.0,
        "launch__grid_size": 1056.0,
        "launch__waves_per_multiprocessor": 8.0,
        "device__attribute_multiprocessor_count": 132.0,
        "dram__bytes_read.sum": 1.0e8,
        "l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum": 16.0e6,
        "l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum": 1.0e6,
    }
    base.update(values)
    return {k: v for k, v in base.items() if v is not None}


COPY = metrics("_copy_kernel", **{"dram__throughput.avg.pct_of_peak_sustained_elapsed": 92.0})
INFO = dict(column="fwd", read_bytes=1.0e8, gaplib_kernels=["rows_forward_kernel", "window_forward_kernel"])
DRAM, SM = "dram__throughput.avg.pct_of_peak_sustained_elapsed", "sm__throughput.avg.pct_of_peak_sustained_elapsed"


@pytest.mark.parametrize(
    "kernels, info, phrase",
    [
        ([metrics("reduce_kernel")], INFO, "runs PyTorch's `reduce_kernel`"),
        ([metrics(launch__grid_size=96.0, launch__waves_per_multiprocessor=0.73)], INFO, "96 programs is 0.73 of one"),
        ([metrics(launch__waves_per_multiprocessor=2.25)], INFO, "the last wave is 25 % full"),
        ([metrics(**{DRAM: 62.0, SM: 97.0})], dict(INFO, column="train fwd"), "DRAM 62 % of peak at 97 % SM busy"),
        (
            [metrics(**{DRAM: 50.0, "sm__warps_active.avg.pct_of_peak_sustained_active": 20.0})],
            INFO,
            "20 % of warps active",
        ),
        ([metrics(**{"dram__bytes_read.sum": 1.5e8})], INFO, "reads 1.50x the input's"),
        (
            [metrics(**{"l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum": 4.0e6, DRAM: 80.0})],
            INFO,
            "4.0 sectors per load request",
        ),
        ([metrics(), metrics("fill_kernel", **{"gpu__time_duration.sum": 10_000.0})], INFO, "2 kernels per call"),
        ([metrics(**{"gpu__time_duration.sum": 9_000.0})], INFO, "as busy as the copy (92 %)"),
        ([metrics(**{DRAM: 70.0})], INFO, "no rule fired: DRAM 70 %"),
        ([], INFO, "no kernel of this cell was profiled"),
    ],
    ids=[
        "pytorch",
        "one-wave",
        "tail",
        "compute",
        "latency",
        "extra-reads",
        "narrow",
        "kernels",
        "at-dram",
        "none",
        "empty",
    ],
)
def test_profile_rules_give_their_reason(kernels, info, phrase):
    reasons = report.profile_reasons(kernels, COPY, info)
    assert any(phrase in r for r in reasons), reasons
    assert 1 <= len(reasons) <= 3


def test_profile_rules_stay_quiet_where_their_condition_does_not_hold():
    reasons = report.profile_reasons([metrics()], COPY, INFO)
    assert len(reasons) == 1 and "as busy as the copy" in reasons[0] and "launch gaps" in reasons[0]
    bwd = report.profile_reasons([metrics(**{"dram__bytes_read.sum": 5e8})], COPY, dict(INFO, column="bwd"))
    assert not any("reads" in r for r in bwd)  # a backward reads the small gradient, not the maps


def test_profile_lines_make_one_row_per_cell():
    cells = report.lagging(report.race(case_rows()), 3)
    groups = [(COPY, [metrics()]), (None, []), (COPY, [metrics(**{DRAM: 62.0, SM: 97.0})])]
    lines = report.profile_lines(cells, groups, [INFO] * 3)
    table = [line for line in lines if line.startswith("| gaplib")]
    assert len(table) == 3 and "no kernel of this cell was profiled" in table[1] and "compute-bound" in table[2]


def test_ncu_command_profiles_the_child_in_its_nvtx_range_with_the_metrics(tmp_path):
    cmd = bench.ncu_command("ncu", report.CORE_METRICS, tmp_path / "s.json", tmp_path / "log.csv", 5)
    assert cmd[cmd.index("--clock-control") + 1] == "none", "ncu must leave the clocks as the timed run had them"
    assert cmd[0] == "ncu" and "--csv" in cmd and cmd[cmd.index("--metrics") + 1] == ",".join(report.CORE_METRICS)
    assert cmd[cmd.index("--nvtx-include") + 1] == "gc_profile/" and cmd[cmd.index("--launch-count") + 1] == "60"
    assert cmd[-2:] == ["--profile-child", str(tmp_path / "s.json")]
    wide = bench.ncu_command("ncu", report.CORE_METRICS, tmp_path / "s.json", tmp_path / "log.csv", 5, nvtx=False)
    assert "--nvtx" not in wide


def test_command_line_filters_cases_and_kinds(capsys):
    assert len(bench.select_cases()) == 24 and len(bench.select_cases(quick=True)) == 5
    assert bench.select_cases()[:5] == sorted(bench.TARGET_ROWS)
    bf16_nchw = bench.select_cases(cells="7x7 bf16 NCHW")
    assert [(bench._case_name(s), d, lay) for s, d, lay in bf16_nchw] == [
        ("256x2048x7x7", "bf16", "NCHW"),
        ("256x512x7x7", "bf16", "NCHW"),
    ]
    assert bench.parse_kinds("gaplib, compiled") == ("gaplib", "compiled")
    with pytest.raises(SystemExit, match="--impls must be a comma list"):
        bench.parse_kinds("gaplib,jax")
    assert bench.main(["--dry-run", "--cells", "112x112 fp16", "--impls", "gaplib"]) == 0
    said = capsys.readouterr().out
    assert said.startswith("2 cases: 64x64x112x112 fp16 NCHW; 64x64x112x112 fp16 channels_last")
    assert "contenders: gaplib gap, gaplib gmp, gaplib concat_pool" in said


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks what the bench says on a machine without a GPU")
def test_without_a_gpu_the_bench_says_so(capsys):
    assert bench.main(["--quick"]) == 1
    assert "needs a CUDA GPU" in capsys.readouterr().out


def test_run_times_gaplib_and_eager_first_then_compiled_and_reports_a_failing_compile(monkeypatch, tmp_path):
    """run() with the GPU timers replaced by fakes: the order of its passes, its CSV, a failure, its deadline."""
    calls = []
    monkeypatch.setattr(bench, "make_inputs", lambda shape, dtype, layout, l2: [torch.zeros(1)])
    monkeypatch.setattr(bench, "time_copy", lambda xs: 50e-6)
    monkeypatch.setattr(bench, "time_zero", lambda xs: 30e-6)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: None)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)

    def fake_time(op, fn, xs, shape, dname, bw):
        calls.append((bench._case_name(shape), impl_of[fn] if fn in impl_of else "compiled"))
        return dict(fwd_us=10.0, fwd_pct=80.0, bwd_us=12.0, bwd_pct=70.0, timing="graph")

    impl_of = {fn: impl for _, impl, fn in bench.IMPLS}
    monkeypatch.setattr(bench, "time_contender", fake_time)
    monkeypatch.setattr(bench, "warm_up", lambda fn, x: (calls.append(("", next_compiled.pop(0))), 1.5)[1])
    next_compiled = [impl for _, impl, _ in bench.COMPILED] * 2
    monkeypatch.setattr(bench.torch, "compile", lambda fn, **kw: lambda x: fn(x))  # a new function
    cases = bench.select_cases(cells="256x512x7x7 fp32")
    rows = bench.run(cases, 3e12, 50 * 2**20, csv_path=tmp_path / "r.csv")
    order = [c for c in calls if c[0]]
    eager_part = order[: 2 * len(bench.IMPLS)]
    assert all(i != "compiled" for _, i in eager_part)  # every case's gaplib and eager rows before any compile
    assert all(i == "compiled" for _, i in order[2 * len(bench.IMPLS) :])
    assert len(rows) == 2 * (2 + len(bench.IMPLS) + len(bench.COMPILED))
    assert [r["impl"] for r in rows[:2]] == ["copy, same bytes", "zero_(), same bytes written"]
    assert report.read_csv(tmp_path / "r.csv") == rows
    assert all(r["compile_s"] == 1.5 for r in rows if report.kind(r["impl"]) == "compiled")

    def failing_warm_up(fn, x):
        raise RuntimeError("Inductor says no\nmore lines")

    monkeypatch.setattr(bench, "warm_up", failing_warm_up)
    failed = bench.run(cases[:1], 3e12, 50 * 2**20, kinds=("compiled",))
    assert [r["error"] for r in failed if "error" in r] == ["RuntimeError: Inductor says no"] * 3
    assert [r["op"] for r in failed[:2]] == ["copy", "zero"]  # a compiled-only run still measures the copy
    assert bench.run(cases, 3e12, 50 * 2**20, deadline=0) == []
