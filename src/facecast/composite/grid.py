"""Coarse grids for smooth quantities: shrink an image by whole blocks, grow it back aligned.

Light gains, feathered mattes and fades are smooth at a scale of several pixels, so they are
computed on a grid shrunk by a whole factor and brought back bilinearly. Whole blocks keep
OpenCV's fast area path and put every grid point at the centre of its block, so `grow` puts
values back exactly where `shrink` took them from.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["gaussian_radius", "grow", "shrink"]


def shrink(image: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each whole `factor` x `factor` block of ``image (h, w[, C])``, the image padded
    with zeros to whole blocks: ``(ceil(h / f), ceil(w / f)[, C])``.

    Whole blocks take OpenCV's fast area path (three to four times quicker than a fractional
    ratio). Zeros beyond the edge are right for what is shrunk here, images premultiplied by
    their mask and the mask itself: the normalised convolution ignores them.
    """
    if factor == 1:
        return image
    height, width = image.shape[:2]
    bottom, right = -height % factor, -width % factor
    if bottom or right:
        image = cv2.copyMakeBorder(image, 0, bottom, 0, right, cv2.BORDER_CONSTANT, value=0)
    cells = ((width + right) // factor, (height + bottom) // factor)
    return cv2.resize(image, cells, interpolation=cv2.INTER_AREA)


def grow(small: np.ndarray, shape: tuple[int, ...], factor: int) -> np.ndarray:
    """Bilinear inverse of `shrink`: ``small`` back to ``shape[:2]`` (block centres kept)."""
    if factor == 1:
        return small
    cells_high, cells_wide = small.shape[:2]
    full = (cells_wide * factor, cells_high * factor)
    grown = cv2.resize(small, full, interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(grown[: shape[0], : shape[1]])


def gaussian_radius(sigma: float) -> int:
    """Half-width in pixels of the kernel `cv2.GaussianBlur` uses on float images for `sigma`
    (``ksize = round(8 sigma + 1)``, made odd): how far a blur reaches, for work cropped to
    the support of what is blurred."""
    return (int(sigma * 8 + 1.5) | 1) // 2
