import hashlib

import pytest
import torch

from gaplib import data


def _digest(t: torch.Tensor) -> str:
    return hashlib.sha256(t.numpy().tobytes()).hexdigest()


def test_shapes_same_seed_same_bytes():
    a, b = data.make_shapes(40, 32, seed=7), data.make_shapes(40, 32, seed=7)
    assert _digest(a.images) == _digest(b.images)
    assert torch.equal(a.labels, b.labels) and torch.equal(a.boxes, b.boxes)
    assert _digest(data.make_shapes(40, 32, seed=8).images) != _digest(a.images)


def test_shapes_format_and_balance():
    s = data.make_shapes(60, 24, seed=0)
    assert s.images.shape == (60, 3, 24, 24) and s.images.dtype == torch.float32
    assert 0 <= s.images.min() and s.images.max() <= 1
    assert s.labels.dtype == torch.int64 and s.classes == data.SHAPES
    assert torch.bincount(s.labels, minlength=len(data.SHAPES)).tolist() == [10] * 6


@pytest.mark.parametrize("size", [16, 32, 64, 128])
def test_shapes_boxes_contain_the_object(size):
    """Inside the box the object's pixels differ from the background; outside they are background only."""
    s = data.make_shapes(30, size, seed=1, noise=0.0)
    for img, box in zip(s.images, s.boxes):
        x0, y0, x1, y1 = (int(v) for v in box)
        assert 0 <= x0 < x1 <= size and 0 <= y0 < y1 <= size
        bg = img[:, 0, 0] if (x0, y0) != (0, 0) else img[:, -1, -1]
        differs = (img - bg[:, None, None]).abs().amax(0) > 1e-6
        assert not differs[:, :x0].any() and not differs[:, x1:].any()
        assert not differs[:y0].any() and not differs[y1:].any()
        assert differs[y0:y1, x0:x1].any(1).all() and differs[y0:y1, x0:x1].any(0).all()  # tight box


def test_shapes_subset_of_classes():
    s = data.make_shapes(10, 16, classes=("circle", "square"))
    assert s.classes == ("circle", "square") and set(s.labels.tolist()) == {0, 1}


def test_digits_are_real_digits_with_boxes():
    d = data.make_digits(50, 32, seed=0)
    assert d.images.shape == (50, 3, 32, 32) and d.classes == data.DIGITS
    assert d.labels.min() >= 0 and d.labels.max() <= 9
    w, h = d.boxes[:, 2] - d.boxes[:, 0], d.boxes[:, 3] - d.boxes[:, 1]
    assert (w >= 2).all() and (h >= 8).all() and (d.boxes[:, 2:] <= 32).all()
    assert _digest(data.make_digits(50, 32, seed=0).images) == _digest(d.images)


def _sample_digest(s: data.Sample) -> str:
    h = hashlib.sha256()
    for t in (s.images.mul(255).round().to(torch.uint8), s.labels, s.boxes):
        h.update(t.numpy().tobytes())
    return h.hexdigest()


@pytest.mark.parametrize(
    "size, digest",
    [  # make_digits(20, size, seed=3) as gaplib made it before `zoom` existed
        (16, "3441cd796a29890c65d67b1d7788a0c03b4772e3970ae5d514489195d8bd00a5"),
        (24, "e4d148b53097207d2a4a5c421bc90de0a426eec2bd134507a987d03ef4f42ce1"),
        (32, "20c67f953a058806d7fd32d95d8dccb29372e76d110dfb38208e672ed90b2b2f"),
        (64, "f6515f5568da9a7ad74aa7736c3a6254a1e4624e90be0e3ef989837a15073785"),
    ],
)
def test_digits_default_zoom_keeps_the_bytes(size, digest):
    assert _sample_digest(data.make_digits(20, size, seed=3)) == digest
    assert _sample_digest(data.make_digits(20, size, seed=3, zoom=1)) == digest


@pytest.mark.parametrize("zoom, size", [(2, 64), (0.5, 16), (1.5, 48)])
def test_digits_zoom_scales_the_glyph_with_it(zoom, size):
    """zoom = size / 32 draws the 32 px scene at `size` px: glyphs (and boxes) `zoom` times as large."""
    ref, z = data.make_digits(300, 32, seed=0), data.make_digits(300, size, seed=0, zoom=zoom)
    assert z.images.shape == (300, 3, size, size) and (z.boxes[:, 2:] <= size).all()
    heights = lambda s: (s.boxes[:, 3] - s.boxes[:, 1]).float()
    assert heights(z).max() <= 24 * zoom and heights(z).min() >= 0.5 * heights(ref).min() * zoom
    assert abs(heights(z).mean() / heights(ref).mean() - zoom) < 0.05 * zoom


def test_loaders_are_deterministic():
    a, _ = data.shapes_loaders(16, 40, 20, bs=8, seed=0)
    b, v = data.shapes_loaders(16, 40, 20, bs=8, seed=0)
    assert all(torch.equal(x1, x2) for (x1, _), (x2, _) in zip(a, b))
    assert v.batch_size == 16 and len(a) == 5


def test_random_shifts_moves_each_image_by_at_most_max_shift():
    x = torch.zeros(64, 1, 9, 9)
    x[:, :, 4, 4] = 1.0  # one bright pixel in the middle
    moved = data.random_shifts(x, 2, torch.Generator().manual_seed(0))
    ys, xs = (moved[:, 0] == 1).nonzero()[:, 1:].T
    assert moved.shape == x.shape and (moved[:, 0] == 1).sum() == 64, "every image keeps its one bright pixel"
    assert (ys - 4).abs().max() == 2 and (xs - 4).abs().max() == 2, "shifts reach ±2 and go no further"
    assert len(set(zip(ys.tolist(), xs.tolist()))) > 10, "images get different shifts"
    assert data.random_shifts(x, 0) is x


def test_shift_augmented_loader_is_seeded_and_differs_each_epoch():
    sample = data.make_shapes(8, 16, seed=0)
    dl = data.make_loader(sample, bs=8, seed=1, shift=3)
    first, second = next(iter(dl))[0], next(iter(dl))[0]
    assert not torch.equal(first, second), "a new epoch draws new shifts"
    again = next(iter(data.make_loader(sample, bs=8, seed=1, shift=3)))[0]
    assert torch.equal(first, again), "the same seed gives the same shifts"
    plain = next(iter(data.make_loader(sample, bs=8)))[0]
    assert torch.equal(plain, sample.images), "shift=0 leaves the images alone"
    tr, _ = data.shapes_loaders(16, 8, 4, seed=0, shift=2)
    assert next(iter(tr))[0].shape == (8, 3, 16, 16)
