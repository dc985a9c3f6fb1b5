"""gaplib.exercises.check: silent about a placeholder, strict about a filled-in answer."""

import pytest

from gaplib.exercises import check


def _is_four(answer):
    assert answer == 4, "2 + 2 should be 4"


def test_placeholder_only_says_fill_in(capsys):
    assert check(..., _is_four, "total") is None  # returns nothing: no stray value under a notebook cell
    assert "fill in `total`" in capsys.readouterr().out


def test_right_answer_passes(capsys):
    assert check(4, _is_four) is None
    assert "passes" in capsys.readouterr().out


def test_wrong_answer_fails_with_the_tests_message():
    with pytest.raises(AssertionError, match="2 \\+ 2 should be 4"):
        check(5, _is_four)


@pytest.mark.parametrize(
    "test, name, error, phrase",
    [(None, "answer", TypeError, "test must be a function"), (_is_four, "", ValueError, "name must be")],
)
def test_bad_arguments(test, name, error, phrase):
    with pytest.raises(error, match=phrase):
        check(4, test, name)
