"""Visible skin in a reference photo: what of the face may be copied onto the actor.

Reference photos carry occluders: hair over the forehead, glasses, a hand, a hard shadow. The
skin colour is learned from patches that are nearly always bare (cheeks, nose, chin) and every
pixel of the face is scored against it; hair, frames and hands score low and are left out of
the texture. Glasses (found by the frame across the nose bridge) and hands (found by
mediapipe's hand landmarker, `hands_over_face`) are left out whatever their colour: tortoiseshell
frames and a hand read as skin to the colour model. So is what the user masks (`occluders`): a
hard shadow is skin in colour and is not found here.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from facecast.analysis.eyewear import bridge_line, lens_region
from facecast.analysis.masks import hand_mask
from facecast.mesh.regions import contour

#: Below the skin's median lightness (OpenCV 8-bit L, 0-255) by more than DARK_START, a pixel's
#: skin probability falls, reaching 0 at DARK_START + DARK_RANGE (dark hair, glasses frames).
DARK_START, DARK_RANGE = 45.0, 30.0
#: A reference photo whose nose bridge carries a dark line stronger than this
#: (`facecast.analysis.eyewear.bridge_line`, in [0, 1]) wears glasses. Measured: the Grace
#: Hopper portrait (tortoiseshell frames) 0.086; without glasses the 32 London photos, the 4
#: Canada photos and the 4 lisa photos 0.007-0.027. (Plates decide per track, from the median
#: over many frames, at 0.03; one photo is noisier, hence the margin.)
REF_GLASSES_THRESHOLD = 0.045
#: How far around each eye (a share of the outer eye-corner distance) a reference's glasses
#: are taken to reach, beyond `lens_region`: large frames' lower rims sit on the cheekbones,
#: farther than a plate's frames need. On the Grace Hopper portrait 0.24 still left a light arc
#: of the rims on the cheeks of the swap; 0.32 none; 0.40 left holes wider than the texture's
#: fill reaches (black texels at the eye corners, hidden by the coverage but not needed).
REF_LENS_REACH = 0.32
#: Landmarks at the centre of usually bare skin: cheeks, nose bridge and tip, chin.
SKIN_SEED_POINTS = (50, 280, 6, 4, 199, 101, 330)


def polygon_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``bool (H, W)`` mask of the polygon through ``points (K, 2)`` (pixels)."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(points[:, :2] * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    return mask.astype(bool)


def skin_maps(
    image: np.ndarray,
    landmarks: np.ndarray,
    glasses: bool = False,
    occluded: np.ndarray | None = None,
    tolerance: float = 4.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Where a photo shows the face's skin: what may be copied, and how skin-like it looks.

    Parameters
    ----------
    image
        ``uint8 RGB (H, W, 3)``.
    landmarks
        ``float (478, 3)`` mesh points in pixels.
    glasses
        The face wears glasses (`shows_glasses`): their region (`glasses_region`) is no skin,
        whatever its colour, and the brows are judged by colour (the top bar can lie along
        them).
    occluded
        ``float32 (H, W)`` in [0, 1] (`occluders`): the hands in front of the face and what the
        user marked as not to be used (a hard shadow, a scar, a smudge on an archival print)
        are no skin, whatever their colour, on the lower face too.
    tolerance
        Mahalanobis distance (in Lab) at which a pixel's skin probability falls to about 0.5.

    Returns
    -------
    visible : numpy.ndarray
        ``float32 (H, W)`` in [0, 1]: the probability that each pixel is visible facial skin;
        0 outside the face oval, inside the eyes and the mouth opening, and on pixels unlike
        the sampled skin, except the face's own features and the lower face
        (`_features_and_lower_face`), kept whatever their colour.
    likeness : numpy.ndarray
        ``float32 (H, W)`` in [0, 1]: the colour model alone, features and lower face
        included: low on a beard, and on a strand of hair hanging over the cheek, which
        `visible` keeps with the lower face. Between several references it tells which one
        shows a region cleanest.
    """
    height, width = image.shape[:2]
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    eye_width = np.linalg.norm(landmarks[33, :2] - landmarks[133, :2])
    radius = max(2, int(0.25 * eye_width))
    samples = []
    for index in SKIN_SEED_POINTS:
        x, y = np.round(landmarks[index, :2]).astype(int)
        patch = lab[max(0, y - radius) : y + radius + 1, max(0, x - radius) : x + radius + 1]
        samples.append(patch.reshape(-1, 3))
    samples = np.concatenate(samples)
    mean = np.median(samples, axis=0)
    spread = np.cov((samples - mean).T) + np.diag([400.0, 9.0, 9.0])
    delta = lab.reshape(-1, 3) - mean
    distance = np.sqrt(np.einsum("ij,jk,ik->i", delta, np.linalg.inv(spread), delta))
    probability = 1.0 / (1.0 + (distance / tolerance) ** 4)
    # hair is far darker than any lit skin; shading alone rarely drops this far below the median
    darkness = (mean[0] - lab[..., 0].reshape(-1) - DARK_START) / DARK_RANGE
    probability *= 1.0 - np.clip(darkness, 0.0, 1.0)
    probability = probability.reshape(height, width).astype(np.float32)
    # pull skin back from every occluder's edge, so that a strand's blurred border never counts
    # as clean skin (before the face's own features are added back)
    probability = cv2.erode(probability, np.ones((radius | 1, radius | 1), np.uint8))

    face = polygon_mask(landmarks[contour("face_oval")], (height, width))
    for hole in ("left_eye", "right_eye", "lips_inner"):
        face &= ~polygon_mask(landmarks[contour(hole)], (height, width))
    keep = _features_and_lower_face(landmarks, (height, width), brows=not glasses)
    visible = np.maximum(probability, keep)
    if glasses:  # frames, lens glare and tint are no skin, whatever their colour
        lenses = glasses_region(landmarks, (height, width))
        visible, probability = visible * (1.0 - lenses), probability * (1.0 - lenses)
    # a hand is skin-coloured (only its keypoints tell it from the face), and so is a shadow
    if occluded is not None:
        visible, probability = visible * (1.0 - occluded), probability * (1.0 - occluded)
    sigma = max(1.0, radius / 4)
    return tuple(cv2.GaussianBlur(p * face, (0, 0), sigma) for p in (visible, probability))


def occluders(
    hands: Sequence[np.ndarray], left_out: np.ndarray | None, shape: tuple[int, int]
) -> np.ndarray | None:
    """``float32 shape (H, W)`` in [0, 1]: the photo's pixels that are in front of the face or
    marked not to be used: the region of each hand (``float32 (21, 2)`` keypoints, `hand_mask`)
    and the user's `left_out` mask; ``None`` when there are neither."""
    occluded = hand_mask(hands, shape) if len(hands) else None
    if left_out is not None:
        occluded = left_out if occluded is None else np.maximum(occluded, left_out)
    return None if occluded is None else occluded.astype(np.float32)


def shows_glasses(image: np.ndarray, landmarks: np.ndarray) -> bool:
    """Whether a ``uint8 RGB (H, W, 3)`` photo's face (``(478, 3)`` mesh points in pixels)
    wears glasses: a frame across the nose bridge (`bridge_line` above
    `REF_GLASSES_THRESHOLD`)."""
    strength = bridge_line(image, landmarks)
    return strength is not None and strength > REF_GLASSES_THRESHOLD


def hands_over_face(
    hands: Sequence[np.ndarray], landmarks: np.ndarray, shape: tuple[int, int]
) -> list[np.ndarray]:
    """The hands among ``hands`` (each ``float32 (21, 2)`` keypoints in pixels, from
    `facecast.analysis.HandDetector`) whose region (`hand_mask`) overlaps the face oval of
    ``landmarks (478, 3)``, in a photo of ``shape (H, W)``; a hand beside the face is left
    alone."""
    face = polygon_mask(landmarks[contour("face_oval")], shape)
    return [hand for hand in hands if (hand_mask([hand], shape)[face] > 0.5).any()]


def glasses_region(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Where a photo's glasses sit: ``float32 (H, W)`` in {0, 1} for a photo of ``shape``.

    Both eyes and brows and the skin around them (`lens_region`: out to
    `facecast.analysis.eyewear.LENS_REACH`, the bridge and the arms' strips to the temples, the
    brows left out), and each eye grown by `REF_LENS_REACH` (the lower rims). Frames can be
    any colour (tortoiseshell reads as skin to the colour model) and lenses tint and mirror
    the skin behind them, so the whole region is left out, not only the dark lines.
    """
    region, (x0, y0, x1, y1) = lens_region(landmarks, shape)
    mask = np.zeros(shape, np.uint8)
    mask[y0:y1, x0:x1] = region.astype(np.uint8)
    eyes = np.zeros_like(mask)
    for eye in ("left_eye", "right_eye"):
        outline = np.round(landmarks[contour(eye), :2]).astype(np.int32)
        cv2.fillConvexPoly(eyes, cv2.convexHull(outline), 1)
    corners = float(np.linalg.norm(landmarks[263, :2] - landmarks[33, :2]))
    size = 2 * max(1, round(REF_LENS_REACH * corners)) + 1
    eyes = cv2.dilate(eyes, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    return np.maximum(mask, eyes).astype(np.float32)


def _features_and_lower_face(
    landmarks: np.ndarray, shape: tuple[int, int], brows: bool = True
) -> np.ndarray:
    """``float32 (H, W)``: 1 where the face's own dark or coloured features are, else 0.

    Brows, lashes and lips are not skin-coloured but belong to the person, and a beard is part
    of the lower face, where hair and glasses do not fall; these regions are kept whatever their
    colour. Occluders are looked for only on the forehead, temples and around the eyes. Without
    `brows` (a photo with glasses, whose top bar can lie along them) the brows are judged by
    colour like the skin around them.
    """
    eye_width = float(np.linalg.norm(landmarks[33, :2] - landmarks[133, :2]))
    keep = np.zeros(shape, np.uint8)
    for brow in ("left_eyebrow", "right_eyebrow") if brows else ():
        hull = cv2.convexHull(np.round(landmarks[contour(brow), :2]).astype(np.int32))
        cv2.fillConvexPoly(keep, hull, 1)
    for eye in ("left_eye", "right_eye"):
        cv2.fillPoly(keep, [np.round(landmarks[contour(eye), :2]).astype(np.int32)], 1)
    keep = cv2.dilate(
        keep,
        cv2.getStructuringElement(
            cv2.MORPH_ELLIPSE, (int(0.25 * eye_width) | 1, int(0.25 * eye_width) | 1)
        ),
    )
    # below mid-nose (landmark 195), nostrils included: hair and glasses do not fall there
    down = landmarks[152, :2] - landmarks[10, :2]
    down = down / (np.linalg.norm(down) + 1e-9)
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]]
    along = (xs - landmarks[195, 0]) * down[0] + (ys - landmarks[195, 1]) * down[1]
    lower = along > 0
    return np.maximum(keep.astype(bool), lower).astype(np.float32)
