"""The one place that decides which device gaplib (and so every notebook) computes on."""

from __future__ import annotations

import os

import torch

__all__ = ["default_device", "resolve_device"]


def default_device() -> torch.device:
    """The GPU when one is present, else the CPU; `GAPLIB_DEVICE=cpu` (or `cuda`) overrides."""
    wanted = os.environ.get("GAPLIB_DEVICE", "").strip().lower()
    if wanted:
        if wanted.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError(f"GAPLIB_DEVICE={wanted!r} but CUDA is not available on this machine")
        return torch.device(wanted)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(device: torch.device | str | None = None) -> torch.device:
    """`device` as a `torch.device`, or `default_device()` when it is None."""
    return torch.device(device) if device is not None else default_device()
