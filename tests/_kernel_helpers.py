"""Shared pieces of the kernel tests: the GPU marker, the dtypes and PyTorch references."""

from __future__ import annotations

import pytest
import torch
from torch import nn

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="the Triton kernels run on a CUDA GPU; this machine has none")

DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def ref_pool(x: torch.Tensor, mode: str) -> torch.Tensor:
    """PyTorch reference: mean in float64 rounded to x's dtype, max exact, concat as [max, avg]."""
    avg = x.double().mean((2, 3)).to(x.dtype)
    mx = x.amax((2, 3))
    return {"gap": avg, "gmp": mx, "concat_pool": torch.cat([mx, avg], 1)}[mode]


def ref_grad(x: torch.Tensor, g: torch.Tensor, mode: str) -> torch.Tensor:
    """Reference input gradient in float32: mean spreads g/(H*W); max sends g to the first maximum."""
    N, C, H, W = x.shape
    L = H * W
    first_max = nn.functional.one_hot(x.float().flatten(2).argmax(2), L).float()
    g = g.float()
    if mode == "gap":
        out = g[..., None].expand(N, C, L) / L
    elif mode == "gmp":
        out = first_max * g[..., None]
    else:
        out = first_max * g[:, :C, None] + g[:, C:, None] / L
    return out.reshape(N, C, H, W)


def layout(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x.contiguous()
