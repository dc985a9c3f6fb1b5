"""torch.compile of models that pool with gaplib: no graph break, the same numbers as eager, forward and backward.

`fullgraph=True` makes any graph break an error. On the CPU, `gaplib.pool` uses PyTorch's reductions (compiled in
process); the kernels themselves compile as the `torch.library` ops `gaplib::global_pool(_backward)`, checked on
CPU tensors through Triton's interpreter in a subprocess (`TRITON_INTERPRET=1 GAPLIB_KERNELS=1 python
tests/test_kernel_compile.py` prints "compile ok"), and for real on a GPU when there is one. Most compiles use the
`aot_eager` backend (Dynamo and AOTAutograd, the graph run op by op: quick on a small CPU); one uses Inductor.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest
import torch
from torch import nn
from torch._dynamo.backends.common import aot_autograd
from torch._functorch.aot_autograd import make_boxed_func

from gaplib import kernels, pool
from gaplib.kernels import function
from gaplib.kernels.common import triton

CUDA = torch.cuda.is_available()
POOLS = {"gap": pool.gap, "gmp": pool.gmp, "concat_pool": pool.concat_pool}
OP_NAME = "gaplib.global_pool"  # how the kernels' forward op shows in a traced graph


class Head(nn.Module):
    """conv -> a global pooling -> linear: the head of a CNN classifier, in miniature."""

    def __init__(self, pool_fn: Callable[[torch.Tensor], torch.Tensor], channels: int = 4, width: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, channels, 3, padding=1)
        self.pool = pool_fn
        self.linear = nn.Linear(channels * width, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.pool(self.conv(x)))


class GraphRecorder:
    """A torch.compile backend that keeps the text of each graph Dynamo hands over, then runs `aot_eager`."""

    def __init__(self) -> None:
        self.graphs: list[str] = []

    def __call__(self, gm: torch.fx.GraphModule, example_inputs: list) -> Callable:
        self.graphs.append(str(gm.graph))
        return aot_autograd(fw_compiler=_record_into(self.graphs), bw_compiler=_record_into(self.graphs))(
            gm, example_inputs
        )


def _record_into(graphs: list[str]) -> Callable:
    """An AOTAutograd compiler that appends each forward / backward graph's text to `graphs` and runs it as is."""

    def compiler(gm: torch.fx.GraphModule, _inputs: list) -> Callable:
        graphs.append(str(gm.graph))
        return make_boxed_func(gm.forward)

    return compiler


def compare_with_eager(op: str, x: torch.Tensor, backend, channels_last: bool = False) -> None:
    """Compile a `Head` pooling with `op` (fullgraph) and assert its output and gradients equal eager's."""
    torch.manual_seed(0)
    model = Head(POOLS[op], width=2 if op == "concat_pool" else 1).to(x.device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend=backend)
    eager_x, compiled_x = x.clone().requires_grad_(), x.clone().requires_grad_()
    eager_y, compiled_y = model(eager_x), compiled(compiled_x)
    torch.testing.assert_close(compiled_y, eager_y, msg=lambda m: f"{op} forward: {m}")
    eager_y.square().sum().backward()
    eager_grads = [eager_x.grad] + [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    compiled_y.square().sum().backward()
    compiled_grads = [compiled_x.grad] + [p.grad for p in model.parameters()]
    for mine, theirs in zip(compiled_grads, eager_grads):
        torch.testing.assert_close(mine, theirs, msg=lambda m: f"{op} gradient: {m}")
    with torch.no_grad():  # inference (max pooling keeps no argmax): another trace, same numbers
        torch.testing.assert_close(compiled(x), model(x))


def _is_fill(line: str) -> bool:
    """Whether a graph line makes a constant-filled tensor (`aten.full`, `aten.zeros`...): work a backward can skip."""
    return any(f"aten.{name}" in line for name in ("full", "zeros", "new_zeros"))  # full_like too


def check_kernels_compile(device: str) -> None:
    """With the kernels picked at every size, models compile whole and the graphs call gaplib's ops; the backward
    graph feeds the backward op the pooled values' gradient and the saved argmax, and fills no tensor of zeros."""
    old_min = pool.KERNEL_MIN_NUMEL
    pool.KERNEL_MIN_NUMEL = 0  # tiny test tensors go to the kernels too
    try:
        for shape in ((2, 2, 5, 5), (2, 2, 9, 9)):  # a short map and a long one: each has kernels of its own
            x = torch.randn(shape, device=device)
            for op in POOLS:
                for channels_last in (False, True):
                    recorder = GraphRecorder()
                    compare_with_eager(op, x, recorder, channels_last)
                    assert any(OP_NAME in g for g in recorder.graphs), f"{op}: the kernels' op is not in the graph"
                    backward = [g for g in recorder.graphs if "global_pool_backward" in g]
                    assert backward, f"{op}: no backward op"
                    fills = [line.strip() for g in backward for line in g.splitlines() if _is_fill(line)]
                    assert not fills, f"{op}: the backward graph fills a tensor (a zero argmax gradient?): {fills}"
        for fn in (kernels.gap, kernels.gmp, kernels.concat_pool):  # called directly, under torch.no_grad too
            x = torch.randn(2, 3, 9, 9, device=device)
            torch._dynamo.reset()
            compiled = torch.compile(fn, fullgraph=True, backend="aot_eager")
            torch.testing.assert_close(compiled(x), fn(x))
    finally:
        pool.KERNEL_MIN_NUMEL = old_min


def check_old_torch_falls_back_to_eager(device: str) -> None:
    """Without `torch.library.custom_op` (torch 2.3) a traced call runs the eager Function (Dynamo breaks the graph
    there, as it cannot trace a custom `jvp`): faked here by hiding the ops while `is_compiling` says yes."""
    saved, is_compiling = function.HAS_LIBRARY, torch.compiler.is_compiling
    x = torch.randn(2, 3, 9, 9, device=device, requires_grad=True)
    try:
        torch.compiler.is_compiling = lambda: True
        assert function._compiling(), "with the ops, a traced call goes to them"
        function.HAS_LIBRARY = False
        assert not function._compiling(), "without them, to the eager Function"
        y = kernels.concat_pool(x)
    finally:
        function.HAS_LIBRARY, torch.compiler.is_compiling = saved, is_compiling
    assert "GlobalPool" in type(y.grad_fn).__name__
    torch.testing.assert_close(y, torch.cat([x.amax((2, 3)), x.mean((2, 3))], 1))


def check_op_registration(device: str) -> None:
    """`torch.library.opcheck`: the ops' fake shapes, strides and dtypes and their autograd match what they do."""
    for shape, channels_last in (((2, 3, 5, 5), False), ((2, 3, 9, 9), False), ((2, 3, 9, 9), True)):
        x = torch.randn(shape, device=device)
        x = x.contiguous(memory_format=torch.channels_last) if channels_last else x
        for op in function.OPS:
            for keep_argmax in (False, True) if op != "gap" else (False,):
                differentiable = op == "gap" or keep_argmax  # max pooling's backward needs the argmax
                args = (x.clone().requires_grad_(differentiable), op, keep_argmax, True)
                torch.library.opcheck(torch.ops.gaplib.global_pool.default, args)


# ------------------------------------------------------------------------------------ tests
needs_library = pytest.mark.skipif(not function.HAS_LIBRARY, reason="torch.library.custom_op needs torch >= 2.4")


@pytest.mark.parametrize("op", list(POOLS))
def test_pytorch_path_compiles_whole_and_matches_eager(op):
    x = torch.randn(2, 2, 6, 6)  # a CPU tensor: gaplib.pool's PyTorch spelling
    compare_with_eager(op, x, "aot_eager")
    compare_with_eager(op, x, "aot_eager", channels_last=True)


def test_concat_pool_compiles_with_inductor():
    compare_with_eager("concat_pool", torch.randn(2, 2, 6, 6), "inductor")


def test_no_graph_break_reported_by_dynamo_explain():
    torch._dynamo.reset()
    model = Head(pool.concat_pool, width=2)
    explained = torch._dynamo.explain(model)(torch.randn(2, 2, 6, 6, requires_grad=True))
    assert explained.graph_break_count == 0 and explained.graph_count == 1, explained.break_reasons


def _triton_version() -> tuple[int, ...]:
    return tuple(int(p) for p in triton.__version__.split(".")[:2] if p.isdigit())


needs_interpreter = pytest.mark.skipif(
    triton is None or _triton_version() < (3, 8) or not function.HAS_LIBRARY,
    reason="needs Triton >= 3.8 (its CPU interpreter) and torch >= 2.4 (torch.library.custom_op)",
)


@needs_interpreter
def test_kernels_compile_through_the_triton_interpreter():
    env = dict(os.environ, TRITON_INTERPRET="1", GAPLIB_KERNELS="1")
    done = subprocess.run([sys.executable, __file__], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "compile ok" in done.stdout, done.stdout[-2000:] + done.stderr[-4000:]


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
@needs_library
def test_kernels_compile_on_the_gpu(monkeypatch):
    monkeypatch.setenv("GAPLIB_KERNELS", "1")  # any GPU, measured or not
    check_kernels_compile("cuda")
    check_op_registration("cuda")
    check_old_torch_falls_back_to_eager("cuda")


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
@needs_library
def test_compiled_model_replays_in_a_cuda_graph(monkeypatch):
    monkeypatch.setenv("GAPLIB_KERNELS", "1")
    monkeypatch.setattr(pool, "KERNEL_MIN_NUMEL", 0)
    model = Head(pool.concat_pool, channels=64, width=2).cuda()
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, mode="reduce-overhead")  # Inductor + CUDA graphs
    for _ in range(4):  # warm-up runs, then replays of the recorded graph
        x = torch.randn(8, 2, 16, 16, device="cuda")
        with torch.no_grad():  # Inductor's convolution and Linear round differently from eager's cuDNN and cuBLAS:
            # on an H100, 64 channels, up to 1.4e-4 apart (3.5e-4 relative), above float32's default tolerance
            torch.testing.assert_close(compiled(x), model(x), rtol=1e-3, atol=1e-3)


if __name__ == "__main__":  # under TRITON_INTERPRET=1 GAPLIB_KERNELS=1: the kernels on CPU tensors
    assert function.interpreting(), "run with TRITON_INTERPRET=1 (the kernels on CPU tensors)"
    for check in (check_op_registration, check_kernels_compile, check_old_torch_falls_back_to_eager):
        check("cpu")
        print(check.__name__, "ok", flush=True)
    print("compile ok")
