"""The kernels' logic on CPU tensors, through Triton's interpreter: values, gradients and layouts on tiny inputs.

tests/test_kernels.py runs this file as a program:
`TRITON_INTERPRET=1 GAPLIB_KERNELS=1 python tests/_kernel_interpreter.py` prints "interpreter ok" when every
case agrees with PyTorch. Each case forces one kernel path with `tuning.override` (split reductions, short
maps, 16-bit pairs, full tiles, aligned windows) in float32, bfloat16 and float16, NCHW and channels_last.
"""

import torch
from torch import nn

from gaplib import kernels as K
from gaplib.kernels import tuning
from gaplib.kernels.long_maps import _counters

B = tuning.BlockConfig


def main() -> None:
    """Run every case; an assert fails on the first disagreement."""
    torch.manual_seed(0)
    fns = {"gap": K.gap, "gmp": K.gmp, "concat_pool": K.concat_pool}
    # H*W split over programs
    split = dict(
        rows_forward=B(1, 16, 4, stages=3), channels_last_forward=B(16, 2, 4, stages=2), rows_backward=B(2, 32, 4)
    )
    # short maps, one row per tile row
    tile = dict(pairs_forward=None, short_forward=B(4, 8, 4, argmax_method="key32"), short_backward=B(8, warps=4))
    # float32 argmax, int64 key
    key64 = dict(short_forward=B(4, 8, 4, argmax_method="key64"), short_backward=B(4, warps=1))
    # 16-bit values in words (49: a word shared by 2 rows); the backward's 16-bit values and argmax packed per row
    pairs_odd = dict(pairs_forward=B(2, 4, 4), short_backward=B(8, warps=1, packed=True))
    pairs_even = dict(pairs_forward=B(4, 4, 4))
    # full tiles only (no masks), split into full spans
    even = dict(rows_forward=B(2, 64, 4), channels_last_forward=B(16, 2, 4, stages=2))
    window = dict(window_forward=B(4, warps=1))  # short maps without argmax, read in aligned 16-byte windows
    cases = [
        ((2, 4, 16, 16), even),
        ((2, 5, 7, 7), window),
        ((3, 3, 3, 5), window),
        ((2, 3, 5, 4), {}),
        ((1, 2, 1, 1), {}),
        ((2, 3, 9, 9), split),
        ((2, 7, 7, 7), pairs_odd),
        ((2, 5, 4, 4), pairs_even),
        ((2, 3, 5, 5), tile),
        ((2, 5, 3, 3), key64),
    ]
    for shape, override in cases:
        with tuning.override(**override):
            for dtype in (torch.float32, torch.bfloat16, torch.float16):
                for cl in (False, True):
                    x = torch.randint(-3, 4, shape).to(dtype)  # integers: many tied maxima
                    x = x.contiguous(memory_format=torch.channels_last) if cl else x
                    N, C, H, W = shape
                    first = nn.functional.one_hot(x.float().flatten(2).argmax(2), H * W).float()
                    for name, fn in fns.items():
                        xg = x.clone().requires_grad_(True)
                        y = fn(xg)
                        avg, mx = x.double().mean((2, 3)).to(dtype), x.amax((2, 3))
                        want = {"gap": avg, "gmp": mx, "concat_pool": torch.cat([mx, avg], 1)}[name]
                        torch.testing.assert_close(y, want)
                        torch.testing.assert_close(fn(x), want)  # no grad needed: max pooling keeps no argmax
                        g = torch.randn_like(y)
                        y.backward(g)
                        gf = g.float()
                        if name == "gap":
                            gw = gf[..., None].expand(N, C, H * W) / (H * W)
                        elif name == "gmp":
                            gw = first * gf[..., None]
                        else:
                            gw = first * gf[:, :C, None] + gf[:, C:, None] / (H * W)
                        torch.testing.assert_close(xg.grad.float(), gw.reshape(shape), atol=1e-2, rtol=1e-2)
                        assert xg.grad.stride() == x.stride(), "the gradient keeps the input's layout"
        assert not _counters(torch.device("cpu")).any(), "split reductions leave their counters at 0"
    with tuning.override(**window):
        for dtype in (torch.float32, torch.bfloat16):  # a view that starts mid-vector: the window kernel steps aside
            x = torch.randn(2 * 5 * 49 + 1).to(dtype)[1:].view(2, 5, 7, 7)
            avg, mx = x.double().mean((2, 3)).to(dtype), x.amax((2, 3))
            torch.testing.assert_close(K.concat_pool(x), torch.cat([mx, avg], 1))
    print("interpreter ok")


if __name__ == "__main__":
    main()
