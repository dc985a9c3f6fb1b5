"""Bad input to gaplib.device, timing, exercises and fastai_data: one row per input, each refused in one line."""

import os

import numpy as np
import pytest
import torch
from _bad_input import bad, check_bad_input, image_folder, int_rows, png_bytes

from gaplib import device, exercises, timing


def _ok(a):
    assert a == 1


def _folder(tmp, files=None, valid_classes=("a", "b")):
    """A train/valid image folder under `tmp/f` plus `files` {relative path: bytes}."""
    return image_folder(tmp, {"train": ("a", "b"), "valid": valid_classes}, files)


def _dls(path, **kw):
    from gaplib.fastai_data import folder_dls

    return folder_dls(path, **{"size": 8, **kw})


NO_CUDA = not torch.cuda.is_available()

ROWS = [
    # device
    bad("resolve_device gpu", lambda: device.resolve_device("gpu"), ValueError, "device must name a device"),
    bad("resolve_device ''", lambda: device.resolve_device(""), ValueError, "device must name a device"),
    bad("resolve_device 0", lambda: device.resolve_device(0), TypeError, "device must be a torch.device or a str"),
    bad("resolve_device True", lambda: device.resolve_device(True), TypeError, "device must be a torch.device"),
    bad("resolve_device list", lambda: device.resolve_device(["cpu"]), TypeError, "device must be"),
    bad("resolve_device meta", lambda: device.resolve_device("meta"), ValueError, "'cpu', 'cuda' or 'mps'"),
    bad("resolve_device cuda:99", lambda: device.resolve_device("cuda:99"), (RuntimeError, ValueError), "cuda:99"),
    # timing
    bad("time_fn not callable", lambda: timing.time_fn(3), TypeError, "fn must be callable"),
    *int_rows("time_fn", lambda v: timing.time_fn(lambda: None, reps=v), "reps", 1),
    *int_rows("time_fn", lambda v: timing.time_fn(lambda: None, warmup=v), "warmup", 0),
    bad("compare {}", lambda: timing.compare({}), ValueError, "fns must be a non-empty"),
    bad("compare list", lambda: timing.compare([len]), TypeError, "fns must be"),
    bad(
        "compare value not callable",
        lambda: timing.compare({"a": 1}),
        TypeError,
        "fns['a'] must be callable, got int",
    ),
    *int_rows("compare", lambda v: timing.compare({"a": lambda: None}, rounds=v), "rounds", 1),
    *int_rows("compare", lambda v: timing.compare({"a": lambda: None}, reps=v), "reps", 1),
    *int_rows("compare", lambda v: timing.compare({"a": lambda: None}, warmup=v), "warmup", 0),
    # exercises
    bad("check test not callable", lambda: exercises.check(1, "test"), TypeError, "test must be a function"),
    bad("check test None", lambda: exercises.check(1, None), TypeError, "test must be a function"),
    bad("check name ''", lambda: exercises.check(1, _ok, ""), ValueError, "name must be a non-empty str"),
    bad("check name 3", lambda: exercises.check(1, _ok, 3), TypeError, "name must be a non-empty str"),
    bad("check wrong answer", lambda: exercises.check(2, _ok), AssertionError, ""),
    # fastai_data.folder_dls
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
if NO_CUDA:
    ROWS += [
        bad("resolve_device cuda", lambda: device.resolve_device("cuda"), RuntimeError, "CUDA is not available"),
        bad("resolve_device cuda:0", lambda: device.resolve_device(torch.device("cuda:0")), RuntimeError, "CUDA"),
        bad("folder_dls device cuda", lambda t: _dls(_folder(t), device="cuda"), RuntimeError, "CUDA is not"),
    ]


@pytest.mark.parametrize("call, exc, phrase", ROWS)
def test_bad_input(call, exc, phrase, tmp_path):
    pytest.importorskip("fastai")
    check_bad_input(call, exc, phrase, tmp_path)


def test_gaplib_device_env_is_checked(monkeypatch):
    monkeypatch.setenv("GAPLIB_DEVICE", "gpu")
    with pytest.raises(ValueError, match="GAPLIB_DEVICE must name a device"):
        device.default_device()


def test_gaplib_kernels_env_is_checked(monkeypatch):
    from gaplib import kernels

    monkeypatch.setenv("GAPLIB_KERNELS", "yes")
    with pytest.raises(ValueError, match=r"GAPLIB_KERNELS must be 0 \(PyTorch everywhere\), 1 .* got 'yes'"):
        kernels.function.switch()


def test_numpy_numbers_are_accepted():
    """NumPy scalars (what indexing an array gives) pass every int and number check, as Python numbers do."""
    import matplotlib.pyplot as plt

    from gaplib import data, experiments, pool, viz

    s = data.make_shapes(np.int64(4), size=np.int64(16), seed=np.int32(1))
    assert s.images.shape == (4, 3, 16, 16)
    assert pool.gem(s.images, p=np.float32(2.0)).shape == (4, 3)
    assert experiments.shift_images(s.images, np.int64(2), np.int64(-1)).shape == s.images.shape
    plt.close(viz.plot_bars({"a": np.int64(3), "b": np.float32(2.5)}, "count"))


def test_one_rule_for_a_wrong_type():
    """The same fault (a str where an int belongs) raises the same type everywhere: TypeError."""
    import torch

    from gaplib import data, photos, pretrained

    for call in (
        lambda: data.make_shapes(4, size="x"),
        lambda: photos.load_photos(size="x"),
        lambda: pretrained.Preprocess()(torch.rand(1, 3, 32, 32), size="x"),
    ):
        check_bad_input(call, TypeError, "size must be an int, got str 'x'")
