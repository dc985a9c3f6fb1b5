"""Bring every course notebook in line: one bootstrap cell, its Colab badge, no execution metadata, ruff-formatted code.

Idempotent: running it twice changes nothing the second time. The repository and the ref (branch or tag) that the
badge opens and the bootstrap installs are named here and written into each notebook's bootstrap cell; a release
rewrites them all with one command. Usage:
  python scripts/sync_notebooks.py                 # rewrite notebooks/[0-9][0-9]_*.ipynb, keeping their current ref
  python scripts/sync_notebooks.py --ref v0.2      # ... and point badges and installs at the tag v0.2
  python scripts/sync_notebooks.py --check         # change nothing; exit 1 and say which notebooks would change
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SLUG = "gapcourse/gapcourse"  # the GitHub repository: owner/name
DEFAULT_REF = "main"
NOTEBOOKS = "notebooks/[0-9][0-9]_*.ipynb"

BOOTSTRAP = """\
# Colab set-up: install the course's library (gaplib) from its repository; outside Colab this does nothing.
REPO, REF = "https://github.com/{slug}", "{ref}"
import sys

if "google.colab" in sys.modules:
    import subprocess
    from importlib.metadata import PackageNotFoundError, version

    keep = []  # Colab's own torch, torchvision and numpy (those this runtime has) stay exactly as they are
    for name in ("torch", "torchvision", "numpy"):
        try:
            keep.append(f"{{name}}=={{version(name)}}")
        except PackageNotFoundError:
            pass
    with open("/tmp/gapcourse-keep.txt", "w") as constraints:
        constraints.write("\\n".join(keep))
    pip = [sys.executable, "-m", "pip", "install", "-q", "-c", constraints.name]
    done = subprocess.run([*pip, f"gaplib[colab] @ git+{{REPO}}@{{REF}}"], capture_output=True, text=True)
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(
            f"could not install gaplib from {{REPO}}@{{REF}} (pip: {{said}}). Check that this repository and ref exist"
            " and are public, and that the runtime is online (Runtime > Change runtime type), then run this cell again."
        ) from None
    print(f"installed gaplib from {{REPO}}@{{REF}}, keeping {{', '.join(keep) or 'nothing'}}")
else:
    print("not on Colab: nothing to install")"""

BADGE_IMG = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_RE = re.compile(
    r"\[!\[Open In Colab\]\([^)]*\)\]\(https://colab\.research\.google\.com/github/[^)\s]*\)", re.IGNORECASE
)
REF_RE = re.compile(r'^REPO, REF = "[^"]*", "([^"]+)"$', re.M)
BOOTSTRAP_FIRST_LINE = "# Colab set-up"
KEPT_NB_METADATA = ("kernelspec", "language_info", "accelerator", "title")
DROPPED_CELL_METADATA = ("execution", "ExecuteTime", "collapsed", "scrolled")
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def bootstrap_source(ref: str, slug: str = SLUG) -> str:
    """The bootstrap cell's source for a repository `slug` and a `ref`."""
    return BOOTSTRAP.format(slug=slug, ref=ref)


def badge(notebook: str, ref: str, slug: str = SLUG) -> str:
    """The Markdown of the Colab badge that opens `notebook` (a file name in notebooks/) at `ref`."""
    url = f"https://colab.research.google.com/github/{slug}/blob/{ref}/notebooks/{notebook}"
    return f"[![Open In Colab]({BADGE_IMG})]({url})"


def current_ref(nb: nbformat.NotebookNode) -> str | None:
    """The ref a notebook's bootstrap cell installs, or None when it has no current-style bootstrap."""
    for cell in nb.cells[:3]:
        if cell.cell_type == "code" and (m := REF_RE.search(cell.source)):
            return m.group(1)
    return None


def _is_bootstrap(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and cell.source.lstrip().startswith(BOOTSTRAP_FIRST_LINE)


def sync(nb: nbformat.NotebookNode, name: str, ref: str) -> nbformat.NotebookNode:
    """Return a copy of `nb` (the notebook file `name`) with the bootstrap, badge and metadata made canonical."""
    nb = copy.deepcopy(nb)
    want = bootstrap_source(ref)
    # 1. the bootstrap is the second cell, alone in it
    if len(nb.cells) > 1 and _is_bootstrap(nb.cells[1]):
        cell = nb.cells[1]
        if cell.source != want:
            cell.source, cell.outputs, cell.execution_count = want, [], None
    else:
        nb.cells.insert(1, nbformat.v4.new_code_cell(want))
    # 2. the badge in the first cell opens this notebook at the same ref
    head = nb.cells[0]
    if head.cell_type == "markdown":
        if BADGE_RE.search(head.source):
            head.source = BADGE_RE.sub(lambda _: badge(name, ref), head.source)
        else:
            head.source = head.source.rstrip("\n") + "\n\n" + badge(name, ref)
    # 3. no execution timestamps or machine-specific metadata
    for cell in nb.cells:
        for key in DROPPED_CELL_METADATA:
            cell.metadata.pop(key, None)
    meta = {k: v for k, v in nb.metadata.items() if k in KEPT_NB_METADATA}
    meta["kernelspec"] = dict(KERNELSPEC)
    if "language_info" in meta:
        meta["language_info"] = {k: v for k, v in meta["language_info"].items() if k != "version"}
    nb.metadata = nbformat.from_dict(meta)
    return nb


def _ruff_formatted(path: Path) -> nbformat.NotebookNode:
    """Read `path` after `ruff format` (run on a temporary copy; the file itself is not touched)."""
    with tempfile.TemporaryDirectory() as tmp:
        copy_path = Path(tmp) / path.name
        shutil.copyfile(path, copy_path)
        done = subprocess.run(
            [sys.executable, "-m", "ruff", "format", "-q", "--config", str(ROOT / "pyproject.toml"), str(copy_path)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"ruff format failed on {path.name}:\n{done.stdout}{done.stderr}")
        return nbformat.read(copy_path, as_version=4)


def synced_text(path: Path, ref: str | None = None) -> str:
    """The text `path` should hold: ruff-formatted, synced to `ref` (default: the ref it already names)."""
    nb = _ruff_formatted(path)
    ref = ref or current_ref(nb) or DEFAULT_REF
    text = nbformat.writes(sync(nb, path.name, ref))
    return text if text.endswith("\n") else text + "\n"


def main(argv: list[str] | None = None) -> int:
    """Sync (or with --check, only inspect) the course notebooks; return 1 when --check finds a difference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help=f"notebooks (default: {NOTEBOOKS})")
    parser.add_argument("--ref", help="branch or tag that badges open and bootstraps install (default: unchanged)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook would change")
    args = parser.parse_args(argv)
    if args.ref is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]*", args.ref):
        parser.error(f"--ref must be a branch or tag name, got {args.ref!r}")
    paths = args.notebooks or sorted(ROOT.glob(NOTEBOOKS))
    stale = []
    for path in paths:
        text = synced_text(path, args.ref)
        if path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(text, encoding="utf-8")
            print(f"synced {path.name}")
    if args.check and stale:
        names = ", ".join(p.name for p in stale)
        print(f"would change: {names}\nrun: python scripts/sync_notebooks.py {' '.join(map(str, args.notebooks))}")
        return 1
    if not stale:
        print(f"{len(paths)} notebook(s) already in sync")
    return 0


if __name__ == "__main__":
    sys.exit(main())
