"""Shared test set-up: a headless matplotlib, seeded random numbers, a data folder in pytest's temporary space."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from gaplib.train import set_seed  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _seeded_module():
    """Seed Python, NumPy and PyTorch (`gaplib.train.set_seed`) before a module's fixtures are built (an autouse
    fixture comes before the others of its scope)."""
    set_seed(0)


@pytest.fixture(autouse=True)
def _seeded():
    """Seed them again before every test: what a test draws does not depend on which tests ran before it in the same
    worker (pytest-xdist hands files to workers in no fixed order)."""
    set_seed(0)


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every figure a test opened."""
    yield
    plt.close("all")


@pytest.fixture
def poisoned_cache():
    """Fill freed GPU memory with NaN, so an output element the kernel forgets to write shows up."""
    if torch.cuda.is_available():
        junk = torch.full((1 << 24,), float("nan"), device="cuda")
        del junk
    yield
