"""The short path and the verdict table (notebook 00 and the README): every link opens an existing section, every
verdict still rests on an assert its notebook makes, and the README shows the same tables as notebook 00."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import nbformat
import pytest
from nbconvert.filters.markdown_mistune import markdown2html_mistune

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
START = NOTEBOOKS / "00_start_here.ipynb"
README = ROOT / "README.md"
VERDICT_HEADING = "## The verdict, claim by claim"
SHORT_HEADING = "## The short path: the core in about 45 minutes"
VERDICTS = ("holds", "holds with a caveat", "does not hold here")
LINK_RE = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
MESSAGE_RE = re.compile(r"`([^`]+)`")
ID_RE = re.compile(r'<h[1-6] id="([^"]+)"')


def anchor(heading: str) -> str:
    """The id that nbconvert (the course site) and JupyterLab give a heading: its text, spaces as dashes."""
    found = ID_RE.search(markdown2html_mistune(f"## {heading}"))
    assert found, heading
    return found.group(1)


@cache
def sections(name: str) -> frozenset[str]:
    """The anchors of a notebook's headings (outside code blocks)."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    found = set()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            fenced = False
            for line in cell.source.splitlines():
                fenced ^= line.lstrip().startswith("```")
                if not fenced and (m := re.match(r"#{1,4} (.+)", line)):
                    found.add(anchor(m.group(1).strip()))
    return frozenset(found)


@cache
def assert_messages(name: str) -> tuple[str, ...]:
    """The source text of every assert message in a notebook's lesson cells (not its exercises or solutions)."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    found = []
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type != "code" or "exercise" in tags or "solution" in tags:
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Assert) and node.msg is not None:
                found.append(ast.get_source_segment(source, node.msg) or "")
    return tuple(found)


def section_table(markdown: str, heading: str) -> list[str]:
    """The rows (header and separator included) of the first table after `heading` in `markdown`."""
    assert heading in markdown, f"no {heading!r}"
    rows = []
    for line in markdown.split(heading, 1)[1].splitlines():
        if line.startswith("|"):
            rows.append(line.strip())
        elif rows:
            break
    return rows


def markdown_of_00() -> str:
    return "\n\n".join(c.source for c in nbformat.read(START, as_version=4).cells if c.cell_type == "markdown")


def readme_part(name: str) -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {name}: start -->\n(.*?)\n<!-- {name}: end -->", text, re.S)
    assert found, f"README has no <!-- {name}: start --> ... <!-- {name}: end --> block"
    return found.group(1)


def cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip("|").split(" | ")]


def check_link(target: str) -> str:
    """Assert `target` (`NN_name.ipynb#anchor`) opens an existing section; return the notebook's name."""
    name, _, frag = target.partition("#")
    assert re.fullmatch(r"\d\d_\w+\.ipynb", name), f"{target}: link a notebook by its file name"
    assert (NOTEBOOKS / name).is_file(), f"{target}: no such notebook"
    assert frag, f"{target}: link the section, not only the notebook"
    assert frag in sections(name), f"{target}: {name} has no section with that anchor"
    return name


VERDICT_ROWS = section_table(markdown_of_00(), VERDICT_HEADING)[2:]


def test_the_verdict_table_covers_the_posts_claims():
    assert len(VERDICT_ROWS) >= 15, "one row per claim of the post"
    claims = [cells(r)[0] for r in VERDICT_ROWS]
    assert len(set(claims)) == len(claims), "each claim once"
    assert {cells(r)[2] for r in VERDICT_ROWS} <= set(VERDICTS)


@pytest.mark.parametrize("row", VERDICT_ROWS, ids=[cells(r)[0][:40] for r in VERDICT_ROWS])
def test_each_verdict_links_its_sections_and_rests_on_an_assert_there(row):
    claim, where, verdict, why, rests_on = cells(row)
    assert verdict in VERDICTS, f"{claim}: the verdict is one of {VERDICTS}, got {verdict!r}"
    assert why and not why.endswith("."), f"{claim}: one line of reason"
    links = LINK_RE.findall(where)
    assert links, f"{claim}: name where the course tests it, as a link to the section"
    names = {check_link(target) for _, target in links}
    messages = MESSAGE_RE.findall(rests_on)
    assert messages, f"{claim}: quote the assert message(s) the verdict rests on"
    for message in messages:
        assert any(message in m for name in names for m in assert_messages(name)), (
            f"{claim}: no notebook the row links ({', '.join(sorted(names))}) asserts {message!r} any more"
        )


def test_the_short_path_links_existing_sections():
    rows = section_table(markdown_of_00(), SHORT_HEADING)[2:]
    assert 4 <= len(rows) <= 8, "a handful of stops"
    minutes = sum(int(cells(r)[-1]) for r in rows)
    assert 30 <= minutes <= 45, f"the short path should take about 45 minutes with the verdict, got {minutes} + 5"
    for row in rows:
        (target,) = [t for _, t in LINK_RE.findall(cells(row)[1])]
        check_link(target)


@pytest.mark.parametrize("name,heading", [("verdict", VERDICT_HEADING), ("short-path", SHORT_HEADING)])
def test_the_readme_shows_the_same_table_as_notebook_00(name, heading):
    in_00 = section_table(markdown_of_00(), heading)
    in_readme = section_table(heading + "\n" + readme_part(name), heading)
    assert [r.replace("](notebooks/", "](") for r in in_readme] == in_00, f"README's {name} table differs from 00's"
    assert all(t.startswith("notebooks/") for r in in_readme for _, t in LINK_RE.findall(r)), (
        "README links into notebooks/"
    )


def test_a_broken_row_is_caught(tmp_path):
    """The checks above fail on a missing section and on a message no notebook asserts."""
    with pytest.raises(AssertionError, match="no section"):
        check_link("03_global_average_pooling.ipynb#9.-A-section-that-does-not-exist")
    assert not any("a message nobody asserts" in m for m in assert_messages("03_global_average_pooling.ipynb"))
    assert any("k = 1 is GAP" in m for m in assert_messages("03_global_average_pooling.ipynb"))


def test_the_site_index_shows_the_short_path():
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from build_site import short_path

    nbs = {p.name: nbformat.read(p, as_version=4) for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))}
    html = short_path(nbs)
    assert html.startswith('<h2 id="short-path">The short path'), "the index shows notebook 00's short path"
    targets = re.findall(r'<a href="([^"]+)"', html)
    stops = section_table(markdown_of_00(), SHORT_HEADING)[2:]
    assert len(targets) == len(stops) + 1, "every stop, and the verdict, links its page"
    for target in targets:
        page, _, frag = target.partition("#")
        assert re.fullmatch(r"\d\d_\w+\.html", page), f"{target}: the index links the notebook's page"
        assert frag in sections(page.replace(".html", ".ipynb")), f"{target}: no such section on the page"
