"""Bad-input tables: one row per bad input, asserting the exception type and a phrase of its one-line message.

Use it like this in `tests/test_bad_input_<module>.py`::

    from _bad_input import bad, check_bad_input

    ROWS = [
        bad("n=0", lambda: data.make_shapes(0), ValueError, "n must be >= 1"),
        bad("corrupt png", lambda tmp: folders.read_image_folder(make_corrupt(tmp)), ValueError, "cannot read"),
    ]

    @pytest.mark.parametrize("call, exc, phrase", ROWS)
    def test_bad_input(call, exc, phrase, tmp_path):
        check_bad_input(call, exc, phrase, tmp_path)

A row's `call` takes no argument, or one: a fresh temporary folder (pytest's `tmp_path`) to build files in.
`phrase` is a plain substring of the message (case-sensitive), not a regular expression.
"""

from __future__ import annotations

import inspect
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from gaplib import data

__all__ = ["bad", "check_bad_input", "int_rows", "tensor_rows"]


SMALL = data.make_shapes(6, 16)  # the small shapes sample the data and folders rows change


def sample_with(**change):
    """The small sample with some fields changed."""
    return SMALL._replace(**change)


def images_with(v):
    """The small sample's images with pixel (0, 0, 0, 0) set to `v`."""
    x = SMALL.images.clone()
    x[0, 0, 0, 0] = v
    return x


def bad(id: str, call: Callable, exc: type[BaseException] | tuple[type[BaseException], ...], phrase: str):
    """One table row: `call()` (or `call(tmp_path)`) must raise `exc` with `phrase` in a one-line message."""
    return pytest.param(call, exc, phrase, id=id)


def check_bad_input(call: Callable, exc, phrase: str, tmp_path: Path | None = None) -> BaseException:
    """Run one row: the exception type, the phrase, and a message of one non-empty line."""
    params = inspect.signature(call).parameters.values()
    takes_path = sum(p.default is inspect.Parameter.empty for p in params) == 1
    with pytest.raises(exc) as info:
        call(tmp_path) if takes_path else call()
    msg = str(info.value)
    assert phrase in msg, f"{phrase!r} not in message {msg!r}"
    assert msg.strip() and "\n" not in msg.strip(), f"message is not one line: {msg!r}"
    return info.value


def int_rows(id: str, call: Callable[[object], object], name: str, minimum: int, none_ok: bool = False) -> list:
    """Rows for an int argument `name` of at least `minimum`: `call(value)` must refuse each bad value.

    With `none_ok`, None is a valid value of the argument and gets no row.
    """
    rows = [
        bad(f"{id} {name}={minimum - 1}", lambda: call(minimum - 1), ValueError, f"{name} must be >= {minimum}"),
        bad(f"{id} {name}={minimum - 100}", lambda: call(minimum - 100), ValueError, f"{name} must be >= {minimum}"),
    ]
    for v in (minimum + 0.5, str(minimum + 1), *(() if none_ok else (None,)), True, float("nan")):
        rows.append(bad(f"{id} {name}={v!r}", lambda v=v: call(v), TypeError, f"{name} must be an int"))
    return rows


def tensor_rows(id: str, call: Callable[[object], object], name: str) -> list:
    """Rows for an `(N, C, H, W)` float tensor argument `name`: `call(value)` must refuse each bad value."""
    import numpy as np
    import torch

    return [
        bad(f"{id} {name}=list", lambda: call([[1.0]]), TypeError, f"{name} must be a torch.Tensor"),
        bad(f"{id} {name}=numpy", lambda: call(np.zeros((2, 3, 8, 8), np.float32)), TypeError, "torch.Tensor"),
        bad(f"{id} {name}=None", lambda: call(None), TypeError, f"{name} must be a torch.Tensor"),
        bad(f"{id} {name} 3-D", lambda: call(torch.rand(3, 8, 8)), ValueError, "add a batch axis"),
        bad(f"{id} {name} 2-D", lambda: call(torch.rand(8, 8)), ValueError, f"{name} must be 4-D"),
        bad(f"{id} {name} 5-D", lambda: call(torch.rand(1, 2, 3, 8, 8)), ValueError, f"{name} must be 4-D"),
        bad(f"{id} {name} uint8", lambda: call(torch.zeros(2, 3, 8, 8, dtype=torch.uint8)), TypeError, "floating"),
        bad(f"{id} {name} int64", lambda: call(torch.zeros(2, 3, 8, 8, dtype=torch.long)), TypeError, "floating"),
        bad(f"{id} {name} empty grid", lambda: call(torch.rand(2, 3, 0, 8)), ValueError, "empty grid"),
    ]


def png_bytes(size: int) -> bytes:
    """The bytes of a valid black `size` x `size` RGB PNG."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.zeros((size, size, 3), np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def image_folder(tmp: Path, splits: dict | None = None, files: dict | None = None, boxes: str | None = None) -> Path:
    """An image folder `tmp/f`: two good 8x8 PNGs per class of each split (default `{"train": ("a", "b")}`),
    then `files` {relative path: bytes} and an optional `boxes.csv` text."""
    from PIL import Image

    root = tmp / "f"
    for split, classes in (splits or {"train": ("a", "b")}).items():
        for cls in classes:
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            for i in range(2):
                Image.fromarray(np.full((8, 8, 3), 60 * i, np.uint8)).save(root / split / cls / f"{i}.png")
    for rel, content in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    if boxes is not None:
        (root / "boxes.csv").write_text(boxes)
    return root
