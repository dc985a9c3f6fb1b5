"""Timing a function the way benchmarks should: warm-up, repeats, median, GPU (CUDA or MPS) synchronised."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping

import torch

from ._checks import check_callable, check_int, check_mapping, check_number
from .device import mps_available

__all__ = ["time_fn", "compare", "cuda_graph_time"]


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


def _replayer(call: Callable[[int], object], n_inputs: int, calls: int, stream) -> tuple[Callable[[], None], str]:
    """A function that runs `calls` calls of `call(i)`: a CUDA graph replay, or eager if capture fails."""
    try:
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=stream):
            for i in range(calls):
                call(i % n_inputs)
        graph.replay()
        torch.cuda.synchronize()
        return graph.replay, "graph"
    except Exception as e:  # noqa: BLE001 - an op that cannot be captured is timed eagerly
        torch.cuda.synchronize()
        print(f"  (graph capture failed: {type(e).__name__}: {str(e)[:120]}; timing eagerly)", flush=True)

        def run():
            for i in range(calls):
                call(i % n_inputs)

        return run, "eager"


def _event_time(run: Callable[[], None], reps: int) -> float:
    """Median seconds of `run()` measured with CUDA events."""
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        run()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times)


def cuda_graph_time(
    call: Callable[[int], object], n_inputs: int, reps: int = 15, target_s: float = 1e-3, stream=None
) -> tuple[float, str]:
    """Seconds per call of `call(i)` (i cycles over `n_inputs` inputs) on a CUDA GPU, and "graph" or "eager".

    A kernel of a few microseconds is shorter than its launch from Python, so the calls are captured in a
    CUDA graph (as many as take about `target_s`) and its replays timed with CUDA events; the median of
    `reps` replays, divided by the calls, is returned. Warm-up and capture run on `stream` (a side stream by
    default); work whose autograd graph was built on that stream has its backward captured there too. An op
    that cannot be captured is timed eagerly, saying so. Notebook 09 builds this timer; benchmarks/bench_gpu_pool.py
    uses it.
    """
    check_callable(call, "call")
    check_int(n_inputs, "n_inputs", 1)
    check_int(reps, "reps", 1)
    check_number(target_s, "target_s", 0.0, low_open=True)
    if not torch.cuda.is_available():
        raise RuntimeError("cuda_graph_time times CUDA work, but CUDA is not available on this machine; use time_fn")
    stream = stream if stream is not None else torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):  # warm-up on the capture stream, as graph capture asks
        for i in range(2 * n_inputs):
            call(i % n_inputs)
    torch.cuda.synchronize()
    probe = max(n_inputs, 8)
    run, how = _replayer(call, n_inputs, probe, stream)
    estimate = _event_time(run, 3) / probe
    calls = int(min(3000, max(probe, math.ceil(target_s / max(estimate, 1e-7)))))
    if calls > probe:
        del run
        run, how = _replayer(call, n_inputs, calls, stream)
    return _event_time(run, reps) / calls, how
