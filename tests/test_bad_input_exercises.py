"""Bad input to gaplib.exercises: one row per input, each refused in one line."""

import pytest
from _bad_input import bad, check_bad_input

from gaplib import exercises


def _ok(a):
    assert a == 1


ROWS = [
    bad("check test not callable", lambda: exercises.check(1, "test"), TypeError, "test must be a function"),
    bad("check test None", lambda: exercises.check(1, None), TypeError, "test must be a function"),
    bad("check name ''", lambda: exercises.check(1, _ok, ""), ValueError, "name must be a non-empty str"),
    bad("check name 3", lambda: exercises.check(1, _ok, 3), TypeError, "name must be a non-empty str"),
    bad("check wrong answer", lambda: exercises.check(2, _ok), AssertionError, ""),
]


@pytest.mark.parametrize("call, exc, phrase", ROWS)
def test_bad_input(call, exc, phrase):
    check_bad_input(call, exc, phrase)
