"""Blending a face layer into the plate: Laplacian pyramid over a narrow feathered band."""

from __future__ import annotations

import cv2
import numpy as np


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
    """
    height, width = alpha.shape
    levels = _pyramid_levels(height, width, levels)
    fg, bg, a = [foreground], [background], [alpha.astype(np.float32)]
    for _ in range(levels):
        fg.append(cv2.pyrDown(fg[-1]))
        bg.append(cv2.pyrDown(bg[-1]))
        a.append(cv2.pyrDown(a[-1]))
    result = a[-1][..., None] * fg[-1] + (1 - a[-1][..., None]) * bg[-1]
    for level in range(levels - 1, -1, -1):
        size = (fg[level].shape[1], fg[level].shape[0])
        fg_band = fg[level] - cv2.pyrUp(fg[level + 1], dstsize=size)
        bg_band = bg[level] - cv2.pyrUp(bg[level + 1], dstsize=size)
        weight = a[level][..., None]
        result = cv2.pyrUp(result, dstsize=size) + weight * fg_band + (1 - weight) * bg_band
    return result.astype(np.float32)


def blend_reach(levels: int) -> int:
    """Pixels beyond the alpha's support that a `levels`-deep pyramid blend can change."""
    return 2 ** (levels + 2)
