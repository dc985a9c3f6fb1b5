"""Unit tests for gaplib.experiments: size sweeps, shifts, flip rates and ablations (their plots: test_viz)."""

import math

import matplotlib
import pytest
import torch
from torch import nn

matplotlib.use("Agg")

from gaplib import data, models  # noqa: E402
from gaplib.data import SHAPES  # noqa: E402
from gaplib.experiments import (  # noqa: E402
    best_lr,
    flip_rate,
    run_ablation,
    shift_images,
    size_sweep,
    summarize,
    train_rise,
)
from gaplib.train import History  # noqa: E402


@pytest.fixture(autouse=True)
def _cpu(monkeypatch):
    """Run every test on the CPU, whatever the machine has."""
    monkeypatch.setenv("GAPLIB_DEVICE", "cpu")


def tiny_gap() -> nn.Module:
    return models.gap_cnn(6, widths=(4,))


def tiny_flat() -> nn.Module:
    return models.flatten_cnn(16, 6, widths=(4,), hidden=8)


class Constant(nn.Module):
    """Predicts class `k` whatever the input (any size)."""

    def __init__(self, k: int, n: int = 6):
        super().__init__()
        self.k, self.n = k, n

    def forward(self, x):
        out = torch.zeros(len(x), self.n)
        out[:, self.k] = 1.0
        return out


class DotSide(nn.Module):
    """Class 1 when the brightest pixel lies in the right half of the image, else class 0."""

    def forward(self, x):
        col = x.sum(1).flatten(1).argmax(1) % x.shape[3]
        return nn.functional.one_hot((col >= x.shape[3] // 2).long(), 2).float()


# size_sweep ---------------------------------------------------------------------------------------


def test_size_sweep_any_size_model_gets_a_number_per_size():
    torch.manual_seed(0)
    res = size_sweep(tiny_gap(), [16, 24], n=12)
    assert list(res) == [16, 24]
    assert all(0.0 <= v <= 1.0 for v in res.values())


def test_size_sweep_size_locked_model_gets_nan_elsewhere():
    res = size_sweep(tiny_flat(), [16, 32], n=6)
    assert not math.isnan(res[16]) and math.isnan(res[32])


def test_size_sweep_accuracy_is_the_fraction_of_matching_labels():
    sample = data.make_shapes(30, 16, seed=3)
    expected = (sample.labels == 2).float().mean().item()
    assert size_sweep(Constant(2), [16], n=30, seed=3)[16] == pytest.approx(expected)


def test_size_sweep_uses_the_given_maker():
    calls = []

    def make(n, size, seed):
        calls.append((n, size, seed))
        return data.make_shapes(n, size, seed)

    size_sweep(Constant(0), [16, 20], n=5, seed=7, make=make)
    assert calls == [(5, 16, 7), (5, 20, 7)]


# shift_images --------------------------------------------------------------------------------------


def test_shift_images_moves_content_right_and_down():
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 1, 1] = 1.0
    y = shift_images(x, 2, 1, mode="constant")
    assert y.shape == x.shape
    assert y[0, 0, 2, 3] == 1.0 and y.sum() == 1.0


def test_shift_images_negative_shift_moves_left_and_up():
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 3, 3] = 1.0
    y = shift_images(x, -3, -2, mode="constant")
    assert y[0, 0, 1, 0] == 1.0 and y.sum() == 1.0


def test_shift_images_replicate_fills_with_the_edge_and_circular_wraps():
    x = torch.arange(4.0).reshape(1, 1, 1, 4)
    assert shift_images(x, 1, 0)[0, 0, 0].tolist() == [0.0, 0.0, 1.0, 2.0]
    assert shift_images(x, 1, 0, mode="circular")[0, 0, 0].tolist() == torch.roll(x, 1, 3)[0, 0, 0].tolist()


def test_shift_images_zero_shift_is_a_copy():
    x = torch.rand(2, 3, 6, 6)
    y = shift_images(x, 0, 0)
    assert torch.equal(x, y) and y.data_ptr() != x.data_ptr()


# flip_rate ----------------------------------------------------------------------------------------


def test_flip_rate_is_zero_for_a_constant_model():
    res = flip_rate(Constant(1), torch.rand(5, 3, 8, 8), [0, 1, 3])
    assert res == {0: 0.0, 1: 0.0, 3: 0.0}


def test_flip_rate_counts_changed_predictions():
    # a dot in column 1 of 8: 1 px moves keep it in the left half; of the four 3 px moves only "right"
    # takes it to the right half (moved out on the left, the image is empty and argmax says column 0)
    x = torch.zeros(1, 1, 8, 8)
    x[0, 0, 4, 1] = 1.0
    res = flip_rate(DotSide(), x, [0, 1, 3], mode="constant")
    assert res == {0: 0.0, 1: 0.0, 3: pytest.approx(0.25)}


def test_size_sweep_too_small_for_the_pooling_gets_nan():
    def make(n, size, seed):  # 1 x 1 images at "size 1": too small for the body's 2x max-pool
        if size > 1:
            return data.make_shapes(n, size, seed)
        return data.Sample(torch.rand(n, 3, 1, 1), torch.zeros(n, dtype=torch.int64), torch.zeros(n, 4), SHAPES)

    res = size_sweep(tiny_gap(), [1, 16], n=4, make=make)
    assert math.isnan(res[1]) and not math.isnan(res[16])


# run_ablation / summarize -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def loaders():
    sample = data.make_shapes(24, 16, seed=0)
    return data.make_loader(sample, 12, shuffle=True), data.make_loader(sample, 24)


def test_run_ablation_one_row_per_config_and_seed(loaders):
    rows = run_ablation({"gap": tiny_gap, "flat": tiny_flat}, *loaders, seeds=[0, 1], epochs=1, progress=False)
    assert [(r["config"], r["seed"]) for r in rows] == [("gap", 0), ("gap", 1), ("flat", 0), ("flat", 1)]
    for r in rows:
        assert 0 <= r["valid_acc"] <= 1 and 0 <= r["train_acc"] <= 1
        assert r["overfit"] == pytest.approx(r["train_acc"] - r["valid_acc"])
        assert "model" not in r
    assert rows[0]["head_params"] == models.count_params(tiny_gap())["head"] == 4 * 6 + 6


def test_run_ablation_same_seed_same_result_and_keeps_models(loaders):
    a = run_ablation({"gap": tiny_gap}, *loaders, seeds=[3], epochs=1, keep_models=True, progress=False)
    b = run_ablation({"gap": tiny_gap}, *loaders, seeds=[3], epochs=1, keep_models=True, progress=False)
    assert a[0]["valid_acc"] == b[0]["valid_acc"]
    assert isinstance(a[0]["model"], nn.Module) and not a[0]["model"].training


def test_run_ablation_rows_hold_lr_and_history(loaders):
    rows = run_ablation({"gap": tiny_gap}, *loaders, seeds=[0], epochs=2, lr=3e-3, progress=False)
    assert rows[0]["lr"] == 3e-3
    assert isinstance(rows[0]["history"], History) and len(rows[0]["history"].train_acc) == 2
    assert rows[0]["history"].valid_acc[-1] == rows[0]["valid_acc"]


def test_run_ablation_can_score_valid_after_training_only(loaders):
    kwargs = {"seeds": [0], "epochs": 2, "progress": False}
    every = run_ablation({"gap": tiny_gap}, *loaders, **kwargs)[0]
    last = run_ablation({"gap": tiny_gap}, *loaders, valid_each_epoch=False, **kwargs)[0]
    assert (last["valid_acc"], last["train_acc"]) == (every["valid_acc"], every["train_acc"])
    assert math.isnan(last["history"].valid_acc[0]) and not math.isnan(every["history"].valid_acc[0])


def test_run_ablation_lr_grid_trains_every_config_at_every_lr(loaders):
    rows = run_ablation(
        {"gap": tiny_gap, "flat": tiny_flat}, *loaders, seeds=[0, 1], epochs=1, lrs=[1e-3, 1e-2], progress=False
    )
    assert [(r["config"], r["lr"], r["seed"]) for r in rows] == [
        (c, lr, s) for c in ("gap", "flat") for lr in (1e-3, 1e-2) for s in (0, 1)
    ]
    again = run_ablation({"gap": tiny_gap}, *loaders, seeds=[1], epochs=1, lr=1e-2, progress=False)
    same = next(r for r in rows if r["config"] == "gap" and r["lr"] == 1e-2 and r["seed"] == 1)
    assert again[0]["valid_acc"] == same["valid_acc"]


def test_best_lr_keeps_the_rows_of_each_configs_best_mean():
    rows = [
        {"config": "a", "lr": 0.1, "seed": 0, "valid_acc": 0.9},
        {"config": "a", "lr": 0.1, "seed": 1, "valid_acc": 0.1},
        {"config": "a", "lr": 0.01, "seed": 0, "valid_acc": 0.6},
        {"config": "a", "lr": 0.01, "seed": 1, "valid_acc": 0.6},
        {"config": "b", "lr": 0.1, "seed": 0, "valid_acc": 0.7},
        {"config": "b", "lr": 0.01, "seed": 0, "valid_acc": 0.2},
    ]
    kept = best_lr(rows)
    assert [(r["config"], r["lr"], r["seed"]) for r in kept] == [("a", 0.01, 0), ("a", 0.01, 1), ("b", 0.1, 0)]


def test_train_rise_measures_the_last_epochs():
    h = History(train_acc=[0.2, 0.5, 0.8, 0.9, 0.9, 0.91])
    assert train_rise(h, 3) == pytest.approx(0.91 - 0.8)
    assert train_rise(h, 1) == pytest.approx(0.01)
    assert train_rise(History(train_acc=[0.9, 0.95, 0.93]), 1) == pytest.approx(-0.02)


def test_summarize_means_and_stds():
    rows = [
        {"config": "b", "valid_acc": 0.5, "overfit": 0.1, "head_params": 10},
        {"config": "a", "valid_acc": 0.8, "overfit": 0.0, "head_params": 3},
        {"config": "b", "valid_acc": 0.7, "overfit": 0.3, "head_params": 10},
    ]
    b, a = summarize(rows)
    assert b["config"] == "b" and b["seeds"] == 2 and b["head_params"] == 10
    assert b["valid_acc_mean"] == pytest.approx(0.6) and b["valid_acc_std"] == pytest.approx(0.1414, abs=1e-4)
    assert b["overfit_mean"] == pytest.approx(0.2)
    assert a["seeds"] == 1 and a["valid_acc_std"] == 0.0


# plots --------------------------------------------------------------------------------------------
