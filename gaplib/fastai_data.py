"""fastai `DataLoaders` over an ImageNet-style folder: the course's shapes offline, Imagenette online.

`folder_dls` is the one loading function notebook 05 runs on either dataset, and the one the tests
point at small local folders. fastai is imported inside it, so `import gaplib` stays light.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ._checks import check_cost, check_dir, check_int, check_stats
from .device import resolve_device

if TYPE_CHECKING:
    from fastai.data.core import DataLoaders

__all__ = ["VALID_NAMES", "folder_dls"]

VALID_NAMES = ("valid", "val")  # gaplib writes `valid/`, Imagenette ships `val/`


def _split_names(root: Path) -> tuple[str, str]:
    """The train and validation subfolder names of `root`, or a one-line FileNotFoundError."""
    if not (root / "train").is_dir():
        raise FileNotFoundError(f"{str(root)!r} has no train/ folder: expected train/<class>/<image> and valid/")
    for name in VALID_NAMES:
        if (root / name).is_dir():
            return "train", name
    raise FileNotFoundError(f"{str(root)!r} has no validation folder: expected valid/ or val/ beside train/")


def _check_images(files: list) -> None:
    """Check that every image file opens: a corrupt, truncated or empty one would fail only at its batch."""
    from PIL import Image

    for f in files:
        try:
            if Path(f).stat().st_size == 0:
                raise OSError("the file is empty")
            with Image.open(f) as im:
                im.verify()
        except Exception as e:  # PIL raises many kinds for broken files
            reason = " ".join(str(e).split()) or type(e).__name__
            raise ValueError(f"cannot read image {str(f)!r} (corrupt, truncated or not an image): {reason}") from None


def folder_dls(
    path: str | Path,
    size: int,
    bs: int = 64,
    seed: int = 0,
    device: torch.device | str | None = None,
    stats: tuple[Sequence[float], Sequence[float]] | None = None,
) -> DataLoaders:
    """fastai `DataLoaders` over `path/{train,valid or val}/<class>/<image>`, every image resized to `size` px.

    Pixels stay in [0, 1] unless `stats=(mean, std)` is given: then every batch is normalised with fastai's
    `Normalize.from_stats(mean, std)` (a pretrained body's statistics; `show_batch` still shows the photos).
    """
    root = check_dir(path, "image folder")
    check_int(size, "size", 1)
    check_int(bs, "bs", 1)
    check_cost(f"folder_dls(size={size}, bs={bs})", 0.0, 3 * 4 * 3 * size * size * bs, "use a smaller size or bs")
    check_int(seed, "seed", 0)
    mean_std = check_stats(stats)
    train, valid = _split_names(root)

    from fastai.vision.all import (
        CategoryBlock,
        DataBlock,
        GrandparentSplitter,
        ImageBlock,
        Normalize,
        Resize,
        get_image_files,
        parent_label,
    )

    for split in (train, valid):
        files = get_image_files(root / split)
        if not files:
            raise FileNotFoundError(f"no image files under {str(root / split)!r}: expected {split}/<class>/<image>")
        stray = next((f for f in files if f.parent.parent != root / split), None)
        if stray is not None:
            raise ValueError(f"{str(stray)!r} is not one level below {split}/: the layout is {split}/<class>/<image>")
        _check_images(files)
    names = {split: {f.parent.name for f in get_image_files(root / split)} for split in (train, valid)}
    lacking = sorted(names[valid] - names[train])
    if lacking:
        raise ValueError(f"{valid}/ has the class {lacking[0]!r} that {train}/ lacks: a model cannot learn it")
    dblock = DataBlock(
        blocks=(ImageBlock, CategoryBlock),
        get_items=partial(get_image_files, folders=[train, valid]),
        splitter=GrandparentSplitter(train_name=train, valid_name=valid),
        get_y=parent_label,
        item_tfms=Resize(size),
        batch_tfms=None if mean_std is None else [Normalize.from_stats(*mean_std, cuda=False)],
    )
    device = resolve_device(device)
    dls = dblock.dataloaders(root, bs=bs, num_workers=0, device=device)
    dls.train.rng = random.Random(seed)  # seeded shuffling, without touching the global random state
    return dls
