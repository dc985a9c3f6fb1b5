import matplotlib.pyplot as plt
import pytest
import torch

from gaplib import data, device, timing, viz
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


@pytest.mark.parametrize(
    "call, err, match",
    [
        (lambda: viz.show_batch(torch.rand(2, 16, 16)), ValueError, "4-D"),
        (lambda: viz.show_batch(torch.rand(2, 3, 8, 8), boxes=torch.zeros(2, 3)), ValueError, "boxes must be"),
        (lambda: viz.plot_history(History(), "acc"), ValueError, "trained runs"),
        (lambda: viz.plot_history(History([1.0], [1.0], [1.0], [1.0]), "f1"), ValueError, "'acc' or 'loss'"),
        (lambda: viz.show_feature_maps(torch.randn(2, 3, 4, 4)), ValueError, "one image"),
        (lambda: viz.show_feature_maps(torch.randn(3, 0, 4)), ValueError, "empty grid"),
        (lambda: viz.plot_bars({}, "y"), ValueError, "empty"),
    ],
)
def test_viz_bad_input(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_default_device(monkeypatch):
    monkeypatch.delenv("GAPLIB_DEVICE", raising=False)
    assert device.default_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setenv("GAPLIB_DEVICE", "cpu")
    assert device.default_device() == torch.device("cpu")


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
