"""Bad input to gaplib.viz: one row per input, each refused with a one-line error naming what was expected."""

import math

import pytest
import torch
from _bad_input import bad, check_bad_input, int_rows, tensor_rows

from gaplib import data, experiments, train, viz

S = data.make_shapes(6, 16)
H = train.History([1.0], [0.5], [1.1], [0.4])
MAPS = torch.rand(1, 4, 5, 5)

ROW = {"config": "gap", "valid_acc": 0.5, "overfit": 0.1, "head_params": 10}
SUMMARY = experiments.summarize([ROW])

IMAGES6 = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(3))
BOX6 = torch.tensor([[0.0, 0, 8, 8]] * 6)


def _show_cams(**kwargs: object) -> object:
    return viz.show_cams(**{"images": IMAGES6, "maps": torch.rand(6, 4, 4), **kwargs})


ROWS = [
    *tensor_rows("show_batch", lambda v: viz.show_batch(v), "images"),
    *int_rows("show_batch", lambda v: viz.show_batch(S.images, n=v), "n", 1),
    *int_rows("show_batch", lambda v: viz.show_batch(S.images, ncols=v), "ncols", 1),
    bad("show_batch no images", lambda: viz.show_batch(S.images[:0]), ValueError, "images is empty"),
    bad("show_batch boxes list", lambda: viz.show_batch(S.images, boxes=[[0, 0, 1, 1]]), TypeError, "boxes must be"),
    bad("show_batch boxes (N, 3)", lambda: viz.show_batch(S.images, boxes=S.boxes[:, :3]), ValueError, "(N, 4)"),
    bad("show_batch fewer boxes", lambda: viz.show_batch(S.images, boxes=S.boxes[:2]), ValueError, "one (x0, y0"),
    bad("show_batch label 9", lambda: viz.show_batch(S.images, torch.full((6,), 9), S.classes), ValueError, "holds 9"),
    bad("show_batch label -1", lambda: viz.show_batch(S.images, torch.full((6,), -1)), ValueError, "holds -1"),
    bad("show_batch fewer labels", lambda: viz.show_batch(S.images, S.labels[:2]), ValueError, "labels must be"),
    bad(
        "show_batch float labels",
        lambda: viz.show_batch(S.images, S.labels.float()),
        TypeError,
        "each label must be an int",
    ),
    bad("show_batch 2-D labels", lambda: viz.show_batch(S.images, S.labels[:, None]), TypeError, "1-D tensor"),
    bad("show_batch labels str", lambda: viz.show_batch(S.images, "circle"), TypeError, "labels must be"),
    bad("show_batch titles str", lambda: viz.show_batch(S.images, titles="abcdef"), TypeError, "titles must be"),
    bad("show_batch few titles", lambda: viz.show_batch(S.images, titles=["a"]), ValueError, "at least 6 strings"),
    bad("show_batch classes str", lambda: viz.show_batch(S.images, S.labels, "abc"), TypeError, "classes must be"),
    bad("show_batch classes empty", lambda: viz.show_batch(S.images, S.labels, ()), ValueError, "classes must be"),
    bad("show_batch too few classes", lambda: viz.show_batch(S.images, S.labels, ("a",)), ValueError, "outside"),
    # plot_history
    bad(
        "plot_history metric",
        lambda: viz.plot_history(H, "accuracy"),
        ValueError,
        "metric must be one of ('acc', 'loss')",
    ),
    bad("plot_history None", lambda: viz.plot_history(None), TypeError, "histories must be a History"),
    bad("plot_history list", lambda: viz.plot_history([H]), TypeError, "histories must be a History"),
    bad("plot_history {}", lambda: viz.plot_history({}), ValueError, "non-empty {name: History}"),
    bad("plot_history empty History", lambda: viz.plot_history(train.History()), ValueError, "trained runs"),
    bad("plot_history dict of str", lambda: viz.plot_history({"a": "h"}), TypeError, "histories must be"),
    # show_feature_maps
    bad("show_feature_maps list", lambda: viz.show_feature_maps([[1.0]]), TypeError, "maps must be a torch.Tensor"),
    bad("show_feature_maps 2-D", lambda: viz.show_feature_maps(torch.rand(5, 5)), ValueError, "maps must be 4-D"),
    bad("show_feature_maps batch", lambda: viz.show_feature_maps(torch.rand(2, 4, 5, 5)), ValueError, "pass maps[i]"),
    bad("show_feature_maps int", lambda: viz.show_feature_maps(MAPS.long()), TypeError, "floating"),
    bad("show_feature_maps empty", lambda: viz.show_feature_maps(torch.rand(4, 0, 5)), ValueError, "empty grid"),
    *int_rows("show_feature_maps", lambda v: viz.show_feature_maps(MAPS, n=v), "n", 1),
    *int_rows("show_feature_maps", lambda v: viz.show_feature_maps(MAPS, ncols=v), "ncols", 1),
    bad("show_feature_maps few titles", lambda: viz.show_feature_maps(MAPS, titles=["a"]), ValueError, "titles must"),
    bad("show_feature_maps titles str", lambda: viz.show_feature_maps(MAPS, titles="abcd"), TypeError, "titles must"),
    # plot_bars
    bad("plot_bars {}", lambda: viz.plot_bars({}, "y"), ValueError, "nothing to plot"),
    bad("plot_bars list", lambda: viz.plot_bars([1, 2], "y"), TypeError, "values must be a {name: number} dict"),
    bad("plot_bars None", lambda: viz.plot_bars(None, "y"), TypeError, "values must be"),
    bad("plot_bars str value", lambda: viz.plot_bars({"a": "1"}, "y"), TypeError, "values['a'] must be a finite"),
    bad("plot_bars NaN", lambda: viz.plot_bars({"a": math.nan}, "y"), ValueError, "finite number"),
    bad("plot_bars inf", lambda: viz.plot_bars({"a": math.inf}, "y"), ValueError, "finite number"),
    bad("plot_bars tensor value", lambda: viz.plot_bars({"a": torch.tensor(1.0)}, "y"), TypeError, "finite number"),
    bad("plot_bars ylabel None", lambda: viz.plot_bars({"a": 1}, None), TypeError, "ylabel must be a str"),
    bad("plot_bars log of 0", lambda: viz.plot_bars({"a": 0, "b": 3}, "y", log=True), ValueError, "positive values"),
    bad("plot_bars log str", lambda: viz.plot_bars({"a": 1}, "y", log="yes"), TypeError, "log must be True"),
    bad("show_batch 5 channels", lambda: viz.show_batch(torch.rand(2, 5, 8, 8)), ValueError, "1 (grey) or 3 (RGB)"),
    bad("show_batch 16 channels", lambda: viz.show_batch(torch.rand(2, 16, 8, 8)), ValueError, "show_feature_maps"),
    bad(
        "plot_history strings",
        lambda: viz.plot_history(train.History(["a"], ["b"], ["c"], ["d"])),
        TypeError,
        "hold numbers",
    ),
    bad(
        "plot_history unequal",
        lambda: viz.plot_history(train.History([1.0, 2.0], [0.5], [1.1], [0.4])),
        ValueError,
        "partly filled",
    ),
    bad(
        "show_feature_maps 0 channels", lambda: viz.show_feature_maps(torch.rand(1, 0, 4, 4)), ValueError, "0 channels"
    ),
    # plot_curves / plot_summary
    bad("plot_curves {}", lambda: viz.plot_curves({}, "x", "y"), ValueError, "curves must be a non-empty"),
    bad("plot_curves list", lambda: viz.plot_curves([1, 2], "x", "y"), TypeError, "curves must be"),
    bad(
        "plot_curves empty curve",
        lambda: viz.plot_curves({"a": {}}, "x", "y"),
        ValueError,
        "curves must be a dict of non-empty dicts",
    ),
    bad("plot_curves str y", lambda: viz.plot_curves({"a": {1: "hi"}}, "x", "y"), TypeError, "numbers"),
    bad("plot_curves str x", lambda: viz.plot_curves({"a": {"16": 0.5}}, "x", "y"), TypeError, "numbers"),
    bad("plot_curves xlabel None", lambda: viz.plot_curves({"a": {1: 0.5}}, None, "y"), TypeError, "xlabel"),
    bad("plot_curves ylabel 3", lambda: viz.plot_curves({"a": {1: 0.5}}, "x", 3), TypeError, "ylabel"),
    bad("plot_summary metric gap", lambda: viz.plot_summary(SUMMARY, "gap"), ValueError, "metric must be"),
    bad("plot_summary metric None", lambda: viz.plot_summary(SUMMARY, None), TypeError, "metric must be"),
    bad("plot_summary rows", lambda: viz.plot_summary([ROW]), ValueError, "summarize(rows)"),
    bad("plot_summary []", lambda: viz.plot_summary([]), ValueError, "summary must be"),
    bad("plot_summary a dict", lambda: viz.plot_summary(SUMMARY[0]), TypeError, "summary must be"),
    bad(
        "plot_summary hand-made, no std",
        lambda: viz.plot_summary([{"config": "a", "valid_acc_mean": 0.5}]),
        ValueError,
        "valid_acc_std",
    ),
    bad(
        "plot_summary hand-made, no config",
        lambda: viz.plot_summary([{"valid_acc_mean": 0.5, "valid_acc_std": 0.1}]),
        ValueError,
        "config",
    ),
    bad(
        "show_cams map count",
        lambda: _show_cams(maps=torch.rand(5, 4, 4)),
        ValueError,
        "one map per image: 6 images but 5",
    ),
    bad("show_cams 4-D maps", lambda: _show_cams(maps=torch.rand(6, 1, 4, 4)), ValueError, "3-D (N, H, W)"),
    bad("show_cams box count", lambda: _show_cams(boxes=BOX6[:2]), ValueError, "boxes must hold one"),
    bad("show_cams box shape", lambda: _show_cams(true_boxes=BOX6[:, :2]), ValueError, "shape (N, 4)"),
    bad("show_cams titles str", lambda: _show_cams(titles="abc"), TypeError, "titles must be a list of 6"),
    bad("show_cams alpha", lambda: _show_cams(alpha=2), ValueError, "alpha must be"),
    bad("show_cams ncols", lambda: _show_cams(ncols=0), ValueError, "ncols must be >= 1"),
]


@pytest.mark.parametrize("call, exc, phrase", ROWS)
def test_bad_input(call, exc, phrase):
    check_bad_input(call, exc, phrase)
