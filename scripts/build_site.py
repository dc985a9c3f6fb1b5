"""Render course notebooks, with the outputs they hold, as a small static site: an index and one page per notebook.

The pages are plain nbconvert HTML (the `lab` template and `scripts/site/course.html.j2`), self-contained
(figures embedded, no scripts or fonts from the network), so the site opens offline from disk. Usage:
  python scripts/build_site.py [--out build/site] [NOTEBOOK ...]    # render the stored outputs of notebooks/
`scripts/run_course.py` executes the notebooks first and calls `build_site` with the measured times.
"""

from __future__ import annotations

import argparse
import copy
import html
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.filters import markdown2html_mistune

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from sync_notebooks import DEFAULT_REF, NOTEBOOKS, SLUG, current_ref  # noqa: E402

TEMPLATE_DIR = Path(__file__).resolve().parent / "site"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml")
BADGE_RE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\((https://colab\.research\.google\.com/[^)\s]*)\)", re.I)
LINK_RE = re.compile(r"\]\((?!https?:|mailto:|#|data:)([^)\s]+)\)")
RUNS_IN_RE = re.compile(r"Runs in ~[^\n\[]*")
MAP_ROW_RE = re.compile(r"^\|\s*(\d\d)\s+([^|]+?)\s*\|\s*(.+?)\s*\|\s*$", re.M)


@dataclass
class Page:
    """One rendered notebook: its source path, title, html file name and what the index says about it."""

    path: Path
    title: str
    html_name: str
    runs_in: str
    learn: str
    summary: str = ""
    seconds: float | None = None
    status: str | None = None


def title_of(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The first markdown heading of a notebook, without its '#'s."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return fallback


def plain_text(markdown: str) -> str:
    """Markdown reduced to one line of plain words (links keep their text, code keeps its name)."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", markdown)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"^#+\s*", "", text, flags=re.M)
    text = re.sub(r"^\s*([-*+]|\d+\.)\s+", "", text, flags=re.M)
    text = re.sub(r"[*`>|]", "", text)
    return " ".join(text.split())


def fallback_alt(markdown: str) -> str:
    """Alt text for a figure without its own: the section and the last paragraph of the markdown cell before it."""
    lines = markdown.splitlines()
    heading = next((plain_text(line) for line in reversed(lines) if line.startswith("#")), "")
    paragraphs = [p for p in "\n".join(x for x in lines if not x.startswith("#")).split("\n\n") if p.strip()]
    text = plain_text(paragraphs[-1]) if paragraphs else ""
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0][:200] if text else ""
    where = f' (section "{heading}")' if heading else ""
    return f"Figure{where}: {sentence}" if sentence else f"Figure{where}"


def _rewrite_links(markdown: str, rendered: set[str], ref: str) -> str:
    """Notebook links point at their pages; other relative links at the file on GitHub; the badge becomes text."""
    markdown = BADGE_RE.sub(lambda m: f'<a class="colab-link" href="{m.group(1)}">Open in Colab</a>', markdown)

    def link(m: re.Match) -> str:
        target, _, frag = m.group(1).partition("#")
        name = Path(target).name
        if target.endswith(".ipynb") and name in rendered and "/" not in target.strip("./"):
            return f"]({Path(name).with_suffix('.html').name}{'#' + frag if frag else ''})"
        repo_path = Path("notebooks", target)
        parts: list[str] = []
        for part in repo_path.parts:
            if part == "..":
                parts = parts[:-1]
            elif part != ".":
                parts.append(part)
        return f"](https://github.com/{SLUG}/blob/{ref}/{'/'.join(parts)}{'#' + frag if frag else ''})"

    return LINK_RE.sub(link, markdown)


def prepare(nb: nbformat.NotebookNode, rendered: set[str], ref: str) -> nbformat.NotebookNode:
    """A copy of `nb` ready to render: alt text on every figure, final progress bars, site links."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)  # widget state would pull a widget manager from the network
    last_markdown = ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = _rewrite_links(cell.source, rendered, ref)
            last_markdown = cell.source
            continue
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_MIME in data and len(data) > 1:  # show the widget's final text (e.g. tqdm's bar), not its JSON
                del data[WIDGET_MIME]
            if any(m in data for m in IMAGE_MIMES):
                meta = out.setdefault("metadata", {})
                alt = meta.get("alt") or cell.metadata.get("alt")
                alt = alt or next((meta.get(m, {}).get("alt") for m in IMAGE_MIMES if meta.get(m, {}).get("alt")), None)
                meta["alt"] = alt or fallback_alt(last_markdown)
    return nb


def _course_map(nbs: dict[str, nbformat.NotebookNode]) -> dict[str, str]:
    """Notebook number -> its one-line claim, from the course map table in notebook 00 (when there is one)."""
    start = next((nb for name, nb in nbs.items() if name.startswith("00_")), None)
    if start is None:
        return {}
    text = "\n".join(c.source for c in start.cells if c.cell_type == "markdown")
    return {num: claim for num, _, claim in MAP_ROW_RE.findall(text)}


def _summary(nb: nbformat.NotebookNode, claim: str | None) -> str:
    head = nb.cells[0].source if nb.cells and nb.cells[0].cell_type == "markdown" else ""
    if claim:
        return claim
    paras = [p for p in head.split("\n\n")[1:] if p.strip() and not p.lstrip().startswith(("**", "Runs in", "[!["))]
    if paras:
        return plain_text(paras[0])
    bullets = re.findall(r"^[-*] (.+(?:\n  +.+)*)", head, re.M)  # else the "What you will learn" list, in one line
    return "; ".join(plain_text(b).rstrip(";.") for b in bullets)


def _nav(pages: list[Page], i: int) -> str:
    prev_link = (
        f'<a rel="prev" href="{pages[i - 1].html_name}">← {html.escape(pages[i - 1].title)}</a>'
        if i > 0
        else "<span></span>"
    )
    next_link = (
        f'<a rel="next" href="{pages[i + 1].html_name}">{html.escape(pages[i + 1].title)} →</a>'
        if i + 1 < len(pages)
        else "<span></span>"
    )
    return f'<nav class="course-nav">{prev_link}<a href="index.html">course index</a>{next_link}</nav>'


def _exporter() -> HTMLExporter:
    exporter = HTMLExporter(template_name="lab", extra_template_paths=[str(TEMPLATE_DIR)])
    exporter.template_file = "course.html.j2"
    return exporter


def _css() -> str:
    return (TEMPLATE_DIR / "course.css").read_text(encoding="utf-8")


def write_index(pages: list[Page], out: Path, note: str) -> Path:
    """Write out/index.html: the course map with each notebook's run time."""
    rows = []
    for p in pages:
        measured = ""
        if p.seconds is not None:
            measured = f"<br><span class=measured>measured here: {p.seconds:.0f} s"
            measured += "" if p.status in (None, "ok") else f", <b>{html.escape(p.status)}</b>"
            measured += "</span>"
        learn = f"<details><summary>what you will learn</summary>{p.learn}</details>" if p.learn else ""
        claim = markdown2html_mistune(p.summary).strip().removeprefix("<p>").removesuffix("</p>")
        rows.append(
            f'<tr><td><a href="{p.html_name}">{html.escape(p.title)}</a><div class="claim">{claim}</div>'
            f"{learn}</td><td class=time>{html.escape(p.runs_in)}{measured}</td></tr>"
        )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>gapcourse: Global Average Pooling, demonstrated</title><style>{_css()}</style></head>
<body class="course-index"><main>
<h1>gapcourse: Global Average Pooling, demonstrated</h1>
<p>A notebook course on Global Average Pooling (GAP) in convolutional networks. Every claim is shown by an
experiment and checked by an <code>assert</code>; every notebook runs offline on a CPU. Start with notebook 00,
or open any notebook in Colab from the link at its top.</p>
<h2>Course map</h2>
<table class="course-map"><thead><tr><th>notebook and the claim it demonstrates</th><th>run time</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<p class="note">{html.escape(note)}</p>
</main></body></html>
"""
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def build_site(
    paths: list[Path],
    out: Path,
    times: dict[str, tuple[float, str]] | None = None,
    note: str | None = None,
) -> Path:
    """Render `paths` (with the outputs they hold) into `out`: index.html plus one page each; return the index."""
    out.mkdir(parents=True, exist_ok=True)
    nbs = {p.name: nbformat.read(p, as_version=4) for p in paths}
    claims = _course_map(nbs)
    rendered = set(nbs)
    pages = []
    for p in paths:
        nb = nbs[p.name]
        head = nb.cells[0].source if nb.cells and nb.cells[0].cell_type == "markdown" else ""
        runs = RUNS_IN_RE.search(head)
        learn_md = re.search(r"\*\*What you will learn\*\*\s*\n((?:[-*] .*\n?(?:  +.*\n?)*)+)", head + "\n")
        seconds, status = (times or {}).get(p.name, (None, None))
        page = Page(
            path=p,
            title=title_of(nb, p.stem),
            html_name=p.with_suffix(".html").name,
            runs_in=runs.group(0).strip().rstrip(".") if runs else "",
            learn=markdown2html_mistune(learn_md.group(1)) if learn_md else "",
            seconds=seconds,
            status=status,
            summary=_summary(nb, claims.get(p.stem[:2])),
        )
        if page.learn and page.summary.startswith(plain_text(learn_md.group(1))[:40]):
            page.learn = ""  # the summary already is the list of what it teaches
        pages.append(page)
    exporter = _exporter()
    for i, page in enumerate(pages):
        nb = nbs[page.path.name]
        ref = current_ref(nb) or DEFAULT_REF
        body, _ = exporter.from_notebook_node(
            prepare(nb, rendered, ref),
            resources={"course_nav": _nav(pages, i), "course_css": _css(), "metadata": {"name": page.title}},
        )
        (out / page.html_name).write_text(body, encoding="utf-8")
    note = note or f"Rendered from the notebooks' stored outputs on {time.strftime('%Y-%m-%d %H:%M')}."
    return write_index(pages, out, note)


def main() -> int:
    """Render the stored outputs of the course notebooks into a site."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help=f"notebooks (default: {NOTEBOOKS})")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site", help="output folder")
    args = parser.parse_args()
    paths = [p.resolve() for p in args.notebooks] or sorted(ROOT.glob(NOTEBOOKS))
    index = build_site(paths, args.out)
    print(f"wrote {len(paths)} pages; open {index} in a web browser")
    return 0


if __name__ == "__main__":
    sys.exit(main())
