"""The one place that decides which device gaplib (and so every notebook) computes on.

`default_device()` picks an NVIDIA GPU (CUDA) when there is one, else an Apple-silicon GPU (MPS), else the CPU;
`GAPLIB_DEVICE=cpu` (or `cuda`, `mps`) overrides. On a Mac, PyTorch's MPS backend lacks a few operations; set
`PYTORCH_ENABLE_MPS_FALLBACK=1` in the environment before starting Python (or Jupyter) so that those run on the CPU
instead of raising `NotImplementedError`. MPS has no float64: keep tensors that go to the device in float32.
"""

from __future__ import annotations

import os

import torch

from ._checks import check_type

__all__ = ["default_device", "mps_available", "resolve_device"]


def default_device() -> torch.device:
    """CUDA when present, else MPS (Apple silicon), else the CPU; `GAPLIB_DEVICE=cpu` (or `cuda`, `mps`) overrides."""
    wanted = os.environ.get("GAPLIB_DEVICE", "").strip().lower()
    if wanted:
        return _check_device(wanted, "GAPLIB_DEVICE")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def mps_available() -> bool:
    """True on a Mac whose PyTorch can use the Apple-silicon GPU."""
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def _check_device(device: object, name: str) -> torch.device:
    """`device` as a `torch.device` this machine has, or a one-line error saying what it has."""
    check_type(device, name, (str, torch.device), "a torch.device or a str such as 'cpu' or 'cuda'")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"{name} must name a device such as 'cpu', 'cuda' or 'cuda:0', got {device!r}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"{name}={str(device)!r} but CUDA is not available on this machine; use 'cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"{name}={str(device)!r} but this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type == "mps" and not mps_available():
        raise RuntimeError(f"{name}={str(device)!r} but MPS is not available on this machine; use 'cpu'")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{name} must be 'cpu', 'cuda' or 'mps' for gaplib, got {str(device)!r}")
    return dev


def resolve_device(device: torch.device | str | None = None) -> torch.device:
    """`device` as a `torch.device`, or `default_device()` when it is None; a device this machine lacks is an error."""
    return _check_device(device, "device") if device is not None else default_device()
