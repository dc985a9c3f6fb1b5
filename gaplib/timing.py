"""Timing a function the way benchmarks should: warm-up, repeats, median, GPU (CUDA or MPS) synchronised."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping

import torch

from ._checks import check_callable, check_int, check_mapping
from .device import mps_available

__all__ = ["time_fn", "compare"]


def time_fn(fn: Callable, *args, reps: int = 20, warmup: int = 3, **kwargs) -> float:
    """Median wall-clock seconds of `fn(*args, **kwargs)` over `reps` runs after `warmup` runs."""
    check_callable(fn, "fn")
    check_int(reps, "reps", 1)
    check_int(warmup, "warmup", 0)
    sync = _synchronizer()
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


def _synchronizer() -> Callable[[], None]:
    """A function that waits for the GPU's queued work (CUDA, or MPS on a Mac); on a CPU-only machine, nothing."""
    if torch.cuda.is_available():
        return torch.cuda.synchronize
    if mps_available():
        return torch.mps.synchronize
    return lambda: None


def compare(
    fns: Mapping[str, Callable], *args, reps: int = 10, warmup: int = 3, rounds: int = 3, **kwargs
) -> dict[str, float]:
    """Seconds per call of each `{name: fn}` on the same arguments: `time_fn` medians in turns, best round kept.

    Taking turns (a, b, a, b, ...) and keeping each function's fastest round keeps a busy machine from
    favouring whichever function happened to run while it was quiet.
    """
    check_mapping(fns, "fns", "a non-empty {name: callable} dict, e.g. {'mean': lambda x: x.mean((2, 3))}")
    for name, fn in fns.items():
        check_callable(fn, f"fns[{name!r}]")
    check_int(reps, "reps", 1)
    check_int(warmup, "warmup", 0)
    check_int(rounds, "rounds", 1)
    best = {name: float("inf") for name in fns}
    for r in range(rounds):
        for name, fn in fns.items():
            best[name] = min(best[name], time_fn(fn, *args, reps=reps, warmup=warmup if r == 0 else 1, **kwargs))
    return best
