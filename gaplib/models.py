"""The course's models: the post's GAP model verbatim, and the heads the course compares.

Every builder except `post_model` returns `nn.Sequential(body=..., head=...)`, so the same
convolutional body can wear a flatten head, a stride-to-1x1 head, a GAP head or a NiN head, and
`count_params` can split the bill between body and head.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from ._checks import check_cost, check_fraction, check_int, check_ints, check_model
from .pool import GlobalAvgPool

__all__ = [
    "trace",
    "post_model",
    "conv_block",
    "conv_body",
    "grid_size",
    "flatten_cnn",
    "n_stride_layers",
    "stride_cnn",
    "gap_cnn",
    "nin_net",
    "mlpconv_net",
    "count_params",
]

DEFAULT_WIDTHS = (16, 32, 64)


def _check_widths(widths: object) -> tuple[int, ...]:
    """Check that `widths` is a non-empty sequence of positive channel counts."""
    return tuple(check_ints(widths, "widths", 1, "each width", "a non-empty sequence of channel counts"))


def post_model(n_classes: int = 10, width: int = 32) -> nn.Sequential:
    """The post's model: three conv pairs, `AdaptiveAvgPool2d((1,1))`, Flatten, Linear 256→128→56→n.

    The default `width=32` is the post's model verbatim; a smaller `width` scales every layer by
    `width / 32` (channels `w, 2w, 4w, 4w, 8w, 8w`, linears `8w → 4w → 56w/32 → n`) for a CPU budget.

    Notebook 03 builds it from the post.
    """
    check_int(n_classes, "n_classes", 2)
    w = check_int(width, "width", 4)
    c1, c2, c3, c4 = w, 2 * w, 4 * w, 8 * w
    _check_param_memory(f"post_model(width={w})", 9 * (3 * c1 + c1 * c2 + c2 * c3 + c3 * c3 + c3 * c4 + c4 * c4))
    _check_param_memory("the head", c4 * c3 + c3 * n_classes)
    convs = []
    for c_in, c_mid, c_out in ((3, c1, c2), (c2, c3, c3), (c3, c4, c4)):  # the post's three conv pairs
        convs += [nn.Conv2d(c_in, c_mid, kernel_size=3, padding=1), nn.ReLU()]
        convs += [nn.Conv2d(c_mid, c_out, kernel_size=3, stride=1, padding=1), nn.ReLU()]
        convs += [nn.MaxPool2d(2, 2), nn.BatchNorm2d(c_out)]
    return nn.Sequential(
        *convs,
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
        nn.Linear(c4, c3),
        nn.ReLU(),
        nn.Linear(c3, round(56 * w / 32)),
        nn.ReLU(),
        nn.Linear(round(56 * w / 32), n_classes),
    )


def conv_block(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution, BatchNorm, ReLU; `stride=2` halves the grid (rounding up)."""
    check_int(in_channels, "in_channels", 1)
    check_int(out_channels, "out_channels", 1)
    check_int(stride, "stride", 1)
    _check_param_memory("conv_block", 9 * in_channels * out_channels)
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def _check_param_memory(what: str, n_params: int) -> None:
    """Refuse up front a layer whose weights would not fit in memory (4 bytes each, 4 copies to train)."""
    hint = "use fewer channels or a smaller size"
    check_cost(f"{what} with {n_params:,} weights", 5e-9 * n_params, 16 * n_params, hint)


def conv_body(widths: Sequence[int] = DEFAULT_WIDTHS, in_channels: int = 3) -> nn.Sequential:
    """Feature extractor: one `conv_block` + `MaxPool2d(2)` per width, so the grid shrinks 2x per stage."""
    widths = _check_widths(widths)
    check_int(in_channels, "in_channels", 1)
    layers, ni = [], in_channels
    for nf in widths:
        layers += [conv_block(ni, nf), nn.MaxPool2d(2)]
        ni = nf
    return nn.Sequential(*layers)


def grid_size(size: int, n_stages: int) -> int:
    """Side of the grid that `conv_body` with `n_stages` widths leaves from a `size` px image."""
    check_int(size, "size", 1)
    check_int(n_stages, "n_stages", 0)
    g = size // 2**n_stages
    if g < 1:
        raise ValueError(f"a {size} px image is too small for {n_stages} pooling stages (grid would be 0 x 0)")
    return g


def _model(body: nn.Module, head: nn.Module) -> nn.Sequential:
    """`nn.Sequential` with named `body` and `head` children."""
    return nn.Sequential(OrderedDict(body=body, head=head))


def flatten_cnn(
    size: int,
    n_classes: int,
    widths: Sequence[int] = DEFAULT_WIDTHS,
    hidden: int | None = 256,
    dropout: float = 0.0,
) -> nn.Sequential:
    """The classic design: `conv_body` → Flatten → Linear(C·g·g, hidden) → ReLU → [Dropout] → Linear; one size only.

    `hidden=None` drops the hidden layer: Flatten → [Dropout] → Linear(C·g·g, n_classes), still one weight
    per (channel, grid cell, class).

    Notebook 01 builds this network layer by layer before calling it.
    """
    widths, n_classes = _check_widths(widths), check_int(n_classes, "n_classes", 2)
    _check_param_memory("the head", widths[-1] * n_classes)
    g, p = grid_size(size, len(widths)), check_fraction(dropout, "dropout")
    if hidden is not None:
        check_int(hidden, "hidden", 1)
    _check_param_memory(f"flatten_cnn(size={size}) head", widths[-1] * g * g * (hidden or n_classes))
    n_in, drop = widths[-1] * g * g, [nn.Dropout(p)] if p > 0 else []
    if hidden is None:
        return _model(conv_body(widths), nn.Sequential(nn.Flatten(), *drop, nn.Linear(n_in, n_classes)))
    hidden = check_int(hidden, "hidden", 1)
    head = [nn.Flatten(), nn.Linear(n_in, hidden), nn.ReLU(inplace=True), *drop, nn.Linear(hidden, n_classes)]
    return _model(conv_body(widths), nn.Sequential(*head))


def n_stride_layers(size: int) -> int:
    """How many stride-2 convolutions shrink a `size` px grid to 1x1: ceil(log2(size)).

    Notebook 02 derives it.
    """
    check_int(size, "size", 1)
    return math.ceil(math.log2(size)) if size > 1 else 0


def stride_cnn(size: int, n_classes: int, width: int = 8) -> nn.Sequential:
    """Stride to 1x1 as fastbook builds it: a stride-1 `conv_block`, then stride-2 ones that double the channels.

    The body is `conv_block(3, width)` followed by `n_stride_layers(size)` stride-2 blocks with
    `2·width, 4·width, …` channels, so a `size` px image leaves a 1x1 grid of `width · 2**n` channels;
    the head is Flatten → Linear. One input size only.
    """
    n_classes, width = check_int(n_classes, "n_classes", 2), check_int(width, "width", 1)
    n = n_stride_layers(size)
    chans = [width * 2**i for i in range(n + 1)]
    blocks = [conv_block(3, width)] + [conv_block(chans[i], chans[i + 1], stride=2) for i in range(n)]
    return _model(nn.Sequential(*blocks), nn.Sequential(nn.Flatten(), nn.Linear(chans[-1], n_classes)))


def gap_cnn(n_classes: int, widths: Sequence[int] = DEFAULT_WIDTHS) -> nn.Sequential:
    """Fully convolutional: `conv_body` → `GlobalAvgPool` → Linear; works at any input size."""
    widths, n_classes = _check_widths(widths), check_int(n_classes, "n_classes", 2)
    _check_param_memory("the head", widths[-1] * n_classes)
    return _model(conv_body(widths), nn.Sequential(GlobalAvgPool(), nn.Linear(widths[-1], n_classes)))


def nin_net(n_classes: int, widths: Sequence[int] = DEFAULT_WIDTHS) -> nn.Sequential:
    """Network-in-Network head: a 1x1 conv makes one map per class, `GlobalAvgPool` turns each into a logit."""
    widths, n_classes = _check_widths(widths), check_int(n_classes, "n_classes", 2)
    _check_param_memory("the head", widths[-1] * n_classes)
    head = nn.Sequential(nn.Conv2d(widths[-1], n_classes, 1), GlobalAvgPool())
    return _model(conv_body(widths), head)


def mlpconv_net(n_classes: int, widths: Sequence[int] = DEFAULT_WIDTHS, hidden: int | None = None) -> nn.Sequential:
    """NiN's mlpconv head: 1x1 conv to `hidden` channels → ReLU → 1x1 conv to one map per class → `GlobalAvgPool`.

    `hidden` defaults to the body's last width. Unlike `nin_net`'s single (linear) 1x1 conv, the ReLU
    between the two 1x1 convs makes the head a small MLP applied at every grid position.

    Notebook 04 builds its head.
    """
    widths, n_classes = _check_widths(widths), check_int(n_classes, "n_classes", 2)
    _check_param_memory("the head", widths[-1] * n_classes)
    hidden = widths[-1] if hidden is None else check_int(hidden, "hidden", 1)
    head = nn.Sequential(
        nn.Conv2d(widths[-1], hidden, 1),
        nn.ReLU(inplace=True),
        nn.Conv2d(hidden, n_classes, 1),
        GlobalAvgPool(),
    )
    return _model(conv_body(widths), head)


_HEAD_STARTS = (nn.Flatten, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, GlobalAvgPool)


def count_params(model: nn.Module) -> dict[str, int]:
    """Trainable parameters split into `body`, `head` and `total`.

    A model with `body`/`head` children is split there; a flat `nn.Sequential` (like `post_model`) is
    split at its first global pooling or Flatten layer.
    """
    check_model(model)

    def n(m: nn.Module) -> int:
        return sum(p.numel() for p in m.parameters() if p.requires_grad)

    children = dict(model.named_children())
    if "body" in children and "head" in children:
        body, head = n(children["body"]), n(children["head"])
    elif isinstance(model, nn.Sequential):
        layers = list(model)
        cut = next((i for i, m in enumerate(layers) if isinstance(m, _HEAD_STARTS)), None)
        if cut is None:
            raise ValueError(
                "count_params cannot split this nn.Sequential into body and head: it has no Flatten or global"
                " pooling layer; give the model `body`/`head` children"
            )
        body, head = sum(n(m) for m in layers[:cut]), sum(n(m) for m in layers[cut:])
    else:
        raise ValueError("count_params needs `body`/`head` children or an nn.Sequential with a pooling/Flatten layer")
    return {"body": body, "head": head, "total": body + head}


def trace(model: nn.Module, size: int) -> torch.Tensor:
    """Print the output shape of each top-level layer of `model` for one `size` px image; return the output.

    Notebook 01 builds it; notebook 02 imports it from here.
    """
    check_model(model)
    check_int(size, "size", 1)
    x = torch.zeros(1, 3, size, size, device=next(model.parameters(), torch.zeros(())).device)
    print(f"{'input':<8} {tuple(x.shape)}")
    with torch.no_grad():
        for name, layer in model.named_children():
            x = layer(x)
            print(f"{name:<8} {tuple(x.shape)}")
    return x
