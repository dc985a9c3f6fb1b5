"""Bad input to gaplib.data: one row per input, each refused with a one-line error naming what was expected."""

import math
import os

import pytest
import torch
from _bad_input import bad, check_bad_input, image_folder, int_rows, png_bytes

from gaplib import data

S = data.make_shapes(6, 16)


def _s(**change):
    """The small sample `S` with some fields changed."""
    return S._replace(**change)


def _img(v):
    """`S`'s images with pixel (0, 0, 0, 0) set to `v`."""
    x = S.images.clone()
    x[0, 0, 0, 0] = v
    return x


def _mine(tmp):
    (tmp / "mine").mkdir()
    (tmp / "mine" / "thesis.txt").write_text("keep")
    return tmp / "mine"


def _link(tmp):
    (tmp / "real").mkdir()
    (tmp / "link").symlink_to(tmp / "real")
    return tmp / "link"


def _file(tmp):
    (tmp / "file").write_text("keep")
    return tmp / "file"


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

WRITE_ROWS = [
    bad("write root ''", lambda t: data.write_image_folder("", S, S), ValueError, "empty string"),
    bad("write root .", lambda t: data.write_image_folder(".", S, S), ValueError, "current folder"),
    bad("write root ..", lambda t: data.write_image_folder("..", S, S), ValueError, "current folder or above"),
    bad("write root /", lambda t: data.write_image_folder("/", S, S), ValueError, "or above it"),
    bad("write root ~", lambda t: data.write_image_folder("~", S, S), ValueError, "home folder"),
    bad("write root None", lambda t: data.write_image_folder(None, S, S), TypeError, "root must be a folder path"),
    bad("write root int", lambda t: data.write_image_folder(3, S, S), TypeError, "root must be a folder path"),
    bad("write root yours", lambda t: data.write_image_folder(_mine(t), S, S), ValueError, "not a gaplib dataset"),
    bad("write root symlink", lambda t: data.write_image_folder(_link(t), S, S), ValueError, "symbolic link"),
    bad("write root a file", lambda t: data.write_image_folder(_file(t), S, S), ValueError, "is a file"),
    bad("write root under a file", lambda t: data.write_image_folder(_file(t) / "x", S, S), ValueError, "under a file"),
    bad("write train a tensor", lambda t: data.write_image_folder(t / "n", S.images, S), TypeError, "train must be a"),
    bad("write valid None", lambda t: data.write_image_folder(t / "n", S, None), TypeError, "valid must be a"),
    bad("write train a tuple", lambda t: data.write_image_folder(t / "n", (1, 2), S), TypeError, "Sample"),
    bad(
        "write 1-channel",
        lambda t: data.write_image_folder(t / "n", _s(images=S.images[:, :1]), S),
        ValueError,
        "3 (RGB) channels",
    ),
    bad(
        "write 3-D images",
        lambda t: data.write_image_folder(t / "n", _s(images=S.images[0]), S),
        ValueError,
        "train.images must be 4-D",
    ),
    bad(
        "write uint8 images",
        lambda t: data.write_image_folder(t / "n", _s(images=(S.images * 255).byte()), S),
        TypeError,
        "floating",
    ),
    bad("write pixel 2.0", lambda t: data.write_image_folder(t / "n", _s(images=_img(2.0)), S), ValueError, "[0, 1]"),
    bad("write pixel -0.5", lambda t: data.write_image_folder(t / "n", S, _s(images=_img(-0.5))), ValueError, "[0, 1]"),
    bad(
        "write pixels 0-255",
        lambda t: data.write_image_folder(t / "n", _s(images=S.images * 255), S),
        ValueError,
        "rescale",
    ),
    bad("write NaN pixel", lambda t: data.write_image_folder(t / "n", _s(images=_img(math.nan)), S), ValueError, "NaN"),
    bad("write inf pixel", lambda t: data.write_image_folder(t / "n", _s(images=_img(math.inf)), S), ValueError, "inf"),
    bad(
        "write label -1",
        lambda t: data.write_image_folder(t / "n", _s(labels=torch.tensor([-1, 0, 1, 2, 3, 4])), S),
        ValueError,
        "train.labels holds -1",
    ),
    bad(
        "write label 99",
        lambda t: data.write_image_folder(t / "n", S, _s(labels=torch.tensor([99, 0, 1, 2, 3, 4]))),
        ValueError,
        "valid.labels holds 99",
    ),
    bad(
        "write float labels",
        lambda t: data.write_image_folder(t / "n", _s(labels=S.labels.float()), S),
        TypeError,
        "integer class indices",
    ),
    bad(
        "write fewer labels",
        lambda t: data.write_image_folder(t / "n", _s(labels=S.labels[:3]), S),
        ValueError,
        "one label per image (6)",
    ),
    bad(
        "write labels a list",
        lambda t: data.write_image_folder(t / "n", _s(labels=S.labels.tolist()), S),
        TypeError,
        "train.labels must be a 1-D integer torch.Tensor",
    ),
    bad(
        "write fewer boxes",
        lambda t: data.write_image_folder(t / "n", _s(boxes=S.boxes[:2]), S),
        ValueError,
        "train.boxes must be a (6, 4)",
    ),
    bad(
        "write boxes None",
        lambda t: data.write_image_folder(t / "n", _s(boxes=None), S),
        TypeError,
        "train.boxes must be",
    ),
    bad(
        "write inf box",
        lambda t: data.write_image_folder(t / "n", _s(boxes=S.boxes + math.inf), S),
        ValueError,
        "boxes holds inf",
    ),
    bad(
        "write empty sample",
        lambda t: data.write_image_folder(t / "n", S, _s(images=S.images[:0], labels=S.labels[:0], boxes=S.boxes[:0])),
        ValueError,
        "valid is empty",
    ),
    bad(
        "write class with /",
        lambda t: data.write_image_folder(t / "n", _s(classes=("a/b", *S.classes[1:])), S),
        ValueError,
        "folder names",
    ),
    bad(
        "write class ..",
        lambda t: data.write_image_folder(t / "n", _s(classes=("..", *S.classes[1:])), S),
        ValueError,
        "folder names",
    ),
    bad(
        "write class ''",
        lambda t: data.write_image_folder(t / "n", _s(classes=("", *S.classes[1:])), S),
        ValueError,
        "folder names",
    ),
    bad(
        "write classes repeated",
        lambda t: data.write_image_folder(t / "n", _s(classes=("ring",) * 6), S),
        ValueError,
        "distinct",
    ),
    bad(
        "write classes a str",
        lambda t: data.write_image_folder(t / "n", _s(classes="abcdef"), S),
        TypeError,
        "classes must be distinct",
    ),
    bad(
        "write valid classes differ",
        lambda t: data.write_image_folder(t / "n", S, _s(classes=tuple(reversed(S.classes)))),
        ValueError,
        "valid.classes",
    ),
    bad("write manifest a list", lambda t: data.write_image_folder(t / "n", S, S, [1]), TypeError, "manifest must"),
    bad(
        "write manifest not JSON",
        lambda t: data.write_image_folder(t / "n", S, S, {"x": torch.zeros(1)}),
        ValueError,
        "JSON values",
    ),
    bad(
        "write manifest NaN",
        lambda t: data.write_image_folder(t / "n", S, S, {"x": math.nan}),
        ValueError,
        "JSON values",
    ),
]

FOLDER_ROWS = [
    *int_rows("shapes_folder", lambda v: data.shapes_folder(size=v), "size", 8),
    *int_rows("shapes_folder", lambda v: data.shapes_folder(n_train=v), "n_train", 1),
    *int_rows("shapes_folder", lambda v: data.shapes_folder(n_valid=v), "n_valid", 1),
    *int_rows("shapes_folder", lambda v: data.shapes_folder(seed=v), "seed", 0),
    bad("shapes_folder root ''", lambda t: data.shapes_folder(root=""), ValueError, "empty string"),
    bad("shapes_folder root .", lambda t: data.shapes_folder(root="."), ValueError, "current folder"),
    bad("shapes_folder root home", lambda t: data.shapes_folder(root=os.path.expanduser("~")), ValueError, "home"),
    bad("shapes_folder root yours", lambda t: data.shapes_folder(root=_mine(t)), ValueError, "not a gaplib dataset"),
    bad("shapes_folder root symlink", lambda t: data.shapes_folder(root=_link(t)), ValueError, "symbolic link"),
    bad("shapes_folder root file", lambda t: data.shapes_folder(root=_file(t)), ValueError, "is a file"),
    bad("shapes_folder root int", lambda t: data.shapes_folder(root=7), TypeError, "root must be a folder path"),
    bad("shapes_folder n_train 10**5", lambda t: data.shapes_folder(n_train=10**5), ValueError, "at most 99,999"),
    bad("shapes_folder huge size", lambda t: data.shapes_folder(size=10**5), ValueError, "GiB of memory"),
]

READ_ROWS = [
    bad("read no such folder", lambda t: data.read_image_folder(t / "nope"), FileNotFoundError, "does not exist"),
    bad("read root a file", lambda t: data.read_image_folder(_file(t)), FileNotFoundError, "not a directory"),
    bad("read root ''", lambda t: data.read_image_folder(""), ValueError, "empty string"),
    bad("read root None", lambda t: data.read_image_folder(None), TypeError, "folder path"),
    bad("read no split", lambda t: data.read_image_folder(image_folder(t), "valid"), FileNotFoundError, "'valid'"),
    bad(
        "read split ..",
        lambda t: data.read_image_folder(image_folder(t), ".."),
        ValueError,
        "split must be a subfolder",
    ),
    bad(
        "read split ''", lambda t: data.read_image_folder(image_folder(t), ""), ValueError, "split must be a subfolder"
    ),
    bad("read split path", lambda t: data.read_image_folder(image_folder(t), "a/b"), ValueError, "split must be"),
    bad("read split int", lambda t: data.read_image_folder(image_folder(t), 3), TypeError, "split must be a subfolder"),
    *int_rows("read", lambda v: data.read_image_folder("/", size=v), "size", 1, none_ok=True),
    bad("read huge size", lambda t: data.read_image_folder(image_folder(t), size=10**6), ValueError, "GiB of memory"),
    bad(
        "read zero-byte png",
        lambda t: data.read_image_folder(image_folder(t, files={"train/a/z.png": b""})),
        ValueError,
        "cannot read image",
    ),
    bad(
        "read truncated png",
        lambda t: data.read_image_folder(image_folder(t, files={"train/a/z.png": png_bytes(64)[:60]})),
        ValueError,
        "corrupt, truncated",
    ),
    bad(
        "read random bytes png",
        lambda t: data.read_image_folder(image_folder(t, files={"train/b/z.png": os.urandom(300)})),
        ValueError,
        "cannot read image",
    ),
    bad(
        "read text named png",
        lambda t: data.read_image_folder(image_folder(t, files={"train/b/z.png": b"hello, not an image"})),
        ValueError,
        "z.png",
    ),
    bad(
        "read jpeg named png truncated",
        lambda t: data.read_image_folder(image_folder(t, files={"train/b/z.jpg": b"\xff\xd8\xff\xe0" + b"\0" * 20})),
        ValueError,
        "cannot read image",
    ),
    bad(
        "read boxes.csv wrong columns",
        lambda t: data.read_image_folder(image_folder(t, boxes="file,x,y\na,1,2\n")),
        ValueError,
        "must have the columns",
    ),
    bad(
        "read boxes.csv empty",
        lambda t: data.read_image_folder(image_folder(t, boxes="")),
        ValueError,
        "must have the columns",
    ),
    bad(
        "read boxes.csv words",
        lambda t: data.read_image_folder(image_folder(t, boxes="path,label,x0,y0,x1,y1\ntrain/a/0.png,a,one,2,3,4\n")),
        ValueError,
        "line 2: box values must be numbers",
    ),
    bad(
        "read boxes.csv binary",
        lambda t: data.read_image_folder(image_folder(t, files={"boxes.csv": b"\xff\xfe\x00\x81" * 10})),
        ValueError,
        "boxes.csv",
    ),
    bad(
        "read mixed sizes",
        lambda t: data.read_image_folder(image_folder(t, files={"train/a/big.png": png_bytes(16)})),
        ValueError,
        "pass size=",
    ),
    bad(
        "read no class folders",
        lambda t: data.read_image_folder((t / "e" / "train").mkdir(parents=True) or t / "e"),
        FileNotFoundError,
        "no class subfolders",
    ),
    bad(
        "read no images",
        lambda t: data.read_image_folder((t / "e" / "train" / "a").mkdir(parents=True) or t / "e"),
        FileNotFoundError,
        "no image files",
    ),
    bad(
        "read only text files",
        lambda t: data.read_image_folder(
            ((t / "e" / "train" / "a").mkdir(parents=True), (t / "e" / "train" / "a" / "x.txt").write_text("x"))
            and t / "e"
        ),
        FileNotFoundError,
        "no image files",
    ),
    bad(
        "read boxes.csv short row",
        lambda t: data.read_image_folder(image_folder(t, boxes="path,x0,y0,x1,y1\ntrain/a/0.png,1,2\n")),
        ValueError,
        "line 2 is short",
    ),
    bad(
        "read boxes.csv partly empty",
        lambda t: data.read_image_folder(image_folder(t, boxes="path,x0,y0,x1,y1\ntrain/a/0.png,1,2,,\n")),
        ValueError,
        "line 2: box values must be numbers",
    ),
    bad(
        "read boxes.csv is a folder",
        lambda t: data.read_image_folder(image_folder(t, files={"boxes.csv/x": b""})),
        ValueError,
        "is a folder",
    ),
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

ROWS = MAKE_ROWS + WRITE_ROWS + FOLDER_ROWS + READ_ROWS + LOADER_ROWS


@pytest.fixture(autouse=True)
def _data_in_tmp(tmp_path, monkeypatch):
    """Default folders go to a temporary data dir, so a missing check can never write into the repository."""
    monkeypatch.setenv("GAPCOURSE_DATA", str(tmp_path / "data"))


@pytest.mark.parametrize("call, exc, phrase", ROWS)
def test_bad_input(call, exc, phrase, tmp_path):
    check_bad_input(call, exc, phrase, tmp_path)
    assert not (tmp_path / "n").exists() and not (tmp_path / "data").exists()  # nothing written before the error
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # and no temporary folder left behind
