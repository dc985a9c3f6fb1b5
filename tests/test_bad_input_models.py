"""Bad input to gaplib.models: one row per input, each refused with a one-line error naming what was expected."""

import pytest
from _bad_input import bad, check_bad_input, int_rows
from torch import nn

from gaplib import models

BAD_WIDTHS = [
    ((), ValueError, "widths must be a non-empty sequence"),
    (16, TypeError, "widths must be a non-empty sequence"),
    ("16", TypeError, "widths must be a non-empty sequence"),
    (None, TypeError, "widths must be a non-empty sequence"),
    ({16: 1}, TypeError, "widths must be a non-empty sequence"),
    ((8, 0), ValueError, "each width must be >= 1"),
    ((8, -4), ValueError, "each width must be >= 1"),
    ((8, 2.5), TypeError, "each width must be an int"),
    ((8, "16"), TypeError, "each width must be an int"),
    ((True, 8), TypeError, "each width must be an int"),
    ((8, None), TypeError, "each width must be an int"),
]


def _width_rows(id, build):
    return [bad(f"{id} widths={w!r}", lambda w=w: build(w), exc, phrase) for w, exc, phrase in BAD_WIDTHS]


class _NoSplit(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.conv(x)


ROWS = [
    *int_rows("post_model", lambda v: models.post_model(v), "n_classes", 2),
    *int_rows("post_model", lambda v: models.post_model(10, width=v), "width", 4),
    *int_rows("conv_block", lambda v: models.conv_block(v, 8), "in_channels", 1),
    *int_rows("conv_block", lambda v: models.conv_block(3, v), "out_channels", 1),
    *int_rows("conv_block", lambda v: models.conv_block(3, 8, stride=v), "stride", 1),
    bad("conv_block 0, 0, stride 0", lambda: models.conv_block(0, 0, stride=0), ValueError, "in_channels must be >= 1"),
    bad("conv_block huge", lambda: models.conv_block(10**6, 10**6), ValueError, "GiB of memory"),
    *_width_rows("conv_body", lambda w: models.conv_body(w)),
    *int_rows("conv_body", lambda v: models.conv_body((8,), in_channels=v), "in_channels", 1),
    bad("conv_body huge widths", lambda: models.conv_body((10**5, 10**5)), ValueError, "would need"),
    *int_rows("grid_size", lambda v: models.grid_size(v, 3), "size", 1),
    *int_rows("grid_size", lambda v: models.grid_size(32, v), "n_stages", 0),
    bad("grid_size too small", lambda: models.grid_size(4, 3), ValueError, "too small for 3 pooling stages"),
    bad("grid_size 32, -1", lambda: models.grid_size(32, -1), ValueError, "n_stages must be >= 0"),
    *int_rows("flatten_cnn", lambda v: models.flatten_cnn(v, 6), "size", 1),
    *int_rows("flatten_cnn", lambda v: models.flatten_cnn(32, v), "n_classes", 2),
    *int_rows("flatten_cnn", lambda v: models.flatten_cnn(32, 6, hidden=v), "hidden", 1, none_ok=True),
    *_width_rows("flatten_cnn", lambda w: models.flatten_cnn(32, 6, widths=w)),
    bad("flatten_cnn too small", lambda: models.flatten_cnn(4, 6), ValueError, "too small"),
    bad("flatten_cnn size 10**5", lambda: models.flatten_cnn(10**5, 6), ValueError, "flatten_cnn(size=100000) head"),
    bad("flatten_cnn dropout 1", lambda: models.flatten_cnn(32, 6, dropout=1.0), ValueError, "dropout must be"),
    bad("flatten_cnn dropout -0.1", lambda: models.flatten_cnn(32, 6, dropout=-0.1), ValueError, "dropout must be"),
    bad("flatten_cnn dropout str", lambda: models.flatten_cnn(32, 6, dropout="0.5"), TypeError, "dropout must be"),
    bad("flatten_cnn dropout NaN", lambda: models.flatten_cnn(32, 6, dropout=float("nan")), ValueError, "dropout"),
    *int_rows("n_stride_layers", lambda v: models.n_stride_layers(v), "size", 1),
    *int_rows("stride_cnn", lambda v: models.stride_cnn(v, 6), "size", 1),
    *int_rows("stride_cnn", lambda v: models.stride_cnn(32, v), "n_classes", 2),
    *int_rows("stride_cnn", lambda v: models.stride_cnn(32, 6, width=v), "width", 1),
    *int_rows("gap_cnn", lambda v: models.gap_cnn(v), "n_classes", 2),
    *_width_rows("gap_cnn", lambda w: models.gap_cnn(6, w)),
    *int_rows("nin_net", lambda v: models.nin_net(v), "n_classes", 2),
    bad("gap_cnn 10**9 classes", lambda: models.gap_cnn(10**9), ValueError, "the head with 64,000,000,000 weights"),
    bad("nin_net 10**10 classes", lambda: models.nin_net(10**10, (8,)), ValueError, "would need"),
    *_width_rows("nin_net", lambda w: models.nin_net(6, w)),
    bad("trace model None", lambda: models.trace(None, 32), TypeError, "model must be an nn.Module"),
    *int_rows("trace", lambda v: models.trace(models.gap_cnn(6), v), "size", 1),
    bad("count_params None", lambda: models.count_params(None), TypeError, "model must be an nn.Module"),
    bad("count_params a str", lambda: models.count_params("gap_cnn"), TypeError, "model must be an nn.Module"),
    bad("count_params a builder", lambda: models.count_params(models.gap_cnn), TypeError, "nn.Module"),
    bad(
        "count_params Sequential without pooling",
        lambda: models.count_params(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())),
        ValueError,
        "cannot split this nn.Sequential",
    ),
    bad("count_params plain module", lambda: models.count_params(_NoSplit()), ValueError, "body`/`head` children"),
    bad("count_params a layer", lambda: models.count_params(nn.Linear(3, 4)), ValueError, "count_params needs"),
    bad("post_model n_classes=10**11", lambda: models.post_model(10**11), ValueError, "more than this machine"),
    bad("post_model width=10**6", lambda: models.post_model(10, 10**6), ValueError, "more than this machine"),
]

if hasattr(models, "mlpconv_net"):
    ROWS += [
        *int_rows("mlpconv_net", lambda v: models.mlpconv_net(v), "n_classes", 2),
        *int_rows("mlpconv_net", lambda v: models.mlpconv_net(6, hidden=v), "hidden", 1, none_ok=True),
        *_width_rows("mlpconv_net", lambda w: models.mlpconv_net(6, w)),
    ]


@pytest.mark.parametrize("call, exc, phrase", ROWS)
def test_bad_input(call, exc, phrase):
    check_bad_input(call, exc, phrase)
