"""Bad-input tables: one row per bad input, asserting the exception type and a phrase of its one-line message.

Use it like this in `tests/test_bad_input_<module>.py`::

    from _bad_input import bad, check_bad_input

    ROWS = [
        bad("n=0", lambda: data.make_shapes(0), ValueError, "n must be >= 1"),
        bad("corrupt png", lambda tmp: data.read_image_folder(make_corrupt(tmp)), ValueError, "cannot read"),
    ]

    @pytest.mark.parametrize("call, exc, phrase", ROWS)
    def test_bad_input(call, exc, phrase, tmp_path):
        check_bad_input(call, exc, phrase, tmp_path)

A row's `call` takes no argument, or one: a fresh temporary folder (pytest's `tmp_path`) to build files in.
`phrase` is a plain substring of the message (case-sensitive), not a regular expression.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

import pytest

__all__ = ["bad", "check_bad_input"]


def bad(id: str, call: Callable, exc: type[BaseException] | tuple[type[BaseException], ...], phrase: str):
    """One table row: `call()` (or `call(tmp_path)`) must raise `exc` with `phrase` in a one-line message."""
    return pytest.param(call, exc, phrase, id=id)


def check_bad_input(call: Callable, exc, phrase: str, tmp_path: Path | None = None) -> BaseException:
    """Run one row: the exception type, the phrase, and a message of one non-empty line."""
    takes_path = len(inspect.signature(call).parameters) == 1
    with pytest.raises(exc) as info:
        call(tmp_path) if takes_path else call()
    msg = str(info.value)
    assert phrase in msg, f"{phrase!r} not in message {msg!r}"
    assert msg.strip() and "\n" not in msg.strip(), f"message is not one line: {msg!r}"
    return info.value
