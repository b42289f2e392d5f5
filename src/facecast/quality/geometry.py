"""Head pose and expression measured from dlib's 68 iBUG landmarks.

Pose comes from `cv2.solvePnP` with a generic 3-D model of 14 of the 68 points; expression from
mouth and eye openings divided by the inter-ocular distance, so values are comparable across
face sizes.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

#: iBUG indices used for pose: brow corners, eye corners, nostrils, mouth corners, lip, chin.
POSE_INDICES = (17, 21, 22, 26, 36, 39, 42, 45, 31, 35, 48, 54, 57, 8)

#: Generic head model for `POSE_INDICES` (cm; x to the image right, y down, z away from the
#: camera, for a face looking into the camera). Mean-face values as published with the
#: ``head-pose-estimation`` project of lincolnhard, axes flipped to OpenCV's camera frame.
POSE_MODEL = np.float32(
    [
        [-6.825897, -6.760612, -4.402142],
        [-1.330353, -7.122144, -6.903745],
        [1.330353, -7.122144, -6.903745],
        [6.825897, -6.760612, -4.402142],
        [-5.311432, -5.485328, -3.987654],
        [-1.789930, -5.393625, -4.413414],
        [1.789930, -5.393625, -4.413414],
        [5.311432, -5.485328, -3.987654],
        [-2.005628, -1.409845, -6.165652],
        [2.005628, -1.409845, -6.165652],
        [-2.774015, 2.080775, -5.048531],
        [2.774015, 2.080775, -5.048531],
        [0.000000, 3.116408, -6.097667],
        [0.000000, 7.415691, -4.070434],
    ]
)

_RIGHT_EYE = slice(36, 42)  # the subject's right eye: on the image's left
_LEFT_EYE = slice(42, 48)
_EYE_LID_PAIRS = ((37, 41), (38, 40), (43, 47), (44, 46))
_INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))


def camera_matrix(width: int, height: int) -> np.ndarray:
    """``float64 (3, 3)`` pinhole intrinsics with focal length = the frame's longer side."""
    focal = float(max(width, height))
    return np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], np.float64)


def head_pose(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Head yaw, pitch and roll from 68 landmarks.

    Parameters
    ----------
    points
        ``float (68, 2)`` iBUG landmarks in pixels.
    width, height
        Size of the frame the points belong to (for the camera model).

    Returns
    -------
    numpy.ndarray
        ``float32 (3,)`` ``yaw, pitch, roll`` in degrees, in the convention of
        `facecast.analysis.face.Face`: 0 faces the camera, positive yaw turns to the image's
        right, positive pitch looks down, positive roll tilts clockwise in the image.
    """
    if points.shape != (68, 2):
        raise ValueError(f"expected (68, 2) landmarks, got {points.shape}")
    image_points = np.float64(points)[list(POSE_INDICES)]
    camera = camera_matrix(width, height)
    guess_t = np.float64([[0.0], [0.0], [60.0]])
    ok, rvec, _ = cv2.solvePnP(
        np.float64(POSE_MODEL),
        image_points,
        camera,
        None,
        rvec=np.zeros((3, 1)),
        tvec=guess_t,
        useExtrinsicGuess=True,
        flags=cv2.SOLVEPNP_ITERATIVE,
    )
    if not ok:
        return np.full(3, np.nan, np.float32)
    return rotation_to_pose(cv2.Rodrigues(rvec)[0])


def rotation_to_pose(matrix: np.ndarray) -> np.ndarray:
    """``float32 (3,)`` yaw, pitch, roll (degrees) of a head-to-camera rotation matrix."""
    turn, nod, tilt = Rotation.from_matrix(matrix).as_euler("YXZ", degrees=True)
    return np.float32([-turn, nod, tilt])


def pose_to_rotation(pose: np.ndarray) -> np.ndarray:
    """Inverse of `rotation_to_pose`: ``float64 (3, 3)`` from yaw, pitch, roll (degrees)."""
    yaw, pitch, roll = np.float64(pose)
    return Rotation.from_euler("YXZ", [-yaw, pitch, roll], degrees=True).as_matrix()


def inter_ocular(points: np.ndarray) -> float:
    """Distance in pixels between the centres of the two eyes of ``(68, 2)`` landmarks."""
    return float(np.linalg.norm(points[_RIGHT_EYE].mean(0) - points[_LEFT_EYE].mean(0)))


def mouth_opening(points: np.ndarray) -> float:
    """Inner-lip gap (mean of three vertical pairs) over the inter-ocular distance; >= 0."""
    return _mean_gap(points, _INNER_LIP_PAIRS) / inter_ocular(points)


def eye_opening(points: np.ndarray) -> float:
    """Eyelid gap (mean of both eyes' two vertical pairs) over the inter-ocular distance."""
    return _mean_gap(points, _EYE_LID_PAIRS) / inter_ocular(points)


def _mean_gap(points: np.ndarray, pairs: tuple[tuple[int, int], ...]) -> float:
    upper = points[[a for a, _ in pairs]]
    lower = points[[b for _, b in pairs]]
    return float(np.linalg.norm(upper - lower, axis=1).mean())


def angle_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Absolute difference of angles in degrees, wrapped to [0, 180]."""
    return np.abs((np.asarray(a) - np.asarray(b) + 180.0) % 360.0 - 180.0)
