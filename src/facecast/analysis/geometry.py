"""Small geometry helpers on boxes and landmark sets, shared by detection and tracking."""

from __future__ import annotations

import numpy as np

__all__ = ["box_iou", "iou_matrix", "landmark_box"]


def landmark_box(landmarks: np.ndarray) -> np.ndarray:
    """Extent of landmarks.

    Parameters
    ----------
    landmarks
        ``float32 (N, 2)`` or ``(N, 3)`` points in pixels.

    Returns
    -------
    ndarray
        ``float32 (4,)``: ``x0, y0, x1, y1``.
    """
    points = np.asarray(landmarks)[:, :2]
    return np.concatenate([points.min(axis=0), points.max(axis=0)]).astype(np.float32)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two ``(4,)`` boxes ``x0, y0, x1, y1``; 0 when disjoint."""
    return float(iou_matrix(np.asarray(a)[None], np.asarray(b)[None])[0, 0])


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union.

    Parameters
    ----------
    a, b
        ``(M, 4)`` and ``(N, 4)`` boxes ``x0, y0, x1, y1``.

    Returns
    -------
    ndarray
        ``float64 (M, N)`` in [0, 1].
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
