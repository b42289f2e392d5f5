"""Moving an actor's face toward a character's proportions without touching the performance.

The character's and the actor's resting shapes (pose- and scale-free, `normalized_shape`)
differ; that difference, added to every frame of the actor, gives the character's proportions
with the actor's expression. These rules keep the performance intact:

- the actor's resting shape comes from frames with the mouth closed (a speaking actor's median
  mouth is half open; subtracting it would close every line they say);
- eyes move as rigid groups (a shift only) and the lips as one (a shift plus a change of
  width), so how open they are — blinks, speech — stays exactly the actor's; the lid skin
  around each eye moves with it (`FEATURE_RADIUS`), so the lids are not stretched against the
  eye. An eye keeps the actor's width because the opening shows the actor's own eyeball,
  warped along with the lids: widened to the character's eye (London 012's is 1.085 times the
  actor's), the plate's eye was stretched 1.058 times (median of the warp's horizontal scale
  over weekly_address_clip1; 1.001 now), an oval iris, and dlib read the eyes more open
  (first 60 frames of weekly_address_clip1..4 x London 004/012/024/042, one run each way:
  eye error 0.0075 -> 0.0071 mean, 10 -> 12 of 16 pairs within 0.008, clip1/clip2 x 012
  0.0092/0.0090 -> 0.0066/0.0059; distance to the character 0.4788 -> 0.4768; mouth error
  0.0159 either way);
- only the upper face moves (brows, eyes, nose): the change fades out between the nose tip and
  the upper lip (`lower_face_weight`), so mouth and chin keep the actor's geometry;
- the change fades out toward the face outline, which stays where the actor's head is.

Why the mouth stays the actor's (measured with the independent dlib 68-point landmarks, first
60 frames of weekly_address_clip1..4, London characters 004/012/024/042, every 4th frame):
moving the lower face toward the character's proportions shifts the skin around the lips
against them, and dlib reads the shifted lips as a mouth up to 0.04 inter-ocular distances more
closed (clip2 with 004: mouth error 0.046 with the lower face moved, 0.029 at half, 0.017
without), while it brings the face only 0.01-0.035 closer to the character (dlib distance).
Moving the lid skin with the eye lowered the eye error on clip2 with 004 from 0.011 to 0.007.
"""

from __future__ import annotations

import numpy as np

from facecast.mesh.frontal import face_scale, normalized_shape
from facecast.mesh.regions import (
    LEFT_IRIS_CENTER,
    LIPS_INNER,
    LIPS_OUTER,
    RIGHT_IRIS_CENTER,
    contour,
)

#: Share of the face width over which the change fades in from the outline.
TAPER_WIDTH = 0.25
#: Frames whose mouth opening is at or below this quantile count as the actor at rest.
RESTING_QUANTILE = 0.3
#: Distance (in eye-corner distances of the resting shape) within which landmarks around an eye
#: follow that eye's rigid motion, fading to their own offset at this distance.
FEATURE_RADIUS = 0.15
#: Landmarks of the nose tip and the top of the upper lip: the lower-face fade runs between.
NOSE_TIP, UPPER_LIP_TOP = 1, 0


def feature_groups() -> list[np.ndarray]:
    """Landmark groups moved rigidly: each eye with its iris, and the lips."""
    left = np.concatenate([contour("left_eye"), contour("left_iris"), [LEFT_IRIS_CENTER]])
    right = np.concatenate([contour("right_eye"), contour("right_iris"), [RIGHT_IRIS_CENTER]])
    lips = np.concatenate([LIPS_OUTER, LIPS_INNER])
    return [left.astype(np.int32), right.astype(np.int32), lips.astype(np.int32)]


def mouth_opening(landmarks: np.ndarray) -> float:
    """Inner-lip gap at the centre over the 3D eye-corner distance (scale-free, >= 0)."""
    return float(np.linalg.norm(landmarks[13] - landmarks[14])) / face_scale(landmarks)


def resting_shape(landmark_sets: list[np.ndarray]) -> np.ndarray:
    """An actor's resting shape: median `normalized_shape` over the frames with the mouth most
    closed (the lowest `RESTING_QUANTILE` of mouth openings).

    Parameters
    ----------
    landmark_sets
        ``float (478, 3)`` landmarks, one per frame of the track.

    Returns
    -------
    numpy.ndarray
        ``float32 (478, 3)``.
    """
    if not landmark_sets:
        raise ValueError("resting_shape needs at least one set of landmarks")
    openings = np.array([mouth_opening(s) for s in landmark_sets])
    resting = openings <= np.quantile(openings, RESTING_QUANTILE)
    chosen = [s for s, keep in zip(landmark_sets, resting, strict=True) if keep]
    shapes = np.stack([normalized_shape(s) for s in chosen])
    return np.median(shapes, axis=0).astype(np.float32)


def outline_taper(layout: np.ndarray) -> np.ndarray:
    """Per-landmark weight in [0, 1]: 0 on the face outline, rising to 1 at `TAPER_WIDTH` of the
    face width inside it (smoothstep), from a frontal ``(478, 2+)`` layout."""
    oval = layout[contour("face_oval"), :2].astype(np.float64)
    width = float(np.ptp(oval[:, 0]))
    points = layout[:, :2].astype(np.float64)
    # distance of every point to every outline segment
    start, end = oval, np.roll(oval, -1, axis=0)
    segment = end - start
    t = np.einsum("psk,sk->ps", points[:, None, :] - start[None], segment) / np.maximum(
        np.einsum("sk,sk->s", segment, segment), 1e-12
    )
    nearest = start[None] + np.clip(t, 0, 1)[..., None] * segment[None]
    distance = np.linalg.norm(points[:, None, :] - nearest, axis=2).min(axis=1)
    ramp = np.clip(distance / (TAPER_WIDTH * width), 0.0, 1.0)
    return (ramp * ramp * (3 - 2 * ramp)).astype(np.float32)


def lower_face_weight(layout: np.ndarray) -> np.ndarray:
    """Per-landmark weight in [0, 1]: 1 above the nose tip, 0 from the top of the upper lip down
    (smoothstep between), from a frontal ``(478, 2+)`` layout with y pointing down."""
    top, bottom = float(layout[NOSE_TIP, 1]), float(layout[UPPER_LIP_TOP, 1])
    ramp = np.clip((bottom - layout[:, 1].astype(np.float64)) / max(bottom - top, 1e-9), 0, 1)
    return (ramp * ramp * (3 - 2 * ramp)).astype(np.float32)


def _follow_feature(
    offsets: np.ndarray, layout: np.ndarray, group: np.ndarray, radius: float
) -> np.ndarray:
    """`offsets` ``(N, 3)`` with landmarks near `group` blended toward the offset of the group
    landmark nearest to them: fully at the group, not at all beyond `radius` (smoothstep)."""
    gaps = np.linalg.norm(layout[:, None, :2] - layout[group][None, :, :2], axis=2)
    nearest = group[gaps.argmin(axis=1)]
    ramp = np.clip(1.0 - gaps.min(axis=1) / radius, 0.0, 1.0)
    weight = (ramp * ramp * (3 - 2 * ramp))[:, None]
    return offsets * (1.0 - weight) + offsets[nearest] * weight


def _rigid_offsets(character: np.ndarray, actor: np.ndarray, widen: bool) -> np.ndarray:
    """``float64 (K, 3)`` offsets moving a feature's ``(K, 3)`` actor landmarks as one piece
    to the character's: the shift of their centre, plus (`widen`) the change of their width."""
    c, a = character.astype(np.float64), actor.astype(np.float64)
    a_centre = a.mean(axis=0)
    offsets = np.broadcast_to(c.mean(axis=0) - a_centre, a.shape).copy()
    if widen:
        stretch = np.ptp(c[:, 0]) / max(np.ptp(a[:, 0]), 1e-9) - 1.0
        offsets[:, 0] += stretch * (a[:, 0] - a_centre[0])
    return offsets


def shape_offsets(character: np.ndarray, actor: np.ndarray) -> np.ndarray:
    """Scale-free head-frame offsets that move the actor's resting shape to the character's.

    Parameters
    ----------
    character, actor
        ``float (478, 3)`` resting shapes (`normalized_shape` / `resting_shape`).

    Returns
    -------
    numpy.ndarray
        ``float32 (478, 3)``; eyes get a shift only and lips a shift plus a change of width,
        the skin around each eye follows it (`FEATURE_RADIUS`), and the whole field fades to 0
        below the nose (`lower_face_weight`) and at the outline (`outline_taper`), both of the
        actor's shape.
    """
    offsets = (character - actor).astype(np.float64)
    *eyes, lips = feature_groups()
    for group in eyes:
        offsets[group] = _rigid_offsets(character[group], actor[group], widen=False)
    offsets[lips] = _rigid_offsets(character[lips], actor[lips], widen=True)
    for group in eyes:
        offsets = _follow_feature(offsets, actor, group, FEATURE_RADIUS)
    weight = outline_taper(actor) * lower_face_weight(actor)
    return (offsets * weight[:, None]).astype(np.float32)
