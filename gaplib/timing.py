"""Timing a function the way benchmarks should: warm-up, repeats, median, GPU synchronised."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from ._checks import check_int

__all__ = ["time_fn"]


def time_fn(fn: Callable, *args, reps: int = 20, warmup: int = 3, **kwargs) -> float:
    """Median wall-clock seconds of `fn(*args, **kwargs)` over `reps` runs after `warmup` runs."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    check_int(reps, "reps", 1)
    check_int(warmup, "warmup", 0)
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for _ in range(warmup):
        fn(*args, **kwargs)
    sync()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn(*args, **kwargs)
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
