"""The crash-safe store behind gaplib's dataset folders: gaplib replaces or deletes only what it wrote.

A dataset folder carries gaplib's `manifest.json` (its parameters, every file, a content hash). `place`
builds a new copy beside the target and renames it into place, so the folder is always either the old
complete dataset or the new one; `mismatch` says why a folder is not the dataset asked for;
`clean_stale` removes what builds killed part-way left behind; `check_target` refuses any folder that
is not gaplib's (`.`, the home folder, a symbolic link, a file, a folder of yours).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path

from ._checks import check_path

__all__ = ["check_target", "mismatch", "clean_stale", "place"]

MARK = "gaplib image folder"  # manifests gaplib writes carry {"written_by": MARK}
OURS = {"train", "valid", "manifest.json", "boxes.csv"}  # the only names gaplib puts in a dataset folder
IMAGE_NAME = re.compile(r"^\d{5}\.png$")  # the only image names it writes


def check_target(root: object, name: str = "root") -> Path:
    """Check that `root` is a folder path gaplib may write a dataset to (the folder itself comes later)."""
    path = check_path(root, name).expanduser()
    if path.is_symlink():
        raise ValueError(f"{name} {str(path)!r} is a symbolic link; gaplib writes only to a real folder")
    full = path.resolve()
    for other, what in ((Path.cwd().resolve(), "the current folder"), (Path.home().resolve(), "the home folder")):
        if full == other or full in other.parents:
            raise ValueError(f"{name} {str(path)!r} is {what} or above it; give a new folder for the dataset")
    if path.exists() and not path.is_dir():
        raise ValueError(f"{name} {str(path)!r} is a file, not a folder; give a new folder for the dataset")
    if any(p.exists() and not p.is_dir() for p in path.parents):
        raise ValueError(f"{name} {str(path)!r} lies under a file, not a folder")
    check_ours(path, name)
    return path


def read_manifest(root: Path) -> dict | None:
    """gaplib's manifest of `root`, or None when it is missing, unreadable, truncated or not gaplib's."""
    try:
        manifest = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(manifest, dict) and manifest.get("written_by") == MARK and isinstance(manifest.get("files"), list)
    return manifest if ok else None


def files_of(root: Path) -> list[str]:
    """Every file under `root` (except `manifest.json`) as sorted posix paths relative to `root`."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = Path(dirpath).relative_to(root)
        out += [(rel / f).as_posix() for f in filenames if (rel / f).as_posix() != "manifest.json"]
    return sorted(out)


def check_ours(root: Path, name: str) -> None:
    """Refuse `root` if it exists, is not empty, and holds anything gaplib did not write there.

    Another process may swap a new copy into `root` while this reads it (a rename: a new directory); a manifest
    read from one copy and files from the other would look foreign, so a read during which `root` changed is redone.
    """
    why = None
    for _ in range(10):
        before = _identity(root)
        try:
            why = _why_not_ours(root, name)
        except (FileNotFoundError, NotADirectoryError):  # moved away while being read: read it again
            continue
        if _identity(root) == before:
            break
    if why is not None:
        raise ValueError(why)


def _identity(root: Path) -> tuple[int, int] | None:
    """(device, inode) of the directory `root` names now; None when there is none."""
    try:
        st = root.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _why_not_ours(root: Path, name: str) -> str | None:
    """Why `root` must not be touched by gaplib (it holds something gaplib did not write), or None."""
    if not root.is_dir() or not any(root.iterdir()):
        return None
    refuse = f"{name} {str(root)!r} already exists and is not a gaplib dataset"
    top = {p.name for p in root.iterdir()}
    if "manifest.json" not in top:
        return f"{refuse} (no manifest.json); gaplib deletes only what it wrote: give a new folder"
    if not top <= OURS:
        return f"{refuse}: it holds {sorted(top - OURS)[0]!r}; move that away or give a new folder"
    links = [p for p in root.rglob("*") if p.is_symlink()]
    if links:
        return f"{refuse}: it holds the symbolic link {str(links[0])!r}; give a new folder"
    manifest = read_manifest(root)
    files = files_of(root)
    if manifest is not None:  # a readable manifest of ours: everything present must be listed in it
        listed = set(manifest["files"])
        extra = [f for f in files if f not in listed]
    else:  # unreadable or older manifest: accept only gaplib's own layout and names
        extra = [
            f
            for f in files
            if f != "boxes.csv"
            and not (
                f.count("/") == 2 and f.split("/")[0] in ("train", "valid") and IMAGE_NAME.match(f.rsplit("/", 1)[1])
            )
        ]
    if extra:
        return f"{name} {str(root)!r} holds {extra[0]!r}, which gaplib did not write; move it away first"
    return None


def content_hash(root: Path, files: list[str]) -> str:
    """sha256 over each file's relative path and bytes, in order."""
    h = hashlib.sha256()
    for rel in files:
        h.update(rel.encode() + b"\0" + hashlib.sha256((root / rel).read_bytes()).digest())
    return h.hexdigest()


def mismatch(root: Path, params: dict) -> str | None:
    """Why `root` is not a complete gaplib dataset written with `params`, or None when it is."""
    if not root.is_dir():
        return "it does not exist"
    manifest = read_manifest(root)
    if manifest is None:
        return "its manifest.json is missing, unreadable or from an older gaplib"
    if manifest.get("params") != json.loads(json.dumps(params)):
        return "it was written with other parameters"
    files = files_of(root)
    if files != manifest["files"]:
        missing = len(set(manifest["files"]) - set(files))
        return f"{missing} of its {len(manifest['files'])} files are missing"
    try:
        if content_hash(root, files) != manifest.get("sha256"):
            return "its files differ from what its manifest records"
    except OSError as e:
        return f"a file cannot be read ({e.strerror})"
    return None


def pid_alive(pid: int) -> bool:
    """Whether a process with id `pid` runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]  # temp names say which machine built them
FOREIGN_STALE_S = 24 * 3600  # a build from another machine (shared disk) counts as dead after a day


def clean_stale(root: Path) -> None:
    """Remove the temporary folders of `root` that builds by dead processes left beside it.

    A build is dead when its process id no longer runs on this machine; one started on another machine
    sharing the disk (its name carries that machine's tag) is left alone for a day.
    """
    pattern = re.compile(rf"^\.{re.escape(root.name)}\.(\d+)(\.[0-9a-f]+)?\.(tmp|old)$")
    if not root.parent.is_dir():
        return
    for p in root.parent.iterdir():
        m = pattern.match(p.name)
        if not m or not p.is_dir() or p.is_symlink():
            continue
        token = (m.group(2) or ".")[1:]
        if len(token) == 16 and token[:8] != HOST:
            try:
                dead = time.time() - p.stat().st_mtime > FOREIGN_STALE_S
            except OSError:
                continue
        else:
            dead = not pid_alive(int(m.group(1)))
        if dead:
            shutil.rmtree(p, ignore_errors=True)


def place(root: Path, write: Callable[[Path], None], params: dict, reuse: bool) -> Path:
    """Build a dataset with `write(tmp)` beside `root`, then move it into place atomically.

    The old `root` (checked to be gaplib's) is moved aside and removed only once the new copy is in place.
    With `reuse`, a complete copy with the same `params` that another process put there first wins.
    """
    root.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}.{HOST}{secrets.token_hex(4)}"
    tmp, old = root.parent / f".{root.name}.{tag}.tmp", root.parent / f".{root.name}.{tag}.old"
    tmp.mkdir()
    try:
        write(tmp)
        files = files_of(tmp)
        manifest = {"written_by": MARK, "params": params, "files": files, "sha256": content_hash(tmp, files)}
        (tmp / "manifest.json").write_text(json.dumps(manifest, sort_keys=True))
        for _ in range(10):
            if reuse and mismatch(root, params) is None:  # another process finished first
                shutil.rmtree(tmp, ignore_errors=True)
                return root
            moved = False
            if root.exists():
                check_ours(root, "root")  # still ours: move it aside, never delete it before the new copy is in
                try:
                    root.rename(old)
                    moved = True
                except FileNotFoundError:
                    continue
            try:
                tmp.rename(root)
            except OSError as e:
                if moved and not root.exists():
                    old.rename(root)  # put the old copy back
                shutil.rmtree(old, ignore_errors=True)
                if e.errno in (errno.ENOTEMPTY, errno.EEXIST):  # another process put its copy there in between
                    continue
                raise
            shutil.rmtree(old, ignore_errors=True)
            return root
        raise RuntimeError(f"could not move the new dataset into {str(root)!r}: other processes keep replacing it")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
