"""Bad input to gaplib.device: one row per input, each refused in one line."""

import pytest
import torch
from _bad_input import bad, check_bad_input

from gaplib import device

ROWS = [
    bad("resolve_device gpu", lambda: device.resolve_device("gpu"), ValueError, "device must name a device"),
    bad("resolve_device ''", lambda: device.resolve_device(""), ValueError, "device must name a device"),
    bad("resolve_device 0", lambda: device.resolve_device(0), TypeError, "device must be a torch.device or a str"),
    bad("resolve_device True", lambda: device.resolve_device(True), TypeError, "device must be a torch.device"),
    bad("resolve_device list", lambda: device.resolve_device(["cpu"]), TypeError, "device must be"),
    bad("resolve_device meta", lambda: device.resolve_device("meta"), ValueError, "'cpu', 'cuda' or 'mps'"),
    bad("resolve_device cuda:99", lambda: device.resolve_device("cuda:99"), (RuntimeError, ValueError), "cuda:99"),
]
if not torch.cuda.is_available():
    ROWS += [
        bad("resolve_device cuda", lambda: device.resolve_device("cuda"), RuntimeError, "CUDA is not available"),
        bad("resolve_device cuda:0", lambda: device.resolve_device(torch.device("cuda:0")), RuntimeError, "CUDA"),
    ]


@pytest.mark.parametrize("call, exc, phrase", ROWS)
def test_bad_input(call, exc, phrase):
    check_bad_input(call, exc, phrase)


def test_gaplib_device_env_is_checked(monkeypatch):
    monkeypatch.setenv("GAPLIB_DEVICE", "gpu")
    with pytest.raises(ValueError, match="GAPLIB_DEVICE must name a device"):
        device.default_device()
