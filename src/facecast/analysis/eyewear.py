"""Eyeglass frames in front of the face: which tracks wear them, and where the frames are.

A swap paints the character's skin over the whole face mesh, so without this the actor's
glasses vanish inside the face outline while their arms stay outside it. The frames are thin
dark lines, which a morphological black-hat (the grey image's closing minus the image) picks
out at any brightness of the skin around them.

Which tracks wear glasses is decided once per track, from the bridge of the nose between the
eyes: bare skin there is smooth, a frame's bridge is a dark line across it. Measured on the
shared plates (mean black-hat response in the bridge box, median over the track's near-frontal
frames): the glasses wearer of tears_of_steel_10s 0.067; every face without glasses 0.000-0.016
(weekly address clips 1-4, the other tears_of_steel faces, street_group's four). Profile views
are left out: there the box sits on the nose's edge against the background (a profile without
glasses read 0.030 over all its frames).

Not found: rimless or light frames (no dark line across the bridge).
"""

from __future__ import annotations

from collections import defaultdict

import cv2
import numpy as np

from facecast.analysis import topology
from facecast.analysis.face import Face

#: Median bridge-line strength (black-hat response in [0, 1]) above which a track wears glasses.
GLASSES_THRESHOLD = 0.03
#: Frames whose head turns or nods more than this (degrees) give no evidence.
FRONTAL_DEGREES = 25.0
#: A track needs this many near-frontal frames for a decision (fewer: no glasses).
MIN_FRONTAL_FRAMES = 3
#: Black-hat kernel width as a share of the outer eye-corner distance (wider than a frame).
LINE_WIDTH = 0.08
#: Black-hat response (in [0, 1]) where a pixel starts to count as frame, and where it fully is.
FRAME_RESPONSE = (0.03, 0.07)
#: How far (shares of the eye-corner distance) the lenses' region reaches around each eye and
#: brow, and how much of each brow is left to the character.
LENS_REACH, BROW_MARGIN = 0.14, 0.03

#: Landmarks: outer and inner eye corners, the nose bridge (nasion) and the nose's upper ridge.
RIGHT_OUTER, LEFT_OUTER = topology.EYE_OUTER_CORNERS
RIGHT_INNER, LEFT_INNER = 133, 362
NASION, NOSE_RIDGE = 168, 6
#: Face-outline landmarks at eye height (the temples), right and left of the subject.
RIGHT_TEMPLE, LEFT_TEMPLE = 127, 356


def _corner_distance(landmarks: np.ndarray) -> float:
    return max(float(np.linalg.norm(landmarks[LEFT_OUTER, :2] - landmarks[RIGHT_OUTER, :2])), 1.0)


def _black_hat(grey: np.ndarray, width: float) -> np.ndarray:
    """``float32 (h, w)`` thin-dark-line response of ``grey (h, w)`` float in [0, 1]."""
    size = max(3, round(width) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, kernel)


def _grey_crop(frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    crop = np.ascontiguousarray(frame[y0:y1, x0:x1])
    return cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0


def _clipped_box(
    low: np.ndarray, high: np.ndarray, shape: tuple[int, ...]
) -> tuple[int, int, int, int] | None:
    x0, y0 = np.maximum(np.floor(low).astype(int), 0)
    x1 = min(int(np.ceil(high[0])), shape[1])
    y1 = min(int(np.ceil(high[1])), shape[0])
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return int(x0), int(y0), int(x1), int(y1)


def bridge_line(frame: np.ndarray, landmarks: np.ndarray) -> float | None:
    """Strength of a dark line across the nose bridge: mean black-hat response in [0, 1] over
    the box between the inner eye corners, from just above the nasion down to the nose ridge.

    Parameters
    ----------
    frame
        ``uint8 RGB (H, W, 3)``.
    landmarks
        ``float (478, 3)`` face-mesh points in frame pixels.

    Returns
    -------
    float or None
        ``None`` when the box falls outside the frame.
    """
    scale = _corner_distance(landmarks)
    inner_corners = landmarks[[RIGHT_INNER, LEFT_INNER], :2]
    half_width = 0.25 * float(np.linalg.norm(inner_corners[1] - inner_corners[0]))
    centre = landmarks[NASION, :2]
    low = np.array([centre[0] - half_width, centre[1] - 0.1 * scale])
    high = np.array([centre[0] + half_width, landmarks[NOSE_RIDGE, 1]])
    pad = LINE_WIDTH * scale
    box = _clipped_box(low - pad, high + pad, frame.shape)
    if box is None or high[1] <= low[1]:
        return None
    response = _black_hat(_grey_crop(frame, box), LINE_WIDTH * scale)
    x0, y0 = np.floor(low - box[:2]).astype(int)
    x1, y1 = np.ceil(high - box[:2]).astype(int)
    inner = response[max(y0, 0) : max(y1, 1), max(x0, 0) : max(x1, 1)]
    return float(inner.mean()) if inner.size else None


class EyewearEvidence:
    """Collects `bridge_line` per track over a shot's near-frontal frames.

    ``feed(frame, faces)`` once per frame, then ``strengths()``.
    """

    def __init__(self) -> None:
        self._lines: defaultdict[int, list[float]] = defaultdict(list)

    def feed(self, frame: np.ndarray, faces: list[Face]) -> None:
        """Measure each near-frontal `Face` of one ``uint8 RGB (H, W, 3)`` frame."""
        for face in faces:
            if np.any(np.abs(face.pose[:2]) > FRONTAL_DEGREES):
                continue
            value = bridge_line(frame, face.landmarks)
            if value is not None:
                self._lines[face.track_id].append(value)

    def strengths(self) -> dict[int, float]:
        """``{track_id: median bridge-line strength}`` of tracks with enough frontal frames."""
        return {
            track: round(float(np.median(values)), 4)
            for track, values in sorted(self._lines.items())
            if len(values) >= MIN_FRONTAL_FRAMES
        }


def wears_glasses(strength: float | None) -> bool:
    """Whether a track's median bridge-line strength (``None``: unknown) says glasses."""
    return strength is not None and strength > GLASSES_THRESHOLD


def lens_region(landmarks: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, tuple]:
    """Where a pair of glasses can sit: both eyes with their brows grown by `LENS_REACH`, the
    bridge between them and the arms' strips to the temples, minus the brows themselves.

    Returns ``float32 (h, w)`` in {0, 1} and its box ``(x0, y0, x1, y1)`` in the frame of
    ``shape (H, W)``; an empty ``(0, 0)`` mask and box when it lies outside the frame.
    """
    scale = _corner_distance(landmarks)
    points = landmarks[:, :2].astype(np.float64)
    brows = (topology.LEFT_EYEBROW, topology.RIGHT_EYEBROW)
    features = [
        np.concatenate([eye, brow])
        for eye, brow in zip((topology.LEFT_EYE, topology.RIGHT_EYE), brows, strict=True)
    ]
    reach = LENS_REACH * scale
    every = np.concatenate([points[np.concatenate(features)], points[[RIGHT_TEMPLE, LEFT_TEMPLE]]])
    box = _clipped_box(every.min(axis=0) - reach, every.max(axis=0) + reach, shape)
    if box is None:
        return np.zeros((0, 0), np.float32), (0, 0, 0, 0)
    x0, y0, x1, y1 = box
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for indices in features:
        hull = cv2.convexHull(np.round(points[indices] - (x0, y0)).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1)
    strips = [(RIGHT_OUTER, RIGHT_TEMPLE), (LEFT_OUTER, LEFT_TEMPLE), (RIGHT_INNER, LEFT_INNER)]
    for start, end in strips:
        a, b = (np.round(points[i] - (x0, y0)).astype(int) for i in (start, end))
        cv2.line(mask, tuple(map(int, a)), tuple(map(int, b)), 1, max(1, int(reach)))
    grown = cv2.dilate(mask, _disc(reach))
    brow_mask = np.zeros_like(mask)
    for brow in brows:
        cv2.fillPoly(brow_mask, [np.round(points[brow] - (x0, y0)).astype(np.int32)], 1)
    brow_mask = cv2.dilate(brow_mask, _disc(BROW_MARGIN * scale))
    return (grown & (1 - brow_mask)).astype(np.float32), box


def _disc(radius: float) -> np.ndarray:
    size = 2 * max(1, round(radius)) + 1
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def frame_mask(frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """``float32 (H, W)`` in [0, 1]: the eyeglass frames of one face (thin dark lines inside
    `lens_region`), softened by about a pixel; for a face known to wear glasses.

    Parameters
    ----------
    frame
        ``uint8 RGB (H, W, 3)``.
    landmarks
        ``float (478, 3)`` face-mesh points in frame pixels.
    """
    height, width = frame.shape[:2]
    mask = np.zeros((height, width), np.float32)
    region, (x0, y0, x1, y1) = lens_region(landmarks, (height, width))
    if region.size == 0:
        return mask
    line_width = LINE_WIDTH * _corner_distance(landmarks)
    response = _black_hat(_grey_crop(frame, (x0, y0, x1, y1)), line_width)
    low, high = FRAME_RESPONSE
    lines = np.clip((response - low) / (high - low), 0.0, 1.0) * region
    lines = cv2.GaussianBlur(cv2.dilate(lines, np.ones((3, 3), np.uint8)), (0, 0), 0.7)
    mask[y0:y1, x0:x1] = np.clip(lines, 0.0, 1.0)
    return mask
