"""The checks of plain values: numbers, ints, strings, paths, sequences, dicts, types and costs."""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch

MAX_SECONDS = 600  # work estimated to take longer than this is refused up front, with the estimate


def check_int(value: object, name: str, minimum: int | None = 1) -> int:
    """Check that `value` is an int of at least `minimum` (any int when `minimum` is None)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {_short(value)}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_ints(
    values: object, name: str, minimum: int = 1, each: str | None = None, want: str = "a non-empty list of ints"
) -> list[int]:
    """Check that `values` is a non-empty sequence of ints, each at least `minimum` (named `each` in errors)."""
    values = check_sequence(values, name, want)
    return [check_int(v, each or f"each of {name}", minimum) for v in values]


def check_sequence(values: object, name: str, want: str = "a non-empty list") -> list:
    """Check that `values` is a non-empty list, tuple or range (not a str or a dict); returns it as a list."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, (Sequence, range)):
        raise TypeError(f"{name} must be {want}, got {type(values).__name__} {_short(values)}")
    if len(values) == 0:
        raise ValueError(f"{name} must be {want}, got {_short(values)}")
    return list(values)


def check_strings(
    values: object, name: str, choices: Sequence[str] | None = None, want: str = "distinct non-empty names"
) -> tuple[str, ...]:
    """Check that `values` is a non-empty sequence of distinct non-empty strings, each one of `choices` if given."""
    items = check_sequence(values, name, want)
    if not all(isinstance(v, str) for v in items):
        raise TypeError(f"{name} must be {want}, got {_short(values)}")
    if not all(v.strip() for v in items) or len(set(items)) != len(items):
        raise ValueError(f"{name} must be {want}, got {_short(values)}")
    if choices is not None and any(v not in choices for v in items):
        raise ValueError(f"{name} must be {want}, got {_short(values)}")
    return tuple(items)


def check_str(value: object, name: str, want: str = "a non-empty str", empty_ok: bool = False) -> str:
    """Check that `value` is a string, a non-empty one unless `empty_ok`."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be {want}, got {type(value).__name__} {_short(value)}")
    if not empty_ok and not value.strip():
        raise ValueError(f"{name} must be {want}, got {value!r}")
    return value


def check_path(path: object, name: str, want: str = "a folder path") -> Path:
    """Check that `path` is a non-empty str or a `Path` (it need not exist); returns it as a `Path`."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be {want} (str or Path), got {type(path).__name__}")
    if isinstance(path, str) and not path.strip():
        raise ValueError(f"{name} must be {want}, got the empty string {path!r}")
    return Path(path)


def check_mapping(value: object, name: str, want: str) -> Mapping:
    """Check that `value` is a non-empty dict (any `Mapping`); `want` says what it should map."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be {want}, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must be {want}, got an empty {type(value).__name__}")
    return value


def check_callable(value: object, name: str, want: str = "callable") -> Callable:
    """Check that `value` can be called (a function, a lambda, a class); `want` says how it is called."""
    if not callable(value):
        raise TypeError(f"{name} must be {want}, got {type(value).__name__}")
    return value


def check_type(value: object, name: str, types: type | tuple[type, ...], want: str) -> object:
    """Check that `value` is an instance of `types` (never a bool, unless `types` is bool); `want` names them."""
    if not isinstance(value, types) or (isinstance(value, bool) and types is not bool):
        raise TypeError(f"{name} must be {want}, got {type(value).__name__}")
    return value


def check_rows(rows: object, name: str, keys: set[str], want: str) -> list[Mapping]:
    """Check that `rows` is a non-empty list of dicts, each holding every key of `keys`."""
    rows = check_sequence(rows, name, want)
    for r in rows:
        if not isinstance(r, Mapping):
            raise TypeError(f"each row needs the keys {sorted(keys)}, got {_short(r)}")
        if not keys <= set(r):
            raise ValueError(f"each row needs the keys {sorted(keys)} ({name} must be {want}), got {sorted(r)}")
    return rows


def check_range(value: object, name: str, low: float = 0.0, high: float = 1.0) -> tuple[float, float]:
    """Check that `value` is a pair `(a, b)` of numbers with `low < a <= b <= high`."""
    want = f"(low, high) with {low:g} < low <= high <= {high:g}"
    pair = check_sequence(value, name, want)
    if any(isinstance(v, bool) or not isinstance(v, numbers.Real) for v in pair):
        raise TypeError(f"{name} must be {want}, got {_short(value)}")
    if len(pair) != 2 or not low < pair[0] <= pair[1] <= high:
        raise ValueError(f"{name} must be {want}, got {_short(value)}")
    return float(pair[0]), float(pair[1])


def check_size(value: object, name: str = "size", minimum: int = 1) -> tuple[int, int]:
    """Check that `value` is an int or an `(H, W)` pair of ints, each at least `minimum`; returns `(H, W)`."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or an (H, W) pair of ints, got {_short(value)}")
        return check_int(value[0], name, minimum), check_int(value[1], name, minimum)
    side = check_int(value, name, minimum)
    return side, side


def check_number(
    value: object,
    name: str,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    want: str | None = None,
    allow_nan: bool = False,
) -> float:
    """Check that `value` is a finite real number in [`low`, `high`] (`(low, high]` with `low_open`).

    `want` replaces the errors' description of a valid value; `allow_nan` lets NaN through (a missing value).
    """
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.requires_grad:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {want or 'a number'}, got {type(value).__name__} {_short(value)}")
    if allow_nan and math.isnan(value):
        return float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be {want or 'a finite number'}, got {value!r}")
    if value < low or value > high or (low_open and value == low):
        if want is None and high == math.inf:
            want = f"{'>' if low_open else '>='} {low:g}"
        elif want is None:
            want = f"in {'(' if low_open else '['}{low:g}, {high:g}]"
        raise ValueError(f"{name} must be {want}, got {value!r}")
    return float(value)


def check_bool(value: object, name: str) -> bool:
    """Check that `value` is True or False."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {_short(value)}")
    return value


def check_choice(value: object, name: str, choices: Sequence[str]) -> str:
    """Check that `value` is one of the strings `choices`."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {tuple(choices)}, got {type(value).__name__} {_short(value)}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {_short(value)}")
    return value


def machine_memory() -> int:
    """This machine's physical memory in bytes (16 GiB when the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 * 2**30


def check_cost(what: str, seconds: float, nbytes: float, hint: str) -> None:
    """Refuse up front work estimated to need more memory than the machine has, or more than `MAX_SECONDS`."""
    mem = machine_memory()
    if nbytes > mem:
        need, have = f"~{nbytes / 2**30:,.1f} GiB", f"{mem / 2**30:.0f} GiB"
        raise ValueError(f"{what} would need {need} of memory, more than this machine's {have}; {hint}")
    if seconds > MAX_SECONDS:
        took = f"~{seconds / 60:,.0f} min (estimated)"
        raise ValueError(f"{what} would take {took}, over gaplib's {MAX_SECONDS // 60} min limit; {hint}")


def _short(value: object) -> str:
    """`repr(value)` cut to one short line."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def check_fraction(value: object, name: str) -> float:
    """Check that `value` is a number in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in [0, 1), got {type(value).__name__} {_short(value)}")
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {_short(value)}")
    return float(value)


def check_dir(path: str | Path, name: str = "folder") -> Path:
    """Check that `path` is an existing directory."""
    p = check_path(path, name)
    if not p.is_dir():
        raise FileNotFoundError(f"{name} {str(p)!r} does not exist or is not a directory")
    return p


def check_stats(stats: object) -> tuple[list[float], list[float]] | None:
    """Check that `stats` is None or `(mean, std)`: three finite numbers each, every std > 0."""
    if stats is None:
        return None
    want = "stats must be None or (mean, std), each 3 numbers (one per colour channel), e.g. ((0.5,) * 3, (0.5,) * 3)"
    if not isinstance(stats, (tuple, list)):
        raise TypeError(f"{want}; got {stats!r}")
    if len(stats) != 2:
        raise ValueError(f"{want}; got {stats!r}")
    out = []
    for part, name in zip(stats, ("mean", "std")):
        if isinstance(part, (str, bytes)) or not hasattr(part, "__len__"):
            raise TypeError(f"{want}; got {name} {part!r}")
        if any(isinstance(v, bool) or not isinstance(v, numbers.Real) for v in part):
            raise TypeError(f"{want}; got {name} {part!r}")
        if len(part) != 3 or not all(math.isfinite(v) for v in part):
            raise ValueError(f"{want}; got {name} {part!r}")
        out.append([float(v) for v in part])
    if min(out[1]) <= 0:
        raise ValueError(f"stats std must be > 0 for every channel, got {stats[1]!r}")
    return out[0], out[1]
