"""gaplib.gpu_reference: the stored GPU results notebook 09 shows without a GPU are the committed benchmark tables."""

import subprocess
import sys
from pathlib import Path

import pytest
from _bad_input import bad, check_bad_input

from gaplib import gpu_reference

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import gpu_reference as generator  # noqa: E402  (scripts/gpu_reference.py, which writes the module)

HEAD = (256, 2048, 7, 7)


@pytest.mark.parametrize("gpu", sorted(gpu_reference.STORED))
def test_the_stored_rows_are_the_tables_rows(gpu):
    run = gpu_reference.STORED[gpu]
    info, rows = generator.parse((ROOT / run.source).read_text(encoding="utf-8"))
    assert (run.gpu, run.torch, run.copy_tb_s) == (info["device"], info["torch"], info["copy_tb_s"])
    assert len(run.cases) == len(generator.CASES)
    for (shape, dtype, layout), kept in run.cases.items():
        table = rows["x".join(map(str, shape)), dtype, layout]
        assert kept == table, f"{gpu} {shape} {dtype} {layout}: the stored rows differ from {run.source}"


def test_the_module_is_what_the_generator_writes_today():
    shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=ROOT, capture_output=True, text=True)
    if shallow.stdout.strip() != "false":
        pytest.skip("no full git history here to read the tables' commits from")
    try:
        expected = generator.module_source()
    except (subprocess.CalledProcessError, FileNotFoundError, RuntimeError) as e:
        pytest.skip(f"no git history to read the tables' commits from: {e}")
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "-"], input=expected, capture_output=True, text=True, check=True
    ).stdout
    module = (ROOT / "gaplib" / "gpu_reference.py").read_text(encoding="utf-8")
    assert module == formatted, "gaplib/gpu_reference.py is stale: run python scripts/gpu_reference.py"


def test_stored_results_say_what_notebook_09_relies_on():
    for gpu in gpu_reference.STORED:
        head = gpu_reference.stored(gpu, HEAD, "fp32")
        assert head["gaplib gap"].fwd_us < head["x.mean((2,3))"].fwd_us
        assert head["fastai AdaptiveConcatPool2d"].fwd_us > 2 * head["gaplib concat_pool"].fwd_us
        assert head["copy, same bytes"].bwd_us is None and head["gaplib gap"].train_fwd_us is None
        line = gpu_reference.describe(gpu)
        run = gpu_reference.STORED[gpu]
        assert gpu in line and run.commit in line and run.date in line and run.source in line


def test_the_module_keeps_one_case_per_cell_class_in_both_layouts():
    for run in gpu_reference.STORED.values():
        shapes = {shape for shape, _, _ in run.cases}
        assert {(256, 2048, 7, 7), (128, 256, 32, 32), (64, 64, 112, 112)} == shapes
        assert {layout for _, _, layout in run.cases} == {"NCHW", "channels_last"}


@pytest.mark.parametrize("gpu", sorted(gpu_reference.STORED))
def test_race_sets_gaplib_against_the_best_stored_spelling_as_shares_of_the_copy(gpu):
    found = gpu_reference.stored(gpu, HEAD, "bf16")
    copy = found["copy, same bytes"].fwd_pct
    cells = gpu_reference.race(gpu, HEAD, "bf16")
    assert set(cells) == {(op, c) for op in ("avg", "max", "concat") for c in ("fwd", "train fwd", "bwd")} - {
        ("avg", "train fwd")
    }
    avg = cells["avg", "fwd"]
    assert avg.gaplib == pytest.approx(100 * found["gaplib gap"].fwd_pct / copy)
    eager_avg = max(("x.mean((2,3))", "nn.AdaptiveAvgPool2d(1)"), key=lambda n: found[n].fwd_pct)
    assert avg.eager == (eager_avg, pytest.approx(100 * found[eager_avg].fwd_pct / copy))
    assert cells["concat", "bwd"].eager[0] in {"fastai AdaptiveConcatPool2d", "cat(x.amax, x.mean)"}
    compiled = any(name.startswith("compiled") for name in found)
    everywhere = [n for case in gpu_reference.STORED[gpu].cases.values() for n in case]
    assert gpu_reference.has_compiled(gpu) == any(n.startswith("compiled") for n in everywhere)
    assert all((c.compiled is not None) == compiled for c in cells.values())


def test_race_reads_compiled_rows_once_a_table_has_them(monkeypatch):
    nums = lambda fwd, train, bwd: (1.0, fwd, None if train is None else 1.0, train, 1.0, bwd)  # noqa: E731
    case = {
        "copy, same bytes": (1.0, 80.0, None, None, None, None),
        "x.mean((2,3))": nums(20.0, None, 40.0),
        "gaplib gap": nums(76.0, None, 72.0),
        "compiled x.mean((2,3))": nums(60.0, None, 78.0),
        "x.amax((2,3))": nums(10.0, 10.0, 4.0),
        "gaplib gmp": nums(70.0, 60.0, 70.0),
        "compiled x.amax((2,3))": nums(72.0, 64.0, 40.0),
    }
    run = gpu_reference.StoredRun(
        "GPU", "2.11", 3.0, "table.md", "abc1234", "2026-12-07", {(HEAD, "fp32", "NCHW"): case}
    )
    monkeypatch.setitem(gpu_reference.STORED, "TEST", run)
    assert gpu_reference.has_compiled("TEST")
    cells = gpu_reference.race("TEST", HEAD)
    assert set(cells) == {("avg", "fwd"), ("avg", "bwd"), ("max", "fwd"), ("max", "train fwd"), ("max", "bwd")}
    assert cells["avg", "bwd"] == gpu_reference.RaceCell(
        90.0, ("x.mean((2,3))", 50.0), ("compiled x.mean((2,3))", 97.5)
    )
    assert cells["max", "train fwd"].compiled == ("compiled x.amax((2,3))", 80.0)


ROWS = [
    bad("describe unknown gpu", lambda: gpu_reference.describe("T4"), ValueError, "gpu must be one of"),
    bad("stored gpu not a str", lambda: gpu_reference.stored(100, HEAD), TypeError, "gpu must be one of"),
    bad("stored unknown shape", lambda: gpu_reference.stored("H100", (1, 2, 3, 4)), ValueError, "stored case"),
    bad("stored unknown dtype", lambda: gpu_reference.stored("H100", HEAD, "fp16"), ValueError, "stored case"),
    bad("stored unknown layout", lambda: gpu_reference.stored("H100", HEAD, "fp32", "NHWC"), ValueError, "got"),
    bad("race unknown gpu", lambda: gpu_reference.race("T4", HEAD), ValueError, "gpu must be one of"),
    bad("race unknown case", lambda: gpu_reference.race("H100", (1, 2, 3, 4)), ValueError, "stored case"),
    bad("has_compiled unknown gpu", lambda: gpu_reference.has_compiled("A100"), ValueError, "gpu must be one of"),
]


@pytest.mark.parametrize("call, exc, phrase", ROWS)
def test_bad_input(call, exc, phrase):
    check_bad_input(call, exc, phrase)
