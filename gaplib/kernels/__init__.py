"""Triton GPU kernels for global average, max and concat pooling, built to run at memory speed.

Global pooling reads every activation once and does about one operation per value, so its speed limit is memory
bandwidth, not arithmetic. These kernels read `x` in one pass (accumulating in float32) and write each gradient in
one pass, for `(N, C, H, W)` tensors in NCHW or channels_last layout and float32, float16 or bfloat16.
`gaplib.pool` calls them on large CUDA tensors when `choose` says so, on the GPUs they were tuned on (H100, H200);
everywhere else (other GPUs, the CPU, MPS) it uses PyTorch. Notebook 09 builds a 25-line version of the
average-pooling kernel step by step; this package is what it grows into.

Where things live (one concern per file, read top-down):
- `function.py`: `gap`, `gmp`, `concat_pool`, the autograd Function, and `choose`, the one place that decides
  between gaplib's kernels and PyTorch's reductions (availability, size, which GPU, and its tuning table).
- `long_maps.py`: NCHW maps of more than 64 values, and channels_last maps; the split reduction for few long maps.
- `short_maps.py`: NCHW maps of at most 64 values (a ResNet's 7 x 7 head): three forward kernels and the backward.
- `tuning.py`: all block-shape knowledge: named `BlockConfig` records in one table per GPU (the H100's, the
  H200's), picked at run time by the device's name, the rules of thumb for shapes no table names
  (`tuning.launch_record` gives a launch its record), and `tuning.override` / `tuning.set_config` to try others.
- `common.py`: the optional Triton import and the pieces every kernel shares (running tiles, masked loads,
  NaN-aware max, result stores).

Max pooling keeps, for the backward pass, the position of the first maximum of each map in row-major `(h, w)`
order, so its gradient goes to one position, as in `nn.AdaptiveMaxPool2d` (fastai's `AdaptiveConcatPool2d`);
`x.amax((2, 3))` instead splits the gradient evenly among tied maxima. A map that contains NaN pools to NaN (its
max gradient then goes to an unspecified position). The package imports on machines without Triton or a GPU;
`available` is then False. `GAPLIB_KERNELS=0` switches the kernels off; `GAPLIB_KERNELS=1` lets `gaplib.pool` use
them on GPUs without a tuning table too (T4, L4, A100, ...), with the H100's block shapes.

GPU words used in these files:
- *program*: one instance of a Triton kernel (CUDA's thread block); a launch runs a *grid* of them, each on one
  *SM* (streaming multiprocessor, a GPU core; an H100 or H200 has 132). A program's work is spread over `warps`
  groups of 32 threads that execute in lockstep.
- *block* / *tile*: the `rows x cols` values a program handles in one step (`tl.arange` ranges, powers of two).
- *constexpr*: a kernel argument fixed when the kernel is compiled (one compiled version per value), so the
  compiler can unroll loops over it and drop branches; the other arguments are read at run time.
- *coalesced*, *vectorised*: neighbouring threads read neighbouring addresses, so that one memory transaction
  serves many of them; a thread that reads 16 aligned bytes at once issues one request instead of four.
- *L2*: the GPU's last cache level (50-60 MB on Hopper); benchmarks cycle over inputs larger than it.
- *occupancy*: how much independent work is in flight per SM; memory-bound kernels need many loads in flight to
  hide memory latency, which is why too few programs (few long maps) are split, and why `stages` prefetch loads.
- *atomic*: a read-modify-write the hardware does as one step, even when many programs hit the same address.
- *eviction policy* `evict_first`: a hint that values read once need not stay in the cache.
- *CUDA graph*: a recorded sequence of launches replayed without Python in between, so microsecond kernels can be
  timed without launch overhead.
- *roofline*, *copy bandwidth*: the speed limit of a memory-bound operation is its bytes (read + written) over the
  bandwidth a plain device-to-device copy reaches; `benchmarks/bench_gpu_pool.py` reports every kernel against it.
"""

from __future__ import annotations

from . import tuning
from .function import available, choose, concat_pool, gap, gmp

__all__ = ["available", "choose", "gap", "gmp", "concat_pool", "tuning"]
