"""gaplib's kernels differentiate like PyTorch's pooling modules: twice (create_graph) and in forward mode.

`check(device)` compares values, gradients, a double backward (a gradient penalty's gradient) and forward-mode
tangents with `nn.AdaptiveAvgPool2d` / `nn.AdaptiveMaxPool2d` / fastai's concat, on inputs with tied maxima, NCHW
and channels_last; `gradchecks(device)` runs `gradcheck` / `gradgradcheck` in float64 and compares Jacobians and
`torch.func.jvp` with those modules; `check_one_tie_rule(device)` checks that `gaplib.pool` sends a float16 /
bfloat16 max gradient to the first maximum on both sides of its kernels' size threshold. tests/test_kernels.py
calls them on a GPU, and runs this file as a program under Triton's CPU interpreter
(`TRITON_INTERPRET=1 GAPLIB_KERNELS=1 python tests/_kernel_autograd.py`).
"""

from __future__ import annotations

import torch
import torch.autograd.forward_ad as fwAD
from torch import nn

from gaplib import kernels, pool

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


def _dyadic(shape: tuple[int, ...], device: str, channels_last: bool) -> torch.Tensor:
    """Distinct float64 multiples of 1/64 near [-1, 1]: each one, moved by `EPS`, is exact in float32."""
    n = torch.tensor(shape).prod().item()
    x = ((torch.randperm(n) - n // 2) / 64).double().view(shape).to(device)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


EPS = 2**-8  # gradcheck's step: a quarter of the values' spacing, so no step changes which value is the max


def _in_float64(pool_fn):
    """`pool_fn` of a float64 tensor: the kernels take float32, so the input is cast down and the result back up.

    With `_dyadic` inputs and `EPS` steps every value the kernels see is exact, so finite differences along one
    input are too; gradcheck's fast mode steps along a random direction, which float32 rounds (an error near 1e-5).
    """
    return lambda x: pool_fn(x.float()).double()


def gradchecks(device: str) -> None:
    """gradcheck / gradgradcheck in float64, and the Jacobian and `torch.func.jvp` equal to the nn modules'."""
    torch.manual_seed(1)
    for shape in ((1, 2, 3, 3), (1, 1, 9, 9)):  # a short map and a long one
        for channels_last in (False, True):
            x = _dyadic(shape, device, channels_last)
            tangent = torch.randn_like(x)
            for name, reference in REFERENCES.items():
                mine = _in_float64(getattr(kernels, name))
                what = f"{name} {shape} {'channels_last' if channels_last else 'NCHW'}"
                xg = x.clone().requires_grad_()
                tolerances = dict(eps=EPS, atol=1e-4, rtol=1e-3, fast_mode=True)  # fast: few interpreted launches
                assert torch.autograd.gradcheck(mine, (xg,), **tolerances), what
                assert torch.autograd.gradgradcheck(mine, (xg,), **tolerances), what
                jacobians = [torch.autograd.functional.jacobian(f, x) for f in (mine, reference)]
                torch.testing.assert_close(*jacobians, rtol=1e-6, atol=1e-7, msg=lambda m, w=what: f"{w}: {m}")
                tangents = [torch.func.jvp(f, (x,), (tangent,))[1] for f in (mine, reference)]
                torch.testing.assert_close(*tangents, rtol=1e-6, atol=1e-6, msg=lambda m, w=what: f"{w} jvp: {m}")


def check_one_tie_rule(device: str) -> None:
    """`gaplib.pool`'s max gradient goes to the first maximum, as nn.AdaptiveMaxPool2d's, above and below the
    kernels' size threshold (`KERNEL_MIN_NUMEL`, moved to the test tensor's size), in float16 and bfloat16."""
    saved = pool.KERNEL_MIN_NUMEL
    try:
        for shape in ((2, 4, 5, 5), (2, 3, 9, 9)):
            for dtype in (torch.float16, torch.bfloat16):
                for channels_last in (False, True):
                    x = torch.randint(0, 3, shape, device=device).to(dtype)  # ties everywhere
                    x[0, 0] = 0  # a whole map of ties, like a dead ReLU channel
                    x = x.contiguous(memory_format=torch.channels_last) if channels_last else x
                    for threshold, by_kernels in ((x.numel(), True), (x.numel() + 1, False)):
                        pool.KERNEL_MIN_NUMEL = threshold
                        for fn in (pool.gmp, pool.concat_pool):
                            mine, theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
                            y = fn(mine)
                            assert ("GlobalPool" in type(y.grad_fn).__name__) == by_kernels, (fn, threshold)
                            y[:, : shape[1]].float().sum().backward()
                            nn.AdaptiveMaxPool2d(1)(theirs).float().sum().backward()
                            what = f"{fn.__name__} {dtype} {shape} kernels={by_kernels} cl={channels_last}"
                            assert torch.equal(mine.grad, theirs.grad), f"{what}: not the first maximum"
                            assert mine.grad[0, 0].flatten()[0] == 1 and mine.grad[0, 0].sum() == 1, what
    finally:
        pool.KERNEL_MIN_NUMEL = saved


if __name__ == "__main__":
    check("cpu")
    gradchecks("cpu")
    check_one_tie_rule("cpu")
    print("autograd ok")
