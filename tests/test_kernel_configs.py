"""GPU tests of every block configuration and short-map kernel of gaplib.kernels (they skip without CUDA).

A file of their own so that a parallel test run (`--dist loadfile`) spreads them over another worker.
"""

from __future__ import annotations

import pytest
import torch
from _kernel_helpers import DTYPES, layout, needs_cuda, ref_grad, ref_pool

from gaplib import kernels
from gaplib.kernels import tuning

B = tuning.BlockConfig


@needs_cuda
@pytest.mark.parametrize(
    "override",
    [
        # tiny blocks: H x W split across programs, then combined
        dict(rows_forward=B(1, 16, 4), channels_last_forward=B(16, 4, 4)),
        dict(
            rows_forward=B(4, 512, 4),
            rows_backward=B(2, 256, 4),
            channels_last_forward=B(64, 32, 4),
            channels_last_backward=B(32, 32, 4),
        ),
        dict(rows_forward=B(2, 256, 4, stages=3), channels_last_forward=B(32, 32, 4, stages=3)),  # loads prefetched
        # short maps: rows in a tile (int64 argmax key), 16-bit values two to a word, big row chunks backward
        dict(pairs_forward=None, short_forward=B(64, 8, 2, argmax_method="key64"), short_backward=B(256, warps=8)),
        # 16-bit backward: values and argmax packed per row
        dict(pairs_forward=B(64, 16, 4), short_backward=B(32, warps=4, packed=True)),
    ],
    ids=["split", "loop", "pipelined", "short-tile", "short-pairs"],
)
@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "channels_last"])
def test_every_kernel_configuration_agrees(override, channels_last):
    with tuning.override(**override):
        _agrees_on_three_shapes(channels_last)


def _agrees_on_three_shapes(channels_last: bool) -> None:
    for shape in [(2, 48, 7, 7), (3, 5, 33, 31), (1, 3, 64, 64)]:
        for dtype in (torch.float32, torch.bfloat16):
            x = layout(torch.randn(shape, device="cuda").to(dtype), channels_last)
            xg = x.clone().requires_grad_(True)
            y = kernels.concat_pool(xg)
            torch.testing.assert_close(y, ref_pool(x, "concat_pool"))
            g = torch.randn_like(y)
            y.backward(g)
            tol = 1e-6 if dtype == torch.float32 else 8e-3
            torch.testing.assert_close(xg.grad.float(), ref_grad(x, g, "concat_pool"), rtol=tol, atol=tol)
            torch.testing.assert_close(kernels.gap(x), ref_pool(x, "gap"))
            assert torch.equal(kernels.gmp(x), ref_pool(x, "gmp"))


# the short-map NCHW kernels; blocks of 8 and 16 rows leave a partial block on most shapes below
SHORT_VARIANTS = {
    "default": {},
    "tile": dict(pairs_forward=None, short_forward=B(8, 16, 4, argmax_method="reduce"), short_backward=B(8, warps=4)),
    "tile-key": dict(
        pairs_forward=None, short_forward=B(16, 4, 2, argmax_method="key32"), short_backward=B(16, warps=2)
    ),
    "pairs": dict(pairs_forward=B(4, 4, 2), short_backward=B(32, warps=4)),
    "pairs-packed": dict(pairs_forward=B(8, 8, 4), short_backward=B(16, warps=4, packed=True)),
    "window": dict(window_forward=B(16, warps=1)),  # no argmax: rows read through aligned 16-byte windows
    "window-wide": dict(window_forward=B(64, warps=4), pairs_forward=None),
}


@needs_cuda
@pytest.mark.parametrize("variant", list(SHORT_VARIANTS), ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_short_map_kernels_match_pytorch(variant, dtype, poisoned_cache):
    """Odd H*W (49, 25, 9, 1, 15, 64) and row counts that leave a partial chunk, with ties, NaN and +-inf."""
    with tuning.override(**SHORT_VARIANTS[variant]):
        _short_maps_agree(dtype)


def _short_maps_agree(dtype: torch.dtype) -> None:
    for shape in [
        (3, 37, 7, 7),
        (5, 13, 5, 5),
        (7, 11, 3, 3),
        (3, 29, 1, 1),
        (2, 9, 3, 5),
        (3, 17, 8, 8),
        (64, 65, 7, 7),
    ]:
        torch.manual_seed(sum(shape))
        N, C, H, W = shape
        for ties in (False, True):
            x = torch.randint(-2, 3, shape, device="cuda") if ties else torch.randn(shape, device="cuda")
            x = x.to(dtype)
            assert kernels.available(x)
            for mode, fn in [("gap", kernels.gap), ("gmp", kernels.gmp), ("concat_pool", kernels.concat_pool)]:
                with torch.no_grad():
                    y0 = fn(x)
                xg = x.clone().requires_grad_(True)
                y = fn(xg)
                if mode == "gmp":
                    assert torch.equal(y, ref_pool(x, mode)) and torch.equal(y0, y), "the max of each map is exact"
                else:
                    torch.testing.assert_close(y, ref_pool(x, mode))
                    torch.testing.assert_close(y0, y)
                g = torch.randn_like(y)
                y.backward(g)
                tol = {torch.float32: 1e-6, torch.float16: 1e-3, torch.bfloat16: 8e-3}[dtype]
                torch.testing.assert_close(xg.grad.float(), ref_grad(x, g, mode), rtol=tol, atol=tol)
        if H * W > 1:
            x = torch.randn(shape, device="cuda").to(dtype)
            x[0, 1, 0, 1] = float("nan")
            x[1, 2] = float("-inf")
            x[-1, -1, -1, -1] = float("inf")
            torch.testing.assert_close(kernels.gmp(x), x.amax((2, 3)), equal_nan=True)
            torch.testing.assert_close(kernels.gap(x), x.float().mean((2, 3)).to(dtype), equal_nan=True)
            with torch.enable_grad():
                y = kernels.concat_pool(x.clone().requires_grad_(True))
            torch.testing.assert_close(
                y, torch.cat([x.amax((2, 3)), x.float().mean((2, 3)).to(dtype)], 1), equal_nan=True
            )
