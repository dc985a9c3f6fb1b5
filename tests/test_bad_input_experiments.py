"""Bad input to gaplib.experiments: one row per input, each refused with a one-line error naming what was expected."""

import math

import pytest
import torch
from _bad_input import bad, check_bad_input, int_rows, tensor_rows
from torch import nn

from gaplib import data, experiments, models, train

S = data.make_shapes(12, 16)
DL = data.make_loader(S, bs=6)


def _net():
    torch.manual_seed(0)
    return models.gap_cnn(6, (4,))


class _Maps(nn.Module):
    def forward(self, x):
        return x


def _nan_images():
    x = S.images.clone()
    x[0, 0, 0, 0] = math.nan
    return x


ROW = {"config": "gap", "valid_acc": 0.5, "overfit": 0.1, "head_params": 10}
SUMMARY = experiments.summarize([ROW])

BAD_LISTS = [
    ([], ValueError, "must be a non-empty list of ints"),
    (16, TypeError, "must be a non-empty list of ints"),
    ("16", TypeError, "must be a non-empty list of ints"),
    (None, TypeError, "must be a non-empty list of ints"),
    ({16: 1}, TypeError, "must be a non-empty list of ints"),
    ([16, 2.5], TypeError, "must be an int"),
    ([16, "8"], TypeError, "must be an int"),
    ([16, None], TypeError, "must be an int"),
    ([True], TypeError, "must be an int"),
]

ROWS = [
    # size_sweep
    bad("size_sweep model None", lambda: experiments.size_sweep(None, [16]), TypeError, "model must be an nn.Module"),
    *[bad(f"size_sweep sizes={v!r}", lambda v=v: experiments.size_sweep(_net(), v), e, p) for v, e, p in BAD_LISTS],
    bad("size_sweep sizes [0]", lambda: experiments.size_sweep(_net(), [0]), ValueError, "each of sizes must be >= 1"),
    *int_rows("size_sweep", lambda v: experiments.size_sweep(_net(), [16], n=v), "n", 1),
    *int_rows("size_sweep", lambda v: experiments.size_sweep(_net(), [16], seed=v), "seed", 0),
    *int_rows("size_sweep", lambda v: experiments.size_sweep(_net(), [16], n=4, bs=v), "bs", 1),
    bad("size_sweep make str", lambda: experiments.size_sweep(_net(), [16], make="shapes"), TypeError, "make must be"),
    bad(
        "size_sweep make returns a tensor",
        lambda: experiments.size_sweep(_net(), [16], n=4, make=lambda n, s, seed: torch.zeros(n, 3, s, s)),
        TypeError,
        "make(n, size, seed) must be a gaplib.data.Sample",
    ),
    bad(
        "size_sweep model that never runs",
        lambda: experiments.size_sweep(nn.Sequential(nn.Conv2d(1, 6, 1), nn.Flatten()), [16, 32], n=4),
        ValueError,
        "cannot run at any of the sizes [16, 32]",
    ),
    bad("size_sweep maps model", lambda: experiments.size_sweep(_Maps(), [16], n=4), ValueError, "logits"),
    bad("size_sweep huge", lambda: experiments.size_sweep(_net(), [4096], n=10**5), ValueError, "size_sweep over"),
    # shift_images
    *tensor_rows("shift_images", lambda v: experiments.shift_images(v, 1, 1), "images"),
    bad("shift_images dx float", lambda: experiments.shift_images(S.images, 1.5, 0), TypeError, "dx must be an int"),
    bad("shift_images dy str", lambda: experiments.shift_images(S.images, 0, "1"), TypeError, "dy must be an int"),
    bad("shift_images dx True", lambda: experiments.shift_images(S.images, True, 0), TypeError, "dx must be an int"),
    bad("shift_images dx 16", lambda: experiments.shift_images(S.images, 16, 0), ValueError, "|dx| = 16"),
    bad("shift_images dy -20", lambda: experiments.shift_images(S.images, 0, -20), ValueError, "|dy| = 20"),
    bad("shift_images mode", lambda: experiments.shift_images(S.images, 1, 0, "wrap"), ValueError, "mode must be one"),
    bad("shift_images mode None", lambda: experiments.shift_images(S.images, 1, 0, None), TypeError, "mode must be"),
    # flip_rate
    bad("flip_rate model None", lambda: experiments.flip_rate(None, S.images, [1]), TypeError, "nn.Module"),
    *tensor_rows("flip_rate", lambda v: experiments.flip_rate(_net(), v, [1]), "images"),
    *[
        bad(f"flip_rate shifts={v!r}", lambda v=v: experiments.flip_rate(_net(), S.images, v), e, p)
        for v, e, p in BAD_LISTS
    ],
    bad("flip_rate shift -1", lambda: experiments.flip_rate(_net(), S.images, [-1]), ValueError, "must be >= 0"),
    bad("flip_rate shift 16", lambda: experiments.flip_rate(_net(), S.images, [16]), ValueError, "smaller than"),
    bad("flip_rate mode", lambda: experiments.flip_rate(_net(), S.images, [1], mode="zeros"), ValueError, "mode"),
    *int_rows("flip_rate", lambda v: experiments.flip_rate(_net(), S.images, [1], bs=v), "bs", 1),
    bad("flip_rate maps model", lambda: experiments.flip_rate(_Maps(), S.images, [1]), ValueError, "logits"),
    bad("flip_rate NaN images", lambda: experiments.flip_rate(_net(), _nan_images(), [1]), ValueError, "NaN or inf"),
    bad("flip_rate no images", lambda: experiments.flip_rate(_net(), S.images[:0], [1]), ValueError, "is empty"),
    # run_ablation
    bad("run_ablation builders {}", lambda: experiments.run_ablation({}, DL, DL), ValueError, "builders must be"),
    bad("run_ablation builders list", lambda: experiments.run_ablation([_net], DL, DL), TypeError, "builders must"),
    bad(
        "run_ablation builder a model",
        lambda: experiments.run_ablation({"gap": _net()}, DL, DL),
        TypeError,
        "builders['gap'] must be callable",
    ),
    bad(
        "run_ablation builder returns None",
        lambda: experiments.run_ablation({"gap": lambda: None}, DL, DL, epochs=1, progress=False),
        TypeError,
        "model must be an nn.Module",
    ),
    *[
        bad(f"run_ablation seeds={v!r}", lambda v=v: experiments.run_ablation({"g": _net}, DL, DL, seeds=v), e, p)
        for v, e, p in BAD_LISTS
    ],
    *int_rows("run_ablation", lambda v: experiments.run_ablation({"g": _net}, DL, DL, epochs=v), "epochs", 1),
    bad("run_ablation lr 0", lambda: experiments.run_ablation({"g": _net}, DL, DL, lr=0), ValueError, "lr must be > 0"),
    bad("run_ablation lr NaN", lambda: experiments.run_ablation({"g": _net}, DL, DL, lr=math.nan), ValueError, "lr"),
    bad("run_ablation train_dl", lambda: experiments.run_ablation({"g": _net}, S, DL), TypeError, "train_dl must be"),
    bad("run_ablation valid_dl", lambda: experiments.run_ablation({"g": _net}, DL, None), TypeError, "valid_dl must"),
    bad(
        "run_ablation keep_models str",
        lambda: experiments.run_ablation({"g": _net}, DL, DL, keep_models="yes"),
        TypeError,
        "keep_models must be True or False",
    ),
    bad(
        "run_ablation progress 0",
        lambda: experiments.run_ablation({"g": _net}, DL, DL, progress=0),
        TypeError,
        "progress must be True or False",
    ),
    bad(
        "run_ablation valid_each_epoch str",
        lambda: experiments.run_ablation({"g": _net}, DL, DL, valid_each_epoch="no"),
        TypeError,
        "valid_each_epoch must be True or False",
    ),
    bad("run_ablation builder 3", lambda: experiments.run_ablation({"g": 3}, DL, DL), TypeError, "must be callable"),
    bad(
        "run_ablation lrs []",
        lambda: experiments.run_ablation({"g": _net}, DL, DL, lrs=[]),
        ValueError,
        "lrs must be a non-empty list",
    ),
    bad(
        "run_ablation lrs 0.1",
        lambda: experiments.run_ablation({"g": _net}, DL, DL, lrs=0.1),
        TypeError,
        "lrs must be a non-empty list",
    ),
    bad(
        "run_ablation lrs [0.1, -1.0]",
        lambda: experiments.run_ablation({"g": _net}, DL, DL, lrs=[0.1, -1.0]),
        ValueError,
        "each learning rate must be a number > 0",
    ),
    bad(
        "flip_rate mode without shifts",
        lambda: experiments.flip_rate(_net(), S.images, [0], mode="roll"),
        ValueError,
        "mode must be one of",
    ),
    # summarize
    bad("summarize []", lambda: experiments.summarize([]), ValueError, "rows must be the non-empty list"),
    bad("summarize a dict", lambda: experiments.summarize(ROW), TypeError, "rows must be"),
    bad("summarize a str", lambda: experiments.summarize("rows"), TypeError, "rows must be"),
    bad("summarize missing keys", lambda: experiments.summarize([{"config": "a"}]), ValueError, "each row needs"),
    bad("summarize row not dict", lambda: experiments.summarize([1]), TypeError, "each row needs the keys"),
    bad("summarize NaN acc", lambda: experiments.summarize([{**ROW, "valid_acc": math.nan}]), ValueError, "finite"),
    bad("summarize str acc", lambda: experiments.summarize([{**ROW, "valid_acc": "0.5"}]), TypeError, "valid_acc"),
    bad("summarize None params", lambda: experiments.summarize([{**ROW, "head_params": None}]), TypeError, "head_"),
    bad(
        "shift_images 0 channels reflect",
        lambda: experiments.shift_images(torch.rand(2, 0, 8, 8), 1, 0, "reflect"),
        ValueError,
        "0 channels",
    ),
    bad(
        "flip_rate one output",
        lambda: experiments.flip_rate(nn.Sequential(nn.Flatten(), nn.Linear(3 * 256, 1)), S.images, [1]),
        ValueError,
        "2 or more classes",
    ),
]

if hasattr(experiments, "best_lr"):  # the learning-rate grid's helpers
    H3 = train.History([1.0] * 3, [0.2, 0.4, 0.5], [1.0] * 3, [0.3] * 3)
    ROWS += [
        bad("best_lr []", lambda: experiments.best_lr([]), ValueError, "rows must be the non-empty list"),
        bad("best_lr a str", lambda: experiments.best_lr("rows"), TypeError, "rows must be"),
        bad("best_lr a dict", lambda: experiments.best_lr({**ROW, "lr": 0.1}), TypeError, "rows must be"),
        bad("best_lr no lr", lambda: experiments.best_lr([ROW]), ValueError, "each row needs the keys"),
        bad("best_lr row a number", lambda: experiments.best_lr([3]), TypeError, "each row needs the keys"),
        bad("train_rise None", lambda: experiments.train_rise(None), TypeError, "history must be a non-empty"),
        bad("train_rise empty", lambda: experiments.train_rise(train.History()), ValueError, "history must be"),
        bad("train_rise a list", lambda: experiments.train_rise([0.1, 0.2]), TypeError, "gaplib.train.History"),
        *int_rows("train_rise", lambda v: experiments.train_rise(H3, last=v), "last", 1),
        bad("train_rise last 3 of 3", lambda: experiments.train_rise(H3, last=3), ValueError, "smaller than"),
    ]


@pytest.mark.parametrize("call, exc, phrase", ROWS)
def test_bad_input(call, exc, phrase):
    check_bad_input(call, exc, phrase)
