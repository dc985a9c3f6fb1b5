"""Bad input to gaplib.timing: one row per input, each refused in one line."""

import pytest
from _bad_input import bad, check_bad_input, int_rows

from gaplib import timing

ROWS = [
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
]


@pytest.mark.parametrize("call, exc, phrase", ROWS)
def test_bad_input(call, exc, phrase):
    check_bad_input(call, exc, phrase)
