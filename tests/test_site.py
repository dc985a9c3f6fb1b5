"""The rendered course (scripts/build_site.py) from the notebooks' stored outputs, checked as HTML and in Chromium.

Nothing is executed here (the nbval run does that): the site is rendered from what the notebooks hold into
build/site/, and a headless Chromium opens every page; screenshots go to build/screenshots/.
"""

import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _browser import Browser, find_browser  # noqa: E402
from build_site import build_site, one_bar_per_loop, prepare, strip_local_paths, title_of  # noqa: E402

NOTEBOOKS = sorted(ROOT.glob("notebooks/[0-9][0-9]_*.ipynb"))
SITE = ROOT / "build" / "site"
SHOTS = ROOT / "build" / "screenshots"


@pytest.fixture(scope="module")
def site() -> Path:
    """The site rendered from the stored outputs of every course notebook."""
    build_site(NOTEBOOKS, SITE)
    return SITE


def _page(site: Path, nb_path: Path) -> str:
    return (site / nb_path.with_suffix(".html").name).read_text(encoding="utf-8")


class _Tags(HTMLParser):
    """The attributes of every tag of a page, by tag name."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: dict[str, list[dict[str, str]]] = {}
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.setdefault(tag, []).append({k: v or "" for k, v in attrs})


def _marked(page: str, tag: str) -> int:
    """How many elements of `page` carry the class of the cell tag `tag`."""
    return sum(
        f"celltag_{tag}" in attrs.get("class", "").split() for found in _Tags(page).tags.values() for attrs in found
    )


def test_index_links_every_notebook_with_its_run_time(site):
    index = (site / "index.html").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert f'href="{path.with_suffix(".html").name}"' in index, f"index does not link {path.name}"
        assert (site / path.with_suffix(".html").name).is_file()
    assert index.count("Runs in ~") == len(NOTEBOOKS), "every notebook's 'Runs in ~N s' line is on the index"


def test_pages_link_previous_and_next_in_course_order(site):
    names = [p.with_suffix(".html").name for p in NOTEBOOKS]
    for i, path in enumerate(NOTEBOOKS):
        page = _page(site, path)
        prev = [re.search(r'href="([^"]+)"', a).group(1) for a in re.findall(r'<a [^>]*rel="prev"[^>]*>', page)]
        nxt = [re.search(r'href="([^"]+)"', a).group(1) for a in re.findall(r'<a [^>]*rel="next"[^>]*>', page)]
        assert prev == ([names[i - 1]] * 2 if i else []), f"{path.name}: previous links {prev}"
        assert nxt == ([names[i + 1]] * 2 if i + 1 < len(names) else []), f"{path.name}: next links {nxt}"
        assert page.count('href="index.html"') == 2, f"{path.name} links the index at its top and bottom"


def test_every_figure_has_alt_text_that_describes_it(site):
    for path in NOTEBOOKS:
        for img in _Tags(_page(site, path)).tags.get("img", []):
            alt = img.get("alt", "").strip()
            assert len(alt) > len("Figure") and "No description" not in alt, f"{path.name}: figure without alt text"


def test_pages_load_nothing_from_the_network_and_hold_no_widget_json(site):
    for page in [site / "index.html", *(site / p.with_suffix(".html").name for p in NOTEBOOKS)]:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"<(script|link|img)\b[^>]*(src|href)=\"https?:", text), f"{page.name} loads a URL"
        assert "application/vnd.jupyter.widget" not in text, f"{page.name} shows raw widget data"


def test_progress_bars_are_shown_in_their_final_state(site):
    for path in NOTEBOOKS:
        for bar in _Tags(_page(site, path)).tags.get("progress", []):
            assert bar.get("value") == bar.get("max"), f"{path.name}: a progress bar stopped at {bar}"


def test_no_notebook_stores_an_error():
    """Colab's Run all stops at the first error: a deliberate one runs inside gaplib.errors.expect_error instead."""
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and any(o.output_type == "error" for o in cell.outputs):
                raise AssertionError(f"{path.name} cell {i} stores an error: run it inside expect_error")


def _expected_errors(nb: nbformat.NotebookNode) -> int:
    """How many deliberate errors a notebook shows: expect_error's printed lines (and errors of tagged cells)."""
    n = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "error" and "raises-exception" in cell.metadata.get("tags", []):
                n += 1
            elif out.output_type == "stream":
                n += sum(line.startswith("Expected error, ") for line in out.text.splitlines())
    return n


def test_expected_errors_and_exercises_are_marked_on_the_page(site):
    css = (ROOT / "scripts" / "site" / "course.css").read_text(encoding="utf-8")
    assert re.search(r'\.celltag_exercise[^{]*::before\s*{\s*content: "Exercise', css), "no label for exercises"
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        page = _page(site, path)
        n = sum("exercise" in c.metadata.get("tags", []) for c in nb.cells)
        assert _marked(page, "exercise") == n, f"{path.name}: {n} exercise cells, the page marks a different count"
        shown = re.findall(
            r'<div class="expected-error"><span class="expected-error-label">Expected error</span> '
            r"<code>([^<\n]*)</code></div>",
            page,
        )
        assert len(shown) == _expected_errors(nb), f"{path.name}: each deliberate error is one marked line"
        assert page.count('class="expected-error"') == len(shown), f"{path.name}: an expected error of another form"


def test_pages_show_no_traceback_and_no_path_of_the_build_machine(site):
    for page in [site / "index.html", *(site / p.with_suffix(".html").name for p in NOTEBOOKS)]:
        text = page.read_text(encoding="utf-8")
        for pattern in ("Traceback (most recent call last)", "/work/", "/root/", "/home/", "site-packages"):
            assert pattern not in text, f"{page.name} shows {pattern!r}"
        assert not re.search(r"-{5,}&gt;|\x1b\[", text), f"{page.name} shows a traceback's arrows or terminal colours"


def test_local_paths_are_cut_to_the_package_path():
    warning = "/work/main/.venv/lib/python3.11/site-packages/torch/nn/modules/module.py:1783: UserWarning: x"
    assert strip_local_paths(warning) == "torch/nn/modules/module.py:1783: UserWarning: x"
    assert strip_local_paths('File "/home/me/gapcourse/gaplib/cam.py", line 3') == 'File "cam.py", line 3'
    assert strip_local_paths("mean 0.25 ms (1/4 of /s)") == "mean 0.25 ms (1/4 of /s)"


def _bar(value: int, total: int, text: str = "") -> nbformat.NotebookNode:
    html = f'<div><progress max="{total}" value="{value}"></progress> {text}</div>'
    return nbformat.v4.new_output("display_data", data={"text/html": html, "text/plain": html})


def test_a_loop_of_bars_becomes_its_last_bar_and_a_figure_separates_two_loops():
    style = nbformat.v4.new_output("display_data", data={"text/html": "<style>progress {}</style>"})
    line = nbformat.v4.new_output("stream", name="stdout", text="epoch 1/2: ...\n")
    figure = nbformat.v4.new_output("display_data", data={"image/png": "iVBOR", "text/plain": "<Figure>"})
    outputs = [style, _bar(3, 3, "run 1"), line, _bar(3, 3, "run 2"), line, _bar(3, 3, "run 3"), figure, _bar(5, 5)]
    kept = one_bar_per_loop(outputs)
    bars = [o for o in kept if "progress" in o.get("data", {}).get("text/html", "")]
    assert len(bars) == 2, "three bars with text between them are one loop; the figure starts another"
    assert "run 3" in bars[0].data["text/html"] and "last of 3" in bars[0].data["text/html"]
    assert kept.index(bars[0]) == 0 and sum(o.output_type == "stream" for o in kept) == 2, "the text stays"
    assert style not in kept, "fastprogress's style output is left out (course.css has its rules)"
    assert one_bar_per_loop([_bar(2, 2)])[0].data["text/html"].count("last of") == 0, "a lone bar is unchanged"


def test_expect_error_lines_and_error_outputs_become_one_marked_line():
    nb = nbformat.v4.new_notebook()
    printed = "before\nExpected error, RuntimeError: mat1 and mat2 shapes cannot be multiplied\nafter\n"
    error = nbformat.v4.new_output(
        "error", ename="ValueError", evalue="bad size\nmore", traceback=["File /work/main/x.py", "ValueError: bad"]
    )
    nb.cells = [
        nbformat.v4.new_markdown_cell("# t"),
        nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output("stream", name="stdout", text=printed)]),
        nbformat.v4.new_code_cell("y", outputs=[error], metadata={"tags": ["raises-exception"]}),
    ]
    cells = prepare(nb, set(), "main").cells
    shown = [o.data["text/html"] for c in cells[1:] for o in c.outputs if o.output_type == "display_data"]
    assert len(shown) == 2 and all('class="expected-error"' in h for h in shown)
    assert "RuntimeError: mat1 and mat2" in shown[0] and "ValueError: bad size</code>" in shown[1]
    assert [o.text for o in cells[1].outputs if o.output_type == "stream"] == ["before\n", "after\n"]
    assert all("expected-error" in c.metadata["tags"] for c in cells[1:])
    nb.cells[2].metadata = {}  # an error nobody expected: one line, not marked as expected, no path
    untagged = prepare(nb, set(), "main").cells[2]
    assert untagged.outputs[0]["traceback"] == ["ValueError: bad size"] and "tags" not in untagged.metadata


def test_each_page_links_colab_like_its_badge_and_offers_the_notebook(site):
    for path in NOTEBOOKS:
        raw = path.read_text(encoding="utf-8")
        badge = re.search(r"\[!\[Open In Colab\]\([^)]*\)\]\((https://colab\.research\.google\.com/[^)\s]*)\)", raw)
        assert badge, f"{path.name} has no Colab badge"
        tags = _Tags(_page(site, path)).tags["a"]
        colab = [a["href"] for a in tags if "colab-link" in a.get("class", "").split()]
        assert colab == [badge.group(1)], f"{path.name}: Open-in-Colab links {colab}, badge {badge.group(1)}"
        download = [a for a in tags if "download-link" in a.get("class", "").split()]
        assert len(download) == 1 and "download" in download[0], f"{path.name}: one download link"
        copy = site / download[0]["href"]
        assert copy.read_bytes() == path.read_bytes(), f"{path.name}: the downloadable .ipynb is the notebook"


def _headings(nb: nbformat.NotebookNode) -> list[str]:
    """The notebook's section headings (## and ###), outside code blocks."""
    found = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            fenced = False
            for line in cell.source.splitlines():
                fenced ^= line.lstrip().startswith("```")
                if not fenced and re.match(r"#{2,3} ", line):
                    found.append(line.lstrip("#").strip())
    return found


def test_each_page_has_a_table_of_contents_of_its_sections(site):
    for path in NOTEBOOKS:
        page = _page(site, path)
        toc = re.findall(r'<nav class="toc"[^>]*>(.*?)</nav>', page, re.S)
        assert len(toc) == 1, f"{path.name}: one table of contents"
        links = re.findall(r'<a href="#([^"]+)">', toc[0])
        assert len(links) == len(_headings(nbformat.read(path, as_version=4))) >= 2, f"{path.name}: contents"
        for anchor in links:
            assert f'id="{anchor}"' in page, f"{path.name}: the contents link #{anchor} has no heading"


def test_the_set_up_cell_and_the_worked_solutions_are_folded(site):
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        page = _page(site, path)
        setup = re.findall(
            r'<details class="site-fold colab-setup"><summary>[^<]+</summary>(.*?)</details>', page, re.S
        )
        assert len(setup) == 1 and "REPO, REF" in re.sub(r"<[^>]+>", "", setup[0]), f"{path.name}: set-up not folded"
        n = sum("solution" in c.metadata.get("tags", []) for c in nb.cells)
        folded = re.findall(
            r'<details class="site-fold solution"><summary>([^<]+)</summary>\s*<div[^>]*celltag_solution', page
        )
        assert len(folded) == n == _marked(page, "solution"), f"{path.name}: {n} solutions, each folded"


def test_the_titles_on_the_index_are_the_notebooks_titles(site):
    index = (site / "index.html").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        title = title_of(nbformat.read(path, as_version=4), path.stem)
        assert title.replace("&", "&amp;") in index, f"{title!r} missing from the index"


BROKEN_IMAGES = "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length"
LINKS = "Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"
STACKED_BARS = """Array.from(document.querySelectorAll('.jp-OutputArea')).map(area => {
  let bars = 0, worst = 0;  // bar outputs with nothing but text between them: one loop
  for (const child of area.children) {
    if (child.querySelector('progress')) { bars += 1; worst = Math.max(worst, bars); }
    else if (!child.querySelector('.jp-RenderedText')) bars = 0;
  }
  return worst;
}).filter(n => n > 1).length"""
FOLDED = """Array.from(document.querySelectorAll('details.site-fold')).filter(d =>
  d.open || d.querySelector('.jp-Cell').checkVisibility()).length"""
SOLUTIONS_UNDER_EXERCISES = """Array.from(document.querySelectorAll('details.solution')).filter(d => {
  let prev = d.previousElementSibling;
  while (prev && !prev.matches('.jp-CodeCell, details')) prev = prev.previousElementSibling;
  return !(prev && prev.matches('.celltag_exercise'));
}).length"""
EXPECTED_LINES = """Array.from(document.querySelectorAll('.expected-error')).filter(e =>
  e.closest('.celltag_expected-error') === null || e.getBoundingClientRect().height > 80).length"""
MISSING_ANCHORS = """Array.from(document.querySelectorAll('a[href^="#"]')).map(a => a.getAttribute('href').slice(1))
  .filter(id => id && !document.getElementById(id) && !document.getElementById(decodeURIComponent(id))
                && !document.getElementsByName(id).length)"""


def test_every_page_opens_in_chromium_without_errors(site):
    executable = find_browser()
    if executable is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium, or set CHROME=path); .ci/run installs it")
    SHOTS.mkdir(parents=True, exist_ok=True)
    pages = [site / "index.html", *(site / p.with_suffix(".html").name for p in NOTEBOOKS)]
    browser = Browser(executable)
    try:
        for page in pages:
            problems = browser.open(page.as_uri())
            assert problems == [], f"{page.name}: {problems}"
            assert browser.evaluate(BROKEN_IMAGES) == 0, f"{page.name}: broken images"
            assert browser.evaluate(MISSING_ANCHORS) == [], f"{page.name}: links to anchors that do not exist"
            assert browser.evaluate(STACKED_BARS) == 0, f"{page.name}: a stack of progress bars from one loop"
            assert browser.evaluate(FOLDED) == 0, f"{page.name}: a folded cell (set-up, solution) shows"
            assert browser.evaluate(SOLUTIONS_UNDER_EXERCISES) == 0, f"{page.name}: a solution not under its exercise"
            assert browser.evaluate(EXPECTED_LINES) == 0, f"{page.name}: an expected error unmarked or not one line"
            for href in browser.evaluate(LINKS):
                url = urlparse(href)
                if url.scheme == "file":
                    assert Path(unquote(url.path)).is_file(), f"{page.name}: broken link {href}"
                else:
                    assert url.scheme in ("https", "http", "mailto"), f"{page.name}: odd link {href}"
            browser.screenshot(SHOTS / f"{page.stem}.png")
            browser.screenshot(SHOTS / f"{page.stem}.full.png", full_page=True)
    finally:
        browser.close()
    assert len(list(SHOTS.glob("*.full.png"))) >= len(pages)


def test_a_site_can_be_built_where_its_notebooks_already_are(tmp_path):
    """run_course executes the notebooks into the site's folder; the download copy must not trip over itself."""
    import shutil

    nb = tmp_path / NOTEBOOKS[0].name
    shutil.copyfile(NOTEBOOKS[0], nb)
    build_site([nb], tmp_path)
    assert (tmp_path / nb.name).read_bytes() == NOTEBOOKS[0].read_bytes()
