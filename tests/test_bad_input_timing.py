"""Bad input to gaplib.timing: one row per input, each refused in one line."""

import pytest
import torch
from _bad_input import bad, check_bad_input, int_rows

from gaplib import timing

ROWS = [
    bad("cuda_graph_time call 3", lambda: timing.cuda_graph_time(3, 1), TypeError, "call must be callable"),
    *int_rows("cuda_graph_time", lambda v: timing.cuda_graph_time(lambda i: None, v), "n_inputs", 1),
    bad(
        "cuda_graph_time target 0",
        lambda: timing.cuda_graph_time(len, 1, target_s=0),
        ValueError,
        "target_s must be > 0",
    ),
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
if not torch.cuda.is_available():
    ROWS += [
        bad(
            "cuda_graph_time without CUDA",
            lambda: timing.cuda_graph_time(len, 1),
            RuntimeError,
            "CUDA is not available",
        )
    ]


@pytest.mark.parametrize("call, exc, phrase", ROWS)
def test_bad_input(call, exc, phrase):
    check_bad_input(call, exc, phrase)
