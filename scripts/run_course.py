"""Run every course notebook headlessly, time it, and write the course site (build/course/index.html).

Used by `make course`; it is also the course's speed benchmark: the times table goes to build/course/times.md.
By default the notebooks in notebooks/ are left untouched: executed copies and the site go to build/course/.
With --inplace the notebooks are executed where they are (to commit their outputs), then synced by
scripts/sync_notebooks.py (execution metadata stripped, code formatted); --write-times also writes the measured
times into each notebook's "Runs in ~N s on a 2-core CPU" line and into the README's table. Usage:
  python scripts/run_course.py [--out build/course] [NOTEBOOK ...]
  python scripts/run_course.py --inplace [--write-times]
"""

from __future__ import annotations

import argparse
import math
import re
import resource
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from traitlets.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_site import build_site  # noqa: E402
from sync_notebooks import NOTEBOOKS  # noqa: E402
from sync_notebooks import main as sync_main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIGURE_ALT = Path(__file__).resolve().parent / "figure_alt.py"
RUNS_IN_CPU = re.compile(r"(Runs in ~)(\d+|[A-Z_]+)( s on a 2-core CPU)")  # a number, or a placeholder
README_TIMES = re.compile(r"(<!-- times: start -->\n)(.*?)(\n<!-- times: end -->)", re.S)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def kernel_config() -> Config:
    """The kernels' settings: Jupyter's default transport, TCP on this machine's loopback, unencrypted.

    ipykernel >= 7 can encrypt that traffic with CurveZMQ keys (`transport_encryption = "auto"` in jupyter_client
    >= 8.10), and warns "Kernel is running over TCP without encryption" at every start without it. Encrypting costs
    every message: notebook 06, whose progress bars send thousands, ran 8 s slower (87 s instead of 79 s, 15 CPU
    seconds more on 2 cores). The kernel listens on 127.0.0.1 only and signs its messages with a per-kernel key, as
    Jupyter always has; its start-up notice is silenced by `KERNEL_LOG_LEVEL` below, the notebooks' own warnings
    are not (they go to the cells' outputs).
    """
    return Config()


KERNEL_LOG_LEVEL = "--IPKernelApp.log_level=ERROR"  # the kernel process's own log, not the notebook's warnings


def run_one(path: Path, dest: Path) -> tuple[float, float, str]:
    """Execute `path` in its own folder, write the executed notebook to `dest`; return (seconds, cpu seconds, status).

    The kernel starts with scripts/figure_alt.py, so every figure's output carries alt text for the site.
    """
    nb = nbformat.read(path, as_version=4)
    start, cpu = time.perf_counter(), _children_cpu()
    status = "ok"
    try:
        NotebookClient(
            nb,
            timeout=900,
            kernel_name="python3",
            config=kernel_config(),
            record_timing=False,
            resources={"metadata": {"path": str(path.parent)}},
            extra_arguments=[f"--IPKernelApp.exec_files={FIGURE_ALT}", KERNEL_LOG_LEVEL],
        ).execute()
    except Exception as err:  # keep going: the index shows which notebook failed and why
        last = str(err).strip().splitlines()[-1] if str(err).strip() else ""
        status = f"failed: {type(err).__name__}: {last}"
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
    nbformat.write(nb, dest)
    return seconds, cpu, status


def times_table(rows: list[tuple[Path, float, float, str]]) -> str:
    """The Markdown table of measured times."""
    table = ["| notebook | seconds | CPU seconds (kernel) | status |", "|---|---:|---:|---|"]
    table += [f"| {p.name} | {s:.1f} | {c:.1f} | {st} |" for p, s, c, st in rows]
    return "\n".join(table) + "\n"


def write_times(rows: list[tuple[Path, float, float, str]], readme: Path) -> None:
    """Write measured seconds into each notebook's 'Runs in ~N s on a 2-core CPU' and the README's times table."""
    for path, seconds, _, status in rows:
        if status != "ok":
            continue
        nb = nbformat.read(path, as_version=4)
        head = nb.cells[0]
        rounded = max(5, 5 * math.ceil(seconds / 5))
        new = RUNS_IN_CPU.sub(lambda m: f"{m.group(1)}{rounded}{m.group(3)}", head.source, count=1)  # noqa: B023
        if new != head.source:
            head.source = new
            nbformat.write(nb, path)
    text = readme.read_text(encoding="utf-8")
    numbers = " | ".join(p.name[:2] for p, *_ in rows)
    values = " | ".join(f"{s:.0f}" for _, s, _, _ in rows)
    table = f"| notebook | {numbers} |\n|{'---|' * (len(rows) + 1)}\n| seconds, 2-core CPU | {values} |"
    if README_TIMES.search(text):
        readme.write_text(README_TIMES.sub(lambda m: m.group(1) + table + m.group(3), text), encoding="utf-8")
    else:
        print(f"no '<!-- times: start -->' block in {readme}: its table was not updated")


def main(argv: list[str] | None = None) -> int:
    """Run the course; exit non-zero if any notebook failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help=f"notebooks to run (default: {NOTEBOOKS})")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "course", help="output folder")
    parser.add_argument("--inplace", action="store_true", help="execute the notebooks in notebooks/ and sync them")
    parser.add_argument("--write-times", action="store_true", help="with --inplace: write times into headers, README")
    args = parser.parse_args(argv)
    if args.write_times and not args.inplace:
        parser.error("--write-times needs --inplace (it writes into the notebooks)")
    paths = [p.resolve() for p in args.notebooks] or sorted(ROOT.glob(NOTEBOOKS))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        sys.exit(f"no such notebook: {', '.join(missing)}")
    args.out.mkdir(parents=True, exist_ok=True)
    rows, total = [], time.perf_counter()
    for p in paths:  # one at a time: a notebook's time is its own
        print(f"running {p.name} ...", end=" ", flush=True)
        s, c, st = run_one(p, p if args.inplace else args.out / p.name)
        print(f"{s:.0f} s ({c:.0f} s CPU), {st}", flush=True)
        rows.append((p, s, c, st))
    rendered = paths if args.inplace else [args.out / p.name for p in paths]
    if args.inplace:
        sync_main([str(p) for p in paths])
        if args.write_times:
            write_times(rows, ROOT / "README.md")
    table = times_table(rows)
    (args.out / "times.md").write_text(table)
    stamp = time.strftime("%Y-%m-%d %H:%M")
    note = f"Executed on this machine on {stamp}; the run times above were measured then, one notebook at a time."
    index = build_site(rendered, args.out, {p.name: (s, st) for p, s, _, st in rows}, note=note)
    print("\n" + table)
    print(f"The whole course ran in {time.perf_counter() - total:.0f} s (table in {args.out / 'times.md'}).")
    print(f"Browse the results: open {index} in a web browser.")
    print("Work through the notebooks yourself: `make lab` starts JupyterLab in notebooks/.")
    return int(any(st != "ok" for *_, st in rows))


if __name__ == "__main__":
    sys.exit(main())
