"""Where the face is: the region derived from landmarks, mattes, and the rings around an edge.

Masks are ``float32 (H, W)`` in [0, 1] (alpha) or ``bool (H, W)``; boxes are integer
``x0, y0, x1, y1`` pixel boxes of the full frame.
"""

from __future__ import annotations

import cv2
import numpy as np

#: How far above the brows the derived face region reaches, as a fraction of brow-to-chin height.
FOREHEAD_FRACTION = 0.4
#: Alpha above which a matte pixel counts as fully replaced, and below which as untouched.
SOLID_ALPHA, CLEAR_ALPHA = 0.95, 0.05


def face_outline(points: np.ndarray) -> np.ndarray:
    """The face outline of 68 iBUG landmarks, extended up over the forehead.

    dlib's 68 points stop at the brows, while swaps cover the forehead; the brow points are
    moved up along the chin-to-brow direction by `FOREHEAD_FRACTION` of that distance.

    Parameters
    ----------
    points
        ``float (68, 2)`` landmarks in pixels.

    Returns
    -------
    numpy.ndarray
        ``float32 (K, 2)`` convex hull of the face and forehead, in pixels.
    """
    brows = points[17:27]
    up = brows.mean(0) - points[8]
    forehead = brows + FOREHEAD_FRACTION * up
    return cv2.convexHull(np.float32(np.vstack([points, forehead])))[:, 0, :]


def face_hull(points: np.ndarray) -> np.ndarray:
    """``float32 (K, 2)`` convex hull of 68 iBUG landmarks: jaw line to brows, no forehead."""
    return cv2.convexHull(np.float32(points))[:, 0, :]


def polygon_mask(polygon: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``float32 (H, W)`` mask, 1 inside `polygon` (``(K, 2)`` pixels), 0 outside."""
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1, lineType=cv2.LINE_8)
    return mask.astype(np.float32)


def dilate(mask: np.ndarray, radius: float) -> np.ndarray:
    """``bool (H, W)``: pixels within `radius` pixels of where `mask` > `CLEAR_ALPHA`."""
    inside = mask > CLEAR_ALPHA
    r = int(np.ceil(radius))
    if r <= 0:
        return inside
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(inside.astype(np.uint8), kernel).astype(bool)


def mask_box(mask: np.ndarray, margin: float) -> tuple[int, int, int, int] | None:
    """Integer box around the pixels where `mask` > `CLEAR_ALPHA`, grown by `margin` and clipped.

    Returns ``None`` for an empty mask.
    """
    ys, xs = np.nonzero(mask > CLEAR_ALPHA)
    if len(xs) == 0:
        return None
    m = int(np.ceil(margin))
    height, width = mask.shape[:2]
    return (
        max(0, xs.min() - m),
        max(0, ys.min() - m),
        min(width, xs.max() + 1 + m),
        min(height, ys.max() + 1 + m),
    )


def edge_rings(alpha: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """The rings just inside and just outside a matte's edge.

    The inner ring holds fully replaced pixels (alpha >= `SOLID_ALPHA`) within `width` pixels of
    the edge of that area; the outer ring holds untouched pixels (alpha <= `CLEAR_ALPHA`) within
    `width` pixels of the matte. The feathered band between them is left out.

    Parameters
    ----------
    alpha
        ``float32 (h, w)`` matte in [0, 1].
    width
        Ring width in pixels.

    Returns
    -------
    tuple of numpy.ndarray
        ``bool (h, w)`` inner and outer rings.
    """
    solid = (alpha >= SOLID_ALPHA).astype(np.uint8)
    clear = (alpha <= CLEAR_ALPHA).astype(np.uint8)
    depth_inside = cv2.distanceTransform(solid, cv2.DIST_L2, 3)
    depth_outside = cv2.distanceTransform(clear, cv2.DIST_L2, 3)
    inner = (solid > 0) & (depth_inside <= width)
    outer = (clear > 0) & (depth_outside <= width)
    return inner, outer


def centroid(mask: np.ndarray) -> tuple[float, float]:
    """``(x, y)`` alpha-weighted centre of a ``(h, w)`` mask."""
    moments = cv2.moments(mask.astype(np.float32))
    if moments["m00"] == 0:
        return mask.shape[1] / 2, mask.shape[0] / 2
    return moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]
