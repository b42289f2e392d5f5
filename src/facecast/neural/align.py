"""Face alignment: the similarity transform between a frame and a square, canonical face crop.

Five stable points of the 478-point mesh (eye centres from the eye corners, nose tip, mouth
corners) are fitted by least squares (Umeyama) to a canonical template, the widely used
five-point ArcFace layout, widened by a `coverage` factor so the crop holds the whole face,
forehead and chin. The same transform maps the crop back into the frame for paste-back.

Matrices are ``float64 (2, 3)`` affine maps from frame pixels to crop pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

#: ArcFace five-point template on a 112 px crop: right eye, left eye (subject's), nose tip,
#: mouth corners (image left, image right).
_ARCFACE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    np.float64,
)
#: Mesh indices averaged into the five points (eye corners, nose tip, mouth corners).
_FIVE_POINT_INDICES = ((33, 133), (362, 263), (1,), (61,), (291,))

#: Default crop width relative to the ArcFace crop: whole face with forehead and chin.
DEFAULT_COVERAGE = 1.35
#: Vertical shift of the template, in crop heights (positive moves the face down the crop).
_TEMPLATE_SHIFT = 0.02


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """The five alignment points of a face.

    Parameters
    ----------
    landmarks
        ``(478, 2)`` or ``(478, 3)`` mesh landmarks in pixels.

    Returns
    -------
    ndarray
        ``float64 (5, 2)``: right eye, left eye, nose tip, mouth corner (image left and right).
    """
    points = np.asarray(landmarks, np.float64)[:, :2]
    return np.stack([points[list(group)].mean(axis=0) for group in _FIVE_POINT_INDICES])


def template(size: int, coverage: float = DEFAULT_COVERAGE) -> np.ndarray:
    """``float64 (5, 2)`` canonical positions of the five points in a `size` px crop."""
    unit = _ARCFACE_112 / 112.0
    unit = 0.5 + (unit - 0.5) / coverage
    unit[:, 1] += _TEMPLATE_SHIFT
    return unit * size


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) taking `src` to `dst`.

    Parameters
    ----------
    src, dst
        ``(N, 2)`` corresponding points, N >= 2.

    Returns
    -------
    ndarray
        ``float64 (2, 3)`` matrix ``M`` with ``dst ~ M @ [src, 1]``.

    References
    ----------
    .. [1] S. Umeyama, "Least-squares estimation of transformation parameters between two
           point patterns", IEEE TPAMI 13(4), 1991.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rotation = u @ d @ vt
    variance = (src_c**2).sum() / len(src)
    scale = float((s * np.diag(d)).sum() / variance) if variance > 0 else 1.0
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def alignment_matrix(
    landmarks: np.ndarray, size: int, coverage: float = DEFAULT_COVERAGE
) -> np.ndarray:
    """``float64 (2, 3)`` frame-to-crop transform aligning a face into a `size` px crop."""
    return similarity_fit(five_points(landmarks), template(size, coverage))


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a ``(2, 3)`` affine `matrix` to ``(N, 2+)`` points; returns ``float32 (N, 2)``."""
    points = np.asarray(points, np.float64)[:, :2]
    return (points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def invert(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a ``(2, 3)`` affine map."""
    return cv2.invertAffineTransform(np.asarray(matrix, np.float64))


def matrix_scale(matrix: np.ndarray) -> float:
    """Uniform scale of a similarity ``(2, 3)`` matrix (crop pixels per frame pixel)."""
    return float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))


def warp_to_crop(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Cut the aligned `size` x `size` crop out of `image`, without aliasing.

    Parameters
    ----------
    image
        ``(H, W, C)`` or ``(H, W)`` array of any dtype OpenCV warps (``uint8``, ``float32``).
    matrix
        Frame-to-crop transform.
    size
        Side of the crop in pixels.

    Returns
    -------
    ndarray
        ``(size, size[, C])`` of the same dtype; outside the frame is filled by edge replication.

    Notes
    -----
    When the crop is much smaller than the face, the frame is first halved with `cv2.pyrDown`
    (Gaussian pre-filter) until the remaining scale is at least 1/2.
    """
    matrix = np.asarray(matrix, np.float64).copy()
    while matrix_scale(matrix) < 0.5 and min(image.shape[:2]) > 2 * size:
        image = cv2.pyrDown(image)
        matrix[:, :2] *= 2.0
    return cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def crop_box(
    matrix: np.ndarray, size: int, frame_shape: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """Integer box ``(x0, y0, x1, y1)`` of the frame covered by the crop, clipped to the frame.

    Returns ``None`` when the crop lies entirely outside the frame.
    """
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64)
    frame_corners = transform_points(corners, invert(matrix))
    height, width = frame_shape
    x0 = max(int(np.floor(frame_corners[:, 0].min())), 0)
    y0 = max(int(np.floor(frame_corners[:, 1].min())), 0)
    x1 = min(int(np.ceil(frame_corners[:, 0].max())), width)
    y1 = min(int(np.ceil(frame_corners[:, 1].max())), height)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def warp_from_crop(
    crop: np.ndarray, matrix: np.ndarray, box: tuple[int, int, int, int]
) -> np.ndarray:
    """Map a crop back into the frame region `box` (inverse of `warp_to_crop`).

    Parameters
    ----------
    crop
        ``float32 (R, R[, C])`` crop-space image.
    matrix
        The frame-to-crop transform the crop was made with.
    box
        ``(x0, y0, x1, y1)`` frame region to fill, e.g. from `crop_box`.

    Returns
    -------
    ndarray
        ``float32 (y1 - y0, x1 - x0[, C])``; pixels that fall outside the crop are 0.
    """
    x0, y0, x1, y1 = box
    shifted = invert(matrix)
    shifted[:, 2] -= (x0, y0)
    return cv2.warpAffine(
        crop,
        shifted,
        (x1 - x0, y1 - y0),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
