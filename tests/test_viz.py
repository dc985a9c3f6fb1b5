"""Unit tests for gaplib.viz: the pictures the course draws."""

import math

import matplotlib.pyplot as plt
import torch

from gaplib import data, experiments, viz
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


def test_show_batch_titles_replace_the_class_names():
    s = data.make_shapes(4, 16)
    fig = viz.show_batch(s.images, s.labels, s.classes, titles=["a", "b", "c", "d"], ncols=4)
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c", "d"]
    plt.close(fig)
