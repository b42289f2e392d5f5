"""Per-pixel weighting of colour images, at OpenCV speed.

NumPy broadcasts an ``(h, w)`` weight over an ``(h, w, 3)`` image with an inner loop three
elements long, several times slower than OpenCV's element-wise arithmetic on the same values
(2.6 ms against 0.3 ms for a 391 x 461 face box on this machine). Both perform the same IEEE
single-precision operations in the same order, so the results are bit-identical; other dtypes
and shapes fall back to NumPy.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["mix", "weigh"]


def _fast(*arrays: np.ndarray) -> bool:
    # OpenCV would return a one-channel (h, w, 1) result as (h, w)
    return (
        all(a.dtype == np.float32 for a in arrays)
        and arrays[0].ndim == 3
        and arrays[0].shape[2] > 1
    )


def _spread(weight: np.ndarray, channels: int) -> np.ndarray:
    return cv2.merge([weight] * channels)


def weigh(image: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``image * weight[..., None]``.

    Parameters
    ----------
    image
        ``(h, w, C)`` array.
    weight
        ``(h, w)`` array.

    Returns
    -------
    numpy.ndarray
        ``(h, w, C)``; ``float32`` when both inputs are.
    """
    if not _fast(image, weight) or image.shape[:2] != weight.shape:
        return image * weight[..., None]
    return cv2.multiply(image, _spread(weight, image.shape[2]))


def mix(background: np.ndarray, foreground: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``background + weight[..., None] * (foreground - background)``: 0 keeps `background`,
    1 takes `foreground`.

    Parameters
    ----------
    background, foreground
        ``(h, w, C)`` arrays of one shape.
    weight
        ``(h, w)`` array, usually in [0, 1].
    """
    if not _fast(background, foreground, weight) or background.shape[:2] != weight.shape:
        return background + weight[..., None] * (foreground - background)
    spread = _spread(weight, background.shape[2])
    return cv2.add(background, cv2.multiply(spread, cv2.subtract(foreground, background)))
