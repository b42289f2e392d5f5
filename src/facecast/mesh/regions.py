"""Named regions of the face mesh by name, and the landmarks that define the head's frame.

The contours themselves live in `facecast.analysis.topology` (derived from mediapipe's edge
sets); this module names them for the mesh code and adds the few single landmarks it uses.
"""

from __future__ import annotations

import numpy as np

from facecast.analysis import topology

#: Landmarks that define the head's frame: eye outer corners, forehead top, chin.
RIGHT_EYE_OUTER, LEFT_EYE_OUTER, FOREHEAD, CHIN = 33, 263, 10, 152
#: Iris centres (refined landmarks).
RIGHT_IRIS_CENTER, LEFT_IRIS_CENTER = 468, 473
#: Inner and outer lip contours, in order around the mouth.
LIPS_INNER = topology.LIPS_INNER
LIPS_OUTER = topology.LIPS_OUTER

_CONTOURS = {
    "face_oval": topology.FACE_OVAL,
    "left_eye": topology.LEFT_EYE,
    "right_eye": topology.RIGHT_EYE,
    "left_iris": topology.LEFT_IRIS,
    "right_iris": topology.RIGHT_IRIS,
    "left_eyebrow": topology.LEFT_EYEBROW,
    "right_eyebrow": topology.RIGHT_EYEBROW,
    "lips_inner": topology.LIPS_INNER,
    "lips_outer": topology.LIPS_OUTER,
}


#: Eye contour landmarks (lid margins, both eyes) and, in the same order, the landmark of the
#: next ring out from each (the lid skin beyond the lashes), from mediapipe's eye annotations.
_EYE_CONTOUR = (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173)
_EYE_CONTOUR += (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398)
_EYE_RING = (130, 25, 110, 24, 23, 22, 26, 112, 243, 247, 30, 29, 27, 28, 56, 190)
_EYE_RING += (359, 255, 339, 254, 253, 252, 256, 341, 463, 467, 260, 259, 257, 258, 286, 414)


def contour(name: str) -> np.ndarray:
    """Ordered contour of a region (a closed polygon): ``"face_oval"``, ``"left_eye"``,
    ``"right_eye"``, ``"left_iris"``, ``"right_iris"``, ``"left_eyebrow"``,
    ``"right_eyebrow"``, ``"lips_inner"`` or ``"lips_outer"``; ``int64 (K,)``.

    Left and right are the subject's, as in mediapipe.
    """
    try:
        return _CONTOURS[name]
    except KeyError:
        raise ValueError(f"unknown face region {name!r}; choose from {sorted(_CONTOURS)}") from None


def eye_ring(name: str) -> np.ndarray:
    """For each landmark of an eye's contour (``"left_eye"`` or ``"right_eye"``, in
    `contour`'s order), the landmark one ring further out: ``int64 (K,)``."""
    if name not in ("left_eye", "right_eye"):
        raise ValueError(f"eye_ring needs 'left_eye' or 'right_eye', got {name!r}")
    outward = dict(zip(_EYE_CONTOUR, _EYE_RING, strict=True))
    return np.array([outward[int(i)] for i in contour(name)], np.int64)


def face_extent(points: np.ndarray) -> float:
    """Larger side of the face oval's box of ``(478, 2+)`` points, in their units (frame
    pixels or texels)."""
    oval = points[contour("face_oval"), :2]
    return float(np.max(oval.max(axis=0) - oval.min(axis=0)))
