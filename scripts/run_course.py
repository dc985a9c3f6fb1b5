"""Run every course notebook headlessly and write a browsable HTML rendering with an index.

Used by `make course`; it is also the course's speed benchmark: it times each notebook and writes the
table to build/course/times.md. The notebooks in notebooks/ are left untouched: executed copies and their HTML
go to build/course/. Usage: python scripts/run_course.py [--out build/course] [NOTEBOOK ...]
"""

from __future__ import annotations

import argparse
import html
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent


def title_of(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The first markdown heading of a notebook, without its '#'s."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return fallback


def run_one(path: Path, out: Path) -> tuple[str, float, str]:
    """Execute one notebook in its own folder, write its executed copy and HTML; return (title, seconds, status)."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    status = "ok"
    try:
        resources = {"metadata": {"path": str(path.parent)}}
        NotebookClient(nb, timeout=900, kernel_name="python3", resources=resources).execute()
    except Exception as err:  # keep going: the index shows which notebook failed and why
        status = f"failed: {type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"
    seconds = time.perf_counter() - start
    nbformat.write(nb, out / path.name)
    body, _ = HTMLExporter().from_notebook_node(nb)
    (out / path.with_suffix(".html").name).write_text(body, encoding="utf-8")
    return title_of(nb, path.stem), seconds, status


def write_index(rows: list[tuple[Path, str, float, str]], out: Path) -> Path:
    """Write out/index.html linking every rendered notebook with its run time and status."""
    items = "\n".join(
        f'<tr><td><a href="{p.with_suffix(".html").name}">{html.escape(t)}</a></td>'
        f"<td>{s:.0f} s</td><td>{html.escape(st)}</td></tr>"
        for p, t, s, st in rows
    )
    page = f"""<!doctype html><meta charset="utf-8"><title>gapcourse</title>
<style>body{{font-family:sans-serif;max-width:50em;margin:2em auto}}td{{padding:.3em 1em}}</style>
<h1>gapcourse — Global Average Pooling, demonstrated</h1>
<p>Every notebook, executed on this machine ({time.strftime("%Y-%m-%d %H:%M")}).</p>
<table><tr><th>notebook</th><th>run time</th><th>status</th></tr>
{items}</table>"""
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def main() -> int:
    """Run the course; exit non-zero if any notebook failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: all in notebooks/)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "course", help="output folder")
    args = parser.parse_args()
    paths = [p.resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        sys.exit(f"no such notebook: {', '.join(missing)}")
    args.out.mkdir(parents=True, exist_ok=True)
    rows, total = [], time.perf_counter()
    for p in paths:
        print(f"running {p.name} ...", end=" ", flush=True)
        t, s, st = run_one(p, args.out)
        print(f"{s:.0f} s, {st}", flush=True)
        rows.append((p, t, s, st))
    index = write_index(rows, args.out)
    table = ["| notebook | seconds | status |", "|---|---:|---|"]
    table += [f"| {p.name} | {s:.1f} | {st} |" for p, _, s, st in rows]
    (args.out / "times.md").write_text("\n".join(table) + "\n")
    print("\n" + "\n".join(table))
    print(f"\nThe whole course ran in {time.perf_counter() - total:.0f} s (table in {args.out / 'times.md'}).")
    print(f"Browse the results: open {index} in a web browser.")
    print("Work through the notebooks yourself: `make lab` starts JupyterLab in notebooks/.")
    return int(any(st != "ok" for *_, st in rows))


if __name__ == "__main__":
    sys.exit(main())
