"""Soft masks from landmarks: the face region of the mesh and occluding hands."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from facecast.analysis.topology import FACE_OVAL

__all__ = ["face_region_mask", "hand_mask", "polygon_mask"]

#: Sub-pixel bits for cv2 polygon filling (coordinates are scaled by 2**_SHIFT).
_SHIFT = 4


def _check_shape(shape: Sequence[int]) -> tuple[int, int]:
    height, width = int(shape[0]), int(shape[1])
    if height <= 0 or width <= 0:
        raise ValueError(f"mask shape must be positive (H, W), got {tuple(shape)}")
    return height, width


def polygon_mask(
    polygons: Sequence[np.ndarray], shape: Sequence[int], feather_px: float = 0.0
) -> np.ndarray:
    """Fill polygons and soften their edges.

    Parameters
    ----------
    polygons
        Each ``float (N, 2)`` vertices in pixels (``x, y``), in order around the outline.
    shape
        ``(H, W)`` of the mask.
    feather_px
        Width of the soft edge in pixels (Gaussian with sigma ``feather_px / 2``); 0 is hard.

    Returns
    -------
    ndarray
        ``float32 (H, W)`` in [0, 1]: 1 inside, 0 outside, a ramp across the edge.
    """
    height, width = _check_shape(shape)
    mask = np.zeros((height, width), np.float32)
    points = [np.asarray(p, np.float64)[:, :2] for p in polygons if len(p) >= 3]
    if not points:
        return mask
    margin = int(np.ceil(1.5 * feather_px)) + 2
    everything = np.concatenate(points)
    x0, y0 = np.floor(everything.min(axis=0)).astype(int) - margin
    x1, y1 = np.ceil(everything.max(axis=0)).astype(int) + margin
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 <= x0 or y1 <= y0:
        return mask
    local = np.zeros((y1 - y0, x1 - x0), np.float32)
    scaled = [np.round((p - (x0, y0)) * (1 << _SHIFT)).astype(np.int32) for p in points]
    cv2.fillPoly(local, scaled, 1.0, lineType=cv2.LINE_AA, shift=_SHIFT)
    if feather_px > 0:
        local = cv2.GaussianBlur(
            local, (0, 0), sigmaX=feather_px / 2, borderType=cv2.BORDER_CONSTANT
        )
    mask[y0:y1, x0:x1] = np.clip(local, 0.0, 1.0)
    return mask


def face_region_mask(
    landmarks: np.ndarray, shape: Sequence[int], feather_px: float | None = None
) -> np.ndarray:
    """The face region of the mesh (inside the face oval), softened at the edge.

    Parameters
    ----------
    landmarks
        ``float32 (478, 2 or 3)`` face-mesh points in pixels.
    shape
        ``(H, W)`` of the frame.
    feather_px
        Width of the soft edge in pixels; default 4% of the face's size.

    Returns
    -------
    ndarray
        ``float32 (H, W)`` in [0, 1].
    """
    points = np.asarray(landmarks, np.float32)
    if points.ndim != 2 or points.shape[0] <= int(FACE_OVAL.max()) or points.shape[1] < 2:
        raise ValueError(f"expected face-mesh landmarks (478, 2 or 3), got {points.shape}")
    outline = points[FACE_OVAL, :2]
    if feather_px is None:
        feather_px = 0.04 * float(np.ptp(outline, axis=0).max())
    return polygon_mask([outline], shape, feather_px)


def hand_mask(
    hand_points: Sequence[np.ndarray],
    shape: Sequence[int],
    dilate_px: float = 8.0,
    feather_px: float = 4.0,
) -> np.ndarray:
    """Mask of hands (for occlusion): the convex hull of each hand's keypoints, grown and softened.

    Parameters
    ----------
    hand_points
        Each ``float32 (21, 2)`` hand keypoints in pixels (from `HandDetector.detect`).
    shape
        ``(H, W)`` of the frame.
    dilate_px
        How far the hull is grown, in pixels (keypoints sit inside the fingers' outline).
    feather_px
        Width of the soft edge in pixels.

    Returns
    -------
    ndarray
        ``float32 (H, W)`` in [0, 1]; all zeros when `hand_points` is empty.
    """
    height, width = _check_shape(shape)
    hulls = []
    for points in hand_points:
        points = np.asarray(points, np.float32)[:, :2]
        if points.shape[0] < 3:
            raise ValueError(f"a hand needs at least 3 points (21, 2), got {points.shape}")
        hulls.append(cv2.convexHull(points).reshape(-1, 2))
    mask = polygon_mask(hulls, (height, width), 0.0)
    if dilate_px > 0 and hulls:
        size = 2 * round(dilate_px) + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        mask = cv2.dilate(mask, kernel)
    if feather_px > 0 and hulls:
        mask = cv2.GaussianBlur(mask, (0, 0), sigmaX=feather_px / 2)
    return np.clip(mask, 0.0, 1.0).astype(np.float32)
