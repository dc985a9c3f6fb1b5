"""Deliberate errors in the notebooks, shown the same way in every front end (Jupyter, Colab, a rendered page).

A cell that fails on purpose would stop Colab's "Run all" there, and Jupyter's `raises-exception` tag is not
honoured everywhere. So the notebooks run the failing line inside `expect_error`: it catches the error, prints
its type and first line (no traceback), and asserts that the error happened and says what the lesson expects.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["expect_error"]


@contextmanager
def expect_error(kind: type[BaseException] | tuple[type[BaseException], ...], match: str = "") -> Iterator[None]:
    """Run the `with` block, which must raise `kind` with `match` (a regex) in its message; print that message.

    A different exception type passes through unchanged; no exception at all, or a message without
    `match`, is an `AssertionError` that says what was expected.
    """
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not kinds or not all(isinstance(k, type) and issubclass(k, BaseException) for k in kinds):
        raise TypeError(f"kind must be an exception class (or a tuple of them), e.g. RuntimeError, got {kind!r}")
    if not isinstance(match, str):
        raise TypeError(f"match must be a str (a regular expression), got {type(match).__name__}")
    try:
        re.compile(match)
    except re.error as e:
        raise ValueError(f"match must be a valid regular expression, got {match!r}: {e}") from None
    names = " or ".join(k.__name__ for k in kinds)
    try:
        yield
    except kinds as e:
        message = str(e).strip()
        first = message.splitlines()[0] if message else ""
        print(f"Expected error, {type(e).__name__}: {first}")
        if not re.search(match, message):
            raise AssertionError(f"the {names} should say {match!r}, but it says {first!r}") from e
    else:
        raise AssertionError(f"this code should have raised {names}, but it ran without error")
