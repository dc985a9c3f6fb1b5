"""gaplib: the small library behind the gapcourse notebooks on Global Average Pooling.

`import gaplib` stays light: `gaplib.viz` (and with it matplotlib's pyplot) loads on first use.
"""

import importlib
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from . import (
    cam,
    data,
    device,
    errors,
    exercises,
    experiments,
    fastai_data,
    folders,
    models,
    photos,
    pool,
    pretrained,
    timing,
    train,
)
from .device import default_device


def _version() -> str:
    """The installed package's version, else (a source checkout that is not installed) pyproject.toml's."""
    try:
        return version("gaplib")
    except PackageNotFoundError:
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        found = re.search(r'^version = "([^"]+)"', pyproject.read_text(), re.M) if pyproject.is_file() else None
        return found.group(1) if found else "unknown"


__version__ = _version()
__all__ = [
    "cam",
    "data",
    "device",
    "errors",
    "exercises",
    "experiments",
    "fastai_data",
    "folders",
    "models",
    "photos",
    "pool",
    "pretrained",
    "timing",
    "train",
    "viz",
    "default_device",
    "__version__",
]


def __getattr__(name: str) -> object:
    """`gaplib.viz`, imported on first use (it imports matplotlib's pyplot)."""
    if name == "viz":
        return importlib.import_module(".viz", __name__)
    raise AttributeError(f"module 'gaplib' has no attribute {name!r}")
