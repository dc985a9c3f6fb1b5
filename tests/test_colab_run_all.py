"""Notebooks 05-09 run alone with Colab's "Run all" in a simulated Colab (tests/_colab.py says how; 00-04 are in
test_colab_bootstrap.py: two files, so that two test workers share the load). Skips, saying why, without git or a
reachable package index.
"""

import pytest
from _colab import NOTEBOOKS, colab, run_all_in_colab  # noqa: F401 (colab: a fixture)

SECOND_HALF = NOTEBOOKS[5:]


def test_the_course_is_split_between_the_two_colab_files():
    assert len(SECOND_HALF) >= 1 and SECOND_HALF[0].name.startswith("05_"), "test_colab_bootstrap.py runs 00-04"


@pytest.mark.parametrize("path", SECOND_HALF, ids=[p.stem[:2] for p in SECOND_HALF])
def test_a_lone_notebook_runs_to_the_end_with_run_all_in_a_simulated_colab(colab, path):  # noqa: F811
    run_all_in_colab(colab, path)
