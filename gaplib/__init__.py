"""gaplib: the small library behind the gapcourse notebooks on Global Average Pooling."""

from . import (
    cam,
    data,
    device,
    errors,
    exercises,
    experiments,
    fastai_data,
    models,
    photos,
    pool,
    pretrained,
    timing,
    train,
    viz,
)
from .device import default_device

__version__ = "0.1.0"
__all__ = [
    "cam",
    "data",
    "device",
    "errors",
    "exercises",
    "experiments",
    "fastai_data",
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
