"""The fastai loading path of notebook 05 (`gaplib.fastai_data.folder_dls`), on small local folders.

The notebook's online switch downloads Imagenette and then runs the same `folder_dls`; these tests point
it at a tiny shapes folder and at a JPEG folder laid out like Imagenette (`train/n01440764/*.JPEG`, `val/`).
"""

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastai")

from gaplib.data import SHAPES, make_shapes  # noqa: E402
from gaplib.fastai_data import folder_dls  # noqa: E402
from gaplib.folders import shapes_folder, write_image_folder  # noqa: E402

WNIDS = ("n01440764", "n02102040", "n02979186")  # three of Imagenette's class folders


@pytest.fixture(scope="module")
def shapes_root(tmp_path_factory):
    return shapes_folder(size=16, n_train=24, n_valid=12, root=tmp_path_factory.mktemp("shapes") / "shapes16")


@pytest.fixture(scope="module")
def imagenette_root(tmp_path_factory):
    """A tiny JPEG folder with Imagenette's layout: non-square images, `train/` and `val/`."""
    root = tmp_path_factory.mktemp("imagenette") / "imagenette2-160"
    rng = np.random.default_rng(0)
    for split, n in (("train", 4), ("val", 2)):
        for wnid in WNIDS:
            (root / split / wnid).mkdir(parents=True)
            for i in range(n):
                arr = rng.integers(0, 256, (30 + 2 * i, 40, 3), dtype=np.uint8)
                Image.fromarray(arr).save(root / split / wnid / f"{wnid}_{i}.JPEG")
    return root


def test_shapes_folder_batches(shapes_root):
    dls = folder_dls(shapes_root, 16, bs=8, device="cpu")
    assert list(dls.vocab) == list(SHAPES)
    assert (len(dls.train_ds), len(dls.valid_ds)) == (24, 12)
    xb, yb = dls.one_batch()
    assert xb.shape == (8, 3, 16, 16) and yb.shape == (8,)
    assert 0 <= float(xb.min()) and float(xb.max()) <= 1, "pixels stay in [0, 1] (no normalisation)"


def test_labels_come_from_class_folders(shapes_root):
    dls = folder_dls(shapes_root, 16, bs=4, device="cpu")
    for path, (_, y) in zip(dls.valid_ds.items, dls.valid_ds):
        assert dls.vocab[int(y)] == path.parent.name


def test_resize_to_another_size(shapes_root):
    for size in (8, 24):
        xb, _ = folder_dls(shapes_root, size, bs=4, device="cpu").one_batch()
        assert xb.shape[-2:] == (size, size)


def test_same_seed_same_order(shapes_root):
    def first_labels(seed):
        return folder_dls(shapes_root, 16, bs=8, seed=seed, device="cpu").one_batch()[1].tolist()

    assert first_labels(3) == first_labels(3)
    orders = {tuple(first_labels(s)) for s in range(4)}
    assert len(orders) > 1, "different seeds shuffle differently"


def test_valid_pixels_match_generator(tmp_path):
    sample = make_shapes(6, 16, seed=5)
    root = write_image_folder(tmp_path / "f", sample, sample)
    dls = folder_dls(root, 16, bs=6, device="cpu")
    xb, yb = dls.valid.one_batch()
    by_label = {int(y): x for x, y in zip(sample.images, sample.labels)}
    for x, y in zip(xb.cpu(), yb.cpu()):
        assert torch.allclose(x, by_label[int(y)], atol=1 / 255), "PNG round trip keeps the pixels"


def test_stats_normalise_every_batch(shapes_root):
    plain = folder_dls(shapes_root, 16, bs=12, device="cpu").valid.one_batch()[0]
    dls = folder_dls(shapes_root, 16, bs=12, device="cpu", stats=((0.5,) * 3, (0.25, 0.5, 1.0)))
    xb, yb = dls.valid.one_batch()
    std = torch.tensor([0.25, 0.5, 1.0]).view(1, 3, 1, 1)
    assert torch.allclose(xb, (plain - 0.5) / std, atol=1e-6), "each channel is (x - mean) / std"
    decoded = dls.valid.decode((xb, yb))[0]  # what show_batch displays: back to 0-255 pixels
    assert torch.allclose(decoded.float() / 255, plain, atol=1.5 / 255), "decoding undoes the normalisation"


def test_imagenette_layout_jpeg(imagenette_root):
    dls = folder_dls(imagenette_root, 20, bs=4, device="cpu")
    assert list(dls.vocab) == list(WNIDS)
    assert (len(dls.train_ds), len(dls.valid_ds)) == (12, 6), "val/ is the validation split"
    xb, _ = dls.one_batch()
    assert xb.shape == (4, 3, 20, 20), "non-square JPEGs are cropped to size x size"


def test_a_gap_learner_trains_on_the_folder(shapes_root):
    from fastai.vision.all import Learner, accuracy, create_head
    from torch import nn

    from gaplib.models import conv_body

    dls = folder_dls(shapes_root, 16, bs=8, device="cpu")
    model = nn.Sequential(conv_body((4, 8)), create_head(8, 6, concat_pool=False, lin_ftrs=[], ps=0.0, first_bn=False))
    learn = Learner(dls, model, metrics=accuracy)
    with learn.no_bar(), learn.no_logging():
        learn.fit(1, 1e-3)
    loss, acc = learn.validate()
    assert np.isfinite(loss) and 0 <= acc <= 1
    learn.dls = folder_dls(shapes_root, 24, bs=8, device="cpu")  # progressive resizing: same model, larger images
    assert np.isfinite(learn.validate()[0])


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        folder_dls(tmp_path / "nope", 16)


def test_missing_train(tmp_path):
    (tmp_path / "valid").mkdir()
    with pytest.raises(FileNotFoundError, match="no train/ folder"):
        folder_dls(tmp_path, 16)


def test_missing_valid(tmp_path):
    (tmp_path / "train" / "a").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no validation folder"):
        folder_dls(tmp_path, 16)


def test_no_images(tmp_path):
    for split in ("train", "valid"):
        (tmp_path / split / "a").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no image files"):
        folder_dls(tmp_path, 16)


def test_images_without_class_folder(tmp_path):
    for split in ("train", "valid"):
        (tmp_path / split / "a").mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(tmp_path / split / "a" / "x.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "train" / "loose.png")
    with pytest.raises(ValueError, match="one level below"):
        folder_dls(tmp_path, 16)


def test_import_gaplib_stays_light():
    code = "import sys, gaplib, gaplib.fastai_data; assert 'fastai' not in sys.modules, 'fastai was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
