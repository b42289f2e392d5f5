"""Debug drawing: the face mesh, contours and track ids over a frame."""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from facecast.analysis import topology
from facecast.analysis.face import Face

__all__ = ["draw_faces", "track_colour"]

_CONTOURS = (
    topology.FACE_OVAL,
    topology.LEFT_EYE,
    topology.RIGHT_EYE,
    topology.LEFT_EYEBROW,
    topology.RIGHT_EYEBROW,
    topology.LIPS_OUTER,
    topology.LIPS_INNER,
    topology.LEFT_IRIS,
    topology.RIGHT_IRIS,
)
_SHIFT = 4


def track_colour(track_id: int) -> tuple[int, int, int]:
    """A distinct, stable RGB colour per track id (golden-ratio hue steps)."""
    hue = (0.13 + 0.618034 * max(track_id, 0)) % 1.0
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return round(red * 255), round(green * 255), round(blue * 255)


def draw_faces(
    frame: np.ndarray, faces: list[Face], skipped: list[dict] | None = None
) -> np.ndarray:
    """Draw each face's mesh, contours, box, track id and pose onto a copy of `frame`.

    Parameters
    ----------
    frame
        ``uint8`` RGB ``(H, W, 3)``.
    faces
        Tracked faces of this frame.
    skipped
        Faces seen but not analysed (``{"bbox", "reason"}``), drawn as grey boxes.

    Returns
    -------
    ndarray
        ``uint8`` RGB ``(H, W, 3)``, a new array.
    """
    canvas = frame.copy()
    thickness = max(1, round(min(frame.shape[:2]) / 540))
    for face in faces:
        colour = track_colour(face.track_id)
        points = np.round(face.points2d * (1 << _SHIFT)).astype(np.int32)
        edges = points[topology.TESSELATION]
        faint = tuple(int(c * 0.6) for c in colour)
        cv2.polylines(canvas, list(edges), False, faint, 1, cv2.LINE_AA, _SHIFT)
        contours = [points[c] for c in _CONTOURS]
        cv2.polylines(canvas, contours, True, colour, thickness, cv2.LINE_AA, _SHIFT)
        x0, y0, x1, y1 = (round(float(v)) for v in face.bbox)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, thickness)
        yaw, pitch, roll = (float(v) for v in face.pose)
        label = f"#{face.track_id} y{yaw:+.0f} p{pitch:+.0f} r{roll:+.0f}"
        _label(canvas, label, (x0, max(y0 - 6, 12)), colour, thickness)
    for skip in skipped or []:
        x0, y0, x1, y1 = (round(float(v)) for v in skip["bbox"])
        cv2.rectangle(canvas, (x0, y0), (x1, y1), (128, 128, 128), 1)
        _label(
            canvas, str(skip.get("reason", "skipped")), (x0, max(y0 - 4, 10)), (160, 160, 160), 1
        )
    return canvas


def _label(canvas: np.ndarray, text: str, origin: tuple[int, int], colour, thickness: int) -> None:
    scale = 0.4 * thickness + 0.1
    cv2.putText(
        canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA
    )
    cv2.putText(
        canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA
    )
