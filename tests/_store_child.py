"""A dataset build through gaplib._store, run by tests/test_store.py as a separate process that the test kills.

    python tests/_store_child.py ROOT SIGNAL STOP_AT N_TRAIN

builds an image folder of N_TRAIN train and 6 valid images at ROOT (`build`). STOP_AT says where it stops,
writing "stopped" to the SIGNAL file and sleeping until it is killed:

- "writing": the train images are written, the valid ones not yet;
- "swap": the old copy is moved aside, the new one not yet renamed into place;
- "removing_old": the new copy is in place and the old copy half removed;
- "race": it stops nowhere, but waits for the SIGNAL file to exist before building (two racing builders),
  then prints ROOT.

Any other run ends by writing "done" to SIGNAL.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from gaplib import _store

N_VALID = 6


def params(n_train: int) -> dict:
    """The parameters a build of `n_train` train images records in its manifest."""
    return {"kind": "store test", "n_train": n_train, "n_valid": N_VALID}


def build(root: Path, n_train: int, before_valid: Callable[[], None] | None = None) -> Path:
    """What `gaplib.folders.shapes_folder` does around its images: clean up, reuse a matching copy, else place one."""

    def write(tmp: Path) -> None:
        for split, n in (("train", n_train), ("valid", N_VALID)):
            if split == "valid" and before_valid is not None:
                before_valid()
            (tmp / split / "a").mkdir(parents=True)
            for i in range(n):
                Image.fromarray(np.full((4, 4, 3), i, np.uint8)).save(tmp / split / "a" / f"{i:05d}.png")

    _store.clean_stale(root)
    if _store.mismatch(root, params(n_train)) is None:
        return root
    return _store.place(root, write, params(n_train), reuse=True)


def _main(root: Path, signal_file: Path, stop_at: str, n_train: int) -> None:
    def stop() -> None:
        signal_file.write_text("stopped")
        time.sleep(600)

    before_valid = stop if stop_at == "writing" else None
    if stop_at == "swap":
        real_rename = Path.rename

        def rename(self: Path, target: Path) -> Path:
            if self.name.endswith(".tmp"):
                stop()
            return real_rename(self, target)

        Path.rename = rename
    elif stop_at == "removing_old":
        real_rmtree = shutil.rmtree

        def rmtree(path: Path, *args: object, **kwargs: object) -> None:
            p = Path(path)
            if p.name.endswith(".old") and p.exists():
                for f in sorted(p.rglob("*.png"))[::2]:
                    f.unlink()
                stop()
            real_rmtree(path, *args, **kwargs)

        shutil.rmtree = rmtree
    elif stop_at == "race":
        while not signal_file.exists():
            time.sleep(0.01)
        print(build(root, n_train))
        return
    build(root, n_train, before_valid)
    signal_file.write_text("done")


if __name__ == "__main__":
    _main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
