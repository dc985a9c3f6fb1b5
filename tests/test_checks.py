"""gaplib._checks: one rule for every public function's arguments, and NumPy numbers pass as Python numbers do."""

import numpy as np
from _bad_input import check_bad_input


def test_numpy_numbers_are_accepted():
    """NumPy scalars (what indexing an array gives) pass every int and number check, as Python numbers do."""
    import matplotlib.pyplot as plt

    from gaplib import data, experiments, pool, viz

    s = data.make_shapes(np.int64(4), size=np.int64(16), seed=np.int32(1))
    assert s.images.shape == (4, 3, 16, 16)
    assert pool.gem(s.images, p=np.float32(2.0)).shape == (4, 3)
    assert experiments.shift_images(s.images, np.int64(2), np.int64(-1)).shape == s.images.shape
    plt.close(viz.plot_bars({"a": np.int64(3), "b": np.float32(2.5)}, "count"))


def test_one_rule_for_a_wrong_type():
    """The same fault (a str where an int belongs) raises the same type everywhere: TypeError."""
    import torch

    from gaplib import data, photos, pretrained

    for call in (
        lambda: data.make_shapes(4, size="x"),
        lambda: photos.load_photos(size="x"),
        lambda: pretrained.Preprocess()(torch.rand(1, 3, 32, 32), size="x"),
    ):
        check_bad_input(call, TypeError, "size must be an int, got str 'x'")
