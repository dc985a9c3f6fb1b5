"""Unit tests for gaplib.timing: `time_fn` waits for the GPU it times, `compare` takes turns."""

import pytest
import torch

from gaplib import timing
from gaplib.timing import compare


@pytest.mark.parametrize("cuda, mps, waits_on", [(True, False, "cuda"), (False, True, "mps"), (False, False, None)])
def test_time_fn_waits_for_the_gpu_it_has(monkeypatch, cuda, mps, waits_on):
    waits = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: waits.append("cuda"))
    monkeypatch.setattr(torch.mps, "synchronize", lambda: waits.append("mps"))
    timing.time_fn(lambda: None, reps=3, warmup=1)
    assert waits == ([waits_on] * 4 if waits_on else []), "one wait after the warm-up and one after each timed run"


def test_time_fn():
    calls = []
    t = timing.time_fn(lambda: calls.append(1), reps=5, warmup=2)
    assert len(calls) == 7 and t >= 0
    with pytest.raises(TypeError, match="callable"):
        timing.time_fn(3)
    with pytest.raises(ValueError, match="reps must be >= 1"):
        timing.time_fn(print, reps=0)


def test_compare_returns_seconds_per_name_in_order():
    x = torch.rand(4, 8, 7, 7)
    t = compare({"mean": lambda x: x.mean((2, 3)), "amax": lambda x: x.amax((2, 3))}, x, reps=2, rounds=2)
    assert list(t) == ["mean", "amax"] and all(0 < v < 1 for v in t.values())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="cuda_graph_time times CUDA work; this machine has no GPU")
def test_cuda_graph_time_measures_a_copy_on_the_gpu():
    src = torch.randn(2**22, device="cuda")
    dst = torch.empty_like(src)
    sec, how = timing.cuda_graph_time(lambda i: dst.copy_(src), 1, reps=5)
    assert how == "graph" and 0 < sec < 1e-2
    assert torch.equal(src, dst)
