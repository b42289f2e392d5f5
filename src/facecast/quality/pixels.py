"""Pixel comparisons between an output frame and its plate: PSNR and frame-to-frame change."""

from __future__ import annotations

import cv2
import numpy as np

#: PSNR reported when the compared pixels are identical (the true value is infinite).
PSNR_IDENTICAL = 100.0


def psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None) -> float | None:
    """Peak signal-to-noise ratio of two ``uint8`` images, over the pixels selected by `where`.

    Parameters
    ----------
    a, b
        ``uint8 (H, W, 3)`` images of the same shape.
    where
        ``bool (H, W)`` pixels to compare; all when ``None``.

    Returns
    -------
    float or None
        dB for a peak of 255, capped at `PSNR_IDENTICAL`; ``None`` if no pixel is selected.
    """
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    mask = None if where is None else where.astype(np.uint8)
    pixels = a.shape[0] * a.shape[1] if mask is None else cv2.countNonZero(mask)
    if pixels == 0:
        return None
    mse = cv2.norm(a, b, cv2.NORM_L2SQR, mask=mask) / (pixels * a.shape[2])
    if mse == 0:
        return PSNR_IDENTICAL
    return float(min(PSNR_IDENTICAL, 10 * np.log10(255.0**2 / mse)))


def luma(rgb: np.ndarray) -> np.ndarray:
    """``float32 (H, W)`` Rec. 709 luma in [0, 255] of ``uint8 RGB (H, W, 3)``."""
    return rgb.astype(np.float32) @ np.float32([0.2126, 0.7152, 0.0722])


def mean_abs_change(current: np.ndarray, previous: np.ndarray, where: np.ndarray) -> float | None:
    """Mean absolute difference of two ``float32 (h, w)`` luma crops over ``bool`` `where`.

    Returns ``None`` if `where` selects nothing.
    """
    if not where.any():
        return None
    return float(np.abs(current[where] - previous[where]).mean())


def mean_abs_difference(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float | None:
    """Mean absolute RGB difference (levels of 255) of two ``uint8 (h, w, 3)`` crops."""
    mask = where.astype(np.uint8)
    if not mask.any():
        return None
    return float(np.mean(cv2.mean(cv2.absdiff(a, b), mask=mask)[:3]))
