"""scripts/run_course.py starts its kernels without a warning a learner cannot act on."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent

RUN = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {scripts!r})
    import run_course
    print(run_course.run_one(Path(sys.argv[1]), Path(sys.argv[2]))[2])
    """
)


def run_tiny_notebook(tmp_path: Path) -> subprocess.CompletedProcess:
    """Execute a one-cell notebook through `run_course.run_one` in a fresh Python; the kernel's stderr is captured."""
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1 + 1)")]), path)
    code = RUN.format(scripts=str(ROOT / "scripts"))
    args = [sys.executable, "-c", code, str(path), str(tmp_path / "done.ipynb")]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_kernels_start_without_the_unencrypted_tcp_warning(tmp_path):
    done = run_tiny_notebook(tmp_path)  # ipykernel >= 7 warns on plain TCP: this failed before kernel_config
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stdout + done.stderr
    assert "without encryption" not in done.stderr, done.stderr
    assert "2" in str(nbformat.read(tmp_path / "done.ipynb", 4).cells[0].outputs), "the cell ran"
