"""Real colour photos that ship inside installed packages (scikit-image, scikit-learn): nothing is downloaded.

`load_photos()` returns them as one `(N, 3, size, size)` float32 tensor in [0, 1] with their names:
each whole photo is resized (squashed) to a square with antialiasing, or first cropped to its central
square with `crop=True`.
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from ._checks import check_bool, check_int

__all__ = ["PHOTOS", "Photos", "load_photos"]

# name -> (package, what it shows); every one is a file inside the installed package
PHOTOS = {
    "chelsea": ("scikit-image", "a tabby cat"),
    "coffee": ("scikit-image", "a cup of coffee"),
    "astronaut": ("scikit-image", "an astronaut (Eileen Collins)"),
    "rocket": ("scikit-image", "a rocket on its launch pad"),
    "motorcycle": ("scikit-image", "a motorcycle (stereo pair, left view)"),
    "china": ("scikit-learn", "a Chinese temple"),
    "flower": ("scikit-learn", "a flower"),
}


class Photos(NamedTuple):
    """Photos `(N, 3, size, size)` float32 in [0, 1] and their names."""

    images: torch.Tensor
    names: tuple[str, ...]


@cache
def _raw(name: str) -> np.ndarray:
    """Photo `name` as it ships: `(H, W, 3)` uint8 (read once per process)."""
    if PHOTOS[name][0] == "scikit-learn":
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    from skimage import data

    image = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    return np.ascontiguousarray(image[..., :3])


def _check_names(names: object) -> tuple[str, ...]:
    """Check that `names` is None (all photos) or a non-empty list of known photo names."""
    if names is None:
        return tuple(PHOTOS)
    if isinstance(names, str):
        raise TypeError(f"names must be a list of photo names such as [{names!r}], not a bare string")
    try:
        names = tuple(names)
    except TypeError:
        raise TypeError(f"names must be a list of photo names or None, got {type(names).__name__}") from None
    if not names:
        raise ValueError(f"names is empty: pick some of {', '.join(PHOTOS)}")
    unknown = [n for n in names if n not in PHOTOS]
    if unknown:
        raise ValueError(f"names holds unknown photo {unknown[0]!r}; the photos are {', '.join(PHOTOS)}")
    return names


def load_photos(names: list[str] | tuple[str, ...] | None = None, size: int = 224, *, crop: bool = False) -> Photos:
    """The named photos (default: all of `PHOTOS`) as `(N, 3, size, size)` float32 in [0, 1]; `crop`: centre square."""
    names = _check_names(names)
    check_int(size, "size", 8)
    check_bool(crop, "crop")
    images = []
    for name in names:
        x = torch.from_numpy(_raw(name).copy()).permute(2, 0, 1)[None].float().div(255.0)
        if crop:
            h, w = x.shape[-2:]
            s = min(h, w)
            x = x[..., (h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        images.append(x.clamp_(0.0, 1.0))
    return Photos(torch.cat(images).contiguous(), names)
