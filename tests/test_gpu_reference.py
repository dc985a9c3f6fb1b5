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


ROWS = [
    bad("describe unknown gpu", lambda: gpu_reference.describe("T4"), ValueError, "gpu must be one of"),
    bad("stored gpu not a str", lambda: gpu_reference.stored(100, HEAD), TypeError, "gpu must be one of"),
    bad("stored unknown shape", lambda: gpu_reference.stored("H100", (1, 2, 3, 4)), ValueError, "stored case"),
    bad("stored unknown dtype", lambda: gpu_reference.stored("H100", HEAD, "fp16"), ValueError, "stored case"),
    bad("stored channels_last", lambda: gpu_reference.stored("H100", HEAD, "fp32", "channels_last"), ValueError, "got"),
]


@pytest.mark.parametrize("call, exc, phrase", ROWS)
def test_bad_input(call, exc, phrase):
    check_bad_input(call, exc, phrase)
