"""Tests of the kernels' tuning records and of the one kernel-or-PyTorch decision (they run on any machine)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gaplib import kernels, pool
from gaplib.kernels import function, tuning
from gaplib.kernels.common import triton

B = tuning.BlockConfig


@pytest.mark.parametrize(
    "fields, phrase",
    [
        (dict(rows=3), "rows must be a positive power of two"),
        (dict(rows=0), "rows must be a positive power of two"),
        (dict(rows=4, cols=24), "cols must be 0 or a power of two"),
        (dict(rows=4, warps=6), "warps must be a positive power of two"),
        (dict(rows=4, stages=0), "stages must be a positive"),
        (dict(rows=4, argmax_method="fast"), "argmax_method must be 'auto'"),
    ],
    ids=["rows-3", "rows-0", "cols-24", "warps-6", "stages-0", "argmax_method"],
)
def test_block_config_rejects_bad_fields(fields, phrase):
    with pytest.raises(ValueError, match=phrase):
        B(**fields)


def test_every_table_entry_names_a_known_kernel_and_a_record():
    assert {"H100", "H200"} <= set(tuning.TABLES)
    for name, table in tuning.TABLES.items():
        for key, record in table.items():
            assert isinstance(key, tuning.ShapeClass) and key.kernel in tuning.KERNELS, (name, key)
            assert record is None or record == tuning.PYTORCH or isinstance(record, B), (name, key, record)


def test_config_prefers_override_then_the_op_of_its_own_then_any_op_then_the_default():
    cpu = torch.device("cpu")
    assert tuning.table_name(cpu) == "H100", "off the GPU the H100's table serves (the CPU interpreter too)"
    generic = tuning.ShapeClass("rows_forward", 4, None, False, "mid")
    own = generic._replace(op="concat_pool")
    assert tuning.config(own, cpu, "default") == tuning.H100[own], "concat's own record comes first"
    assert tuning.config(generic._replace(op="gap"), cpu, "default") == tuning.H100[generic], "then the shared one"
    assert tuning.config(generic._replace(value_bytes=2), cpu, "default") == "default", "then the rule of thumb"
    with tuning.override(rows_forward=B(8, 64, 2)):
        assert tuning.config(own, cpu, "default") == B(8, 64, 2)
    assert tuning.config(own, cpu, "default") == tuning.H100[own], "the override ends with its block"


def test_every_table_key_names_only_fields_its_kernels_launches_fill_in():
    for name, table in tuning.TABLES.items():
        for key in table:
            filled = {field for field in key._fields[2:] if getattr(key, field) is not None}  # after kernel, bytes
            assert filled <= set(tuning.CLASS_FIELDS[key.kernel]), f"{name}: {key} can never match a launch"


@pytest.mark.parametrize("kernel", ["rows_forward", "rows_backward", "channels_last_forward", "channels_last_backward"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_rule_of_thumb_grows_a_tile_along_its_contiguous_side_first(kernel, dtype):
    for shape in [(1, 2, 9, 9), (2, 3, 14, 14), (8, 64, 32, 32), (1, 2, 112, 112), (4, 512, 7, 7), (2, 3, 1, 5)]:
        x = torch.empty(shape, dtype=dtype)
        record = tuning.rule_of_thumb(kernel, x)
        n_images, channels, height, width = shape
        forward, value_bytes = kernel.endswith("forward"), x.element_size()
        contiguous, across = (
            (channels, height * width) if "channels_last" in kernel else (height * width, n_images * channels)
        )
        bytes_per_step = 512 if "channels_last" in kernel else 8192 if forward else 2048 * value_bytes
        assert record.cols * value_bytes <= bytes_per_step and record.cols < 2 * contiguous, (shape, record)
        assert record.cols * value_bytes * 2 > bytes_per_step or record.cols >= contiguous, "cols grow first"
        tile = 4096 if kernel == "channels_last_forward" else 2048
        assert record.rows == 1 or record.rows * record.cols <= tile, (shape, record)
        assert record.rows < 2 * across, (shape, record)
        assert record.warps == (8 if forward and record.rows * record.cols > 2048 else 4)


def test_launch_record_reads_the_table_then_the_rule_and_switches_optional_kernels_off():
    cl = torch.empty(2, 64, 7, 7, dtype=torch.float16).contiguous(memory_format=torch.channels_last)
    key = tuning.shape_class("channels_last_forward", cl, "gap", keeps_argmax=False)
    assert key == tuning.ShapeClass("channels_last_forward", 2, "gap", False, "short", "narrow")
    assert tuning.config(key, cl.device, None) == tuning.PYTORCH, "PyTorch's forward measured faster there"
    rule = tuning.rule_of_thumb("channels_last_forward", cl)
    assert tuning.launch_record("channels_last_forward", cl, "gap", False) == rule, "a kernel launch gets the rule"
    nchw = torch.empty(2, 64, 7, 7, dtype=torch.float16)
    assert tuning.launch_record("window_forward", nchw, "concat_pool") is None, "the table switches windows off"
    assert (
        tuning.launch_record("pairs_forward", nchw, "concat_pool", True)
        == tuning.H100[tuning.ShapeClass("pairs_forward", 2, "concat_pool", True)]
    )
    with tuning.override(pairs_forward=None, short_forward=tuning.PYTORCH):
        assert tuning.launch_record("pairs_forward", nchw, "gmp", True) is None
        assert tuning.launch_record("short_forward", nchw, "gmp", True) == tuning.SHORT_DEFAULTS["short_forward"]


def test_kernel_files_are_at_most_400_lines():
    """Kernels as short on screen as in logic: each file of gaplib/kernels fits 400 lines."""
    folder = Path(kernels.__file__).parent
    lengths = {path.name: len(path.read_text().splitlines()) for path in sorted(folder.glob("*.py"))}
    assert len(lengths) >= 5, lengths
    assert all(n <= 400 for n in lengths.values()), f"kernel files over 400 lines: {lengths}"


def test_override_checks_its_arguments_and_always_restores():
    with pytest.raises(ValueError, match="unknown kernel names"):
        with tuning.override(rows_fwd=B(1, 16)):
            pass
    with pytest.raises(TypeError, match="must be a BlockConfig"):
        with tuning.override(rows_forward=(1, 16, 4)):
            pass
    key = tuning.ShapeClass("window_forward", 4, "gap")
    with pytest.raises(RuntimeError):
        with tuning.override(window_forward=None):
            assert tuning.config(key, torch.device("cpu"), B(1)) is None, "None switches the window kernel off"
            raise RuntimeError
    assert tuning.config(key, torch.device("cpu"), B(1)) == tuning.H100[key]


def test_set_config_writes_a_table_and_rejects_unknown_ones(monkeypatch):
    monkeypatch.setitem(tuning.TABLES, "H200", dict(tuning.H200))
    key = tuning.ShapeClass("rows_backward", 2, map_size="long")
    tuning.set_config("H200", key, B(2, 1024, 8))
    assert tuning.TABLES["H200"][key] == B(2, 1024, 8)
    with pytest.raises(ValueError, match="table must be one of"):
        tuning.set_config("A100", key, B(1))
    with pytest.raises(ValueError, match="key must be a ShapeClass"):
        tuning.set_config("H200", ("rows_bwd", 2), B(1))


def test_choose_rejects_unknown_ops_and_picks_pytorch_where_kernels_cannot_run():
    x = torch.randn(2, 3, 7, 7)
    with pytest.raises(ValueError, match="op must be one of"):
        kernels.choose(x, "mean")
    if not (triton is not None and kernels.available(x)):
        assert kernels.choose(x, "gap") == "pytorch"


@pytest.mark.skipif(triton is None, reason="Triton is not installed")
def test_choose_follows_the_table_for_short_channels_last_maps(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # CPU tensors count as available; nothing is launched here
    x = torch.randn(2, 64, 7, 7).contiguous(memory_format=torch.channels_last)
    assert kernels.choose(x, "gap") == "pytorch forward", "the H100's table: PyTorch's mean is faster there"
    assert kernels.choose(x, "gmp", needs_grad=True) == "kernels", "keeping the argmax needs the kernel"
    assert kernels.choose(x.contiguous(), "gap") == "kernels", "NCHW 7 x 7 maps: the kernels"
    assert kernels.choose(x, "gap", min_numel=x.numel() + 1) == "pytorch", "below min_numel: PyTorch"
    with tuning.override(channels_last_forward=B(16, 64, 4)):
        assert kernels.choose(x, "gap") == "kernels", "an override of the kernel's record wins over the table"


# ----------------------------------------------------------------- which GPUs get the kernels (faked GPUs, any machine)
class FakeCuda(torch.Tensor):
    """A CPU tensor that says it lives on CUDA device 0: `choose` reads only its shape, layout, dtype and device."""

    @property
    def is_cuda(self) -> bool:
        return True

    @property
    def device(self) -> torch.device:
        return torch.device("cuda", 0)


@pytest.fixture
def fake_gpu(monkeypatch):
    """`fake_gpu(name, capability)`: torch.cuda answers as if that GPU were device 0 (and Triton were installed)."""
    monkeypatch.delenv("GAPLIB_KERNELS", raising=False)
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    monkeypatch.setattr(function, "triton", triton or object())  # the decision, not the launch, is under test

    def install(name: str, capability: tuple[int, int]) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
        tuning._device_table.cache_clear()

    yield install
    tuning._device_table.cache_clear()  # the real GPU's name again, where there is one


UNMEASURED = [
    ("Tesla T4", (7, 5)),  # Colab's free GPU
    ("NVIDIA L4", (8, 9)),
    ("NVIDIA A100-SXM4-40GB", (8, 0)),
    ("Tesla V100-SXM2-16GB", (7, 0)),
    ("NVIDIA GeForce RTX 4090", (8, 9)),
]
MEASURED = [("NVIDIA H100 80GB HBM3", (9, 0), "H100"), ("NVIDIA H200", (9, 0), "H200")]


def maps(shape=(8, 64, 7, 7), dtype=torch.float32, channels_last=False) -> torch.Tensor:
    """A `FakeCuda` batch of feature maps."""
    x = torch.randn(shape, dtype=dtype)
    return (x.contiguous(memory_format=torch.channels_last) if channels_last else x).as_subclass(FakeCuda)


@pytest.mark.parametrize("name, capability", UNMEASURED, ids=[n for n, _ in UNMEASURED])
def test_gpus_without_a_tuning_table_get_pytorch_unless_the_user_opts_in(fake_gpu, monkeypatch, name, capability):
    fake_gpu(name, capability)
    x = maps()
    assert kernels.available(x), "the kernels could run here (compute capability >= 7.0)"
    assert tuning.measured_table(x.device) is None and tuning.table_name(x.device) == "H100"
    for op in kernels.function.OPS:
        assert kernels.choose(x, op) == "pytorch", f"{name} has no tuning table: PyTorch pools ({op})"
    monkeypatch.setenv("GAPLIB_KERNELS", "1")
    assert kernels.choose(x, "gap") == "kernels", f"GAPLIB_KERNELS=1 opts in on {name} (the H100's block shapes)"
    bf16 = kernels.choose(maps(dtype=torch.bfloat16), "gap")
    assert bf16 == ("kernels" if capability >= (8, 0) else "pytorch"), "bfloat16 kernels need compute capability 8.0"


@pytest.mark.parametrize("name, capability, table", MEASURED, ids=[t for _, _, t in MEASURED])
def test_h100_and_h200_get_the_kernels_with_their_own_table(fake_gpu, monkeypatch, name, capability, table):
    fake_gpu(name, capability)
    x = maps()
    assert tuning.measured_table(x.device) == tuning.table_name(x.device) == table
    assert kernels.choose(x, "gap") == "kernels", f"an {table} has a measured table: the kernels pool"
    assert kernels.choose(x, "gap", min_numel=x.numel() + 1) == "pytorch", "small tensors stay on PyTorch"
    # float32 channels_last 7 x 7 concat: the H100's table measured PyTorch faster, the H200's its kernel
    wide = maps((8, 512, 7, 7), channels_last=True)
    assert kernels.choose(wide, "concat_pool") == ("pytorch forward" if table == "H100" else "kernels")
    monkeypatch.setenv("GAPLIB_KERNELS", "0")
    assert kernels.choose(x, "gap") == "pytorch", "GAPLIB_KERNELS=0 switches the kernels off everywhere"


def test_gaplib_pool_on_an_unmeasured_gpu_computes_with_pytorch(fake_gpu, monkeypatch):
    fake_gpu("Tesla T4", (7, 5))
    monkeypatch.setattr(pool, "KERNEL_MIN_NUMEL", 0)  # even a tensor big enough for the kernels on an H100
    x = maps((2, 8, 16, 16)).requires_grad_(True)
    y = pool.gap(x)
    assert "GlobalPool" not in type(y.grad_fn).__name__, "a T4 must not reach the Triton kernels"
    torch.testing.assert_close(y.as_subclass(torch.Tensor), x.detach().as_subclass(torch.Tensor).mean((2, 3)))


def test_the_kernel_switch_reads_0_1_or_auto(monkeypatch):
    for value, mode in [("0", "off"), ("1", "on"), ("auto", "auto"), (" AUTO ", "auto"), ("", "auto")]:
        monkeypatch.setenv("GAPLIB_KERNELS", value)
        assert kernels.function.switch() == mode, value
    monkeypatch.delenv("GAPLIB_KERNELS")
    assert kernels.function.switch() == "auto", "unset: the kernels where a table measured them"
