"""gaplib's kernels differentiate like PyTorch's pooling modules: twice (create_graph) and in forward mode.

`check(device)` compares values, gradients, a double backward (a gradient penalty's gradient) and forward-mode
tangents with `nn.AdaptiveAvgPool2d` / `nn.AdaptiveMaxPool2d` / fastai's concat, on inputs with tied maxima, NCHW
and channels_last. tests/test_kernels.py calls it on a GPU, and runs this file as a program under Triton's CPU
interpreter (`TRITON_INTERPRET=1 GAPLIB_KERNELS=1 python tests/_kernel_autograd.py`).
"""

from __future__ import annotations

import torch
import torch.autograd.forward_ad as fwAD
from torch import nn

from gaplib import kernels

REFERENCES = {
    "gap": lambda t: nn.AdaptiveAvgPool2d(1)(t).flatten(1),
    "gmp": lambda t: nn.AdaptiveMaxPool2d(1)(t).flatten(1),
    "concat_pool": lambda t: torch.cat([nn.AdaptiveMaxPool2d(1)(t), nn.AdaptiveAvgPool2d(1)(t)], 1).flatten(1),
}


def _derivatives(pool, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Value, gradient, double-backward gradient (w.r.t. the upstream gradient) and forward-mode tangent of `pool`."""
    xg = x.clone().requires_grad_()
    y = pool(xg)
    upstream = torch.linspace(-1, 1, y.numel(), device=x.device).view_as(y).to(y.dtype).requires_grad_()
    (grad,) = torch.autograd.grad((y * upstream).sum(), xg, create_graph=True)
    weights = torch.linspace(0, 1, grad.numel(), device=x.device).view_as(grad).to(grad.dtype)
    ((grad * weights).sum() ** 2).backward()  # a gradient penalty: differentiates the backward itself
    with fwAD.dual_level():
        tangent = torch.linspace(-2, 2, x.numel(), device=x.device).view_as(x).to(x.dtype)
        jvp = fwAD.unpack_dual(pool(fwAD.make_dual(x.clone(), tangent))).tangent
    return y.detach(), grad.detach(), upstream.grad, jvp


def check(device: str) -> None:
    """Assert that every kernel's derivatives equal its PyTorch reference's on `device`."""
    torch.manual_seed(0)
    for shape in ((2, 3, 5, 5), (2, 3, 9, 9)):  # a short map and a long one: each has kernels of its own
        x = torch.randint(-3, 4, shape, device=device).float()
        x[0, 0] = 0  # a map of ties: the gradient goes to the first maximum
        for channels_last in (False, True):
            xs = x.contiguous(memory_format=torch.channels_last) if channels_last else x
            for name, reference in REFERENCES.items():
                mine, theirs = _derivatives(getattr(kernels, name), xs), _derivatives(reference, xs)
                for a, b, what in zip(mine, theirs, ("value", "gradient", "double backward", "forward-mode tangent")):
                    torch.testing.assert_close(a, b, msg=lambda m, n=name, w=what, s=shape: f"{n} {w} ({s}): {m}")


if __name__ == "__main__":
    check("cpu")
    print("autograd ok")
