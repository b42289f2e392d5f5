"""Augmentation of aligned face crops: flips, small similarity jitter, colour, smooth warps.

Every function takes a `numpy.random.Generator`, so an augmentation is fully determined by the
generator's seed. Images are ``float32 (R, R, C)`` in [0, 1] unless stated otherwise.
"""

from __future__ import annotations

import cv2
import numpy as np


def random_similarity(
    rng: np.random.Generator,
    size: int,
    *,
    rotation: float = 10.0,
    scale: float = 0.05,
    shift: float = 0.05,
    flip: bool = True,
) -> np.ndarray:
    """A random crop-to-crop similarity, optionally mirrored.

    Parameters
    ----------
    rng
        Source of randomness.
    size
        Crop side in pixels.
    rotation, scale, shift
        Largest rotation (degrees), relative scale change and shift (fraction of `size`).
    flip
        Mirror left-right with probability 1/2.

    Returns
    -------
    ndarray
        ``float64 (2, 3)`` affine matrix for `cv2.warpAffine`.
    """
    angle = rng.uniform(-rotation, rotation)
    zoom = 1.0 + rng.uniform(-scale, scale)
    dx, dy = rng.uniform(-shift, shift, size=2) * size
    centre = ((size - 1) / 2, (size - 1) / 2)
    matrix = cv2.getRotationMatrix2D(centre, angle, zoom)
    matrix[:, 2] += (dx, dy)
    if flip and rng.random() < 0.5:
        mirror = np.array([[-1.0, 0.0, size - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        matrix = matrix @ mirror
    return matrix


def apply_similarity(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Warp a square ``(R, R[, C])`` image by `matrix`, replicating the border."""
    size = image.shape[0]
    return cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def random_warp_maps(
    rng: np.random.Generator, size: int, *, cells: int = 5, amount: float = 0.03
) -> tuple[np.ndarray, np.ndarray]:
    """Smooth random displacement maps for `cv2.remap` (DeepFaceLab's "random warp").

    A ``cells`` x ``cells`` grid of offsets, normal with standard deviation ``amount * size``
    and zero at the border, is upsampled bicubically to the full size.

    Returns
    -------
    map_x, map_y
        ``float32 (size, size)`` source coordinates.
    """
    offsets = rng.normal(0.0, amount * size, size=(2, cells, cells)).astype(np.float32)
    offsets[:, [0, -1], :] = 0.0
    offsets[:, :, [0, -1]] = 0.0
    dx = cv2.resize(offsets[0], (size, size), interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(offsets[1], (size, size), interpolation=cv2.INTER_CUBIC)
    grid_y, grid_x = np.mgrid[0:size, 0:size].astype(np.float32)
    return grid_x + dx, grid_y + dy


def apply_warp(image: np.ndarray, maps: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Remap `image` with maps from `random_warp_maps`."""
    return cv2.remap(image, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def random_colour(
    rng: np.random.Generator,
    rgb: np.ndarray,
    *,
    brightness: float = 0.1,
    contrast: float = 0.15,
    saturation: float = 0.2,
    tint: float = 0.04,
) -> np.ndarray:
    """Random brightness, contrast, saturation and per-channel tint.

    Parameters
    ----------
    rgb
        ``float32 (R, R, 3)`` in [0, 1].

    Returns
    -------
    ndarray
        ``float32 (R, R, 3)`` clipped to [0, 1].
    """
    mean = rgb.mean(axis=(0, 1), keepdims=True)
    out = (rgb - mean) * (1.0 + rng.uniform(-contrast, contrast)) + mean
    grey = out.mean(axis=2, keepdims=True)
    out = grey + (out - grey) * (1.0 + rng.uniform(-saturation, saturation))
    shift = rng.uniform(-brightness, brightness) + rng.uniform(-tint, tint, size=3)
    return np.clip(out + shift.astype(np.float32), 0.0, 1.0).astype(np.float32)
