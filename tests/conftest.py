"""Shared test set-up: a headless matplotlib, seeded random numbers, a data folder in pytest's temporary space."""

import random

import matplotlib
import numpy as np

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402


def _seed_everything() -> None:
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(autouse=True, scope="module")
def _seeded_module():
    """Seed Python, NumPy and PyTorch before a module's fixtures are built (autouse: before the others of its scope)."""
    _seed_everything()


@pytest.fixture(autouse=True)
def _seeded():
    """Seed them again before every test: what a test draws does not depend on which tests ran before it in the same
    worker (pytest-xdist hands files to workers in no fixed order)."""
    _seed_everything()


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
