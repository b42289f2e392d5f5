"""Blending a face layer into the plate: Laplacian pyramid over a narrow feathered band."""

from __future__ import annotations

import cv2
import numpy as np

from facecast.composite.pixelwise import weigh


def _pyramid_levels(height: int, width: int, levels: int) -> int:
    """Levels that keep the coarsest image at least 8 pixels a side."""
    return max(1, min(levels, int(np.log2(max(1, min(height, width) / 8)))))


def laplacian_blend(
    foreground: np.ndarray, background: np.ndarray, alpha: np.ndarray, levels: int = 4
) -> np.ndarray:
    """Blend two images band by band (Burt & Adelson), each band with a matching blurred alpha.

    Parameters
    ----------
    foreground, background
        ``float32 (h, w, 3)`` in [0, 1].
    alpha
        ``float32 (h, w)`` in [0, 1]: 1 takes the foreground.
    levels
        Pyramid depth (capped by the image size).

    Returns
    -------
    numpy.ndarray
        ``float32 (h, w, 3)``. Where alpha is exactly 0 over the whole support of the coarsest
        band the result equals `background` up to float rounding; callers paste only inside the
        alpha's support.

    Notes
    -----
    The Laplacian pyramid is linear and collapses back to its image, so blending the two
    pyramids, ``a * L(fg) + (1 - a) * L(bg)`` per band, equals ``bg`` plus the collapse of
    ``a * L(fg - bg)``: one pyramid is built instead of two (half the work, the same result
    to float rounding, about 1e-7).
    """
    height, width = alpha.shape
    levels = _pyramid_levels(height, width, levels)
    difference = [np.asarray(foreground - background, np.float32)]
    weights = [alpha.astype(np.float32)]
    for _ in range(levels):
        difference.append(cv2.pyrDown(difference[-1]))
        weights.append(cv2.pyrDown(weights[-1]))
    result = weigh(difference[-1], weights[-1])
    for level in range(levels - 1, -1, -1):
        size = (difference[level].shape[1], difference[level].shape[0])
        band = difference[level] - cv2.pyrUp(difference[level + 1], dstsize=size)
        result = cv2.pyrUp(result, dstsize=size) + weigh(band, weights[level])
    return (background + result).astype(np.float32)


def blend_reach(levels: int) -> int:
    """Pixels beyond the alpha's support that a `levels`-deep pyramid blend can change."""
    return 2 ** (levels + 2)
