"""Time gaplib's global pools against PyTorch's modules and fastai's `AdaptiveConcatPool2d`.

For each realistic feature-map shape it times, on the same tensor:
- avg:    `gaplib.pool.gap`         vs `x.mean((2, 3))`      vs `nn.AdaptiveAvgPool2d(1)`
- max:    `gaplib.pool.gmp`         vs `x.amax((2, 3))`      vs `nn.AdaptiveMaxPool2d(1)`
- concat: `gaplib.pool.concat_pool` vs `cat([amax, mean])`   vs fastai's `AdaptiveConcatPool2d()`
and prints a markdown table (microseconds per call; "speed-up" = module time / gaplib time), which it
also writes to `benchmarks/results/pools_<device>.md`. The CPU section always runs, the GPU section
when CUDA is present. Timing: `gaplib.timing.compare` (medians, interleaved rounds, best round).

    python benchmarks/bench_pools.py            # CPU (+ GPU) at the full shape lists
    python benchmarks/bench_pools.py --quick    # fewer shapes and repeats, a few seconds on a CPU
    python benchmarks/bench_pools.py --backward # time forward + backward instead of forward only
    python benchmarks/bench_pools.py --threads 1  # one CPU thread: steadier numbers on a busy machine
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from gaplib import pool
from gaplib.timing import compare

CPU_SHAPES = [(64, 512, 7, 7), (32, 256, 14, 14), (16, 64, 56, 56)]
GPU_SHAPES = [(256, 2048, 7, 7), (128, 1024, 14, 14), (64, 256, 56, 56), (32, 64, 112, 112)]
COLUMNS = ["device", "shape", "pool", "gaplib µs", "torch spelling µs", "module µs", "module", "speed-up"]


def concat_module() -> tuple[nn.Module, str]:
    """fastai's `AdaptiveConcatPool2d` when fastai is installed, else the same computation from torch modules."""
    try:
        from fastai.layers import AdaptiveConcatPool2d
    except ImportError:
        mp, ap = nn.AdaptiveMaxPool2d(1), nn.AdaptiveAvgPool2d(1)
        return (lambda x: torch.cat([mp(x), ap(x)], 1)), "cat(AdaptiveMax, AdaptiveAvg) (fastai not installed)"
    return AdaptiveConcatPool2d(), "fastai AdaptiveConcatPool2d"


def contenders() -> dict[str, dict[str, tuple[str, Callable]]]:
    """For each pool: gaplib's function, PyTorch's fastest tensor spelling, and the module people usually write."""
    cat_module, cat_name = concat_module()
    return {
        "avg": {
            "gaplib": ("gaplib.pool.gap", pool.gap),
            "torch": ("x.mean((2, 3))", lambda x: x.mean((2, 3))),
            "module": ("nn.AdaptiveAvgPool2d(1)", nn.AdaptiveAvgPool2d(1)),
        },
        "max": {
            "gaplib": ("gaplib.pool.gmp", pool.gmp),
            "torch": ("x.amax((2, 3))", lambda x: x.amax((2, 3))),
            "module": ("nn.AdaptiveMaxPool2d(1)", nn.AdaptiveMaxPool2d(1)),
        },
        "concat": {
            "gaplib": ("gaplib.pool.concat_pool", pool.concat_pool),
            "torch": ("cat([x.amax, x.mean])", lambda x: torch.cat([x.amax((2, 3)), x.mean((2, 3))], 1)),
            "module": (cat_name, cat_module),
        },
    }


def _with_backward(fn: Callable) -> Callable:
    """`fn` followed by a backward pass through it (the input must require grad)."""

    def run(x: torch.Tensor) -> None:
        fn(x).sum().backward()

    return run


def bench(
    shapes: list[tuple[int, int, int, int]],
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    reps: int = 10,
    rounds: int = 3,
    backward: bool = False,
) -> list[dict]:
    """One row per (shape, pool): microseconds per call of gaplib, the torch spelling and the usual module."""
    rows = []
    for shape in shapes:
        x = torch.randn(shape, device=device, dtype=dtype, requires_grad=backward)
        for name, entry in contenders().items():
            fns = {k: (_with_backward(fn) if backward else fn) for k, (_, fn) in entry.items()}
            with torch.set_grad_enabled(backward):
                t = compare(fns, x, reps=reps, rounds=rounds)
            rows.append(
                {
                    "device": torch.device(device).type + ("" if dtype == torch.float32 else f" {str(dtype)[6:]}"),
                    "shape": "x".join(map(str, shape)),
                    "pool": name,
                    "gaplib µs": t["gaplib"] * 1e6,
                    "torch spelling µs": t["torch"] * 1e6,
                    "module µs": t["module"] * 1e6,
                    "module": entry["module"][0],
                    "speed-up": t["module"] / t["gaplib"],
                }
            )
    return rows


def markdown(rows: list[dict]) -> str:
    """The rows as a markdown table (times with no decimals, speed-ups with one)."""

    def cell(k: str, v: object) -> str:
        if k == "speed-up":
            return f"{v:.1f}×"
        return f"{v:,.0f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(k, r[k]) for k in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer shapes and repeats")
    ap.add_argument("--backward", action="store_true", help="time forward + backward")
    ap.add_argument("--device", choices=["all", "cpu", "cuda"], default="all")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for torch (default: torch's choice)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    reps, rounds = (5, 2) if args.quick else (20, 3)
    runs = []
    if args.device in ("all", "cpu"):
        runs.append(("cpu", CPU_SHAPES[:2] if args.quick else CPU_SHAPES, [torch.float32]))
    if args.device in ("all", "cuda"):
        if torch.cuda.is_available():
            runs.append(("cuda", GPU_SHAPES[:2] if args.quick else GPU_SHAPES, [torch.float32, torch.float16]))
        elif args.device == "cuda":
            raise SystemExit("--device cuda but CUDA is not available on this machine")
    args.out.mkdir(parents=True, exist_ok=True)
    for device, shapes, dtypes in runs:
        rows = [r for dt in dtypes for r in bench(shapes, device, dt, reps, rounds, args.backward)]
        n = torch.get_num_threads()
        name = torch.cuda.get_device_name() if device == "cuda" else f"CPU, {n} thread{'s' if n > 1 else ''}"
        what = "forward + backward" if args.backward else "forward"
        table = f"Global pooling, {what}, {name}, torch {torch.__version__}\n\n{markdown(rows)}\n"
        path = args.out / f"pools_{device}{'_bwd' if args.backward else ''}.md"
        path.write_text(table)
        print(table)
        print(f"wrote {path.name} in {args.out.name}/")


if __name__ == "__main__":
    main()
