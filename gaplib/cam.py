"""Class activation maps: where in the image a GAP network finds its evidence for a class.

- `capture`: a context manager that records a layer's output with a forward hook and always removes
  the hook, also when the forward raises.
- `cam`: CAM (Zhou et al., CVPR 2016) for a network whose head is global average pooling followed by
  exactly one linear map (`Linear` or 1x1 `Conv2d`, bias allowed). The class's weights weight the
  feature maps: ``cam_k = sum_c W[k, c] * A_c``. Because averaging and the linear map commute, the
  spatial mean of ``cam_k`` plus the bias ``b_k`` *is* logit k. Any other head (GAP -> MLP, a flatten
  head, fastai's `create_head`, global max pooling) gets a one-line error pointing to `grad_cam`:
  the weighted sum would not be that head's evidence.
- `grad_cam`: Grad-CAM (Selvaraju et al., ICCV 2017) for any head: the maps weighted by the spatial
  mean of the class score's gradient, then ReLU; one forward and one backward pass. On a GAP ->
  Linear head the gradient's mean is ``W[k] / (h * w)``, so Grad-CAM is ReLU(CAM) / (h * w). Its
  `layer` may be any convolutional layer, also one deep inside the body (`"body.2"`); CAM's must be the
  one right before the GAP -> linear head, whose weights it borrows.
- Scoring a map against a ground-truth box: `upsample` to the image size, `cam_box` (the CAM paper's
  protocol: keep values >= 20 % of the map's max, take the largest connected region, its bounding
  box), `box_iou`, and `pointing_game` (is the map's maximum inside the true box).

Boxes are ``(x0, y0, x1, y1)`` in pixels with x1/y1 exclusive, as `gaplib.data` makes them: pixel
column ``j`` is inside when ``x0 <= j < x1``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from difflib import get_close_matches

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (
    check_bool,
    check_boxes,
    check_class_index,
    check_logits,
    check_map_stack,
    check_maps,
    check_model,
    check_number,
    check_size,
)
from .pool import GlobalAvgPool, GlobalMaxPool

__all__ = ["capture", "gap_linear_head", "cam", "grad_cam", "upsample", "cam_box", "box_iou", "pointing_game"]

ClassIndex = int | Sequence[int] | torch.Tensor | None

# layers that leave a pooled vector unchanged in eval mode (Dropout is the identity there)
_PASS_THROUGH = (nn.Identity, nn.Flatten, nn.Dropout)


def _find_layer(model: nn.Module, layer: str | nn.Module) -> tuple[str, nn.Module]:
    """`(name, module)` of `layer`, given as a name from `model.named_modules()` or as one of its modules."""
    modules = dict(model.named_modules())
    if isinstance(layer, str):
        if layer in modules and layer != "":
            return layer, modules[layer]
        top = [n for n, _ in model.named_children()]
        close = get_close_matches(layer, [n for n in modules if n], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"layer {layer!r} is not in the model{hint}; pass a name from model.named_modules(), "
            f"e.g. one of its top-level layers {top}"
        )
    if isinstance(layer, nn.Module):
        for name, m in modules.items():
            if m is layer and name != "":
                return name, m
        raise ValueError(
            f"layer (a {type(layer).__name__}) is not a module of this model; pass one of its modules "
            "or a name from model.named_modules()"
        )
    raise TypeError(f"layer must be a layer name (str) or an nn.Module of the model, got {type(layer).__name__}")


@contextmanager
def capture(model: nn.Module, layer: str | nn.Module, detach: bool = True) -> Iterator[list[torch.Tensor]]:
    """Record `layer`'s output on every forward of `model` inside the `with` block; the hook is always removed.

    Yields a list that gets one tensor per call of the layer (a detached copy unless `detach=False`,
    which keeps the autograd graph for gradients)::

        with capture(model, "body") as maps:
            model(x)
        maps[0]  # (N, C, h, w)

    Notebook 07 builds it from a forward hook.
    """
    check_model(model)
    check_bool(detach, "detach")
    _, module = _find_layer(model, layer)
    outputs: list[torch.Tensor] = []

    def hook(_m: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        if detach and isinstance(output, torch.Tensor):
            output = output.detach().clone()  # a copy: a later in-place op (ReLU(inplace=True)) cannot change it
        outputs.append(output)

    handle = module.register_forward_hook(hook)
    try:
        yield outputs
    finally:
        handle.remove()


def _head_modules(model: nn.Module, layer: str | nn.Module) -> tuple[str, list[nn.Module]]:
    """The name of `layer` (a direct child of the `nn.Sequential` model) and the leaf modules that follow it."""
    check_model(model)
    name, module = _find_layer(model, layer)
    if not isinstance(model, nn.Sequential):
        raise ValueError(
            f"CAM needs an nn.Sequential model whose layer {name!r} is followed by its head, got "
            f"{type(model).__name__}; wrap it as nn.Sequential(OrderedDict(body=body, head=head)) "
            "(gaplib.pretrained.split_body_head cuts a timm model so)"
        )
    children = list(model.children())
    at = next((i for i, m in enumerate(children) if m is module), None)
    if at is None:
        raise ValueError(
            f"CAM needs the layer right before the head, a direct child of the model such as 'body', got {name!r}"
        )
    if at == len(children) - 1:
        raise ValueError(f"layer {name!r} is the model's last layer: no head follows it to take class weights from")

    def leaves(m: nn.Module) -> list[nn.Module]:
        return [x for c in m for x in leaves(c)] if isinstance(m, nn.Sequential) else [m]

    return name, [x for c in children[at + 1 :] for x in leaves(c)]


def _is_avg_pool(m: nn.Module) -> bool:
    """True for a global average pooling layer (gaplib's or `nn.AdaptiveAvgPool2d(1)`)."""
    if isinstance(m, GlobalAvgPool):
        return True
    return isinstance(m, nn.AdaptiveAvgPool2d) and m.output_size in (1, (1, 1))


def _is_1x1_conv(m: nn.Module) -> bool:
    """True for a plain 1x1 convolution: a linear map applied at every grid position."""
    return (
        isinstance(m, nn.Conv2d)
        and m.kernel_size == (1, 1)
        and m.stride == (1, 1)
        and m.padding in ((0, 0), "valid")
        and m.groups == 1
    )


def _describe(m: nn.Module) -> str:
    """A module's class name, with the kernel size for a convolution (`Conv2d(3x3)`)."""
    if isinstance(m, nn.Conv2d):
        return f"Conv2d({m.kernel_size[0]}x{m.kernel_size[1]}{', strided' if m.stride != (1, 1) else ''})"
    return type(m).__name__


def gap_linear_head(model: nn.Module, layer: str | nn.Module = "body") -> tuple[torch.Tensor, torch.Tensor]:
    """`(weight (K, C), bias (K,))` of the head after `layer`, which must be GAP and exactly one linear map.

    A head of anything else raises a one-line `ValueError` that says why and points to `grad_cam`.
    """
    name, head = _head_modules(model, layer)
    core = [m for m in head if not isinstance(m, _PASS_THROUGH)]
    chain = " -> ".join(type(m).__name__ for m in head) or "nothing"
    pools = [m for m in core if _is_avg_pool(m)]
    linears = [m for m in core if isinstance(m, nn.Linear) or _is_1x1_conv(m)]
    others = [m for m in core if m not in pools and m not in linears]
    reason = None
    if any("Concat" in type(m).__name__ for m in others):
        reason = "it concatenates max and average pooling, and the max half is not a mean"
    elif any(isinstance(m, (GlobalMaxPool, nn.AdaptiveMaxPool2d)) for m in others):
        reason = "it pools by maximum, not by average, so the map's mean is not the logit"
    elif not pools:
        flat = any(isinstance(m, nn.Flatten) for m in head)
        reason = (
            "a flatten head: it weights each grid position differently" if flat else "it has no global average pooling"
        )
    elif len(linears) > 1:
        reason = f"it has {len(linears)} linear maps (an MLP head)"
    elif others:
        reason = f"it has {', '.join(_describe(m) for m in others)} besides the pooling and the linear map"
    elif not linears:
        reason = "it has no linear map"
    elif isinstance(linears[0], nn.Linear) and core.index(linears[0]) < core.index(pools[0]):
        reason = "its Linear comes before the pooling"
    if reason is not None:
        raise ValueError(
            f"CAM needs the head after {name!r} to be global average pooling and exactly one linear map "
            f"(Linear or 1x1 Conv2d), got {chain}: {reason}; use gaplib.cam.grad_cam, which works for any head"
        )
    lin = linears[0]
    weight = lin.weight.detach().flatten(1)  # (K, C) for Linear, (K, C, 1, 1) -> (K, C) for a 1x1 conv
    bias = lin.bias.detach() if lin.bias is not None else torch.zeros(weight.shape[0], device=weight.device)
    return weight, bias


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Put every module of `model` in eval mode, and restore each one's mode afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def _device(model: nn.Module, images: torch.Tensor) -> torch.device:
    """The device of the model's parameters (the images' device for a model without any)."""
    p = next(model.parameters(), None)
    return p.device if p is not None else images.device


def _class_indices(class_idx: ClassIndex, logits: torch.Tensor) -> torch.Tensor:
    """One class index per image: the predicted class (None), one int for all, or one per image."""
    n, k = logits.shape
    if class_idx is None:
        return logits.argmax(1)
    if isinstance(class_idx, torch.Tensor) and class_idx.ndim == 0:
        class_idx = int(class_idx)
    if isinstance(class_idx, int) and not isinstance(class_idx, bool):
        return torch.full((n,), check_class_index(class_idx, k), dtype=torch.long, device=logits.device)
    if isinstance(class_idx, (torch.Tensor, Sequence)) and not isinstance(class_idx, str):
        idx = class_idx.tolist() if isinstance(class_idx, torch.Tensor) else list(class_idx)
        if isinstance(class_idx, torch.Tensor) and class_idx.ndim != 1:
            raise ValueError(f"class_idx must be an int or a 1-D list of {n} ints, got shape {tuple(class_idx.shape)}")
        if len(idx) != n:
            raise ValueError(f"class_idx must hold one class per image: {n} images but {len(idx)} classes")
        return torch.tensor([check_class_index(i, k) for i in idx], dtype=torch.long, device=logits.device)
    raise TypeError(f"class_idx must be None (the predicted class), an int or one int per image, got {class_idx!r}")


def _one_map(outputs: list, name: str) -> torch.Tensor:
    """The single `(N, C, h, w)` output the hooked layer produced during one forward."""
    if len(outputs) != 1:
        raise ValueError(f"layer {name!r} ran {len(outputs)} times in one forward; pick a layer that runs once")
    a = outputs[0]
    if not isinstance(a, torch.Tensor) or a.ndim != 4:
        got = tuple(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__
        raise ValueError(f"layer {name!r} must output feature maps (N, C, h, w), got {got}; pick a convolutional layer")
    return a


def cam(
    model: nn.Module, images: torch.Tensor, class_idx: ClassIndex = None, layer: str | nn.Module = "body"
) -> torch.Tensor:
    """CAM `(N, h, w)` of each image for its class: the maps after `layer` weighted by the head's class weights.

    `class_idx`: None (each image's predicted class), an int, or one int per image. The model is run
    in eval mode (its modes are restored). Not ReLU'd, not normalised: the spatial mean of an image's
    CAM plus the class's bias equals its logit.

    Notebook 07 builds it.
    """
    images = check_maps(images, "images")
    weight, _ = gap_linear_head(model, layer)
    name, _ = _find_layer(model, layer)
    with _eval_mode(model), torch.no_grad(), capture(model, layer) as outputs:
        logits = check_logits(model(images.to(_device(model, images))))
    maps = _one_map(outputs, name)
    idx = _class_indices(class_idx, logits)
    return torch.einsum("nchw,nc->nhw", maps, weight[idx]).to(images.device)


def grad_cam(
    model: nn.Module, images: torch.Tensor, class_idx: ClassIndex = None, layer: str | nn.Module = "body"
) -> torch.Tensor:
    """Grad-CAM `(N, h, w)` for any head: ReLU of `layer`'s maps weighted by the spatial mean of their gradient.

    Costs one forward and one backward pass through the model (for the whole batch); the model is
    run in eval mode and no parameter gradient is stored. `class_idx` as in `cam`.
    """
    images = check_maps(images, "images")
    check_model(model)
    name, _ = _find_layer(model, layer)
    with _eval_mode(model), torch.enable_grad(), capture(model, layer, detach=False) as outputs:
        x = images.to(_device(model, images)).detach().requires_grad_(True)  # a graph even with frozen weights
        logits = check_logits(model(x))
        maps = _one_map(outputs, name)
        idx = _class_indices(class_idx, logits)
        score = logits.gather(1, idx[:, None]).sum()  # images are independent in eval mode: one backward for all
        (grad,) = torch.autograd.grad(score, maps)
    weights = grad.mean((2, 3), keepdim=True)
    return F.relu((weights * maps).sum(1)).detach().to(images.device)


def upsample(maps: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling of maps `(N, h, w)` (or one `(h, w)`) to `size` (an int or `(H, W)`), same rank back."""
    m = check_map_stack(maps, "maps")
    size = check_size(size, "size", 1)
    out = F.interpolate(m[:, None].float(), size=size, mode="bilinear", align_corners=False)[:, 0]
    return out if maps.ndim == 3 else out[0]


def cam_box(maps: torch.Tensor, threshold: float = 0.2) -> torch.Tensor:
    """Box `(x0, y0, x1, y1)` of each map `(N, H, W)` (or one `(H, W)`) by the CAM paper's protocol.

    Keep the pixels at or above `threshold` times the map's maximum, take the largest 4-connected
    region among them and return its bounding box (x1/y1 exclusive), `(N, 4)` (or `(4,)`). A map with
    no positive value keeps only the pixels equal to its maximum.

    Notebook 07 builds it.
    """
    from scipy import ndimage

    m = check_map_stack(maps, "maps")
    check_number(threshold, "threshold", 0.0, 1.0, low_open=True, want="a fraction of the map's max in (0, 1]")
    boxes = []
    for a in m.detach().float().cpu().numpy():
        top = a.max()
        keep = a >= (threshold * top if top > 0 else top)
        labels, n = ndimage.label(keep)
        biggest = labels == 1 + int(np.bincount(labels.ravel())[1:].argmax())
        ys, xs = np.nonzero(biggest)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    out = torch.tensor(boxes, dtype=torch.float32)
    return out if maps.ndim == 3 else out[0]


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Intersection over union of boxes `a` and `b`, each `(N, 4)` (or one `(4,)`) as (x0, y0, x1, y1)."""
    a, b = check_boxes(a, "a"), check_boxes(b, "b")
    if a.shape != b.shape:
        raise ValueError(
            f"a and b must hold the same number of boxes, got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    a, b = a.float(), b.float().to(a.device)
    w = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    h = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp(min=0)
    inter = w * h
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])  # noqa: E731
    union = area(a) + area(b) - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def pointing_game(maps: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Whether each map's maximum `(N, H, W)` lies inside its true box `(N, 4)`, in the map's pixels: `(N,)` bool."""
    m = check_map_stack(maps, "maps")
    b = check_boxes(boxes, "boxes").reshape(-1, 4)
    if len(b) != len(m):
        raise ValueError(f"boxes must hold one box per map: {len(m)} maps but {len(b)} boxes")
    flat = m.detach().flatten(1).argmax(1).cpu()
    ys, xs = (flat // m.shape[-1]).float(), (flat % m.shape[-1]).float()
    b = b.float().cpu()
    hit = (b[:, 0] <= xs) & (xs < b[:, 2]) & (b[:, 1] <= ys) & (ys < b[:, 3])
    return hit if maps.ndim == 3 else hit[0]
