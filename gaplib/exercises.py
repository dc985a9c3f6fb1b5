"""The notebooks' exercises: a placeholder the learner fills in, and a check that says so until they do.

An exercise cell (tagged `exercise`) holds `answer = ...` and ends with `check(answer, test)`: while
`answer` is still `...` it only prints what to fill in; once filled in, `test(answer)` runs its asserts.
The worked solution follows in a cell tagged `solution`, which calls the same `check` and which CI runs.
"""

from __future__ import annotations

from collections.abc import Callable

from ._checks import check_callable, check_str

__all__ = ["check"]


def check(answer: object, test: Callable[[object], object], name: str = "answer") -> None:
    """Run `test(answer)` once `answer` is filled in; while it is `...`, only say what to fill in."""
    check_callable(test, "test", "a function that asserts on the answer")
    check_str(name, "name")
    if answer is Ellipsis:
        print(f"✎ fill in `{name}` (replace the ...), then run this cell again to check it")
        return
    test(answer)
    print(f"✓ `{name}` passes the check")
