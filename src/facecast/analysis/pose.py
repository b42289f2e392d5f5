"""Head pose (yaw, pitch, roll) from the face mesh's own 3-D landmarks.

No canonical face model ships with mediapipe 0.10.21, so the head's axes are built from the
mesh itself: the face's left-right axis is the mean of the vectors joining mirrored landmark
pairs (face oval and eye contours, see `topology.mirror_pairs`), the up-down axis runs from the
forehead midpoint to the chin, made orthogonal to the first, and the third axis is their cross
product. Mediapipe's ``z`` is in the same scale as ``x`` (weak perspective), which makes the
three axes a proper rotation.

Checked on real photos (tests/test_analysis_pose.py): on the 16 frontal studio portraits of
the Face Research Lab London Set yaw and pitch stay within about 6 degrees of 0 (median pitch
about 2 degrees, so no pitch offset is applied) and roll agrees with the roll of the
hand-placed pupil landmarks within about 1.5 degrees; mirroring a photo negates yaw and roll,
and rotating it by 20 degrees adds 20 degrees of roll.
"""

from __future__ import annotations

import numpy as np

from facecast.analysis.topology import mirror_pairs

__all__ = ["head_axes", "head_pose"]

_FOREHEAD, _CHIN = 10, 152
_PAIRS = mirror_pairs()


def head_axes(landmarks: np.ndarray) -> np.ndarray:
    """Orthonormal head axes from face-mesh landmarks.

    Parameters
    ----------
    landmarks
        ``float32 (478, 3)`` (or ``(468, 3)``) mesh points in pixels, ``z`` in the same scale.

    Returns
    -------
    ndarray
        ``float64 (3, 3)`` rotation whose columns are the head's right-to-left ear axis
        (image ``+x`` for a frontal face), forehead-to-chin axis (image ``+y``) and the
        face-to-back-of-head axis (image ``+z``, away from the camera).

    Raises
    ------
    ValueError
        If `landmarks` is not ``(N >= 468, 3)``.
    """
    points = np.asarray(landmarks, np.float64)
    if points.ndim != 2 or points.shape[0] < 468 or points.shape[1] != 3:
        raise ValueError(f"expected landmarks of shape (478, 3), got {points.shape}")
    across = (points[_PAIRS[:, 1]] - points[_PAIRS[:, 0]]).mean(axis=0)
    x_axis = across / max(np.linalg.norm(across), 1e-9)
    down = points[_CHIN] - points[_FOREHEAD]
    down = down - x_axis * float(down @ x_axis)
    y_axis = down / max(np.linalg.norm(down), 1e-9)
    z_axis = np.cross(x_axis, y_axis)
    return np.stack([x_axis, y_axis, z_axis], axis=1)


def head_pose(landmarks: np.ndarray) -> np.ndarray:
    """Head yaw, pitch and roll in degrees from face-mesh landmarks.

    Parameters
    ----------
    landmarks
        ``float32 (478, 3)`` mesh points in pixels (``z`` in the same scale, smaller is nearer).

    Returns
    -------
    ndarray
        ``float32 (3,)``: ``yaw, pitch, roll`` in degrees. ``(0, 0, 0)`` faces the camera;
        positive yaw turns the nose towards the image's right, positive pitch looks down,
        positive roll tilts the head clockwise in the image. Yaw and pitch lie in
        ``[-90, 90]``, roll in ``(-180, 180]``.
    """
    axes = head_axes(landmarks)
    x_axis, z_axis = axes[:, 0], axes[:, 2]
    forward = -z_axis  # from the head towards the camera
    yaw = np.degrees(np.arctan2(forward[0], -forward[2]))
    pitch = np.degrees(np.arctan2(forward[1], np.hypot(forward[0], forward[2])))
    roll = np.degrees(np.arctan2(x_axis[1], x_axis[0]))
    return np.asarray([yaw, pitch, roll], np.float32)
