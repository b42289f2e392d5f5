"""The head's own frame from its landmarks: rotation, and the pose-free (frontal) layout.

The frame needs no external 3D model: its x axis runs between the outer eye corners, its y axis
from forehead to chin (made orthogonal to x), its z axis away from the viewer.
"""

from __future__ import annotations

import numpy as np

from facecast.mesh.regions import CHIN, FOREHEAD, LEFT_EYE_OUTER, RIGHT_EYE_OUTER


def head_rotation(landmarks: np.ndarray) -> np.ndarray:
    """Rotation from the head's frame to the camera's.

    Parameters
    ----------
    landmarks
        ``float (478, 3)`` or ``(468, 3)`` mesh points, pixels (z in the same scale).

    Returns
    -------
    numpy.ndarray
        ``float64 (3, 3)`` whose columns are the head's x, y, z axes in camera coordinates.
    """
    points = landmarks.astype(np.float64)
    x_axis = points[LEFT_EYE_OUTER] - points[RIGHT_EYE_OUTER]
    x_axis /= np.linalg.norm(x_axis) + 1e-12
    down = points[CHIN] - points[FOREHEAD]
    y_axis = down - x_axis * np.dot(down, x_axis)
    y_axis /= np.linalg.norm(y_axis) + 1e-12
    z_axis = np.cross(x_axis, y_axis)
    return np.stack([x_axis, y_axis, z_axis], axis=1)


def frontal_points(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks in the head's own frame, centred on their mean.

    Returns
    -------
    numpy.ndarray
        ``float64 (N, 3)``: x to the subject's left, y down, z away from the viewer, in pixels.
    """
    points = landmarks.astype(np.float64)
    rotation = head_rotation(points)
    return (points - points.mean(axis=0)) @ rotation


def interocular(landmarks: np.ndarray) -> float:
    """Distance between the outer eye corners in pixels (2D)."""
    return float(np.linalg.norm(landmarks[LEFT_EYE_OUTER, :2] - landmarks[RIGHT_EYE_OUTER, :2]))


def face_scale(landmarks: np.ndarray) -> float:
    """3D distance between the outer eye corners (pixels): a size that does not shrink as the
    head turns, used to make shapes scale-free."""
    return float(np.linalg.norm(landmarks[LEFT_EYE_OUTER] - landmarks[RIGHT_EYE_OUTER]))


def normalized_shape(landmarks: np.ndarray) -> np.ndarray:
    """Pose- and scale-free shape: `frontal_points` divided by `face_scale`.

    Returns ``float32 (N, 3)``.
    """
    return (frontal_points(landmarks) / face_scale(landmarks)).astype(np.float32)
