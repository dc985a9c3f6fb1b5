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
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.filters import markdown2html_mistune

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from sync_notebooks import DEFAULT_REF, NOTEBOOKS, SLUG, _is_bootstrap, current_ref  # noqa: E402

TEMPLATE_DIR = Path(__file__).resolve().parent / "site"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml")
BADGE_RE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\((https://colab\.research\.google\.com/[^)\s]*)\)", re.I)
LINK_RE = re.compile(r"\]\((?!https?:|mailto:|#|data:)([^)\s]+)\)")
RUNS_IN_RE = re.compile(r"Runs in ~[^\n\[]*")
MAP_ROW_RE = re.compile(r"^\|\s*(\d\d)\s+([^|]+?)\s*\|\s*(.+?)\s*\|\s*$", re.M)
BAR_HTML_RE = re.compile(r"<progress\b")
BAR_TEXT_RE = re.compile(r"^\s*\d+%\|.*\|")  # tqdm's text form: " 45%|████      | 9/20 [...]"
STYLE_ONLY_RE = re.compile(r"^\s*<style\b[^>]*>.*</style>\s*$", re.S)
EXPECTED_RE = re.compile(r"^Expected error, (\w[\w.]*): ?(.*)$")  # what gaplib.errors.expect_error prints
# a path of the machine that ran the notebook: a Python package's file, or anything under a home or work folder
LOCAL_PATH_RE = re.compile(
    r"(?:[^\s\"'<>()]*/(?:site|dist)-packages/)|(?:/(?:work|root|home|Users|tmp)/[^\s\"'<>():]*/)"
)
ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
SHORT_PATH_RE = re.compile(r"^## (The short path\b[^\n]*)\n(.*?)(?=^## |\Z)", re.S | re.M)
HEADING_RE = re.compile(r'<h([23]) id="([^"]+)"[^>]*>(.*?)</h\1>', re.S)
BOOTSTRAP_SUMMARY = "Colab set-up (installs gaplib on Colab; does nothing elsewhere)"
SOLUTION_SUMMARY = "Worked solution (try the exercise first)"


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


def strip_local_paths(text: str) -> str:
    """`text` without the folders of the machine that ran it: `.../site-packages/torch/x.py` -> `torch/x.py`."""
    return LOCAL_PATH_RE.sub("", text)


def _is_bar(out: nbformat.NotebookNode) -> bool:
    """Whether an output is a progress bar (fastprogress's HTML bar, or tqdm's text form)."""
    data = out.get("data", {})
    if "text/html" in data:
        return bool(BAR_HTML_RE.search(_text(data["text/html"])))
    return "text/plain" in data and bool(BAR_TEXT_RE.match(_text(data["text/plain"])))


def _text(value: str | list[str]) -> str:
    return "".join(value) if isinstance(value, list) else value


def _html_output(markup: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("display_data", data={"text/html": markup})


def _expected_error(kind: str, message: str) -> nbformat.NotebookNode:
    """The page's form of a deliberate error: a label and the error's one line, no traceback."""
    line = html.escape(f"{kind}: {strip_local_paths(message)}".rstrip(": "))
    return _html_output(
        '<div class="expected-error"><span class="expected-error-label">Expected error</span> '
        f"<code>{line}</code></div>"
    )


def _outputs_with_expected_errors(outputs: list, tagged: bool) -> tuple[list, int]:
    """The outputs with each 'Expected error, ...' line shown as one marked line; so is an error output of a cell
    tagged raises-exception (`tagged`), and any other error output loses its traceback (its one line stays)."""
    result, n = [], 0
    for out in outputs:
        if out.output_type == "error":
            message = ANSI_RE.sub("", str(out.get("evalue", ""))).strip()
            first = message.splitlines()[0] if message else ""
            if tagged:
                result.append(_expected_error(out.get("ename", "Error"), first))
                n += 1
            else:
                result.append(
                    nbformat.from_dict(
                        {**out, "traceback": [strip_local_paths(f"{out.get('ename', 'Error')}: {first}")]}
                    )
                )
            continue
        if out.output_type != "stream" or "Expected error, " not in _text(out.text):
            result.append(out)
            continue
        kept: list[str] = []
        for line in _text(out.text).splitlines(keepends=True):
            match = EXPECTED_RE.match(line.rstrip("\n"))
            if match is None:
                kept.append(line)
                continue
            if kept:
                result.append(nbformat.v4.new_output("stream", name=out.name, text="".join(kept)))
                kept = []
            result.append(_expected_error(match.group(1), match.group(2)))
            n += 1
        if kept:
            result.append(nbformat.v4.new_output("stream", name=out.name, text="".join(kept)))
    return result, n


def one_bar_per_loop(outputs: list) -> list:
    """Outputs with each stack of progress bars from one loop shown as one bar: the last, in its final state.

    A loop's bars are the bar outputs of a cell with nothing but text between them (a training loop prints its
    epochs between the bars of its runs); a figure or a table between two bars separates two loops. The bar
    kept stands where the loop's first bar stood, and says how many it replaces.
    """
    outputs = [o for o in outputs if not _style_only(o)]
    groups: list[list[int]] = []
    current: list[int] = []
    for i, out in enumerate(outputs):
        if _is_bar(out):
            current.append(i)
        elif out.output_type != "stream" and current:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    drop: set[int] = set()
    replace: dict[int, nbformat.NotebookNode] = {}
    for bars in groups:
        if len(bars) < 2:
            continue
        last = copy.deepcopy(outputs[bars[-1]])
        note = f" <span class=bar-note>(the last of {len(bars)} progress bars of this loop)</span>"
        if "text/html" in last.get("data", {}):
            markup = _text(last.data["text/html"])
            last.data = {
                "text/html": re.sub(r"(</div>\s*)$", note + r"\1", markup, count=1)
                if markup.rstrip().endswith("</div>")
                else markup + note
            }
        replace[bars[0]] = last
        drop.update(bars[1:])
    return [replace.get(i, o) for i, o in enumerate(outputs) if i not in drop]


def _style_only(out: nbformat.NotebookNode) -> bool:
    """fastprogress's style sheet, sent once per kernel as an output of its own (course.css has its rules)."""
    html_data = out.get("data", {}).get("text/html")
    return html_data is not None and bool(STYLE_ONLY_RE.match(_text(html_data)))


def _without_local_paths(out: nbformat.NotebookNode) -> None:
    if out.output_type == "stream":
        out.text = strip_local_paths(_text(out.text))
    for mime in ("text/plain", "text/html"):
        if mime in out.get("data", {}):
            out.data[mime] = strip_local_paths(_text(out.data[mime]))


def prepare(nb: nbformat.NotebookNode, rendered: set[str], ref: str, links: str = "") -> nbformat.NotebookNode:
    """A copy of `nb` ready to render: alt text on every figure, one final progress bar per loop, expected errors
    in one marked line, the set-up cell and the worked solutions folded, site links, no local paths.

    `links` (HTML) takes the place of the Colab badge (or follows the first cell if there is none), and the
    first cell is followed by the table-of-contents marker `<!--course-toc-->`.
    """
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)  # widget state would pull a widget manager from the network
    last_markdown = ""
    placed = not links
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            if not placed and BADGE_RE.search(cell.source):
                cell.source = BADGE_RE.sub(lambda m: links, cell.source, count=1)
                placed = True
            cell.source = _rewrite_links(cell.source, rendered, ref)
            last_markdown = cell.source
            continue
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.get("tags", [])
        if index == 1 and _is_bootstrap(cell):
            cell.metadata["site_fold"] = BOOTSTRAP_SUMMARY
            cell.metadata["site_class"] = "colab-setup"
        elif "solution" in tags:
            cell.metadata["site_fold"] = SOLUTION_SUMMARY
            cell.metadata["site_class"] = "solution"
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_MIME in data and len(data) > 1:  # show the widget's final text (e.g. tqdm's bar), not its JSON
                del data[WIDGET_MIME]
            if "text/html" in data and "text/markdown" in data:  # fastprogress adds a markdown copy of its bar
                del data["text/markdown"]
        outputs, n_expected = _outputs_with_expected_errors(cell.get("outputs", []), "raises-exception" in tags)
        if n_expected:
            cell.metadata["tags"] = [*tags, "expected-error"]
        cell.outputs = one_bar_per_loop(outputs)
        for out in cell.outputs:
            _without_local_paths(out)
            data = out.get("data", {})
            if any(m in data for m in IMAGE_MIMES):
                meta = out.setdefault("metadata", {})
                alt = meta.get("alt") or cell.metadata.get("alt")
                alt = alt or next((meta.get(m, {}).get("alt") for m in IMAGE_MIMES if meta.get(m, {}).get("alt")), None)
                meta["alt"] = alt or fallback_alt(last_markdown)
    if nb.cells:
        nb.cells[0].metadata["site_after"] = ("" if placed else links) + "<!--course-toc-->"
    return nb


def table_of_contents(body: str) -> str:
    """A <nav> listing the page's section headings (h2, h3), each linking to its anchor."""
    items = []
    for level, anchor, inner in HEADING_RE.findall(body):
        text = html.unescape(re.sub(r"<[^>]+>", "", inner)).replace("\u00b6", "").strip()
        items.append(f'<li class="toc-h{level}"><a href="#{anchor}">{html.escape(text)}</a></li>')
    if not items:
        return ""
    return f'<nav class="toc" aria-label="Contents"><p class="toc-title">Contents</p><ul>{"".join(items)}</ul></nav>'


def page_links(colab: str | None, ipynb_name: str) -> str:
    """The page's links to run or keep the notebook: Open in Colab, and the .ipynb copied beside the page."""
    run = f'<a class="colab-link" href="{html.escape(colab)}">Open in Colab</a> ' if colab else ""
    keep = f'<a class="download-link" href="{html.escape(ipynb_name)}" download>Download the notebook (.ipynb)</a>'
    return f'<span class="page-links">{run}{keep}</span>'


def colab_url(nb: nbformat.NotebookNode) -> str | None:
    """The URL of the notebook's Open-in-Colab badge, or None."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and (m := BADGE_RE.search(cell.source)):
            return m.group(1)
    return None


def _course_map(nbs: dict[str, nbformat.NotebookNode]) -> dict[str, str]:
    """Notebook number -> its one-line claim, from the course map table in notebook 00 (when there is one)."""
    start = next((nb for name, nb in nbs.items() if name.startswith("00_")), None)
    if start is None:
        return {}
    text = "\n".join(c.source for c in start.cells if c.cell_type == "markdown")
    return {num: claim for num, _, claim in MAP_ROW_RE.findall(text)}


def short_path(nbs: dict[str, nbformat.NotebookNode], ref: str = DEFAULT_REF) -> str:
    """Notebook 00's short path (its section "The short path ..."), as HTML whose links open the pages' sections."""
    start = next((nb for name, nb in nbs.items() if name.startswith("00_")), None)
    if start is None:
        return ""
    for cell in start.cells:
        if cell.cell_type == "markdown" and (m := SHORT_PATH_RE.search(cell.source)):
            heading = html.escape(m.group(1).strip())
            body = markdown2html_mistune(_rewrite_links(m.group(2), set(nbs), ref))
            return f'<h2 id="short-path">{heading}</h2>\n{body}'
    return ""


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


def write_index(pages: list[Page], out: Path, note: str, path_html: str = "") -> Path:
    """Write out/index.html: the short path (when notebook 00 has one) and the course map with each run time."""
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
{path_html}
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
            prepare(nb, rendered, ref, page_links(colab_url(nb), page.path.name)),
            resources={"course_nav": _nav(pages, i), "course_css": _css(), "metadata": {"name": page.title}},
        )
        body = body.replace("<!--course-toc-->", table_of_contents(body), 1)
        (out / page.html_name).write_text(body, encoding="utf-8")
        if page.path.resolve() != (out / page.path.name).resolve():  # run_course executes into `out` already
            shutil.copyfile(page.path, out / page.path.name)  # the page's "Download the notebook" link
    note = note or f"Rendered from the notebooks' stored outputs on {time.strftime('%Y-%m-%d %H:%M')}."
    return write_index(pages, out, note, short_path(nbs))


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
