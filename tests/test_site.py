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
from build_site import build_site, title_of  # noqa: E402

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


def test_error_outputs_appear_only_in_cells_marked_as_expected_errors():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and any(o.output_type == "error" for o in cell.outputs):
                assert "raises-exception" in cell.metadata.get("tags", []), f"{path.name} cell {i}: unexpected error"


def test_expected_errors_and_exercises_are_marked_on_the_page(site):
    css = (ROOT / "scripts" / "site" / "course.css").read_text(encoding="utf-8")
    for tag, label in [
        ("raises-exception", "Expected error"),
        ("exercise", "Exercise"),
        ("solution", "Worked solution"),
    ]:
        assert re.search(rf"\.celltag_{tag}[^{{]*::before\s*{{\s*content: \"{label}", css), f"no label for {tag}"
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        page = _page(site, path)
        for tag in ("raises-exception", "exercise", "solution"):
            n = sum(tag in c.metadata.get("tags", []) for c in nb.cells)
            assert _marked(page, tag) == n, f"{path.name}: {n} cells tagged {tag}, page marks a different count"


def test_the_titles_on_the_index_are_the_notebooks_titles(site):
    index = (site / "index.html").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        title = title_of(nbformat.read(path, as_version=4), path.stem)
        assert title.replace("&", "&amp;") in index, f"{title!r} missing from the index"


BROKEN_IMAGES = "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length"
LINKS = "Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"
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
