"""Every course notebook is in the course's shape: the same bootstrap and badge, no execution metadata, formatted
code, a run time that agrees with the README, imports that are declared, no cell that fails on purpose, no file read
from beside it; and the test set-up hides nothing.

When a notebook test here fails, `python scripts/sync_notebooks.py` fixes the bootstrap, badge, metadata and format.
"""

import ast
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import tomllib
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from sync_notebooks import BADGE_RE, badge, bootstrap_source, current_ref, synced_text  # noqa: E402

NOTEBOOKS = sorted(ROOT.glob("notebooks/[0-9][0-9]_*.ipynb"))
IDS = [p.stem[:2] for p in NOTEBOOKS]
RUNS_IN = re.compile(r"Runs in ~(\d+) s on a 2-core CPU")
# imported by notebooks but installed by a declared package that requires them (checked below)
PROVIDED_BY = {"ipython": "ipykernel", "triton": "torch"}


def _nb(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _course_ref() -> str:
    return current_ref(_nb(ROOT / "notebooks" / "00_start_here.ipynb"))


def test_the_course_notebooks_are_found():
    assert len(NOTEBOOKS) >= 8 and NOTEBOOKS[0].name == "00_start_here.ipynb"


def _what_differs(path: Path) -> list[str]:
    nb, ref = _nb(path), _course_ref()
    synced = nbformat.reads(synced_text(path, ref), as_version=4)
    found = []
    if len(nb.cells) < 2 or nb.cells[1].source != bootstrap_source(ref):
        found.append("the bootstrap cell")
    if BADGE_RE.findall(nb.cells[0].source) != [badge(path.name, ref)]:
        found.append("the Colab badge")
    if nb.metadata != synced.metadata or any(c.metadata != s.metadata for c, s in zip(nb.cells, synced.cells)):
        found.append("execution or machine-specific metadata")
    fmt = subprocess.run([sys.executable, "-m", "ruff", "format", "--check", "-q", str(path)], cwd=ROOT)
    if fmt.returncode != 0:
        found.append("code that ruff format would change")
    return found or ["its JSON layout"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_in_sync(path):
    in_sync = path.read_text(encoding="utf-8") == synced_text(path)
    assert in_sync, (
        f"{path.name} differs from the course's form in {', '.join(_what_differs(path))}: "
        f"run `python scripts/sync_notebooks.py {path.relative_to(ROOT)}`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_bootstrap_and_badge_are_the_courses(path):
    nb, ref = _nb(path), _course_ref()
    assert nb.cells[1].source == bootstrap_source(ref), f"{path.name}: the second cell is not the course's bootstrap"
    badges = BADGE_RE.findall(nb.cells[0].source)
    assert badges == [badge(path.name, ref)], f"{path.name}: the first cell's Colab badge should open it at {ref}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_cell_relies_on_the_raises_exception_tag(path):
    tagged = [i for i, c in enumerate(_nb(path).cells) if "raises-exception" in c.metadata.get("tags", [])]
    assert not tagged, (
        f"{path.name} cells {tagged} are tagged raises-exception, which Jupyter honours but Colab's Run all need "
        "not (it stops at the first error): run the failing line inside "
        "`with gaplib.errors.expect_error(Kind, 'message'):` and drop the tag"
    )


# a read of a file by a relative path, or a listing of the working folder: on Colab the notebook sits alone in /content
SIBLING_READ = re.compile(
    r"""(open|read_csv|read_text|read_bytes|nbformat\.read|json\.load|np\.load|torch\.load)\(\s*["'](?![/~])"""
    r"""|Path\(\s*(["'][^/~"'][^"']*["']|\))|Path\.cwd\(\)|os\.listdir\(|\.ipynb"""
)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_notebook_reads_a_file_beside_itself(path):
    found = [
        f"cell {i}: {line.strip()}"
        for i, cell in enumerate(_nb(path).cells)
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if SIBLING_READ.search(line)
    ]
    assert not found, f"{path.name} reads files beside itself, which a lone notebook (Colab) lacks: {found}"


@pytest.mark.parametrize(
    "line",
    [
        'course = sorted(Path().glob("[0-9][0-9]_*.ipynb"))',
        'title = json.loads(open("01_flatten_head.ipynb").read())',
        'table = pd.read_csv("results.csv")',
        'text = Path("notes.md").read_text()',
    ],
)
def test_the_sibling_read_check_catches_a_read_beside_the_notebook(line):
    assert SIBLING_READ.search(line), line


def test_the_sibling_read_check_lets_absolute_and_gaplib_paths_through():
    fine = ['with open("/tmp/gapcourse-keep.txt", "w") as f:', "print((folder / 'boxes.csv').read_text())"]
    assert not any(SIBLING_READ.search(line) for line in fine)


def _course_map() -> list[tuple[str, str]]:
    """Notebook 00's course-map table: (number, what the first column says) for each row."""
    text = next(c.source for c in _nb(NOTEBOOKS[0]).cells if c.source.startswith("## The course map"))
    return re.findall(r"^\| (\d\d) ([^|]+?) \|", text, re.M)


def test_the_course_map_in_notebook_00_lists_every_notebook_by_its_title():
    titles = [(p.stem[:2], _nb(p).cells[0].source.splitlines()[0].split("·", 1)[1].strip()) for p in NOTEBOOKS[1:]]
    listed = _course_map()
    assert [n for n, _ in listed] == [n for n, _ in titles], (
        f"notebook 00's course map lists {[n for n, _ in listed]}, notebooks/ holds {[n for n, _ in titles]}"
    )
    for (number, said), (_, title) in zip(listed, titles):
        assert said.lower() == title.lower(), (
            f"course map row {number} says {said!r}, the notebook's title is {title!r}"
        )


def _readme_times() -> dict[str, int]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    head = re.search(r"^\| notebook \| (.+) \|$", text, re.M)
    row = re.search(r"^\| seconds, 2-core CPU \| (.+) \|$", text, re.M)
    assert head and row, "README.md has no times table (| notebook | 00 | ... and | seconds, 2-core CPU | ...)"
    return dict(zip(head.group(1).split(" | "), map(int, row.group(1).split(" | "))))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_runs_in_line_agrees_with_the_readme(path):
    found = RUNS_IN.search(_nb(path).cells[0].source)
    assert found, f"{path.name}: the first cell needs 'Runs in ~N s on a 2-core CPU'"
    measured = _readme_times().get(path.stem[:2])
    assert measured is not None, f"README's times table has no column for {path.stem[:2]}"
    said = int(found.group(1))
    assert abs(said - measured) <= max(10, 0.3 * measured), (
        f"{path.name} says ~{said} s, README measured {measured} s: `scripts/run_course.py --inplace --write-times`"
    )


def _imports(path: Path) -> set[str]:
    names = set()
    for i, cell in enumerate(_nb(path).cells):
        if cell.cell_type != "code":
            continue
        lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines()]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError as err:
            raise AssertionError(f"{path.name} cell {i} is not Python: {err}") from err
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"]) + list(project["optional-dependencies"]["course"])
    return {_norm(re.split(r"[<>=!~\[ ;@]", r, maxsplit=1)[0]) for r in reqs}


def test_every_package_a_notebook_imports_is_declared():
    declared, modules = _declared(), importlib.metadata.packages_distributions()
    missing = []
    for path in NOTEBOOKS:
        for module in sorted(_imports(path) - {"gaplib"}):
            dists = {_norm(d) for d in modules.get(module, [module])}
            if dists & declared:
                continue
            provider = next((PROVIDED_BY[d] for d in dists if d in PROVIDED_BY), None)
            requires = (
                [
                    _norm(re.split(r"[<>=!~\[ ;(]", r, maxsplit=1)[0])
                    for r in importlib.metadata.requires(provider) or []
                ]
                if provider
                else []
            )
            if provider in declared and dists & set(requires):
                continue
            missing.append(f"{path.name} imports {module} ({', '.join(sorted(dists))})")
    assert not missing, "not declared in pyproject.toml (dependencies or the course extra): " + "; ".join(missing)


def test_deprecation_warnings_are_not_hidden_globally():
    pytest_conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    for rule in pytest_conf.get("filterwarnings", []):
        action, _, rest = rule.partition("::")
        category, _, module = rest.partition(":")
        assert not (action == "ignore" and "DeprecationWarning" in category and not module.strip()), (
            f"'{rule}' hides every DeprecationWarning: filter one message or one module instead"
        )


def test_nbval_is_called_with_its_current_option_names():
    makefile = (ROOT / "Makefile").read_text()
    assert "--nbval-sanitize-with tests/nbval_sanitize.cfg" in makefile
    assert not re.search(r"(?<!nbval)-sanitize-with", makefile.replace("--nbval-sanitize-with", ""))


def test_the_test_command_checks_formatting_and_sync():
    makefile = (ROOT / "Makefile").read_text()
    assert "ruff format --check" in makefile and "scripts/sync_notebooks.py --check" in makefile


def test_the_gpu_job_never_runs_code_from_a_fork():
    ci = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    triggers = ci.get("on", ci.get(True))  # YAML 1.1 reads a bare `on:` key as True
    assert "pull_request_target" not in triggers, "pull_request_target runs fork code with the repository's secrets"
    condition = " ".join(ci["jobs"]["gpu"].get("if", "").split())
    assert "github.event.pull_request.head.repo.full_name == github.repository" in condition
    assert "github.event_name == 'push'" in condition


def test_the_readme_course_table_links_every_notebook():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(notebooks/([0-9][0-9]_[^)]+\.ipynb)\)", readme))
    assert linked == {p.name for p in NOTEBOOKS}, (
        f"README links {sorted(linked - {p.name for p in NOTEBOOKS})} that do not exist and misses "
        f"{sorted({p.name for p in NOTEBOOKS} - linked)}"
    )


OLD_HEAD = (
    "# 42 · A notebook\n\nRuns in ~5 s on a 2-core CPU.\n"
    "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
    "(https://colab.research.google.com/github/gapcourse/gapcourse/blob/main/notebooks/old_name.ipynb)"
)


def _old_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "venv", "display_name": "my venv"},
        "language_info": {"name": "python", "version": "3.11.7"},
    }
    nb.metadata["widgets"] = {"state": {}}
    code = nbformat.v4.new_code_cell("import math\nprint(math.pi)", execution_count=1)
    code.metadata["execution"] = {"iopub.execute_input": "2026-11-25T09:01:29.034724Z"}
    code.outputs = [nbformat.v4.new_output("stream", text="3.141592653589793\n")]
    nb.cells = [nbformat.v4.new_markdown_cell(OLD_HEAD), code, nbformat.v4.new_code_cell("x = [1,2]")]
    nbformat.write(nb, path)
    return path


def test_sync_adds_the_bootstrap_strips_metadata_and_formats(tmp_path):
    path = _old_notebook(tmp_path / "42_a_notebook.ipynb")
    nb = nbformat.reads(synced_text(path, "v0.2"), as_version=4)
    assert nb.cells[1].source == bootstrap_source("v0.2") and nb.cells[1].outputs == []
    assert nb.cells[2].source == "import math\n\nprint(math.pi)", "code is ruff-formatted"
    assert nb.cells[2].outputs[0].text == "3.141592653589793\n", "a cell keeps its output"
    assert nb.cells[3].source == "x = [1, 2]", "code is ruff-formatted"
    assert BADGE_RE.findall(nb.cells[0].source) == [badge("42_a_notebook.ipynb", "v0.2")]
    assert "widgets" not in nb.metadata and "version" not in nb.metadata.language_info
    assert nb.metadata.kernelspec.name == "python3"
    assert all("execution" not in c.metadata for c in nb.cells)


def test_sync_is_idempotent_and_keeps_the_ref(tmp_path):
    path = _old_notebook(tmp_path / "42_a_notebook.ipynb")
    path.write_text(synced_text(path, "v0.2"), encoding="utf-8")
    assert synced_text(path) == path.read_text(encoding="utf-8"), "a second sync changes nothing"
    assert current_ref(nbformat.read(path, as_version=4)) == "v0.2"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sync_notebooks.py"), "--check", str(path)], capture_output=True
    )
    assert done.returncode == 0, done.stdout


def test_run_course_writes_measured_times_into_headers_and_readme(tmp_path):
    from run_course import write_times

    paths = []
    for name, head in [
        ("00_a.ipynb", "Runs in ~10 s on a 2-core CPU."),
        ("01_b.ipynb", "Runs in ~RUNTIME s on a 2-core CPU"),
    ]:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {name}\n\n{head}")])
        nbformat.write(nb, tmp_path / name)
        paths.append(tmp_path / name)
    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- times: start -->\n| old |\n<!-- times: end -->\ny\n")
    write_times([(paths[0], 21.2, 20.0, "ok"), (paths[1], 64.0, 60.0, "ok")], readme)
    heads = [_nb(p).cells[0].source for p in paths]
    assert "Runs in ~25 s on a 2-core CPU." in heads[0] and "Runs in ~65 s on a 2-core CPU" in heads[1]
    assert "| notebook | 00 | 01 |\n|---|---|---|\n| seconds, 2-core CPU | 21 | 64 |" in readme.read_text()
    assert readme.read_text().startswith("x\n<!-- times: start -->\n") and readme.read_text().endswith("end -->\ny\n")
