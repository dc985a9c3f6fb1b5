"""Block shapes of gaplib's kernels: named records, one measured table per GPU, and a public override.

A kernel launch reads a tile of `rows x cols` values per step, where `cols` is always the axis that is contiguous
in memory: for NCHW maps a tile is `rows` maps by `cols` positions of each map; for channels_last it is `rows`
positions (of H*W) by `cols` channels. `warps` is how many groups of 32 GPU threads run the program, `stages` how
many loop steps of loads are in flight ahead of their use (1: none).

Which record a launch uses depends on its *shape class* (`ShapeClass`): the kernel, the bytes per value, the
pooling, whether the argmax is kept, and the map size and channel count in coarse classes. `config` looks the
class up in the table of the GPU the tensor is on (`TABLES`, chosen by the device's name at run time: an H100 or an
H200 gets its own; `measured_table` says None for every other GPU, which `gaplib.kernels.choose` then leaves to
PyTorch unless `GAPLIB_KERNELS=1` opts in, and such a launch gets the H100's records, the closest measured) and falls
back to a rule of thumb (`rule_of_thumb`); `launch_record` does all of that for one launch. A table entry
`PYTORCH` says that PyTorch's own reduction was measured faster for that forward, so `gaplib.kernels` uses it.

The tables come from `benchmarks/bench_gpu_pool.py --sweep` / `--variants`, which try candidate records through
the public `override` and `set_config`:

    from gaplib.kernels import tuning
    with tuning.override(rows_forward=tuning.BlockConfig(rows=2, cols=1024, warps=8)):
        ...  # every NCHW long-map forward in this block uses that record
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import torch

from .common import next_power_of_two

__all__ = [
    "BlockConfig",
    "ShapeClass",
    "CLASS_FIELDS",
    "SHORT_DEFAULTS",
    "PYTORCH",
    "KERNELS",
    "TABLES",
    "config",
    "launch_record",
    "measured_table",
    "override",
    "set_config",
    "table_name",
    "map_size_class",
    "channels_class",
    "rule_of_thumb",
    "shape_class",
]

PYTORCH = "pytorch"  # a table value: PyTorch's own reduction is faster for this forward on this GPU

# the kernels whose launches read a BlockConfig, and what rows / cols / the options mean for each
KERNELS = {
    "rows_forward": "NCHW forward, maps of more than 64 values: rows = maps per tile, cols = positions per step",
    "rows_backward": "NCHW backward, maps of more than 64 values: a rows x cols tile of the input gradient",
    "channels_last_forward": "channels_last forward: rows = positions per step, cols = channels per program",
    "channels_last_backward": "channels_last backward: a rows x cols tile of one image's gradient",
    "short_forward": "NCHW forward of maps of at most 64 values: rows = maps per program, cols = positions per step; "
    "argmax_method = how the first maximum is found",
    "window_forward": "short NCHW maps without argmax, rows read through aligned 16-byte windows: rows = maps per "
    "program (None: kernel not used)",
    "pairs_forward": "short 16-bit NCHW maps read as 32-bit words: rows = pairs of maps per program, cols = words "
    "per step (None: kernel not used)",
    "short_backward": "NCHW backward of maps of at most 64 values: rows = whole maps per program (a power of two); "
    "packed = 16-bit values and argmax packed in one integer",
}


@dataclass(frozen=True)
class BlockConfig:
    """How one kernel launch is cut into programs: a `rows x cols` tile, `warps` warps, `stages` loads ahead."""

    rows: int
    cols: int = 0  # 0: the kernel works it out (window_forward, short_backward)
    warps: int = 4
    stages: int = 1
    argmax_method: str = "auto"  # short_forward only: "reduce" (value, position) pairs, "key32" / "key64" packed keys
    packed: bool = False  # short_backward only, 16-bit gradients

    def __post_init__(self) -> None:
        for name in ("rows", "warps"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1 or value & (value - 1):
                raise ValueError(f"BlockConfig.{name} must be a positive power of two, got {value!r}")
        if not isinstance(self.stages, int) or self.stages < 1:
            raise ValueError(f"BlockConfig.stages must be a positive integer, got {self.stages!r}")
        if not isinstance(self.cols, int) or self.cols < 0 or self.cols & (self.cols - 1):
            raise ValueError(f"BlockConfig.cols must be 0 or a power of two, got {self.cols!r}")
        if self.argmax_method not in ("auto", "reduce", "key32", "key64"):
            raise ValueError(
                f"BlockConfig.argmax_method must be 'auto', 'reduce', 'key32' or 'key64', got {self.argmax_method!r}"
            )


class ShapeClass(NamedTuple):
    """The key of a tuning table: which launches share one BlockConfig (None: any)."""

    kernel: str
    value_bytes: int  # 4: float32, 2: float16 / bfloat16
    op: str | None = None  # "gap", "gmp", "concat_pool"
    keeps_argmax: bool | None = None  # the forward keeps the position of each maximum (training max pooling)
    map_size: str | None = None  # map_size_class(H * W)
    channels: str | None = None  # channels_class(C), channels_last only


# which fields of its ShapeClass a kernel's launches fill in (the others stay None)
CLASS_FIELDS = {
    "rows_forward": ("op", "keeps_argmax", "map_size"),
    "rows_backward": ("op", "map_size"),
    "channels_last_forward": ("op", "keeps_argmax", "map_size", "channels"),
    "channels_last_backward": ("op", "map_size", "channels"),
    "short_forward": ("op", "keeps_argmax"),
    "window_forward": ("op",),
    "pairs_forward": ("op", "keeps_argmax"),
    "short_backward": ("op",),
}
OPTIONAL = ("window_forward", "pairs_forward")  # kernels a launcher skips where their record is not a BlockConfig


def map_size_class(size: int) -> str:
    """Coarse class of a map of `size` = H * W values: "short" (<= 64), "mid" (<= 2048) or "long"."""
    return "short" if size <= 64 else "mid" if size <= 2048 else "long"


def channels_class(channels: int) -> str:
    """Coarse class of a channel count: "narrow" (< 128), "mid" (< 512) or "wide"."""
    return "wide" if channels >= 512 else "mid" if channels >= 128 else "narrow"


def shape_class(kernel: str, x: torch.Tensor, op: str, keeps_argmax: bool | None = None) -> ShapeClass:
    """The table key of a launch of `kernel` on `x` (N, C, H, W), with the fields `CLASS_FIELDS` names for it."""
    _, channels, height, width = x.shape
    fields = dict(
        op=op,
        keeps_argmax=keeps_argmax,
        map_size=map_size_class(height * width),
        channels=channels_class(channels),
    )
    return ShapeClass(kernel, x.element_size(), **{name: fields[name] for name in CLASS_FIELDS[kernel]})


def rule_of_thumb(kernel: str, x: torch.Tensor) -> BlockConfig | None:
    """The record of a launch on `x` whose class no table names: the short maps' `SHORT_DEFAULTS`, else a tile.

    A tile grows along its contiguous side first: up to 8 KiB of a map per step for the NCHW forward, 2048 values
    for its backward, 512 bytes of channels for channels_last; rows then fill it up to 2048 values (4096 for the
    channels_last forward). A forward tile of more than 2048 values gets 8 warps, every other 4.
    """
    n_images, channels, height, width = x.shape
    size, n_rows, value_bytes = height * width, n_images * channels, x.element_size()
    if kernel in SHORT_DEFAULTS:
        return SHORT_DEFAULTS[kernel]
    forward = kernel.endswith("forward")
    if kernel.startswith("channels_last"):
        cols = min(next_power_of_two(channels), 512 // value_bytes)
        rows = max(1, min(next_power_of_two(size), (4096 if forward else 2048) // cols))
    else:
        cols = min(next_power_of_two(size), 8192 // value_bytes if forward else 2048)
        rows = max(1, min(next_power_of_two(n_rows), 2048 // cols))
    return BlockConfig(rows=rows, cols=cols, warps=8 if forward and rows * cols > 2048 else 4)


def launch_record(kernel: str, x: torch.Tensor, op: str, keeps_argmax: bool | None = None) -> BlockConfig | None:
    """The BlockConfig a launch of `kernel` on `x` uses: `config` of its `shape_class`, else its `rule_of_thumb`.

    A record that is not a BlockConfig (None, or `PYTORCH`, which `gaplib.kernels.choose` acts on) means the rule
    of thumb, but for the kernels in `OPTIONAL`, which it switches off (None).
    """
    default = rule_of_thumb(kernel, x)
    record = config(shape_class(kernel, x, op, keeps_argmax), x.device, default)
    if isinstance(record, BlockConfig):
        return record
    return None if kernel in OPTIONAL else default


S, B = ShapeClass, BlockConfig
# Fixed records of the short-map kernels where no table names their class (None: the kernel is not used)
SHORT_DEFAULTS: dict[str, BlockConfig | None] = {
    "short_forward": B(rows=128, cols=16, warps=4),
    "window_forward": None,
    "pairs_forward": B(rows=64, cols=16, warps=4),
    "short_backward": B(rows=64, warps=8),
}
# Measured on an H100 80GB HBM3 (132 SMs, 3.0 TB/s copy) with benchmarks/bench_gpu_pool.py --sweep / --variants.
H100: dict[ShapeClass, BlockConfig | str | None] = {
    # NCHW maps of at most 64 values, the general kernel: float32 (an int64 key finds the first maximum) ...
    S("short_forward", 4, op="gap", keeps_argmax=False): B(rows=16, cols=16, warps=1),
    S("short_forward", 4, op="gmp", keeps_argmax=False): B(rows=16, cols=16, warps=1),
    S("short_forward", 4, op="gmp", keeps_argmax=True): B(rows=16, cols=8, warps=1, argmax_method="key64"),
    S("short_forward", 4, op="concat_pool", keeps_argmax=False): B(rows=16, cols=8, warps=1),
    S("short_forward", 4, op="concat_pool", keeps_argmax=True): B(rows=16, cols=8, warps=1, argmax_method="key64"),
    # ... and 16-bit values
    S("short_forward", 2, op="gap", keeps_argmax=False): B(rows=128, cols=4, warps=4),
    S("short_forward", 2, op="gmp", keeps_argmax=False): B(rows=128, cols=4, warps=4),
    S("short_forward", 2, op="gmp", keeps_argmax=True): B(rows=128, cols=4, warps=4, argmax_method="key32"),
    S("short_forward", 2, op="concat_pool", keeps_argmax=False): B(rows=128, cols=4, warps=4),
    S("short_forward", 2, op="concat_pool", keeps_argmax=True): B(rows=128, cols=4, warps=4, argmax_method="reduce"),
    # short maps without argmax, read through aligned 16-byte windows
    S("window_forward", 4, op="gap"): B(rows=32, warps=4),
    S("window_forward", 4, op="gmp"): B(rows=32, warps=4),
    S("window_forward", 4, op="concat_pool"): B(rows=16, warps=1),
    S("window_forward", 2, op="gap"): B(rows=32, warps=4),
    S("window_forward", 2, op="gmp"): B(rows=128, warps=8),
    S("window_forward", 2, op="concat_pool"): None,  # 16-bit concat: the pairs kernel measured faster
    # short 16-bit maps read as 32-bit words
    S("pairs_forward", 2, op="gap", keeps_argmax=False): B(rows=64, cols=16, warps=4),
    S("pairs_forward", 2, op="gmp", keeps_argmax=False): B(rows=128, cols=8, warps=4),
    S("pairs_forward", 2, op="gmp", keeps_argmax=True): B(rows=64, cols=8, warps=2),
    S("pairs_forward", 2, op="concat_pool", keeps_argmax=False): B(rows=32, cols=8, warps=2),
    S("pairs_forward", 2, op="concat_pool", keeps_argmax=True): B(rows=64, cols=8, warps=2),
    S("short_backward", 4): B(rows=64, warps=4),
    S("short_backward", 2): B(rows=128, warps=8),
    S("short_backward", 2, op="gmp"): B(rows=512, warps=16, packed=True),
    S("short_backward", 2, op="concat_pool"): B(rows=512, warps=16, packed=True),
    # NCHW maps of 65 to 2048 values
    S("rows_forward", 4, keeps_argmax=False, map_size="mid"): B(rows=1, cols=1024, warps=4),
    S("rows_forward", 4, op="concat_pool", keeps_argmax=False, map_size="mid"): B(rows=2, cols=1024, warps=8),
    S("rows_forward", 4, keeps_argmax=True, map_size="mid"): B(rows=4, cols=256, warps=4, stages=3),
    S("rows_backward", 4, map_size="mid"): B(rows=1, cols=1024, warps=4),
    # channels_last
    S("channels_last_forward", 2, keeps_argmax=True, map_size="short", channels="wide"): B(rows=16, cols=128, warps=4),
    S("channels_last_backward", 2, map_size="short", channels="wide"): B(rows=4, cols=512, warps=4),
    S("channels_last_forward", 2, keeps_argmax=False, map_size="long", channels="narrow"): B(
        rows=32, cols=64, warps=4, stages=4
    ),
    S("channels_last_forward", 2, keeps_argmax=True, map_size="long", channels="narrow"): B(
        rows=32, cols=64, warps=4, stages=4
    ),
    S("channels_last_backward", 2, map_size="long", channels="narrow"): B(rows=64, cols=64, warps=8),
}
# Short channels_last maps whose argmax is not kept: PyTorch's reductions measured faster on an H100 (67-90 % of
# copy bandwidth; for concat two of them, ~40 %, against 21-34 % for the kernel), so the forward is theirs.
H100.update(
    {
        S("channels_last_forward", size, keeps_argmax=False, map_size="short", channels=width): PYTORCH
        for size in (4, 2)
        for width in ("narrow", "mid", "wide")
    }
)

# An H200 (132 SMs, 60 MiB L2, 4.26 TB/s copy): the H100's records, but for those that
# benchmarks/bench_gpu_pool.py --sweep measured faster on one (benchmarks/reference/h200_gpu_pool.md).
H200: dict[ShapeClass, BlockConfig | str | None] = dict(H100)
H200.update(
    {
        # 16-bit 7 x 7 maps without argmax: the pairs kernel (32-bit words) beat aligned windows (75-79 % vs 66-69 %)
        S("window_forward", 2, op="gap"): None,
        S("window_forward", 2, op="gmp"): None,
        S("pairs_forward", 2, op="gmp", keeps_argmax=True): B(rows=64, cols=8, warps=2),
        # NCHW 32 x 32 concat: 97 % against 77 % for the H100's (2, 1024, 8)
        S("rows_forward", 4, op="concat_pool", keeps_argmax=False, map_size="mid"): B(rows=2, cols=512, warps=4),
        # float32 channels_last 7 x 7 keeping the argmax: 75 % (max) against 27 %, loads four steps ahead
        S("channels_last_forward", 4, keeps_argmax=True, map_size="short", channels="wide"): B(
            rows=8, cols=256, warps=4, stages=4
        ),
        # float32 channels_last 7 x 7 concat: the kernel (59 %) beat PyTorch's two reductions and a cat (40 %) here
        S("channels_last_forward", 4, op="concat_pool", keeps_argmax=False, map_size="short", channels="wide"): B(
            rows=64, cols=32, warps=4
        ),
        S("channels_last_backward", 4, map_size="short", channels="wide"): B(rows=64, cols=64, warps=8),
        # 16-bit channels_last 32 x 32 maps, mean alone: x.mean((2, 3)) measured 58 % against the kernel's 53 %
        S("channels_last_forward", 2, op="gap", keeps_argmax=False, map_size="mid", channels="mid"): PYTORCH,
    }
)

TABLES: dict[str, dict[ShapeClass, BlockConfig | str | None]] = {"H100": H100, "H200": H200}

_OVERRIDES: dict[str, BlockConfig | str | None] = {}
_MISSING = object()


@functools.cache
def _device_table(index: int) -> str | None:
    """The name of the table measured on CUDA device `index` (its name contains "H100" or "H200"), else None."""
    name = torch.cuda.get_device_name(index)
    return next((key for key in TABLES if key in name), None)


def measured_table(device: torch.device | str | int | None = None) -> str | None:
    """The table measured on `device`'s GPU: "H100" or "H200" by the GPU's name; None for any other GPU or the CPU."""
    device = torch.device("cuda", device) if isinstance(device, int) else torch.device(device or "cpu")
    if device.type != "cuda":
        return None
    return _device_table(device.index if device.index is not None else torch.cuda.current_device())


def table_name(device: torch.device | str | int | None = None) -> str:
    """Which of `TABLES` serves `device`: its `measured_table`, else the H100's (unmeasured GPUs, CPU interpreter)."""
    return measured_table(device) or "H100"


def config(key: ShapeClass, device: torch.device, default: BlockConfig | str | None) -> BlockConfig | str | None:
    """A launch's record: an `override` of its kernel, else the device table's (op-specific first), else `default`."""
    if key.kernel in _OVERRIDES:
        return _OVERRIDES[key.kernel]
    table = TABLES[table_name(device)]
    found = table.get(key, _MISSING)
    if found is _MISSING and key.op is not None:
        found = table.get(key._replace(op=None), _MISSING)
    return default if found is _MISSING else found


@contextlib.contextmanager
def override(**records: BlockConfig | str | None) -> Iterator[None]:
    """Inside the block, every launch of each named kernel uses the given record (None: don't use that kernel)."""
    unknown = set(records) - set(KERNELS)
    if unknown:
        raise ValueError(f"override: unknown kernel names {sorted(unknown)}; expected some of {sorted(KERNELS)}")
    for name, record in records.items():
        if not (record is None or record == PYTORCH or isinstance(record, BlockConfig)):
            raise TypeError(f"override: {name} must be a BlockConfig, None or PYTORCH, got {record!r}")
    saved = dict(_OVERRIDES)
    _OVERRIDES.update(records)
    try:
        yield
    finally:
        _OVERRIDES.clear()
        _OVERRIDES.update(saved)


def set_config(table: str, key: ShapeClass, record: BlockConfig | str | None) -> None:
    """Put `record` into the tuning table named `table` (e.g. a sweep's pick) for launches of shape class `key`."""
    if table not in TABLES:
        raise ValueError(f"set_config: table must be one of {sorted(TABLES)}, got {table!r}")
    if not isinstance(key, ShapeClass) or key.kernel not in KERNELS:
        raise ValueError(f"set_config: key must be a ShapeClass of one of {sorted(KERNELS)}, got {key!r}")
    TABLES[table][key] = record
