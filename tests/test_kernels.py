"""Tests for gaplib's Triton pooling kernels: agreement with PyTorch forward and backward.

The GPU tests need CUDA and skip elsewhere. On a CPU-only machine the tests check that the module
imports and that `available` says no, and (when Triton >= 3.8 is installed) run the kernels' logic on tiny
inputs through Triton's CPU interpreter in a subprocess (tests/_kernel_interpreter.py, tests/_kernel_autograd.py:
values, gradients, double backward, forward mode, gradcheck / gradgradcheck in float64, one tie rule).
tests/test_kernel_compile.py checks them under torch.compile.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from _kernel_helpers import DTYPES, layout, needs_cuda, ref_grad, ref_pool
from torch import nn

from gaplib import kernels, pool
from gaplib.kernels import function, tuning
from gaplib.kernels.common import triton

# (N, C, H, W): 1x1 maps, the 7x7 of ResNet heads, odd sizes, C not a power of two,
# few long maps (the split path) and many short ones
SHAPES = [
    (2, 3, 1, 1),
    (4, 8, 7, 7),
    (3, 5, 3, 11),
    (2, 600, 7, 7),
    (2, 16, 32, 32),
    (1, 3, 112, 112),
    (2, 64, 56, 56),
    (9, 33, 17, 5),
    (1, 1, 2, 3),
]

B = tuning.BlockConfig


# ----------------------------------------------------------------------------------------------- CPU
def test_module_imports_and_says_no_on_cpu():
    x = torch.randn(2, 3, 4, 4)
    assert not kernels.available(x), "the kernels need a CUDA tensor; on a CPU tensor available() must be False"
    assert not kernels.available(torch.randn(2, 3, 4)), "a 3-D tensor is not a batch of feature maps"
    assert not kernels.available(torch.ones(2, 3, 4, 4, dtype=torch.int32)), "integer maps are not pooled by kernels"
    assert set(kernels.__all__) == {"available", "choose", "gap", "gmp", "concat_pool", "tuning"}
    assert kernels.choose(x, "gap") == "pytorch", "on a CPU tensor the one decision must pick PyTorch"


@pytest.mark.skipif(
    triton is not None and os.environ.get("TRITON_INTERPRET") == "1",
    reason="the Triton interpreter accepts CPU tensors",
)
def test_kernels_reject_cpu_tensors_with_a_clear_error():
    with pytest.raises(ValueError, match="CUDA tensor"):
        kernels.gap(torch.randn(2, 3, 4, 4))


@needs_cuda
def test_env_switch_turns_kernels_off(monkeypatch):
    monkeypatch.delenv("GAPLIB_KERNELS", raising=False)
    x = torch.randn(2, 3, 4, 4, device="cuda")
    assert kernels.available(x), "on a GPU the kernels are on by default"
    monkeypatch.setenv("GAPLIB_KERNELS", "0")
    assert not kernels.available(x), "GAPLIB_KERNELS=0 must switch the kernels off"
    torch.testing.assert_close(pool.gap(x), x.mean((2, 3)))


def test_gaplib_kernels_env_is_checked(monkeypatch):
    from gaplib import kernels

    monkeypatch.setenv("GAPLIB_KERNELS", "yes")
    with pytest.raises(ValueError, match=r"GAPLIB_KERNELS must be 0 \(PyTorch everywhere\), 1 .* got 'yes'"):
        kernels.function.switch()


@pytest.mark.skipif(triton is None, reason="Triton is not installed")
def test_one_decision_per_call_read_from_metadata(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # CPU tensors count as available; `run` is replaced: no launch
    monkeypatch.setattr(pool, "KERNEL_MIN_NUMEL", 0)
    seen, real = [], function.forward_spelling
    monkeypatch.setattr(function, "forward_spelling", lambda x, *rest: seen.append(x) or real(x, *rest))
    monkeypatch.setattr(function, "run", lambda x, op, decided: decided)
    channels_last = torch.randn(2, 64, 7, 7).contiguous(memory_format=torch.channels_last)
    strided = channels_last[:, ::2]  # neither layout: the kernels read an NCHW copy
    for x, read in [(torch.randn(2, 3, 9, 9),) * 2, (channels_last,) * 2, (strided, strided.contiguous())]:
        for op, fn in [("gap", pool.gap), ("gmp", pool.gmp), ("concat_pool", pool.concat_pool)]:
            seen.clear()
            decided = fn(x)
            assert len(seen) == 1 and seen[0] is x, f"{op}: decided once, on x itself (no copy)"
            assert decided == function.plan(read, op), f"{op}: judged as the layout the kernels read"
            assert kernels.choose(x, op) == ("kernels" if decided.kernel_forward else "pytorch forward")


def _triton_version() -> tuple[int, ...]:
    return tuple(int(p) for p in triton.__version__.split(".")[:2] if p.isdigit())


def _in_interpreter(program: list[str]) -> subprocess.CompletedProcess:
    """Run a Python program with the kernels on CPU tensors, through Triton's interpreter."""
    env = dict(os.environ, TRITON_INTERPRET="1", GAPLIB_KERNELS="1")
    return subprocess.run([sys.executable, *program], env=env, capture_output=True, text=True, timeout=300)


needs_interpreter = pytest.mark.skipif(
    triton is None or _triton_version() < (3, 8),
    reason="needs Triton >= 3.8 (its CPU interpreter before 3.8 cannot run loops with run-time bounds); runs in the"
    " project's set-up, `make setup`'s .venv on Linux x86-64 (torch's Triton wheel), with or without a GPU",
)


@needs_interpreter
def test_kernel_logic_on_cpu_through_the_triton_interpreter():
    done = _in_interpreter([str(Path(__file__).with_name("_kernel_interpreter.py"))])
    assert done.returncode == 0 and "interpreter ok" in done.stdout, done.stdout[-2000:] + done.stderr[-4000:]


@needs_interpreter
def test_double_backward_and_forward_mode_through_the_triton_interpreter():
    done = _in_interpreter([str(Path(__file__).with_name("_kernel_autograd.py"))])
    assert done.returncode == 0 and "autograd ok" in done.stdout, done.stdout[-2000:] + done.stderr[-4000:]


# ----------------------------------------------------------------------------------------------- GPU
@needs_cuda
def test_double_backward_and_forward_mode_on_the_gpu(monkeypatch):
    from _kernel_autograd import check, check_one_tie_rule, gradchecks

    monkeypatch.setenv("GAPLIB_KERNELS", "1")  # gaplib.pool picks the kernels on any GPU (the tie-rule check)
    check("cuda")
    gradchecks("cuda")
    check_one_tie_rule("cuda")


@needs_cuda
@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "channels_last"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_forward_and_backward_match_pytorch(shape, dtype, channels_last, poisoned_cache):
    torch.manual_seed(sum(shape))
    x = layout(torch.randn(shape, device="cuda").to(dtype), channels_last)
    assert kernels.available(x)
    for mode, fn in [("gap", kernels.gap), ("gmp", kernels.gmp), ("concat_pool", kernels.concat_pool)]:
        xg = x.clone().requires_grad_(True)
        y = fn(xg)
        assert y.dtype == dtype and y.shape == ref_pool(x, mode).shape
        if mode == "gmp":
            assert torch.equal(y, ref_pool(x, mode)), "the max of each map is exact"
        else:
            torch.testing.assert_close(y, ref_pool(x, mode))
        with torch.no_grad():  # the inference path (no indices kept; its blocks may differ) agrees
            torch.testing.assert_close(fn(x), y)
        g = torch.randn_like(y)
        y.backward(g)
        assert xg.grad.stride() == x.stride(), "the gradient keeps the input's memory layout"
        tol = {torch.float32: 1e-6, torch.float16: 1e-3, torch.bfloat16: 8e-3}[dtype]
        torch.testing.assert_close(xg.grad.float(), ref_grad(x, g, mode), rtol=tol, atol=tol)


@needs_cuda
@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "channels_last"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_gradients_equal_pytorch_modules(dtype, channels_last):
    torch.manual_seed(1)
    x = layout(torch.randn(8, 96, 9, 9, device="cuda").to(dtype), channels_last)

    def grad_of(f):
        xg = x.clone().requires_grad_(True)
        y = f(xg)
        y.backward(torch.linspace(-1, 1, y.numel(), device="cuda").reshape(y.shape).to(dtype))
        return y, xg.grad

    fastai_concat = lambda t: torch.cat([nn.AdaptiveMaxPool2d(1)(t), nn.AdaptiveAvgPool2d(1)(t)], 1).flatten(1)
    pairs = [
        (kernels.gap, lambda t: t.mean((2, 3))),
        (kernels.gap, lambda t: nn.AdaptiveAvgPool2d(1)(t).flatten(1)),
        (kernels.gmp, lambda t: nn.AdaptiveMaxPool2d(1)(t).flatten(1)),
        (kernels.concat_pool, fastai_concat),  # fastai's AdaptiveConcatPool2d, flattened
    ]
    for mine, theirs in pairs:
        (y1, g1), (y2, g2) = grad_of(mine), grad_of(theirs)
        torch.testing.assert_close(y1, y2)
        torch.testing.assert_close(g1, g2)


@needs_cuda
@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "channels_last"])
@pytest.mark.parametrize("shape", [(4, 8, 7, 7), (2, 3, 64, 64), (1, 2, 112, 112)], ids=str)
def test_ties_send_the_gradient_to_the_first_maximum(shape, channels_last):
    torch.manual_seed(2)
    x = torch.randint(0, 3, shape, device="cuda").float()
    x[0, 0] = 0.0  # a whole map of ties, like a dead ReLU channel
    x = layout(x, channels_last)
    xg = x.clone().requires_grad_(True)
    kernels.gmp(xg).sum().backward()
    torch.testing.assert_close(xg.grad, ref_grad(x, torch.ones(shape[:2], device="cuda"), "gmp"), rtol=0, atol=0)
    assert xg.grad[0, 0].flatten()[0] == 1 and xg.grad[0, 0].sum() == 1, "one position of a tied map gets it all"
    if not channels_last:
        xa = x.clone().requires_grad_(True)
        nn.AdaptiveMaxPool2d(1)(xa).sum().backward()
        assert torch.equal(xg.grad, xa.grad), "same tie rule as nn.AdaptiveMaxPool2d"


@needs_cuda
def test_nan_and_inf_propagate_like_pytorch():
    x = torch.randn(2, 4, 7, 7, device="cuda")
    x[0, 1, 3, 3] = float("nan")
    x[1, 2] = float("-inf")
    x[1, 3, 0, 0] = float("inf")
    for cl in (False, True):
        xx = layout(x, cl)
        torch.testing.assert_close(kernels.gmp(xx), xx.amax((2, 3)), equal_nan=True)
        torch.testing.assert_close(kernels.gap(xx), xx.mean((2, 3)), equal_nan=True)
        with torch.enable_grad():
            y = kernels.concat_pool(xx.clone().requires_grad_(True))
        torch.testing.assert_close(y, torch.cat([xx.amax((2, 3)), xx.mean((2, 3))], 1), equal_nan=True)


@needs_cuda
def test_strided_inputs_and_expanded_gradients():
    base = torch.randn(4, 10, 9, 9, device="cuda")
    x = base[:, ::2, 1:, :]  # neither NCHW-contiguous nor channels_last: copied once, then pooled
    assert not x.is_contiguous()
    torch.testing.assert_close(kernels.concat_pool(x), torch.cat([x.amax((2, 3)), x.mean((2, 3))], 1))
    xg = x.clone().requires_grad_(True)
    kernels.gap(xg).sum().backward()  # the gradient of .sum() arrives expanded (stride 0)
    torch.testing.assert_close(xg.grad, torch.full_like(x, 1 / 72))


@needs_cuda
def test_pool_functions_use_the_kernels_on_cuda(monkeypatch):
    x = torch.randn(64, 256, 16, 16, device="cuda", requires_grad=True)
    assert x.numel() >= pool.KERNEL_MIN_NUMEL
    if tuning.measured_table(x.device) is None:  # a GPU without a tuning table: PyTorch unless the user opts in
        assert kernels.choose(x, "gap") == "pytorch", "an unmeasured GPU must not get the kernels by default"
        monkeypatch.setenv("GAPLIB_KERNELS", "1")
    for f in (pool.gap, pool.gmp, pool.concat_pool):
        assert kernels.choose(x, f.__name__) == "kernels"
        assert "GlobalPool" in type(f(x).grad_fn).__name__, f"gaplib.pool.{f.__name__} should call the kernel"
        small = torch.randn(4, 8, 7, 7, device="cuda", requires_grad=True)
        assert kernels.choose(small, f.__name__, min_numel=pool.KERNEL_MIN_NUMEL) == "pytorch"
        assert "GlobalPool" not in type(f(small).grad_fn).__name__, "small maps stay on PyTorch's kernels"
    monkeypatch.setenv("GAPLIB_KERNELS", "0")
    assert "GlobalPool" not in type(pool.gap(x).grad_fn).__name__, "GAPLIB_KERNELS=0 falls back to PyTorch"


@needs_cuda
@pytest.mark.parametrize("shape", [(8, 64, 7, 7), (2, 3, 96, 96)], ids=["short", "split"])
def test_works_on_a_cuda_graph_replay(shape):
    x = torch.randn(shape, device="cuda")
    kernels.concat_pool(x)  # compile outside the capture
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        y = kernels.concat_pool(x)
    for _ in range(3):  # a split reduction's counters must be back at 0 for the next replay
        x.copy_(torch.randn_like(x))
        graph.replay()
        torch.testing.assert_close(y, torch.cat([x.amax((2, 3)), x.mean((2, 3))], 1))


@needs_cuda
def test_split_reductions_across_streams():
    xs = [torch.randn(2, 3, 80, 80, device="cuda") for _ in range(4)]  # 6 long maps: H x W split over programs
    streams = [torch.cuda.Stream() for _ in xs]
    outs = []
    for x, stream in zip(xs, streams):
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            outs.append([kernels.gmp(x) for _ in range(5)])
    torch.cuda.synchronize()
    for x, ys in zip(xs, outs):
        for y in ys:
            torch.testing.assert_close(y, x.amax((2, 3)))
