"""gaplib: the small library behind the gapcourse notebooks on Global Average Pooling."""

from . import data, device, exercises, experiments, fastai_data, models, pool, timing, train, viz
from .device import default_device

__version__ = "0.1.0"
__all__ = [
    "data",
    "device",
    "exercises",
    "experiments",
    "fastai_data",
    "models",
    "pool",
    "timing",
    "train",
    "viz",
    "default_device",
    "__version__",
]
