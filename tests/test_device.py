"""Unit tests for gaplib.device: one place picks the device (CUDA, then MPS, then the CPU)."""

import pytest
import torch

from gaplib import device


def test_default_device(monkeypatch):
    monkeypatch.delenv("GAPLIB_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert device.default_device().type == expected
    monkeypatch.setenv("GAPLIB_DEVICE", "cpu")
    assert device.default_device() == torch.device("cpu")


@pytest.mark.parametrize(
    "cuda, mps, expected",
    [(True, True, "cuda"), (False, True, "mps"), (True, False, "cuda"), (False, False, "cpu")],
    ids=["cuda-and-mps", "apple-silicon", "nvidia", "cpu-only"],
)
def test_default_device_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.delenv("GAPLIB_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert device.mps_available() is mps
    assert device.default_device() == torch.device(expected), f"CUDA {cuda}, MPS {mps}: {expected} expected"
    assert device.resolve_device(None) == torch.device(expected)


def test_gaplib_device_mps_is_accepted_where_mps_is_and_refused_elsewhere(monkeypatch):
    monkeypatch.setenv("GAPLIB_DEVICE", "mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert device.default_device() == torch.device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="MPS is not available on this machine; use 'cpu'"):
        device.default_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_default_device_asks_for_missing_cuda(monkeypatch):
    monkeypatch.setenv("GAPLIB_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        device.default_device()
