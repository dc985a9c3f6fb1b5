import math

import matplotlib.pyplot as plt
import pytest
import torch

from gaplib import data, device, experiments, timing, viz
from gaplib.train import History


def test_show_batch_draws_boxes_and_titles():
    s = data.make_shapes(10, 16)
    fig = viz.show_batch(s.images, s.labels, s.classes, s.boxes, n=10, ncols=5)
    axes = [a for a in fig.axes if a.images]
    assert len(axes) == 10 and axes[0].get_title() in data.SHAPES
    assert all(len(a.patches) == 1 for a in axes)


def test_plot_history_and_bars():
    h = History([1.0, 0.5], [0.5, 0.8], [1.1, 0.7], [0.4, 0.7])
    fig = viz.plot_history({"a": h, "b": h}, metric="loss")
    assert len(fig.axes[0].lines) == 4
    fig = viz.plot_bars({"x": 10, "y": 2000}, "params", log=True)
    assert fig.axes[0].get_yscale() == "log" and len(fig.axes[0].patches) == 2


def test_show_feature_maps():
    fig = viz.show_feature_maps(torch.randn(20, 4, 4), n=12, ncols=6)
    assert sum(1 for a in fig.axes if a.images) == 12
    assert isinstance(viz.show_feature_maps(torch.randn(1, 3, 5, 5)), plt.Figure)


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


@pytest.mark.parametrize("cuda, mps, waits_on", [(True, False, "cuda"), (False, True, "mps"), (False, False, None)])
def test_time_fn_waits_for_the_gpu_it_has(monkeypatch, cuda, mps, waits_on):
    waits = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: waits.append("cuda"))
    monkeypatch.setattr(torch.mps, "synchronize", lambda: waits.append("mps"))
    timing.time_fn(lambda: None, reps=3, warmup=1)
    assert waits == ([waits_on] * 4 if waits_on else []), "one wait after the warm-up and one after each timed run"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_default_device_asks_for_missing_cuda(monkeypatch):
    monkeypatch.setenv("GAPLIB_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        device.default_device()


def test_time_fn():
    calls = []
    t = timing.time_fn(lambda: calls.append(1), reps=5, warmup=2)
    assert len(calls) == 7 and t >= 0
    with pytest.raises(TypeError, match="callable"):
        timing.time_fn(3)
    with pytest.raises(ValueError, match="reps must be >= 1"):
        timing.time_fn(print, reps=0)


def test_plot_curves_draws_one_line_per_curve_and_marks_nan():
    fig = viz.plot_curves({"gap": {24: 0.9, 32: 1.0}, "flat": {24: math.nan, 32: 0.9}}, "size", "acc")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["gap", "flat", "flat: cannot run"]


def test_plot_summary_one_bar_per_config():
    summary = experiments.summarize(
        [
            {"config": "a", "valid_acc": 0.5, "overfit": 0.1, "head_params": 1},
            {"config": "b", "valid_acc": 0.7, "overfit": 0.0, "head_params": 2},
        ]
    )
    fig = viz.plot_summary(summary, "overfit")
    assert len(fig.axes[0].patches) == 2
