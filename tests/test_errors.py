"""gaplib.errors.expect_error: a deliberate error is printed in one line, and its absence is a failure."""

import pytest

from gaplib.errors import expect_error


def test_expected_error_is_caught_and_printed_in_one_line(capsys):
    with expect_error(RuntimeError, "shapes cannot be multiplied"):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (1x4096 and 1024x64)\nmore detail here")
    out = capsys.readouterr().out
    assert out == "Expected error, RuntimeError: mat1 and mat2 shapes cannot be multiplied (1x4096 and 1024x64)\n"


def test_a_subclass_counts_and_a_tuple_of_kinds_is_accepted(capsys):
    with expect_error((KeyError, ValueError), "bad"):
        raise ValueError("bad value")
    assert "ValueError: bad value" in capsys.readouterr().out


def test_no_error_is_a_failure():
    with pytest.raises(AssertionError, match="should have raised RuntimeError, but it ran without error"):
        with expect_error(RuntimeError):
            pass


def test_wrong_message_is_a_failure():
    with pytest.raises(AssertionError, match="should say 'size'"):
        with expect_error(ValueError, "size"):
            raise ValueError("something else")


def test_another_exception_type_passes_through():
    with pytest.raises(KeyError):
        with expect_error(ValueError):
            raise KeyError("k")


@pytest.mark.parametrize(
    "kind, match, exc, phrase",
    [
        ("RuntimeError", "", TypeError, "kind must be an exception class"),
        (int, "", TypeError, "kind must be an exception class"),
        ((), "", TypeError, "kind must be an exception class"),
        (ValueError, 3, TypeError, "match must be a str"),
        (ValueError, "(", ValueError, "match must be a valid regular expression"),
    ],
)
def test_bad_arguments(kind, match, exc, phrase):
    with pytest.raises(exc, match=phrase):
        with expect_error(kind, match):
            raise ValueError("x")
