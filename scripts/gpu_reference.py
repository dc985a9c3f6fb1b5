"""Write the `STORED` block of gaplib/gpu_reference.py: the stored GPU table rows notebook 09 shows without a GPU.

The tables are benchmarks/reference/{h100,h200}_gpu_pool.md (made by benchmarks/bench_gpu_pool.py); the module
keeps the cases notebook 09 uses (one per class of cell: short, mid and long maps, both layouts, float32 and
bfloat16), every row of each (the `compiled ...` rows too, once a table has them), with the device, the copy
bandwidth and the commit and date of the table.
Run it after a new table is committed:  python scripts/gpu_reference.py  (tests/test_gpu_reference.py checks
that the module matches the tables).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLES = {"H100": "benchmarks/reference/h100_gpu_pool.md", "H200": "benchmarks/reference/h200_gpu_pool.md"}
SHAPES = ("256x2048x7x7", "128x256x32x32", "64x64x112x112")
LAYOUTS = ("NCHW", "channels_last")
CASES = [(shape, dtype, layout) for shape in SHAPES for layout in LAYOUTS for dtype in ("fp32", "bf16")]
DEVICE_RE = re.compile(r"^Device: ([^(;]+?) \(.*?torch ([^;]+);.*?copy bandwidth \*\*([\d.]+) TB/s\*\*", re.M)
ROW_RE = re.compile(r"^\| (\d+x\d+x\d+x\d+)\*? \| (\w+) \| (\w+) \| ([^|]+?) \|((?: [^|]* \|){6})\s*$", re.M)
OUT = ROOT / "gaplib" / "gpu_reference.py"
BLOCK_RE = re.compile(r"^# stored: start[^\n]*\n(.*?)^# stored: end$", re.M | re.S)  # the generated part of OUT


def _number(cell: str) -> float | None:
    cell = cell.strip().strip("*")
    return float(cell) if cell else None


def parse(text: str) -> tuple[dict, dict]:
    """The device line ({'device', 'torch', 'copy_tb_s'}) and every row {(shape, dtype, layout): {impl: 6 numbers}}."""
    device = DEVICE_RE.search(text)
    if device is None:
        raise ValueError("no 'Device: ...' line with the copy bandwidth in the table")
    info = {"device": device.group(1).strip(), "torch": device.group(2).strip(), "copy_tb_s": float(device.group(3))}
    rows: dict = {}
    for shape, dtype, layout, impl, rest in ROW_RE.findall(text):
        numbers = tuple(_number(c) for c in rest.strip().removesuffix("|").split("|"))
        rows.setdefault((shape, dtype, layout), {})[impl.strip().strip("*")] = numbers
    return info, rows


def table_commit(path: str) -> tuple[str, str]:
    """The short hash and date of the last commit that changed `path`."""
    out = subprocess.run(
        ["git", "log", "-1", "--format=%h %cs", "--", path], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    if len(out) != 2:
        raise RuntimeError(f"{path} has no commit: commit the table first")
    return out[0], out[1]


def module_source() -> str:
    """The text of gaplib/gpu_reference.py with its `STORED` block written from the committed tables."""
    runs = []
    for gpu, path in TABLES.items():
        info, rows = parse((ROOT / path).read_text(encoding="utf-8"))
        commit, date = table_commit(path)
        cases = []
        for shape, dtype, layout in CASES:
            found = rows[(shape, dtype, layout)]
            shape_t = tuple(int(v) for v in shape.split("x"))
            body = "".join(f"            {impl!r}: {nums!r},\n" for impl, nums in found.items())
            cases.append(f"        ({shape_t!r}, {dtype!r}, {layout!r}): {{\n{body}        }},\n")
        runs.append(
            f"    {gpu!r}: StoredRun(\n"
            f"        gpu={info['device']!r},\n        torch={info['torch']!r},\n"
            f"        copy_tb_s={info['copy_tb_s']!r},\n        source={path!r},\n"
            f"        commit={commit!r},\n        date={date!r},\n        cases={{\n"
            + "".join("    " + line + "\n" for line in "".join(cases).splitlines())
            + "        },\n    ),\n"
        )
    block = "STORED: dict[str, StoredRun] = {\n" + "".join(runs) + "}\n"
    module = OUT.read_text(encoding="utf-8")
    found = BLOCK_RE.search(module)
    if found is None:
        raise RuntimeError(f"{OUT.relative_to(ROOT)} has no '# stored: start' / '# stored: end' markers")
    return module[: found.start(1)] + block + module[found.end(1) :]


def main() -> int:
    """Write the module and format it with ruff."""
    OUT.write_text(module_source(), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(OUT)], check=True)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
