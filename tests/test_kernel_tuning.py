"""Tests of the kernels' tuning records and of the one kernel-or-PyTorch decision (they run on any machine)."""

from __future__ import annotations

import pytest
import torch

from gaplib import kernels
from gaplib.kernels import tuning
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
        (dict(rows=4, argmax="fast"), "argmax must be 'auto'"),
    ],
    ids=["rows-3", "rows-0", "cols-24", "warps-6", "stages-0", "argmax"],
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
