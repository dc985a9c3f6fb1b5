"""Unit tests for `gaplib.pool`."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gaplib import pool

# 1x1 grids, odd and non-square sizes, the zoo's 4x4, a ResNet-like 7x7, a tall thin map
SHAPES = [
    (1, 1, 1, 1),
    (2, 3, 1, 1),
    (2, 3, 1, 5),
    (3, 4, 5, 7),
    (2, 8, 4, 4),
    (1, 5, 13, 11),
    (4, 16, 7, 7),
    (2, 2, 32, 3),
]


@pytest.fixture(params=SHAPES, ids=lambda s: "x".join(map(str, s)))
def x(request) -> torch.Tensor:
    return torch.randn(request.param, generator=torch.Generator().manual_seed(sum(request.param)))


# --- gap / gmp / concat_pool ---------------------------------------------------------------------


def test_gap_three_spellings_agree(x):
    ref = x.mean((2, 3))
    torch.testing.assert_close(pool.gap(x), ref, atol=1e-6, rtol=0)
    torch.testing.assert_close(nn.AdaptiveAvgPool2d(1)(x).flatten(1), ref, atol=1e-6, rtol=0)
    torch.testing.assert_close(F.avg_pool2d(x, x.shape[-2:]).flatten(1), ref, atol=1e-6, rtol=0)


def test_gmp_equals_adaptive_max_pool(x):
    torch.testing.assert_close(pool.gmp(x), nn.AdaptiveMaxPool2d(1)(x).flatten(1), atol=0, rtol=0)
    torch.testing.assert_close(pool.gmp(x), F.max_pool2d(x, x.shape[-2:]).flatten(1), atol=0, rtol=0)


def test_concat_pool_equals_fastai(x):
    layers = pytest.importorskip("fastai.layers")
    ref = layers.AdaptiveConcatPool2d()(x).flatten(1)
    torch.testing.assert_close(pool.concat_pool(x), ref, atol=1e-6, rtol=0)
    torch.testing.assert_close(pool.ConcatPool()(x), ref, atol=1e-6, rtol=0)


def test_concat_pool_is_max_then_avg_and_doubles_width(x):
    out = pool.concat_pool(x)
    assert out.shape == (x.shape[0], 2 * x.shape[1])
    torch.testing.assert_close(out, torch.cat([pool.gmp(x), pool.gap(x)], 1))


@pytest.mark.parametrize(
    "module, fn",
    [(pool.GlobalAvgPool(), pool.gap), (pool.GlobalMaxPool(), pool.gmp), (pool.ConcatPool(), pool.concat_pool)],
    ids=["avg", "max", "concat"],
)
def test_modules_call_functions_and_have_no_parameters(module, fn, x):
    torch.testing.assert_close(module(x), fn(x), atol=0, rtol=0)
    assert sum(p.numel() for p in module.parameters()) == 0


def test_pools_work_at_any_grid_size():
    for side in (1, 2, 3, 4, 8, 17):
        x = torch.rand(2, 6, side, side)
        for fn in (pool.gap, pool.gmp, pool.gem, pool.lse_pool):
            assert fn(x).shape == (2, 6)
        assert pool.concat_pool(x).shape == (2, 12)


def test_channels_last_and_half_precision():
    x = torch.rand(2, 8, 5, 6)
    cl = x.contiguous(memory_format=torch.channels_last)
    for fn in (pool.gap, pool.gmp, pool.concat_pool, pool.gem, pool.lse_pool):
        torch.testing.assert_close(fn(cl), fn(x))
    assert pool.gap(x.bfloat16()).dtype == torch.bfloat16
    assert pool.gem(x.bfloat16(), pool.GeM().p).dtype == torch.bfloat16  # a float32 parameter keeps the input dtype


def test_gradients_flow_to_the_right_places():
    x = torch.rand(2, 3, 4, 4, requires_grad=True)
    pool.gap(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.full_like(x, 1 / 16))
    x.grad = None
    pool.gmp(x).sum().backward()
    assert x.grad.sum().item() == pytest.approx(6.0)  # one unit of gradient per map, at its maximum
    assert torch.equal(x.grad.flatten(2).argmax(2), x.detach().flatten(2).argmax(2))


@pytest.mark.parametrize("fn", [pool.gmp, pool.concat_pool], ids=["gmp", "concat"])
def test_max_gives_one_unit_of_gradient_per_map_even_with_ties(fn):
    x = torch.ones(2, 3, 4, 4, requires_grad=True)  # every position ties for the max
    fn(x)[:, :3].sum().backward()  # the max part (concat puts it first)
    torch.testing.assert_close(x.grad.sum((2, 3)), torch.ones(2, 3))
    assert int((x.grad > 0).sum()) == 6, "the gradient goes to one maximum per map, as in nn.AdaptiveMaxPool2d"


TIE_DEVICES = (
    ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) + (["mps"] if torch.backends.mps.is_available() else [])
)


@pytest.mark.parametrize("device", TIE_DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("fn", [pool.gmp, pool.concat_pool], ids=["gmp", "concat"])
@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "channels_last"])
def test_one_tie_rule_the_first_maximum_gets_the_gradient(fn, dtype, device, channels_last):
    """Ties (common in half precision and after a ReLU) send the gradient to the first maximum, as fastai's does."""
    if device == "mps" and dtype == torch.bfloat16:
        pytest.skip("MPS has no bfloat16 max pooling")
    x = torch.randint(0, 3, (2, 4, 5, 5), generator=torch.Generator().manual_seed(0)).to(device, dtype)
    x[0, 0] = 0  # a whole map of ties, like a dead ReLU channel
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    mine, theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
    fn(mine)[:, :4].float().sum().backward()
    nn.AdaptiveMaxPool2d(1)(theirs).float().sum().backward()  # fastai's max half is this module
    assert torch.equal(mine.grad, theirs.grad), "the gradient goes where nn.AdaptiveMaxPool2d sends it"
    assert mine.grad[0, 0].flatten()[0] == 1 and mine.grad[0, 0].sum() == 1, "a tied map's first value gets it all"


@pytest.mark.parametrize("device", [d for d in TIE_DEVICES if d != "mps"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_tie_rule_is_the_same_above_the_kernels_threshold(dtype, device):
    """At KERNEL_MIN_NUMEL values a CUDA tensor may go to the kernels, a CPU tensor stays on PyTorch: one rule."""
    g = torch.Generator().manual_seed(3)
    x = torch.randint(0, 3, (64, 256, 16, 16), generator=g).to(device, dtype)  # 4,194,304 values: at the threshold
    assert x.numel() >= pool.KERNEL_MIN_NUMEL
    x[0, 0] = 0
    for fn in (pool.gmp, pool.concat_pool):
        mine, theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
        fn(mine)[:, :256].float().sum().backward()
        nn.AdaptiveMaxPool2d(1)(theirs).float().sum().backward()
        assert torch.equal(mine.grad, theirs.grad), f"{fn.__name__}: same tie rule at any size"
        assert mine.grad[0, 0].flatten()[0] == 1 and mine.grad[0, 0].sum() == 1, "a tied map's first value gets it all"


def test_max_same_values_with_and_without_grad(x):
    with torch.no_grad():
        fast = pool.concat_pool(x)  # inference: amax
    train = pool.concat_pool(x.clone().requires_grad_())  # CPU training: adaptive_max_pool2d
    torch.testing.assert_close(train.detach(), fast, atol=0, rtol=0)
    cl = x.contiguous(memory_format=torch.channels_last).requires_grad_()
    torch.testing.assert_close(pool.gmp(cl).detach(), pool.gmp(x), atol=0, rtol=0)


# --- gem ------------------------------------------------------------------------------------------


def test_gem_p1_equals_gap_and_large_p_approaches_gmp():
    x = torch.rand(3, 5, 6, 6) + 0.01
    torch.testing.assert_close(pool.gem(x, p=1.0), pool.gap(x), atol=1e-6, rtol=0)
    errs = [(pool.gem(x, p=p) - pool.gmp(x)).abs().max().item() for p in (2.0, 8.0, 32.0, 128.0)]
    assert errs == sorted(errs, reverse=True) and errs[-1] < 0.05


def test_gem_formula_and_order():
    x = torch.rand(2, 4, 3, 5)
    torch.testing.assert_close(pool.gem(x, 3.0), x.clamp(min=1e-6).pow(3).mean((2, 3)).pow(1 / 3))
    # power means grow with p: mean <= gem(p=3) <= max
    assert bool((pool.gap(x) <= pool.gem(x) + 1e-6).all()) and bool((pool.gem(x) <= pool.gmp(x) + 1e-6).all())


def test_gem_treats_negative_values_as_zero():
    x = torch.rand(2, 3, 4, 4)
    torch.testing.assert_close(pool.gem(x - 5.0 * (x < 0.5)), pool.gem(x * (x >= 0.5)), atol=1e-5, rtol=0)


def test_gem_module_learns_p():
    m = pool.GeM(p=3.0)
    assert [n for n, _ in m.named_parameters()] == ["p"] and m.p.item() == 3.0
    x = torch.rand(2, 4, 5, 5)
    torch.testing.assert_close(m(x), pool.gem(x, 3.0))
    m(x).sum().backward()
    assert m.p.grad is not None and m.p.grad.abs().item() > 0
    assert "p=3, learnable=True" in repr(m)


def test_gem_module_fixed_p_is_a_buffer():
    m = pool.GeM(p=2.0, learnable=False)
    assert list(m.parameters()) == [] and "p" in m.state_dict()
    torch.testing.assert_close(m(torch.ones(1, 2, 3, 3) * 4), torch.full((1, 2), 4.0))


@pytest.mark.parametrize("p", [1e-320, 1e-300, 1e-12, 1e-9, 1e-6])
def test_gem_at_tiny_p_is_the_geometric_mean(p):
    x = torch.rand(2, 3, 5, 5, generator=torch.Generator().manual_seed(0)) + 0.05
    geometric = torch.exp(torch.log(x).mean((2, 3)))
    torch.testing.assert_close(pool.gem(x, p), geometric, atol=0, rtol=2e-6)


def test_gem_moves_smoothly_from_geometric_mean_to_max():
    x = torch.rand(2, 3, 5, 5, generator=torch.Generator().manual_seed(1)) + 0.05
    values = [pool.gem(x, p) for p in (1e-9, 1e-3, 0.1, 1.0, 3.0, 100.0, 1e300)]
    assert all(bool((a <= b + 1e-6).all()) for a, b in zip(values, values[1:])), "power means grow with p"
    torch.testing.assert_close(values[-1], pool.gmp(x))


def test_gem_and_lse_gradients_at_tiny_and_ordinary_knobs():
    x = (torch.rand(1, 2, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) + 0.1).requires_grad_()
    for knob in (2e-5, 2.5):  # 2e-5: the series branch (gradcheck moves the knob by 1e-6)
        k = torch.tensor(knob, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda a, b: pool.gem(a, b), (x, k))
        assert torch.autograd.gradcheck(lambda a, b: pool.lse_pool(a, b), (x, k))


# --- lse_pool -------------------------------------------------------------------------------------


def test_lse_between_avg_and_max():
    x = torch.randn(3, 5, 6, 7)  # negative values are fine for LSE
    torch.testing.assert_close(pool.lse_pool(x, r=1e-2), pool.gap(x), atol=1e-2, rtol=0)
    torch.testing.assert_close(pool.lse_pool(x, r=1e3), pool.gmp(x), atol=1e-2, rtol=0)
    mid = pool.lse_pool(x, r=5.0)
    assert bool((pool.gap(x) <= mid + 1e-5).all()) and bool((mid <= pool.gmp(x) + 1e-5).all())


@pytest.mark.parametrize("r", [1e-320, 1e-300, 1e-12, 1e-10, 1e-7])
def test_lse_at_tiny_r_is_the_mean(r):
    x = 3 * torch.randn(2, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(pool.lse_pool(x, r), x.mean((2, 3)), atol=1e-5, rtol=0)


def test_lse_does_not_overflow():
    x = torch.full((1, 2, 3, 3), 100.0)
    torch.testing.assert_close(pool.lse_pool(x, r=50.0), torch.full((1, 2), 100.0))


def test_lse_module():
    m = pool.LSEPool(r=4.0)
    assert list(m.parameters()) == [] and "r=4" in repr(m)
    x = torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(m(x), pool.lse_pool(x, 4.0))
    learned = pool.LSEPool(r=4.0, learnable=True)
    assert [n for n, _ in learned.named_parameters()] == ["r"]
    learned(x).sum().backward()
    assert learned.r.grad is not None


def test_knob_modules_move_with_the_model():
    for m in (pool.GeM(learnable=False), pool.LSEPool()):
        m.to(torch.float64)
        assert next(iter(m.buffers())).dtype == torch.float64


# --- bad inputs -----------------------------------------------------------------------------------

ALL_FNS = [pool.gap, pool.gmp, pool.concat_pool, pool.gem, pool.lse_pool]


def test_all_is_public_api():
    assert set(pool.__all__) == {
        "gap",
        "gmp",
        "concat_pool",
        "gem",
        "lse_pool",
        "GlobalAvgPool",
        "GlobalMaxPool",
        "ConcatPool",
        "GeM",
        "LSEPool",
    }
    for name in pool.__all__:
        assert getattr(pool, name).__doc__, f"{name} needs a docstring"
