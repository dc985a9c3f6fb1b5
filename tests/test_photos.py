"""Unit tests for `gaplib.photos`, run with the network cut: the photos ship inside installed packages."""

from __future__ import annotations

import socket

import pytest
import torch
from _bad_input import bad, check_bad_input

from gaplib.photos import PHOTOS, load_photos


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Cut the network: any socket connection attempt raises."""

    def refuse(*args, **kwargs):
        raise OSError("network cut by the test (gaplib.photos must work offline)")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def test_all_photos_load_as_float_images_in_unit_range():
    photos = load_photos(size=64)
    assert photos.names == tuple(PHOTOS) and {"chelsea", "coffee", "china", "flower"} <= set(photos.names)
    assert photos.images.shape == (len(PHOTOS), 3, 64, 64) and photos.images.dtype == torch.float32
    assert 0 <= float(photos.images.min()) and float(photos.images.max()) <= 1
    assert photos.images.is_contiguous()
    stds = photos.images.flatten(1).std(1)
    assert (stds > 0.05).all(), "every photo has contrast (none is blank)"
    assert len({tuple(img.mean((1, 2)).tolist()) for img in photos.images}) == len(PHOTOS), "all photos differ"


def test_subset_keeps_the_order_asked_and_is_deterministic():
    a = load_photos(["flower", "chelsea"], size=40)
    b = load_photos(["chelsea"], size=40)
    assert a.names == ("flower", "chelsea") and a.images.shape == (2, 3, 40, 40)
    torch.testing.assert_close(a.images[1], b.images[0], atol=0, rtol=0)


def test_chelsea_is_the_scikit_image_photo_resized():
    from skimage import data

    raw = torch.from_numpy(data.chelsea().copy()).permute(2, 0, 1).float() / 255  # (3, 300, 451)
    full = load_photos(["chelsea"], size=32).images[0]
    torch.testing.assert_close(full.mean((1, 2)), raw.mean((1, 2)), atol=0.01, rtol=0)  # resizing keeps the colour


def test_crop_takes_the_central_square():
    square = load_photos(["astronaut"], size=48)  # astronaut is square: crop and squash agree
    torch.testing.assert_close(load_photos(["astronaut"], size=48, crop=True).images, square.images, atol=0, rtol=0)
    wide_crop = load_photos(["coffee"], size=48, crop=True).images  # coffee is 600 x 400
    wide_squash = load_photos(["coffee"], size=48).images
    assert not torch.allclose(wide_crop, wide_squash, atol=0.01)


def test_returned_images_are_the_callers_to_change():
    a = load_photos(["coffee"], size=16)
    a.images.zero_()
    assert float(load_photos(["coffee"], size=16).images.max()) > 0


BAD = [
    bad("names a bare string", lambda: load_photos("chelsea"), TypeError, "not a bare string"),
    bad("names not a list", lambda: load_photos(5), TypeError, "names must be a list"),
    bad("names empty", lambda: load_photos([]), ValueError, "names is empty"),
    bad("unknown name", lambda: load_photos(["dog"]), ValueError, "unknown photo 'dog'"),
    bad("size too small", lambda: load_photos(size=4), ValueError, "size must be >= 8"),
    bad("size float", lambda: load_photos(size=64.0), TypeError, "size must be an int"),
    bad("size None", lambda: load_photos(size=None), TypeError, "size must be an int"),
    bad("crop not bool", lambda: load_photos(crop="yes"), TypeError, "crop must be True or False"),
]


@pytest.mark.parametrize("call, exc, phrase", BAD)
def test_bad_input(call, exc, phrase, tmp_path):
    check_bad_input(call, exc, phrase, tmp_path)
