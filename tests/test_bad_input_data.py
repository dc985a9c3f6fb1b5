"""Bad input to gaplib.data: one row per input, each refused with a one-line error naming what was expected."""

import math

import pytest
import torch
from _bad_input import SMALL as S
from _bad_input import bad, check_bad_input, int_rows
from _bad_input import sample_with as _s

from gaplib import data

MAKE_ROWS = [
    *int_rows("make_shapes", lambda v: data.make_shapes(v), "n", 1),
    *int_rows("make_shapes", lambda v: data.make_shapes(4, size=v), "size", 8),
    *int_rows("make_shapes", lambda v: data.make_shapes(4, seed=v), "seed", 0),
    *int_rows("make_digits", lambda v: data.make_digits(v), "n", 1),
    *int_rows("make_digits", lambda v: data.make_digits(4, size=v), "size", 16),
    *int_rows("make_digits", lambda v: data.make_digits(4, seed=v), "seed", 0),
    bad("make_shapes classes unknown", lambda: data.make_shapes(4, classes=("hexagon",)), ValueError, "subset of"),
    bad("make_shapes classes empty", lambda: data.make_shapes(4, classes=()), ValueError, "non-empty subset"),
    bad("make_shapes classes a str", lambda: data.make_shapes(4, classes="circle"), TypeError, "subset of"),
    bad("make_shapes classes repeated", lambda: data.make_shapes(4, classes=("ring", "ring")), ValueError, "once"),
    bad("make_shapes classes None", lambda: data.make_shapes(4, classes=None), TypeError, "subset of"),
    bad("make_shapes classes ints", lambda: data.make_shapes(4, classes=(1, 2)), TypeError, "subset of"),
    bad("make_shapes scale reversed", lambda: data.make_shapes(4, scale=(0.5, 0.2)), ValueError, "scale must be"),
    bad("make_shapes scale zero", lambda: data.make_shapes(4, scale=(0, 0.5)), ValueError, "0 < low"),
    bad("make_shapes scale > 1", lambda: data.make_shapes(4, scale=(0.5, 1.5)), ValueError, "high <= 1"),
    bad("make_shapes scale a number", lambda: data.make_shapes(4, scale=0.5), TypeError, "scale must be (low, high)"),
    bad("make_shapes scale one value", lambda: data.make_shapes(4, scale=(0.1,)), ValueError, "scale must be"),
    bad("make_shapes scale strings", lambda: data.make_shapes(4, scale=("a", "b")), TypeError, "scale must be"),
    bad("make_shapes scale NaN", lambda: data.make_shapes(4, scale=(math.nan, 0.5)), ValueError, "scale must be"),
    bad("make_shapes noise negative", lambda: data.make_shapes(4, noise=-0.1), ValueError, "noise must be in [0, 1]"),
    bad("make_shapes noise NaN", lambda: data.make_shapes(4, noise=math.nan), ValueError, "noise must be a finite"),
    bad("make_shapes noise inf", lambda: data.make_shapes(4, noise=math.inf), ValueError, "noise must be a finite"),
    bad("make_shapes noise str", lambda: data.make_shapes(4, noise="low"), TypeError, "noise must be a number"),
    bad("make_shapes noise 2", lambda: data.make_shapes(4, noise=2.0), ValueError, "noise must be in [0, 1]"),
    bad("make_digits noise NaN", lambda: data.make_digits(4, noise=math.nan), ValueError, "noise must be a finite"),
    bad("make_digits noise str", lambda: data.make_digits(4, noise="x"), TypeError, "noise must be a number"),
    bad("make_digits zoom str", lambda: data.make_digits(4, zoom="2"), TypeError, "zoom must be a number"),
    bad("make_digits zoom 0", lambda: data.make_digits(4, zoom=0), ValueError, "zoom must be in [0.25, 2]"),
    bad("make_digits zoom too big", lambda: data.make_digits(4, 32, zoom=3), ValueError, "zoom must be in [0.25, 2]"),
    bad("make_digits zoom NaN", lambda: data.make_digits(4, zoom=math.nan), ValueError, "zoom must be a finite"),
    bad("make_shapes 10**7 images", lambda: data.make_shapes(10**7), ValueError, "make_shapes(n=10000000, size=32)"),
    bad("make_shapes 10**6 at 64", lambda: data.make_shapes(10**6, 64), ValueError, "would need"),
    bad("make_shapes one huge image", lambda: data.make_shapes(1, size=10**5), ValueError, "GiB of memory"),
    bad("make_shapes 4M images", lambda: data.make_shapes(4 * 10**6, 8), ValueError, "size=8) would"),
    bad("make_digits 10**7 images", lambda: data.make_digits(10**7), ValueError, "would"),
    bad("make_digits one huge image", lambda: data.make_digits(1, size=10**5), ValueError, "GiB of memory"),
]

LOADER_ROWS = [
    bad("make_loader a tensor", lambda: data.make_loader(S.images), TypeError, "sample must be a gaplib.data.Sample"),
    bad("make_loader None", lambda: data.make_loader(None), TypeError, "sample must be"),
    bad("make_loader a tuple pair", lambda: data.make_loader((S.images, S.labels)), TypeError, "sample must be"),
    *int_rows("make_loader", lambda v: data.make_loader(S, bs=v), "bs", 1),
    *int_rows("make_loader", lambda v: data.make_loader(S, seed=v), "seed", 0),
    bad("make_loader shuffle str", lambda: data.make_loader(S, shuffle="yes"), TypeError, "shuffle must be True"),
    bad("make_loader shuffle 1", lambda: data.make_loader(S, shuffle=1), TypeError, "shuffle must be True or False"),
    bad(
        "make_loader empty",
        lambda: data.make_loader(_s(images=S.images[:0], labels=S.labels[:0])),
        ValueError,
        "sample is empty",
    ),
    bad("make_loader label 9", lambda: data.make_loader(_s(labels=torch.full((6,), 9))), ValueError, "holds 9"),
    bad("make_loader label -1", lambda: data.make_loader(_s(labels=torch.full((6,), -1))), ValueError, "holds -1"),
    bad("make_loader fewer labels", lambda: data.make_loader(_s(labels=S.labels[:2])), ValueError, "one label per"),
    bad("make_loader 3-D images", lambda: data.make_loader(_s(images=S.images[0])), ValueError, "4-D"),
    *int_rows("shapes_loaders", lambda v: data.shapes_loaders(size=v), "size", 8),
    *int_rows("shapes_loaders", lambda v: data.shapes_loaders(n_train=v), "n_train", 1),
    *int_rows("shapes_loaders", lambda v: data.shapes_loaders(n_valid=v), "n_valid", 1),
    *int_rows("shapes_loaders", lambda v: data.shapes_loaders(bs=v), "bs", 1),
    *int_rows("shapes_loaders", lambda v: data.shapes_loaders(seed=v), "seed", 0),
    bad(
        "random_shifts max_shift 4 of 4",
        lambda: data.random_shifts(torch.zeros(2, 1, 4, 4), 4),
        ValueError,
        "max_shift must be smaller",
    ),
    bad(
        "random_shifts max_shift -1",
        lambda: data.random_shifts(torch.zeros(2, 1, 4, 4), -1),
        ValueError,
        "max_shift must be >= 0",
    ),
    bad(
        "make_loader shift 16 of 16",
        lambda: data.make_loader(data.make_shapes(2, 16), shift=16),
        ValueError,
        "shift must be smaller",
    ),
    bad(
        "make_loader shift 1.5",
        lambda: data.make_loader(data.make_shapes(2, 16), shift=1.5),
        TypeError,
        "shift must be an int",
    ),
    bad("shapes_loaders 10**7", lambda: data.shapes_loaders(n_train=10**7), ValueError, "shapes_loaders(n="),
]

ROWS = MAKE_ROWS + LOADER_ROWS


@pytest.fixture(autouse=True)
def _data_in_tmp(tmp_path, monkeypatch):
    """Default folders go to a temporary data dir, so a missing check can never write into the repository."""
    monkeypatch.setenv("GAPCOURSE_DATA", str(tmp_path / "data"))


@pytest.mark.parametrize("call, exc, phrase", ROWS)
def test_bad_input(call, exc, phrase, tmp_path):
    check_bad_input(call, exc, phrase, tmp_path)
    assert not (tmp_path / "n").exists() and not (tmp_path / "data").exists()  # nothing written before the error
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # and no temporary folder left behind
