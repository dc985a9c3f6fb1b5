"""The one place that decides which device gaplib (and so every notebook) computes on."""

from __future__ import annotations

import os

import torch

__all__ = ["default_device", "resolve_device"]


def default_device() -> torch.device:
    """The GPU when one is present, else the CPU; `GAPLIB_DEVICE=cpu` (or `cuda`) overrides."""
    wanted = os.environ.get("GAPLIB_DEVICE", "").strip().lower()
    if wanted:
        return _check_device(wanted, "GAPLIB_DEVICE")
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _check_device(device: object, name: str) -> torch.device:
    """`device` as a `torch.device` this machine has, or a one-line error saying what it has."""
    if isinstance(device, bool) or not isinstance(device, (str, torch.device)):
        raise TypeError(f"{name} must be a torch.device or a str such as 'cpu' or 'cuda', got {type(device).__name__}")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"{name} must name a device such as 'cpu', 'cuda' or 'cuda:0', got {device!r}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"{name}={str(device)!r} but CUDA is not available on this machine; use 'cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"{name}={str(device)!r} but this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError(f"{name}={str(device)!r} but MPS is not available on this machine; use 'cpu'")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{name} must be 'cpu', 'cuda' or 'mps' for gaplib, got {str(device)!r}")
    return dev


def resolve_device(device: torch.device | str | None = None) -> torch.device:
    """`device` as a `torch.device`, or `default_device()` when it is None; a device this machine lacks is an error."""
    return _check_device(device, "device") if device is not None else default_device()
