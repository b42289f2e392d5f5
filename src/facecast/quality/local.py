"""Opening readings of one feature at a time: the output's eyes or mouth in the plate's face.

dlib's 68-point predictor places every point from the whole face: a character's nose, brows
and cheeks around the actor's own eyes move its lid points by a constant amount. Measured on
the first 60 frames of weekly_address_clip3 swapped with London 042: the eye opening read
0.018 inter-ocular distances more closed than the plate's; with the plate's own eyes pasted
into the output it still read 0.012 more closed, and with the output's eyes pasted into the
plate 0.005. The local readings here paste the output's eye region (or mouth region) into the
plate frame and read it from the plate's face box, so the rest of the face is the actor's and
only what the swap did to that feature moves the reading.
"""

from __future__ import annotations

import cv2
import numpy as np

from facecast.quality.dlibface import DlibFace, QualityModels, landmarks
from facecast.quality.geometry import eye_opening, inter_ocular, mouth_opening

#: Half-axes (inter-ocular distances) of the ellipse pasted around each eye's centre: the lids
#: and lashes, not the brows.
EYE_AXES = (0.42, 0.22)
#: Margin (inter-ocular distances) around the lips' extent for the pasted mouth ellipse.
MOUTH_MARGIN = 0.15
#: Feather (Gaussian sigma, inter-ocular distances) of the pasted regions' edge.
FEATHER = 0.04

_RIGHT_EYE, _LEFT_EYE, _MOUTH = slice(36, 42), slice(42, 48), slice(48, 68)


def feature_ellipses(points: np.ndarray, feature: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(centre, half_axes)`` pairs (``float64 (2,)`` pixels) covering a feature of a face's
    iBUG 68 `points` ``(68, 2)``: ``"eyes"`` (one per eye) or ``"mouth"``."""
    iod = inter_ocular(points)
    if feature == "eyes":
        axes = np.array(EYE_AXES) * iod
        return [
            (points[eye].mean(axis=0).astype(np.float64), axes) for eye in (_RIGHT_EYE, _LEFT_EYE)
        ]
    if feature == "mouth":
        lips = points[_MOUTH].astype(np.float64)
        low, high = lips.min(axis=0), lips.max(axis=0)
        return [((low + high) / 2, (high - low) / 2 + MOUTH_MARGIN * iod)]
    raise ValueError(f"feature must be 'eyes' or 'mouth', got {feature!r}")


def paste_feature(
    plate: np.ndarray, output: np.ndarray, points: np.ndarray, feature: str
) -> np.ndarray:
    """The plate frame with the output's `feature` region pasted in, feathered.

    Parameters
    ----------
    plate, output
        ``uint8 RGB (H, W, 3)`` frames of one size.
    points
        ``float (68, 2)`` iBUG landmarks of the plate face (they place the regions).
    feature
        ``"eyes"`` or ``"mouth"``.

    Returns
    -------
    numpy.ndarray
        ``uint8 RGB (H, W, 3)``, a new array; equal to `plate` beyond the feathered regions.
    """
    ellipses = feature_ellipses(points, feature)
    sigma = FEATHER * inter_ocular(points)
    reach = 3.0 * sigma + 1.0
    low = np.min([c - a for c, a in ellipses], axis=0) - reach
    high = np.max([c + a for c, a in ellipses], axis=0) + reach
    height, width = plate.shape[:2]
    x0, y0 = np.clip(np.floor(low).astype(int), 0, (width, height))
    x1, y1 = np.clip(np.ceil(high).astype(int) + 1, 0, (width, height))
    pasted = plate.copy()
    if x1 <= x0 or y1 <= y0:
        return pasted
    mask = np.zeros((y1 - y0, x1 - x0), np.float32)
    for centre, axes in ellipses:
        centre_px = tuple(int(np.rint(v)) for v in centre - (x0, y0))
        axes_px = tuple(max(1, int(np.rint(v))) for v in axes)
        cv2.ellipse(mask, centre_px, axes_px, 0, 0, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(mask, (0, 0), max(sigma, 0.5))[..., None]
    region = (slice(y0, y1), slice(x0, x1))
    mixed = output[region] * alpha + plate[region] * (1.0 - alpha)
    pasted[region] = np.clip(np.round(mixed), 0, 255).astype(np.uint8)
    return pasted


def local_openings(
    models: QualityModels, plate: np.ndarray, output: np.ndarray, plate_face: DlibFace
) -> tuple[float, float]:
    """``(eye, mouth)`` openings (inter-ocular distances, `eye_opening` / `mouth_opening`)
    of the output's eyes and of its mouth, each read in the plate frame with only that region
    pasted from `output` (`paste_feature`), from the plate face's box."""
    points = plate_face.points
    eyes = landmarks(models, paste_feature(plate, output, points, "eyes"), plate_face.box)
    mouth = landmarks(models, paste_feature(plate, output, points, "mouth"), plate_face.box)
    return eye_opening(eyes.points), mouth_opening(mouth.points)
