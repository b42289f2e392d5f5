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


#: How far a hand's keypoint hull is grown, as a share of the hand's size (`hand_size`): the
#: keypoints run along the middle of the fingers and the palm's edge lies outside them. 0.3
#: is the 8 px of a 27 px hand on the 640x480 street_group plate, where this was set by eye.
HAND_GROWTH = 0.3
#: Width of the mask's soft edge, as a share of the hand's size.
HAND_FEATHER = 0.15
#: Smallest growth and soft edge (pixels), for hands only a few pixels across.
MIN_HAND_PX = 2.0


def hand_size(points: np.ndarray) -> float:
    """A hand's size in pixels: the longer of the palm's width (index to little finger
    knuckle) and its length (wrist to middle finger knuckle), so a hand seen edge-on still
    measures its length. ``points`` are ``(21, 2+)`` mediapipe hand keypoints."""
    points = np.asarray(points, np.float64)[:, :2]
    width = np.linalg.norm(points[5] - points[17])
    length = np.linalg.norm(points[0] - points[9])
    return float(max(width, length))


def hand_mask(
    hand_points: Sequence[np.ndarray],
    shape: Sequence[int],
    dilate_px: float | None = None,
    feather_px: float | None = None,
) -> np.ndarray:
    """Mask of hands (for occlusion): the convex hull of each hand's keypoints, grown and softened.

    The same hand gives the same mask at any resolution: by default each hand's hull grows by
    `HAND_GROWTH` and softens over `HAND_FEATHER` of its `hand_size` (at least `MIN_HAND_PX`).
    Only the region around the hands is worked on, so the cost does not grow with the frame.

    Parameters
    ----------
    hand_points
        Each ``float32 (21, 2)`` hand keypoints in pixels (from `HandDetector.detect`).
    shape
        ``(H, W)`` of the frame.
    dilate_px
        How far every hull is grown, in pixels, instead of the hand's own share.
    feather_px
        Width of the soft edge in pixels, instead of the hand's own share.

    Returns
    -------
    ndarray
        ``float32 (H, W)`` in [0, 1]; all zeros when `hand_points` is empty.
    """
    height, width = _check_shape(shape)
    mask = np.zeros((height, width), np.float32)
    for points in hand_points:
        points = np.asarray(points, np.float32)[:, :2]
        if points.shape[0] < 21:
            raise ValueError(f"a hand needs its 21 keypoints (21, 2), got {points.shape}")
        size = hand_size(points)
        grow = max(MIN_HAND_PX, HAND_GROWTH * size) if dilate_px is None else dilate_px
        soft = max(MIN_HAND_PX, HAND_FEATHER * size) if feather_px is None else feather_px
        grown = _grown_hull(points, (height, width), grow, soft)
        if grown is not None:
            local, (x0, y0, x1, y1) = grown
            np.maximum(mask[y0:y1, x0:x1], local, out=mask[y0:y1, x0:x1])
    return mask


def _grown_hull(
    points: np.ndarray, shape: tuple[int, int], grow: float, soft: float
) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """The hull of ``points (N, 2)`` grown by `grow` pixels, its edge a smooth ramp `soft`
    pixels either side of that line, in a box around it: ``float32 (y1 - y0, x1 - x0)`` in
    [0, 1] and the box ``(x0, y0, x1, y1)`` clipped to the frame of `shape`; ``None`` for a
    hand wholly outside the frame. Grown through the distance to the hull, so the cost does
    not rise with the growth (a morphological dilation's does)."""
    height, width = shape
    margin = int(np.ceil(grow + soft)) + 2
    x0, y0 = np.floor(points.min(axis=0)).astype(int) - margin
    x1, y1 = np.ceil(points.max(axis=0)).astype(int) + margin
    box = (max(int(x0), 0), max(int(y0), 0), min(int(x1), width), min(int(y1), height))
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return None
    hull = cv2.convexHull(points - np.float32([x0, y0])).reshape(-1, 2)
    outside = np.full((y1 - y0, x1 - x0), 255, np.uint8)
    cv2.fillPoly(outside, [np.round(hull * (1 << _SHIFT)).astype(np.int32)], 0, shift=_SHIFT)
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    ramp = np.clip(0.5 + (grow - distance) / max(2.0 * soft, 1e-6), 0.0, 1.0)
    return (ramp * ramp * (3.0 - 2.0 * ramp)).astype(np.float32), box
