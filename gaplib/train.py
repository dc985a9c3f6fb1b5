"""A small plain-PyTorch training loop, used before fastai appears in the course.

`fit` trains with AdamW and a one-cycle learning-rate schedule, shows one progress bar, and returns a
`History` of per-epoch train/valid loss and accuracy. With the same seed, on the same machine, two
runs give the same numbers (`num_workers=0`, seeded shuffling and initialisation).

The course's one plateau criterion lives here: a model has reached its plateau when its accuracy on its
own training set, measured in eval mode after training, is at least `PLATEAU_TRAIN_ACC`
(`reached_plateau`). A fair comparison asserts an ordering only between models that all reached it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ._checks import (
    check_bool,
    check_filled_maps,
    check_int,
    check_labels,
    check_loader,
    check_logits,
    check_maps,
    check_model,
    check_number,
)
from .device import resolve_device

__all__ = ["PLATEAU_TRAIN_ACC", "reached_plateau", "set_seed", "History", "fit", "evaluate", "predict", "accuracy"]

PLATEAU_TRAIN_ACC = 0.98
"""Train accuracy (eval mode, after training) at or above which a model counts as trained to its plateau.

One-cycle training anneals the learning rate to zero, so every curve flattens by construction and "it
stopped rising" says nothing; fitting the training set is what a longer run could not improve on. A model
below it is "budget-limited": the course asserts nothing that depends on it having converged.
"""


def reached_plateau(train_acc: float) -> bool:
    """Whether a model whose eval-mode train accuracy is `train_acc` has reached the course's plateau."""
    check_number(train_acc, "train_acc", 0.0, 1.0)
    return train_acc >= PLATEAU_TRAIN_ACC


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and GPU) in one call."""
    check_int(seed, "seed", 0)
    if seed >= 2**32:
        raise ValueError(f"seed must be < 2**32 (NumPy's limit), got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class History:
    """Per-epoch `train_loss`, `train_acc`, `valid_loss`, `valid_acc` of one `fit`, and its `final_train_acc`.

    The per-epoch `train_acc` is the running accuracy on the training batches in train mode (dropout on,
    BatchNorm on batch statistics), as the loop sees it; `final_train_acc` is measured once after training
    in eval mode, like `valid_acc`, so the two compare like with like (`overfit`, `plateaued`). An epoch that
    `fit(..., valid_each_epoch=False)` did not score has NaN valid loss and accuracy.
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    valid_loss: list[float] = field(default_factory=list)
    valid_acc: list[float] = field(default_factory=list)
    final_train_acc: float | None = None

    @property
    def curves(self) -> dict[str, list[float]]:
        """The four per-epoch lists by name: `train_loss`, `train_acc`, `valid_loss`, `valid_acc`."""
        return {k: getattr(self, k) for k in ("train_loss", "train_acc", "valid_loss", "valid_acc")}

    @property
    def plateaued(self) -> bool:
        """Whether the trained model reached the course's plateau (`reached_plateau` of `final_train_acc`)."""
        if self.final_train_acc is None:
            raise ValueError("this History has no final_train_acc: train with fit() first")
        return reached_plateau(self.final_train_acc)

    @property
    def overfit(self) -> float:
        """Final train accuracy (eval mode) minus final valid accuracy: how much the model overfits."""
        if not self.train_acc or not self.valid_acc:
            raise ValueError("this History is empty: train with fit() first")
        train = self.train_acc[-1] if self.final_train_acc is None else self.final_train_acc
        return train - self.valid_acc[-1]

    def __repr__(self) -> str:
        lengths = {k: len(v) for k, v in self.curves.items()}
        if not any(lengths.values()):
            return "History(empty)"
        if len(set(lengths.values())) != 1:
            sizes = ", ".join(f"{k} {n}" for k, n in lengths.items())
            return f"History(partly filled: {sizes} epochs)"
        final = "" if self.final_train_acc is None else f", eval-mode train acc {self.final_train_acc:.3f}"
        return (
            f"History({len(self.train_loss)} epochs: train loss {self.train_loss[-1]:.3f} acc {self.train_acc[-1]:.3f}"
            f" | valid loss {self.valid_loss[-1]:.3f} acc {self.valid_acc[-1]:.3f}{final})"
        )


def _check_batch(batch: object, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Check that a loader's `batch` is an (images, labels) pair of tensors."""
    if not isinstance(batch, (list, tuple)) or len(batch) != 2 or not all(isinstance(t, torch.Tensor) for t in batch):
        got = f"{type(batch).__name__} of {len(batch)}" if isinstance(batch, (list, tuple)) else type(batch).__name__
        raise TypeError(f"{where} must yield (images, labels) pairs of tensors, got a {got}")
    if not batch[0].is_floating_point():
        raise TypeError(f"{where} yields {batch[0].dtype} images; models need float images, e.g. images.float() / 255")
    return batch[0], batch[1]


def _check_output(out: object, yb: torch.Tensor, where: str) -> torch.Tensor:
    """Check that the model gave `(N, n_classes)` logits for a batch and that its labels `yb` are in range."""
    check_logits(out, len(yb), f" for {where}")
    check_labels(yb, len(out), out.shape[1], f"labels of {where}")
    return out


class _Progress:
    """One fastprogress bar over all the training steps of a `fit` (none when `show` is False)."""

    def __init__(self, steps: int, show: bool):
        self.bar = self.steps = None
        if show:
            from fastprogress.fastprogress import progress_bar

            self.bar = progress_bar(range(steps))
            self.steps = iter(self.bar)
            next(self.steps)

    def step(self, comment: str | None = None) -> None:
        """Advance the bar by one training step; `comment` replaces the text beside it."""
        if self.bar is not None:
            if comment is not None:
                self.bar.comment = comment
            next(self.steps, None)


@torch.no_grad()
def evaluate(model: nn.Module, dl: DataLoader, device: torch.device | str | None = None) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of `model` over `dl`."""
    check_model(model)
    check_loader(dl, "dl")
    device = resolve_device(device)
    model.to(device).eval()
    loss, correct, n = 0.0, 0, 0
    for i, batch in enumerate(dl):
        xb, yb = _check_batch(batch, "dl")
        if not torch.isfinite(xb).all():
            raise ValueError(
                f"batch {i + 1} of dl holds NaN or inf images; accuracy and loss on them would be meaningless"
            )
        xb, yb = xb.to(device), yb.to(device)
        out = _check_output(model(xb), yb, f"batch {i + 1} of dl")
        loss += F.cross_entropy(out, yb, reduction="sum").item()
        correct += (out.argmax(1) == yb).sum().item()
        n += len(yb)
    return loss / n, correct / n


def fit(
    model: nn.Module,
    train_dl: DataLoader,
    valid_dl: DataLoader,
    epochs: int = 5,
    lr: float = 1e-2,
    weight_decay: float = 1e-2,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool = True,
    valid_each_epoch: bool = True,
) -> History:
    """Train `model` for `epochs` with AdamW + one-cycle LR; returns the per-epoch `History`.

    After the last epoch, the model's accuracy on `train_dl` is measured once in eval mode
    (`History.final_train_acc`; `History.plateaued` applies the course's plateau criterion to it) on the training
    images as they are: for a shift-augmented loader (`gaplib.data.make_loader(..., shift=k)`), its `unshifted` twin.

    `valid_each_epoch=False` scores `valid_dl` after the last epoch only (the earlier epochs' valid loss and
    accuracy are NaN): the same training and the same final numbers, about a fifth faster on small models,
    for a comparison that reads only the final accuracies.

    `seed` fixes the batch order and dropout; call `set_seed` before building the model to fix its
    initial weights too. A NaN or inf loss stops training at once with a `FloatingPointError` naming the
    epoch and batch (too high an `lr`, or NaN/inf in the data), rather than returning a history of NaNs.
    """
    check_model(model)
    check_loader(train_dl, "train_dl")
    check_loader(valid_dl, "valid_dl")
    check_int(epochs, "epochs", 1)
    check_number(lr, "lr", 0.0, low_open=True)
    check_number(weight_decay, "weight_decay", 0.0)
    check_int(seed, "seed", 0)
    check_bool(progress, "progress")
    check_bool(valid_each_epoch, "valid_each_epoch")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("model has no trainable parameters: there is nothing for fit to train")
    device = resolve_device(device)
    set_seed(seed)
    if train_dl.generator is not None:
        train_dl.generator.manual_seed(seed)
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * len(train_dl))
    hist = History()
    bar = _Progress(epochs * len(train_dl), progress)
    for epoch in range(epochs):
        model.train()
        loss_sum, correct, n = 0.0, 0, 0
        for i, batch in enumerate(train_dl):
            where = f"epoch {epoch + 1}/{epochs}, batch {i + 1}/{len(train_dl)}"
            xb, yb = _check_batch(batch, "train_dl")
            xb, yb = xb.to(device), yb.to(device)
            out = _check_output(model(xb), yb, where)
            loss = F.cross_entropy(out, yb)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"training loss became {loss.item()} at {where} (lr={lr}); lower lr or look for NaN/inf in the data"
                )
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(yb)
            correct += (out.argmax(1) == yb).sum().item()
            n += len(yb)
            if i + 1 < len(train_dl):
                bar.step()
        scored = valid_each_epoch or epoch + 1 == epochs
        vl, va = evaluate(model, valid_dl, device) if scored else (math.nan, math.nan)
        hist.train_loss.append(loss_sum / n)
        hist.train_acc.append(correct / n)
        hist.valid_loss.append(vl)
        hist.valid_acc.append(va)
        line = f"epoch {epoch + 1}/{epochs}: train loss {loss_sum / n:.3f} acc {correct / n:.3f}"
        line += f" | valid loss {vl:.3f} acc {va:.3f}" if scored else " | valid not scored"
        bar.step(line)
        if progress:
            print(line)
    hist.final_train_acc = evaluate(model, getattr(train_dl, "unshifted", train_dl), device)[1]
    return hist


@torch.no_grad()
def predict(
    model: nn.Module, images: torch.Tensor, bs: int = 256, device: torch.device | str | None = None
) -> torch.Tensor:
    """Logits of `model` for `images` `(N, 3, H, W)`, computed in batches, returned on the CPU."""
    check_model(model)
    check_filled_maps(images, "images", "predict")
    check_int(bs, "bs", 1)
    device = resolve_device(device)
    model.to(device).eval()
    outs = []
    for i in range(0, len(images), bs):
        out = check_logits(model(images[i : i + bs].to(device)), hint="; is its head missing a pooling?")
        outs.append(out.float().cpu())
    return torch.cat(outs)


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, bs: int = 256) -> float:
    """Fraction of `images` whose predicted class equals `labels`."""
    check_maps(images, "images")
    check_labels(labels, len(images))
    logits = predict(model, images, bs)
    check_labels(labels, len(images), logits.shape[1])
    return (logits.argmax(1) == labels.to(logits.device)).float().mean().item()
