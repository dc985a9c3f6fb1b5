"""A small plain-PyTorch training loop, used before fastai appears in the course.

`fit` trains with AdamW and a one-cycle learning-rate schedule, shows a progress bar, and returns a
`History` of per-epoch train/valid loss and accuracy. With the same seed, on the same machine, two
runs give the same numbers (`num_workers=0`, seeded shuffling and initialisation).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ._checks import check_int, check_maps, check_model
from .device import resolve_device

__all__ = ["set_seed", "History", "fit", "evaluate", "predict", "accuracy"]


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and GPU) in one call."""
    check_int(seed, "seed", 0)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class History:
    """Per-epoch `train_loss`, `train_acc`, `valid_loss`, `valid_acc` of one `fit`."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    valid_loss: list[float] = field(default_factory=list)
    valid_acc: list[float] = field(default_factory=list)

    @property
    def overfit(self) -> float:
        """Final train accuracy minus final valid accuracy: how much the model overfits."""
        return self.train_acc[-1] - self.valid_acc[-1]

    def __repr__(self) -> str:
        if not self.train_loss:
            return "History(empty)"
        return (
            f"History({len(self.train_loss)} epochs: train loss {self.train_loss[-1]:.3f} acc {self.train_acc[-1]:.3f}"
            f" | valid loss {self.valid_loss[-1]:.3f} acc {self.valid_acc[-1]:.3f})"
        )


def _check_loader(dl: object, name: str) -> DataLoader:
    """Check that `dl` is a non-empty `DataLoader`."""
    if not isinstance(dl, DataLoader):
        raise TypeError(f"{name} must be a torch DataLoader, got {type(dl).__name__}; see gaplib.data.make_loader")
    if len(dl) == 0:
        raise ValueError(f"{name} is empty: it yields no batch")
    return dl


def _progress(it, total: int, show: bool, desc: str):
    """Wrap `it` in a fastprogress bar when `show`, else return it unchanged."""
    if not show:
        return it
    from fastprogress.fastprogress import progress_bar

    bar = progress_bar(it, total=total)
    bar.comment = desc
    return bar


@torch.no_grad()
def evaluate(model: nn.Module, dl: DataLoader, device: torch.device | str | None = None) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of `model` over `dl`."""
    _check_loader(dl, "dl")
    device = resolve_device(device)
    model.to(device).eval()
    loss, correct, n = 0.0, 0, 0
    for xb, yb in dl:
        xb, yb = xb.to(device), yb.to(device)
        out = model(xb)
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
) -> History:
    """Train `model` for `epochs` with AdamW + one-cycle LR; returns the per-epoch `History`.

    `seed` fixes the batch order and dropout; call `set_seed` before building the model to fix its
    initial weights too.
    """
    check_model(model)
    _check_loader(train_dl, "train_dl")
    _check_loader(valid_dl, "valid_dl")
    check_int(epochs, "epochs", 1)
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    device = resolve_device(device)
    set_seed(seed)
    if train_dl.generator is not None:
        train_dl.generator.manual_seed(seed)
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * len(train_dl))
    hist = History()
    for epoch in range(epochs):
        model.train()
        loss_sum, correct, n = 0.0, 0, 0
        for xb, yb in _progress(train_dl, len(train_dl), progress, f"epoch {epoch + 1}/{epochs}"):
            xb, yb = xb.to(device), yb.to(device)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(yb)
            correct += (out.argmax(1) == yb).sum().item()
            n += len(yb)
        vl, va = evaluate(model, valid_dl, device)
        hist.train_loss.append(loss_sum / n)
        hist.train_acc.append(correct / n)
        hist.valid_loss.append(vl)
        hist.valid_acc.append(va)
        if progress:
            print(f"epoch {epoch + 1}/{epochs}: train loss {loss_sum / n:.3f} acc {correct / n:.3f}"
                  f" | valid loss {vl:.3f} acc {va:.3f}")
    return hist


@torch.no_grad()
def predict(
    model: nn.Module, images: torch.Tensor, bs: int = 256, device: torch.device | str | None = None
) -> torch.Tensor:
    """Logits of `model` for `images` `(N, 3, H, W)`, computed in batches, returned on the CPU."""
    check_maps(images, "images")
    check_int(bs, "bs", 1)
    device = resolve_device(device)
    model.to(device).eval()
    return torch.cat([model(images[i : i + bs].to(device)).float().cpu() for i in range(0, len(images), bs)])


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, bs: int = 256) -> float:
    """Fraction of `images` whose predicted class equals `labels`."""
    if not isinstance(labels, torch.Tensor) or labels.ndim != 1 or len(labels) != len(images):
        got = getattr(labels, "shape", labels)
        raise ValueError(f"labels must be a 1-D tensor with one label per image ({len(images)}), got {got}")
    return (predict(model, images, bs).argmax(1) == labels).float().mean().item()
