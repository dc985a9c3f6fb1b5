"""Bad input to gaplib.folders: one row per input, each refused with a one-line error naming what was expected."""

import math
import os

import pytest
import torch
from _bad_input import SMALL as S
from _bad_input import bad, check_bad_input, image_folder, int_rows, png_bytes
from _bad_input import images_with as _img
from _bad_input import sample_with as _s

from gaplib import folders


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


WRITE_ROWS = [
    bad("write root ''", lambda t: folders.write_image_folder("", S, S), ValueError, "empty string"),
    bad("write root .", lambda t: folders.write_image_folder(".", S, S), ValueError, "current folder"),
    bad("write root ..", lambda t: folders.write_image_folder("..", S, S), ValueError, "current folder or above"),
    bad("write root /", lambda t: folders.write_image_folder("/", S, S), ValueError, "or above it"),
    bad("write root ~", lambda t: folders.write_image_folder("~", S, S), ValueError, "home folder"),
    bad("write root None", lambda t: folders.write_image_folder(None, S, S), TypeError, "root must be a folder path"),
    bad("write root int", lambda t: folders.write_image_folder(3, S, S), TypeError, "root must be a folder path"),
    bad("write root yours", lambda t: folders.write_image_folder(_mine(t), S, S), ValueError, "not a gaplib dataset"),
    bad("write root symlink", lambda t: folders.write_image_folder(_link(t), S, S), ValueError, "symbolic link"),
    bad("write root a file", lambda t: folders.write_image_folder(_file(t), S, S), ValueError, "is a file"),
    bad(
        "write root under a file",
        lambda t: folders.write_image_folder(_file(t) / "x", S, S),
        ValueError,
        "under a file",
    ),
    bad(
        "write train a tensor", lambda t: folders.write_image_folder(t / "n", S.images, S), TypeError, "train must be a"
    ),
    bad("write valid None", lambda t: folders.write_image_folder(t / "n", S, None), TypeError, "valid must be a"),
    bad("write train a tuple", lambda t: folders.write_image_folder(t / "n", (1, 2), S), TypeError, "Sample"),
    bad(
        "write 1-channel",
        lambda t: folders.write_image_folder(t / "n", _s(images=S.images[:, :1]), S),
        ValueError,
        "3 (RGB) channels",
    ),
    bad(
        "write 3-D images",
        lambda t: folders.write_image_folder(t / "n", _s(images=S.images[0]), S),
        ValueError,
        "train.images must be 4-D",
    ),
    bad(
        "write uint8 images",
        lambda t: folders.write_image_folder(t / "n", _s(images=(S.images * 255).byte()), S),
        TypeError,
        "floating",
    ),
    bad(
        "write pixel 2.0", lambda t: folders.write_image_folder(t / "n", _s(images=_img(2.0)), S), ValueError, "[0, 1]"
    ),
    bad(
        "write pixel -0.5",
        lambda t: folders.write_image_folder(t / "n", S, _s(images=_img(-0.5))),
        ValueError,
        "[0, 1]",
    ),
    bad(
        "write pixels 0-255",
        lambda t: folders.write_image_folder(t / "n", _s(images=S.images * 255), S),
        ValueError,
        "rescale",
    ),
    bad(
        "write NaN pixel",
        lambda t: folders.write_image_folder(t / "n", _s(images=_img(math.nan)), S),
        ValueError,
        "NaN",
    ),
    bad(
        "write inf pixel",
        lambda t: folders.write_image_folder(t / "n", _s(images=_img(math.inf)), S),
        ValueError,
        "inf",
    ),
    bad(
        "write label -1",
        lambda t: folders.write_image_folder(t / "n", _s(labels=torch.tensor([-1, 0, 1, 2, 3, 4])), S),
        ValueError,
        "train.labels holds -1",
    ),
    bad(
        "write label 99",
        lambda t: folders.write_image_folder(t / "n", S, _s(labels=torch.tensor([99, 0, 1, 2, 3, 4]))),
        ValueError,
        "valid.labels holds 99",
    ),
    bad(
        "write float labels",
        lambda t: folders.write_image_folder(t / "n", _s(labels=S.labels.float()), S),
        TypeError,
        "integer class indices",
    ),
    bad(
        "write fewer labels",
        lambda t: folders.write_image_folder(t / "n", _s(labels=S.labels[:3]), S),
        ValueError,
        "one label per image (6)",
    ),
    bad(
        "write labels a list",
        lambda t: folders.write_image_folder(t / "n", _s(labels=S.labels.tolist()), S),
        TypeError,
        "train.labels must be a 1-D integer torch.Tensor",
    ),
    bad(
        "write fewer boxes",
        lambda t: folders.write_image_folder(t / "n", _s(boxes=S.boxes[:2]), S),
        ValueError,
        "train.boxes must be a (6, 4)",
    ),
    bad(
        "write boxes None",
        lambda t: folders.write_image_folder(t / "n", _s(boxes=None), S),
        TypeError,
        "train.boxes must be",
    ),
    bad(
        "write inf box",
        lambda t: folders.write_image_folder(t / "n", _s(boxes=S.boxes + math.inf), S),
        ValueError,
        "boxes holds inf",
    ),
    bad(
        "write empty sample",
        lambda t: folders.write_image_folder(
            t / "n", S, _s(images=S.images[:0], labels=S.labels[:0], boxes=S.boxes[:0])
        ),
        ValueError,
        "valid is empty",
    ),
    bad(
        "write class with /",
        lambda t: folders.write_image_folder(t / "n", _s(classes=("a/b", *S.classes[1:])), S),
        ValueError,
        "folder names",
    ),
    bad(
        "write class ..",
        lambda t: folders.write_image_folder(t / "n", _s(classes=("..", *S.classes[1:])), S),
        ValueError,
        "folder names",
    ),
    bad(
        "write class ''",
        lambda t: folders.write_image_folder(t / "n", _s(classes=("", *S.classes[1:])), S),
        ValueError,
        "folder names",
    ),
    bad(
        "write classes repeated",
        lambda t: folders.write_image_folder(t / "n", _s(classes=("ring",) * 6), S),
        ValueError,
        "distinct",
    ),
    bad(
        "write classes a str",
        lambda t: folders.write_image_folder(t / "n", _s(classes="abcdef"), S),
        TypeError,
        "classes must be distinct",
    ),
    bad(
        "write valid classes differ",
        lambda t: folders.write_image_folder(t / "n", S, _s(classes=tuple(reversed(S.classes)))),
        ValueError,
        "valid.classes",
    ),
    bad("write manifest a list", lambda t: folders.write_image_folder(t / "n", S, S, [1]), TypeError, "manifest must"),
    bad(
        "write manifest not JSON",
        lambda t: folders.write_image_folder(t / "n", S, S, {"x": torch.zeros(1)}),
        ValueError,
        "JSON values",
    ),
    bad(
        "write manifest NaN",
        lambda t: folders.write_image_folder(t / "n", S, S, {"x": math.nan}),
        ValueError,
        "JSON values",
    ),
]

FOLDER_ROWS = [
    *int_rows("shapes_folder", lambda v: folders.shapes_folder(size=v), "size", 8),
    *int_rows("shapes_folder", lambda v: folders.shapes_folder(n_train=v), "n_train", 1),
    *int_rows("shapes_folder", lambda v: folders.shapes_folder(n_valid=v), "n_valid", 1),
    *int_rows("shapes_folder", lambda v: folders.shapes_folder(seed=v), "seed", 0),
    bad("shapes_folder root ''", lambda t: folders.shapes_folder(root=""), ValueError, "empty string"),
    bad("shapes_folder root .", lambda t: folders.shapes_folder(root="."), ValueError, "current folder"),
    bad("shapes_folder root home", lambda t: folders.shapes_folder(root=os.path.expanduser("~")), ValueError, "home"),
    bad("shapes_folder root yours", lambda t: folders.shapes_folder(root=_mine(t)), ValueError, "not a gaplib dataset"),
    bad("shapes_folder root symlink", lambda t: folders.shapes_folder(root=_link(t)), ValueError, "symbolic link"),
    bad("shapes_folder root file", lambda t: folders.shapes_folder(root=_file(t)), ValueError, "is a file"),
    bad("shapes_folder root int", lambda t: folders.shapes_folder(root=7), TypeError, "root must be a folder path"),
    bad("shapes_folder n_train 10**5", lambda t: folders.shapes_folder(n_train=10**5), ValueError, "at most 99,999"),
    bad("shapes_folder huge size", lambda t: folders.shapes_folder(size=10**5), ValueError, "GiB of memory"),
]

READ_ROWS = [
    bad("read no such folder", lambda t: folders.read_image_folder(t / "nope"), FileNotFoundError, "does not exist"),
    bad("read root a file", lambda t: folders.read_image_folder(_file(t)), FileNotFoundError, "not a directory"),
    bad("read root ''", lambda t: folders.read_image_folder(""), ValueError, "empty string"),
    bad("read root None", lambda t: folders.read_image_folder(None), TypeError, "folder path"),
    bad("read no split", lambda t: folders.read_image_folder(image_folder(t), "valid"), FileNotFoundError, "'valid'"),
    bad(
        "read split ..",
        lambda t: folders.read_image_folder(image_folder(t), ".."),
        ValueError,
        "split must be a subfolder",
    ),
    bad(
        "read split ''",
        lambda t: folders.read_image_folder(image_folder(t), ""),
        ValueError,
        "split must be a subfolder",
    ),
    bad("read split path", lambda t: folders.read_image_folder(image_folder(t), "a/b"), ValueError, "split must be"),
    bad(
        "read split int",
        lambda t: folders.read_image_folder(image_folder(t), 3),
        TypeError,
        "split must be a subfolder",
    ),
    *int_rows("read", lambda v: folders.read_image_folder("/", size=v), "size", 1, none_ok=True),
    bad(
        "read huge size", lambda t: folders.read_image_folder(image_folder(t), size=10**6), ValueError, "GiB of memory"
    ),
    bad(
        "read zero-byte png",
        lambda t: folders.read_image_folder(image_folder(t, files={"train/a/z.png": b""})),
        ValueError,
        "cannot read image",
    ),
    bad(
        "read truncated png",
        lambda t: folders.read_image_folder(image_folder(t, files={"train/a/z.png": png_bytes(64)[:60]})),
        ValueError,
        "corrupt, truncated",
    ),
    bad(
        "read random bytes png",
        lambda t: folders.read_image_folder(image_folder(t, files={"train/b/z.png": os.urandom(300)})),
        ValueError,
        "cannot read image",
    ),
    bad(
        "read text named png",
        lambda t: folders.read_image_folder(image_folder(t, files={"train/b/z.png": b"hello, not an image"})),
        ValueError,
        "z.png",
    ),
    bad(
        "read jpeg named png truncated",
        lambda t: folders.read_image_folder(image_folder(t, files={"train/b/z.jpg": b"\xff\xd8\xff\xe0" + b"\0" * 20})),
        ValueError,
        "cannot read image",
    ),
    bad(
        "read boxes.csv wrong columns",
        lambda t: folders.read_image_folder(image_folder(t, boxes="file,x,y\na,1,2\n")),
        ValueError,
        "must have the columns",
    ),
    bad(
        "read boxes.csv empty",
        lambda t: folders.read_image_folder(image_folder(t, boxes="")),
        ValueError,
        "must have the columns",
    ),
    bad(
        "read boxes.csv words",
        lambda t: folders.read_image_folder(
            image_folder(t, boxes="path,label,x0,y0,x1,y1\ntrain/a/0.png,a,one,2,3,4\n")
        ),
        ValueError,
        "line 2: box values must be numbers",
    ),
    bad(
        "read boxes.csv binary",
        lambda t: folders.read_image_folder(image_folder(t, files={"boxes.csv": b"\xff\xfe\x00\x81" * 10})),
        ValueError,
        "boxes.csv",
    ),
    bad(
        "read mixed sizes",
        lambda t: folders.read_image_folder(image_folder(t, files={"train/a/big.png": png_bytes(16)})),
        ValueError,
        "pass size=",
    ),
    bad(
        "read no class folders",
        lambda t: folders.read_image_folder((t / "e" / "train").mkdir(parents=True) or t / "e"),
        FileNotFoundError,
        "no class subfolders",
    ),
    bad(
        "read no images",
        lambda t: folders.read_image_folder((t / "e" / "train" / "a").mkdir(parents=True) or t / "e"),
        FileNotFoundError,
        "no image files",
    ),
    bad(
        "read only text files",
        lambda t: folders.read_image_folder(
            ((t / "e" / "train" / "a").mkdir(parents=True), (t / "e" / "train" / "a" / "x.txt").write_text("x"))
            and t / "e"
        ),
        FileNotFoundError,
        "no image files",
    ),
    bad(
        "read boxes.csv short row",
        lambda t: folders.read_image_folder(image_folder(t, boxes="path,x0,y0,x1,y1\ntrain/a/0.png,1,2\n")),
        ValueError,
        "line 2 is short",
    ),
    bad(
        "read boxes.csv partly empty",
        lambda t: folders.read_image_folder(image_folder(t, boxes="path,x0,y0,x1,y1\ntrain/a/0.png,1,2,,\n")),
        ValueError,
        "line 2: box values must be numbers",
    ),
    bad(
        "read boxes.csv is a folder",
        lambda t: folders.read_image_folder(image_folder(t, files={"boxes.csv/x": b""})),
        ValueError,
        "is a folder",
    ),
]

ROWS = WRITE_ROWS + FOLDER_ROWS + READ_ROWS


@pytest.fixture(autouse=True)
def _data_in_tmp(tmp_path, monkeypatch):
    """Default folders go to a temporary data dir, so a missing check can never write into the repository."""
    monkeypatch.setenv("GAPCOURSE_DATA", str(tmp_path / "data"))


@pytest.mark.parametrize("call, exc, phrase", ROWS)
def test_bad_input(call, exc, phrase, tmp_path):
    check_bad_input(call, exc, phrase, tmp_path)
    assert not (tmp_path / "n").exists() and not (tmp_path / "data").exists()  # nothing written before the error
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # and no temporary folder left behind
