"""Build an offline wheelhouse for an air-gapped (GPU) runner: every wheel `make test` needs beyond torch.

Run it on a machine with internet access, copy the folder to the runner, then on the runner:
    make test-gpu WHEELHOUSE=wheelhouse SYSTEM_TORCH=1
which installs from that folder only (`pip install --no-index --find-links`) and keeps the runner's torch.

    python scripts/build_wheelhouse.py --out wheelhouse --python-version 3.12 [--skip-installed runner-freeze.txt]

`--skip-installed` takes the runner's `pip freeze` (or `pip list --format=freeze`) and leaves out the packages it
already has, which keeps the folder small. torch, torchvision, triton and NVIDIA's CUDA wheels are never included:
the runner brings its own, matched to its driver.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = [
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
    "linux_x86_64",
    "any",
]
NEVER = re.compile(r"^(torch|torchvision|torchaudio|triton|nvidia-.*|cuda-.*|gaplib)$")


def norm(name: str) -> str:
    """PEP 503 normalised package name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def target_flags(python_version: str) -> list[str]:
    """pip flags that select wheels for the runner's Python and platform."""
    flags = ["--only-binary=:all:", "--python-version", python_version, "--implementation", "cp"]
    for p in PLATFORMS:
        flags += ["--platform", p]
    return flags


def resolve(extras: str, python_version: str) -> dict[str, str]:
    """Resolve gaplib[extras] (+ the build backend) for the target; return {name: version}."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
            str(report),
            "--target",
            str(Path(tmp) / "t"),
            *target_flags(python_version),
            f"{ROOT}[{extras}]",
            "setuptools",
            "wheel",
        ]
        subprocess.run(cmd, check=True)
        items = json.loads(report.read_text())["install"]
    return {norm(i["metadata"]["name"]): i["metadata"]["version"] for i in items}


def installed_names(freeze: Path) -> set[str]:
    """Package names in a `pip freeze` listing."""
    names = set()
    for line in freeze.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)", line.strip())
        if m and not line.startswith("#"):
            names.add(norm(m.group(1)))
    return names


def main() -> None:
    """Resolve, filter and download the wheels; write the pinned list beside them."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "wheelhouse")
    ap.add_argument("--python-version", default="3.12", help="the runner's Python, e.g. 3.12")
    ap.add_argument("--extras", default="course,test", help="gaplib extras the runner needs")
    ap.add_argument("--skip-installed", type=Path, help="the runner's `pip freeze`: leave those packages out")
    args = ap.parse_args()
    if args.skip_installed and not args.skip_installed.is_file():
        sys.exit(f"--skip-installed: no such file {args.skip_installed}")
    pins = resolve(args.extras, args.python_version)
    skip = installed_names(args.skip_installed) if args.skip_installed else set()
    wanted = sorted(f"{n}=={v}" for n, v in pins.items() if not NEVER.match(n) and n not in skip)
    args.out.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "-d",
            str(args.out),
            *target_flags(args.python_version),
            *wanted,
        ],
        check=True,
    )
    (args.out / "requirements.txt").write_text("\n".join(wanted) + "\n")
    size = sum(f.stat().st_size for f in args.out.glob("*.whl")) / 2**20
    print(
        f"{len(wanted)} wheels ({size:.0f} MiB) in {args.out}; skipped {len(pins) - len(wanted)} "
        "(torch and CUDA wheels, and what the runner already has)"
    )


if __name__ == "__main__":
    main()
