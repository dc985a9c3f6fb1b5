"""Bad input to gaplib.fastai_data: one row per input, each refused in one line."""

import os

import pytest
import torch
from _bad_input import bad, check_bad_input, image_folder, int_rows, png_bytes


def _folder(tmp, files=None, valid_classes=("a", "b")):
    """A train/valid image folder under `tmp/f` plus `files` {relative path: bytes}."""
    return image_folder(tmp, {"train": ("a", "b"), "valid": valid_classes}, files)


def _dls(path, **kw):
    from gaplib.fastai_data import folder_dls

    return folder_dls(path, **{"size": 8, **kw})


ROWS = [
    bad("folder_dls no folder", lambda t: _dls(t / "nope"), FileNotFoundError, "does not exist"),
    bad("folder_dls size=10**5", lambda t: _dls(image_folder(t), size=10**5), ValueError, "more than this machine"),
    bad("folder_dls path ''", lambda t: _dls(""), ValueError, "empty string"),
    bad("folder_dls path None", lambda t: _dls(None), TypeError, "folder path"),
    bad("folder_dls no train", lambda t: _dls((t / "x").mkdir() or t / "x"), FileNotFoundError, "no train/ folder"),
    bad(
        "folder_dls no valid",
        lambda t: _dls((t / "x" / "train").mkdir(parents=True) or t / "x"),
        FileNotFoundError,
        "no validation folder",
    ),
    *int_rows("folder_dls", lambda v: _dls("/", size=v), "size", 1),
    *int_rows("folder_dls", lambda v: _dls("/", bs=v), "bs", 1),
    *int_rows("folder_dls", lambda v: _dls("/", seed=v), "seed", 0),
    bad("folder_dls device gpu", lambda t: _dls(_folder(t), device="gpu"), ValueError, "device must name a device"),
    bad(
        "folder_dls zero-byte png",
        lambda t: _dls(_folder(t, {"train/a/z.png": b""})),
        ValueError,
        "cannot read image",
    ),
    bad(
        "folder_dls truncated png",
        lambda t: _dls(_folder(t, {"valid/b/z.png": png_bytes(32)[:70]})),
        ValueError,
        "corrupt, truncated",
    ),
    bad(
        "folder_dls random bytes",
        lambda t: _dls(_folder(t, {"train/b/z.jpg": os.urandom(200)})),
        ValueError,
        "cannot read image",
    ),
    bad(
        "folder_dls text as png",
        lambda t: _dls(_folder(t, {"train/b/z.png": b"plain text"})),
        ValueError,
        "z.png",
    ),
    bad(
        "folder_dls valid class train lacks",
        lambda t: _dls(_folder(t, valid_classes=("a", "zebra"))),
        ValueError,
        "the class 'zebra' that train/ lacks",
    ),
    bad(
        "folder_dls image too deep",
        lambda t: _dls(_folder(t, {"train/a/sub/z.png": png_bytes(8)})),
        ValueError,
        "not one level below train/",
    ),
    bad(
        "folder_dls no images in valid",
        lambda t: _dls(_folder(t, {"valid/a/notes.txt": b"x"}, valid_classes=())),
        FileNotFoundError,
        "no image files under",
    ),
]
try:
    import inspect

    from gaplib.fastai_data import folder_dls as _fd

    HAS_STATS = "stats" in inspect.signature(_fd).parameters
except ImportError:
    HAS_STATS = False
if HAS_STATS:  # normalising with a pretrained body's statistics
    ROWS += [
        bad(f"folder_dls stats={v!r}", lambda t, v=v: _dls(_folder(t), stats=v), exc, phrase)
        for v, exc, phrase in [
            ((0.5, 0.5), TypeError, "stats must be None or (mean, std)"),
            ("imagenet", TypeError, "stats must be None or (mean, std)"),
            (((0.5,) * 3,), ValueError, "stats must be None or (mean, std)"),
            (((0.5,) * 2, (0.5,) * 3), ValueError, "got mean"),
            (((0.5,) * 3, (0.5, 0.5, float("nan"))), ValueError, "got std"),
            (((0.5,) * 3, ("a", "b", "c")), TypeError, "got std"),
            (((0.5,) * 3, (0.5, 0.0, 0.5)), ValueError, "std must be > 0"),
            (((0.5,) * 3, (0.5, -1.0, 0.5)), ValueError, "std must be > 0"),
        ]
    ]
if not torch.cuda.is_available():
    ROWS += [bad("folder_dls device cuda", lambda t: _dls(_folder(t), device="cuda"), RuntimeError, "CUDA is not")]


@pytest.mark.parametrize("call, exc, phrase", ROWS)
def test_bad_input(call, exc, phrase, tmp_path):
    pytest.importorskip("fastai")
    check_bad_input(call, exc, phrase, tmp_path)
