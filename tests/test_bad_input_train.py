"""Bad input to gaplib.train: one row per input, each refused with a one-line error naming what was expected."""

import math

import pytest
import torch
from _bad_input import bad, check_bad_input, int_rows, tensor_rows
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from gaplib import data, models, train

S = data.make_shapes(12, 16)
DL = data.make_loader(S, bs=4)


def _net():
    torch.manual_seed(0)
    return models.gap_cnn(6, (4,))


def _loader(images=S.images, labels=S.labels):
    return DataLoader(TensorDataset(images, labels), batch_size=4)


def _nan_images():
    x = S.images.clone()
    x[5] = math.nan
    return x


class _Maps(nn.Module):
    """A model that forgot its pooling: it returns feature maps, not logits."""

    def forward(self, x):
        return x


class _Dict(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 6)

    def forward(self, x):
        return {"logits": self.lin(x.mean((2, 3)))}


EMPTY = DataLoader(TensorDataset(S.images[:0], S.labels[:0]), batch_size=4)
TRIPLES = DataLoader(TensorDataset(S.images, S.labels, S.labels), batch_size=4)
IMAGES_ONLY = DataLoader(TensorDataset(S.images), batch_size=4)

ROWS = [
    *int_rows("set_seed", train.set_seed, "seed", 0),
    bad("History().overfit", lambda: train.History().overfit, ValueError, "History is empty"),
    # fit
    bad("fit model None", lambda: train.fit(None, DL, DL), TypeError, "model must be an nn.Module"),
    bad("fit model a builder", lambda: train.fit(models.gap_cnn, DL, DL), TypeError, "model must be an nn.Module"),
    bad("fit train_dl a Sample", lambda: train.fit(_net(), S, DL), TypeError, "train_dl must be a torch DataLoader"),
    bad("fit train_dl a tensor", lambda: train.fit(_net(), S.images, DL), TypeError, "train_dl must be a torch"),
    bad("fit valid_dl None", lambda: train.fit(_net(), DL, None), TypeError, "valid_dl must be a torch DataLoader"),
    bad("fit train_dl empty", lambda: train.fit(_net(), EMPTY, DL), ValueError, "train_dl is empty"),
    bad("fit valid_dl empty", lambda: train.fit(_net(), DL, EMPTY), ValueError, "valid_dl is empty"),
    *int_rows("fit", lambda v: train.fit(_net(), DL, DL, epochs=v, progress=False), "epochs", 1),
    *int_rows("fit", lambda v: train.fit(_net(), DL, DL, seed=v, progress=False), "seed", 0),
    bad("fit lr 0", lambda: train.fit(_net(), DL, DL, lr=0), ValueError, "lr must be > 0"),
    bad("fit lr -1", lambda: train.fit(_net(), DL, DL, lr=-1e-3), ValueError, "lr must be > 0"),
    bad("fit lr inf", lambda: train.fit(_net(), DL, DL, lr=math.inf), ValueError, "lr must be a finite number"),
    bad("fit lr NaN", lambda: train.fit(_net(), DL, DL, lr=math.nan), ValueError, "lr must be a finite number"),
    bad("fit lr str", lambda: train.fit(_net(), DL, DL, lr="1e-2"), TypeError, "lr must be a number"),
    bad("fit lr None", lambda: train.fit(_net(), DL, DL, lr=None), TypeError, "lr must be a number"),
    bad("fit weight_decay -1", lambda: train.fit(_net(), DL, DL, weight_decay=-1), ValueError, "weight_decay must be"),
    bad("fit weight_decay NaN", lambda: train.fit(_net(), DL, DL, weight_decay=math.nan), ValueError, "weight_decay"),
    bad("fit progress str", lambda: train.fit(_net(), DL, DL, progress="no"), TypeError, "progress must be True"),
    bad(
        "fit valid_each_epoch int",
        lambda: train.fit(_net(), DL, DL, valid_each_epoch=0),
        TypeError,
        "valid_each_epoch must be True",
    ),
    bad("fit device gpu", lambda: train.fit(_net(), DL, DL, device="gpu"), ValueError, "device must name a device"),
    bad("fit device 3", lambda: train.fit(_net(), DL, DL, device=3), TypeError, "device must be a torch.device"),
    bad(
        "fit frozen model",
        lambda: train.fit(_net().requires_grad_(False), DL, DL, progress=False),
        ValueError,
        "no trainable parameters",
    ),
    bad("fit model without parameters", lambda: train.fit(_Maps(), DL, DL), ValueError, "no trainable parameters"),
    bad(
        "fit NaN pixel",
        lambda: train.fit(_net(), _loader(_nan_images()), DL, progress=False),
        FloatingPointError,
        "at epoch 1/5, batch 2/3",
    ),
    bad(
        "fit lr 1e30 diverges",
        lambda: train.fit(_net(), DL, DL, lr=1e30, epochs=3, progress=False),
        FloatingPointError,
        "training loss became",
    ),
    bad(
        "fit label 99",
        lambda: train.fit(_net(), _loader(labels=torch.full((12,), 99)), DL, progress=False),
        ValueError,
        "labels of epoch 1/5, batch 1/3 holds 99",
    ),
    bad(
        "fit label -1",
        lambda: train.fit(_net(), _loader(labels=torch.full((12,), -1)), DL, progress=False),
        ValueError,
        "holds -1",
    ),
    bad(
        "fit float labels",
        lambda: train.fit(_net(), _loader(labels=S.labels.float()), DL, progress=False),
        TypeError,
        "integer class indices",
    ),
    bad(
        "fit uint8 images",
        lambda: train.fit(_net(), _loader((S.images * 255).byte()), DL, progress=False),
        TypeError,
        "train_dl yields torch.uint8 images",
    ),
    bad("evaluate uint8 images", lambda: train.evaluate(_net(), _loader((S.images * 255).byte())), TypeError, "uint8"),
    bad("fit triples", lambda: train.fit(_net(), TRIPLES, DL, progress=False), TypeError, "(images, labels) pairs"),
    bad("fit images only", lambda: train.fit(_net(), IMAGES_ONLY, DL, progress=False), TypeError, "(images, labels)"),
    bad(
        "fit maps model",
        lambda: train.fit(nn.Sequential(nn.Conv2d(3, 6, 1)), DL, DL, progress=False),
        ValueError,
        "model must return (4, n_classes) logits",
    ),
    bad("fit dict model", lambda: train.fit(_Dict(), DL, DL, progress=False), ValueError, "got dict"),
    # evaluate
    bad("evaluate model None", lambda: train.evaluate(None, DL), TypeError, "model must be an nn.Module"),
    bad("evaluate dl list", lambda: train.evaluate(_net(), [1, 2]), TypeError, "dl must be a torch DataLoader"),
    bad("evaluate dl empty", lambda: train.evaluate(_net(), EMPTY), ValueError, "dl is empty"),
    bad(
        "evaluate label 6", lambda: train.evaluate(_net(), _loader(labels=torch.full((12,), 6))), ValueError, "holds 6"
    ),
    bad("evaluate maps model", lambda: train.evaluate(_Maps(), DL), ValueError, "logits for batch 1 of dl"),
    bad("evaluate triples", lambda: train.evaluate(_net(), TRIPLES), TypeError, "dl must yield (images, labels)"),
    bad("evaluate device cuda:99", lambda: train.evaluate(_net(), DL, "cuda:99"), (RuntimeError, ValueError), "cuda"),
    # predict
    *tensor_rows("predict", lambda v: train.predict(_net(), v), "images"),
    *int_rows("predict", lambda v: train.predict(_net(), S.images, bs=v), "bs", 1),
    bad("predict model None", lambda: train.predict(None, S.images), TypeError, "model must be an nn.Module"),
    bad("predict NaN images", lambda: train.predict(_net(), _nan_images()), ValueError, "NaN or inf"),
    bad("predict inf images", lambda: train.predict(_net(), S.images / 0), ValueError, "NaN or inf"),
    bad("predict no images", lambda: train.predict(_net(), S.images[:0]), ValueError, "images is empty"),
    bad("predict maps model", lambda: train.predict(_Maps(), S.images), ValueError, "is its head missing a pooling"),
    bad("predict dict model", lambda: train.predict(_Dict(), S.images), ValueError, "got dict"),
    # accuracy
    *tensor_rows("accuracy", lambda v: train.accuracy(_net(), v, S.labels), "images"),
    bad("accuracy labels 99", lambda: train.accuracy(_net(), S.images, torch.full((12,), 99)), ValueError, "holds 99"),
    bad("accuracy labels -1", lambda: train.accuracy(_net(), S.images, torch.full((12,), -1)), ValueError, "holds -1"),
    bad("accuracy labels short", lambda: train.accuracy(_net(), S.images, S.labels[:3]), ValueError, "one label per"),
    bad("accuracy labels 2-D", lambda: train.accuracy(_net(), S.images, S.labels[:, None]), ValueError, "1-D"),
    bad("accuracy labels list", lambda: train.accuracy(_net(), S.images, S.labels.tolist()), TypeError, "torch.Tensor"),
    bad("accuracy labels float", lambda: train.accuracy(_net(), S.images, S.labels.float()), TypeError, "integer"),
    bad("accuracy labels bool", lambda: train.accuracy(_net(), S.images, S.labels > 2), TypeError, "integer"),
    bad("accuracy labels None", lambda: train.accuracy(_net(), S.images, None), TypeError, "labels must be"),
    bad("accuracy maps model", lambda: train.accuracy(_Maps(), S.images, S.labels), ValueError, "logits"),
    bad("accuracy model None", lambda: train.accuracy(None, S.images, S.labels), TypeError, "nn.Module"),
    bad("set_seed 2**32", lambda: train.set_seed(2**32), ValueError, "seed must be < 2**32"),
    bad(
        "evaluate NaN images",
        lambda: train.evaluate(_net(), _loader(_nan_images()), "cpu"),
        ValueError,
        "NaN or inf images",
    ),
    bad(
        "fit NaN valid images",
        lambda: train.fit(_net(), DL, _loader(_nan_images()), 1, progress=False),
        ValueError,
        "NaN or inf",
    ),
]


@pytest.mark.parametrize("call, exc, phrase", ROWS)
def test_bad_input(call, exc, phrase):
    check_bad_input(call, exc, phrase)
