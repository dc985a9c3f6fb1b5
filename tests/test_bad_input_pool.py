"""Bad input to gaplib.pool: one row per input, each refused with a one-line error naming what was expected."""

import math

import pytest
import torch
from _bad_input import bad, check_bad_input, tensor_rows

from gaplib import pool

X = torch.rand(2, 3, 4, 4)

KNOB_BAD = [
    (0.0, ValueError, "must be a positive finite number"),
    (-1.0, ValueError, "must be a positive finite number"),
    (math.inf, ValueError, "must be a positive finite number"),
    (math.nan, ValueError, "must be a positive finite number"),
    ("3", TypeError, "must be a positive finite number, got str"),
    (None, TypeError, "must be a positive finite number, got NoneType"),
    (True, TypeError, "must be a positive finite number, got bool"),
    (torch.tensor(0.0), ValueError, "positive and finite, got the tensor value 0.0"),
    (torch.tensor(-2.0), ValueError, "positive and finite"),
    (torch.tensor(math.nan), ValueError, "positive and finite"),
    (torch.tensor(math.inf), ValueError, "positive and finite"),
    (torch.tensor([1.0, 2.0]), ValueError, "one-element float tensor"),
    (torch.tensor(3), ValueError, "one-element float tensor"),
]

ROWS = [
    *tensor_rows("gap", pool.gap, "x"),
    *tensor_rows("gmp", pool.gmp, "x"),
    *tensor_rows("concat_pool", pool.concat_pool, "x"),
    *tensor_rows("gem", pool.gem, "x"),
    *tensor_rows("lse_pool", pool.lse_pool, "x"),
    *tensor_rows("GlobalAvgPool", pool.GlobalAvgPool(), "x"),
    *tensor_rows("GlobalMaxPool", pool.GlobalMaxPool(), "x"),
    *tensor_rows("ConcatPool", pool.ConcatPool(), "x"),
    *tensor_rows("GeM", pool.GeM(), "x"),
    *tensor_rows("LSEPool", pool.LSEPool(), "x"),
    *[bad(f"gem p={v!r}", lambda v=v: pool.gem(X, p=v), exc, phrase) for v, exc, phrase in KNOB_BAD],
    *[bad(f"gem eps={v!r}", lambda v=v: pool.gem(X, eps=v), exc, phrase) for v, exc, phrase in KNOB_BAD[:7]],
    *[bad(f"lse_pool r={v!r}", lambda v=v: pool.lse_pool(X, r=v), exc, phrase) for v, exc, phrase in KNOB_BAD],
    *[bad(f"GeM(p={v!r})", lambda v=v: pool.GeM(p=v), exc, phrase) for v, exc, phrase in KNOB_BAD[:7]],
    *[bad(f"LSEPool(r={v!r})", lambda v=v: pool.LSEPool(r=v), exc, phrase) for v, exc, phrase in KNOB_BAD[:7]],
    bad("lse_pool r=1e39 overflows float32", lambda: pool.lse_pool(X, r=1e39), ValueError, "overflows torch.float32"),
    bad("lse_pool r=1e5 on float16", lambda: pool.lse_pool(X.half(), r=1e5), ValueError, "overflows torch.float16"),
    bad("GeM learnable str", lambda: pool.GeM(learnable="yes"), TypeError, "learnable must be True or False"),
    bad("LSEPool learnable 1", lambda: pool.LSEPool(learnable=1), TypeError, "learnable must be True or False"),
    bad(
        "gap 3-D",
        lambda: pool.gap(X[0]),
        ValueError,
        "x must be 4-D (N, C, H, W), got 3-D shape (3, 4, 4); add a batch axis with x[None]",
    ),
    bad("gem p=0", lambda: pool.gem(X, 0), ValueError, "p must be a positive finite number, got 0"),
    bad("lse_pool r=0", lambda: pool.lse_pool(X, 0), ValueError, "r must be a positive finite number, got 0"),
    bad("gem p=inf", lambda: pool.gem(X, math.inf), ValueError, "p must be a positive finite number, got inf"),
    bad("GeM eps 0", lambda: pool.GeM(eps=0), ValueError, "eps must be a positive finite number"),
    *[
        bad(f"{f.__name__} sparse", lambda f=f: f(X.to_sparse()), TypeError, "must be a dense tensor")
        for f in (pool.gap, pool.gmp, pool.concat_pool, pool.gem, pool.lse_pool)
    ],
]


@pytest.mark.parametrize("call, exc, phrase", ROWS)
def test_bad_input(call, exc, phrase):
    check_bad_input(call, exc, phrase)


def test_lse_pool_does_not_overflow_at_huge_r():
    """The docstring's promise: any finite r gives a finite result (here close to the max), not NaN."""
    x = torch.randn(2, 3, 5, 5) * 10
    out = pool.lse_pool(x, r=1e30)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, pool.gmp(x), atol=1e-4, rtol=0)


def test_lse_pool_gradient_matches_the_plain_formula():
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    r = torch.tensor(3.0, requires_grad=True)
    pool.lse_pool(x, r).sum().backward()
    gx, gr = x.grad.clone(), r.grad.clone()
    x2, r2 = x.detach().clone().requires_grad_(), r.detach().clone().requires_grad_()
    ((torch.logsumexp(x2.flatten(2) * r2, 2) - math.log(16)) / r2).sum().backward()
    torch.testing.assert_close(gx, x2.grad)
    torch.testing.assert_close(gr, r2.grad)


def test_gem_does_not_overflow_at_large_p():
    """Values above 1 at a large p: the plain formula gives inf, gem stays finite and near the max."""
    x = torch.rand(2, 3, 5, 5) * 100
    assert torch.isinf(x.pow(100.0).mean((2, 3))).any()  # float32 overflows here
    out = pool.gem(x, p=100.0)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, pool.gmp(x), atol=0, rtol=0.05)


def test_gem_gradient_matches_the_plain_formula():
    x = torch.rand(2, 3, 4, 4, requires_grad=True)
    p = torch.tensor(3.0, requires_grad=True)
    pool.gem(x, p).sum().backward()
    x2, p2 = x.detach().clone().requires_grad_(), p.detach().clone().requires_grad_()
    x2.clamp(min=1e-6).pow(p2).mean((2, 3)).pow(1 / p2).sum().backward()
    torch.testing.assert_close(x.grad, x2.grad)
    torch.testing.assert_close(p.grad, p2.grad)
