"""Put one engine face layer into a plate frame: matte, relight, blend, paste back.

Order per face: the matte is the engine's coverage inside the actor's face outline, eroded and
feathered, minus the actor's eyes and mouth opening, minus occluders (hands) and minus what is
coloured unlike skin in front of the face (`facecast.composite.foreground`); the render is
relit with the plate's low frequencies (hands and the foreground left out); the two are blended
with a Laplacian pyramid (or a plain feather) inside the box; pixels beyond the blend's reach
stay the plate's exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import cv2
import numpy as np

from facecast.analysis.face import Face
from facecast.composite.blend import blend_reach, laplacian_blend
from facecast.composite.foreground import foreground_mask
from facecast.composite.grid import grow, shrink
from facecast.composite.light import transfer_lighting
from facecast.composite.pixelwise import mix
from facecast.engines.base import FaceLayer
from facecast.media.transfer import INTEGER_PEAK, linear_to_srgb, srgb_to_linear
from facecast.mesh.regions import contour, face_extent


@dataclass(frozen=True)
class CompositeSettings:
    """How a face layer is put into the plate. Lengths are fractions of the face width.

    Attributes
    ----------
    light_scale
        Low-pass scale of the light transfer: larger keeps more of the character's own shading.
    rim_scale
        Averaging scale, along the face outline, of the rim colour match that brings the face's
        edge to the plate's colour where the two join (0 disables it).
    edge_band, edge_fade
        The rim match applies fully within `edge_band` of the face outline and fades out over
        a further `edge_fade`; it is measured on skin between the matte's solid edge
        (`erode` + `feather` in) and `edge_band`.
    feature_margin
        Brows and eyes, grown by this margin, never take the rim match (their colour and
        contrast stay the character's, relit only at `light_scale`).
    eye_ring, mouth_ring, opening_light_scale
        Within these distances of the actor's eye and mouth openings (in eye widths, the
        inner-to-outer corner distance) the light is matched to the plate's at the fine
        `opening_light_scale`, fading to none at that distance: the lid and lip edges next to
        the plate's eyes and mouth carry the plate's light, so they read as open or closed as
        the actor's (0 disables).
    keep_character_tone
        0 takes the plate's skin tone with its light, 1 keeps the character's mean skin colour
        (inside the face; the rim still meets the plate's colour). That colour is the
        reference photos' as exposed, so 1 is right only for photos exposed like the plate:
        London 025 (studio photos) on the brighter weekly_address_clip2 came out far darker
        than in her photos, with the actor's lighter eyes, mouth and rim around it. Grade the
        face layer (``--layer``) instead to move the skin tone.
    erode
        How far the matte edge is pulled inside the face outline.
    feather
        Softness of the matte edge.
    blend
        ``"laplacian"`` (pyramid, default) or ``"feather"`` (plain alpha over).
    pyramid_levels
        Depth of the Laplacian pyramid.
    keep_foreground
        Keep what is coloured unlike skin in front of the face (a glow, a light streak, a
        coloured prop: `facecast.composite.foreground`) as the plate's, out of the matte and
        out of the light transfer.

    Notes
    -----
    Measured with ``benchmarks/quality.py`` (weekly address clips x London 004/012/024/042,
    dlib retrieval among 16 people + the actor). The earlier default matched the plate per
    pixel (low-pass 0.02 of the face width) over a band reaching 0.15 in from the outline and
    around the eye and mouth openings: that band holds the outer brows (0.05-0.15 from the
    outline), the eye corners (0.12-0.18) and the lips, so it copied the actor's brows and
    lids onto the face: retrieval 0-50% for 012 and 43-93% for 024. Keeping the character's
    tone (0.5 or 1) or a larger `light_scale` (0.25, 0.5) did not move retrieval at all (still
    0-5% for 012) and raised the seam to 4-16 ΔE; showing the character's eyes instead of the
    actor's changed nothing either. The rim match (measured on a thin ring, smooth along the
    contour, brows and eyes excluded) with a tighter matte edge (erode 0.02, feather 0.02,
    from 0.03/0.035, so the matte is solid nearer the outline, where the rim matches the
    plate) took every clip x character to 100% retrieval in a 20-frame sample with seam
    ΔE00 1.2-2.7 (was 1.4-3.8). Without any fine match near the openings, though, the lids
    and lips read less like the actor's to dlib (60 frames: eye error 0.009 -> 0.012 for 012 on
    clip1, mouth error up 0.003-0.008 on several pairs); the opening rings (eye 0.6, mouth 0.6
    eye widths; 20-frame sample, 4 characters x clips 1-2) brought the mean eye error from 0.011
    to 0.009 and the mouth error from 0.021 to 0.019 for +0.00-0.03 dlib distance to the
    character, retrieval still 100%. A mouth ring of 0.3 kept 0.01 more distance but a mouth
    error of 0.020. A wider eye ring buys eye error with identity (2026-12-08; every 3rd of
    the first 60 frames of clip3 x 042, clip2 x 024, clip4 x 042, clip1 x 024, clip1 x 004,
    clip4 x 012): eye ring 0 / 0.6 / 1.2 / 1.8 gave mean eye error 0.0094 / 0.0096 / 0.0086 /
    0.0079 and dlib distance to the character 0.491 (at 0.6) / 0.514 / 0.533 (1.8: clip1 x 024
    retrieval 95%): the fine match copies the actor's lid and under-eye shading, which is
    what moves dlib's lid points, so 0.6 stays. The eye error left on those pairs is a
    constant per character (its sign and size follow the character across clips: 042 reads
    0.004-0.017 more closed, 024 0.002-0.010 more open), not a failure to follow the actor.
    So is the mouth's: a fine-light band below the lower lip, where the plate's lip casts its
    shadow (a ring 0.35 eye widths around the outer lip contour, below the line of the mouth
    corners; 2026-12-08, first 60 frames of clip2/clip3 x 004/012/024/042, against this tree
    in one run) moved dlib's mouth reading 0.003-0.006 more open on 7 of 8 pairs: 004 and 042
    (read too closed) gained (clip3 x 004 0.0204 -> 0.0146), 012 and 024 (read too open) lost
    (clip3 x 024 0.0152 -> 0.0214); clip2's mean 0.0191 -> 0.0178, clip3's 0.0179 -> 0.0188,
    distance to the character +0.002 to +0.014. Not adopted.
    """

    light_scale: float = 0.12
    rim_scale: float = 0.05
    edge_band: float = 0.09
    edge_fade: float = 0.05
    feature_margin: float = 0.03
    keep_character_tone: float = 0.0
    erode: float = 0.02
    feather: float = 0.02
    blend: Literal["laplacian", "feather"] = "laplacian"
    pyramid_levels: int = 3
    eye_ring: float = 0.6
    mouth_ring: float = 0.6
    opening_light_scale: float = 0.02
    keep_foreground: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CompositedFace:
    """The result for one face: the new pixels of its box and the matte that placed them.

    Attributes
    ----------
    box
        ``(x0, y0, x1, y1)`` region of the frame.
    rgb
        ``float32 (h, w, 3)`` in [0, 1]: the final pixels of the box.
    matte
        ``float32 (h, w)`` in [0, 1]: how much of the character each pixel holds.
    changed
        ``bool (h, w)``: pixels the composite may differ from the plate in (the matte plus the
        blend's reach); every other pixel of the box must be pasted back untouched.
    """

    box: tuple[int, int, int, int]
    rgb: np.ndarray
    matte: np.ndarray
    changed: np.ndarray


def to_unit_float(pixels: np.ndarray) -> np.ndarray:
    """Plate pixels to display-referred ``float32`` RGB in [0, 1] for compositing.

    ``uint8``/``uint16`` are scaled; ``float32`` (scene-linear EXR) is clipped to [0, 1] and
    encoded with the sRGB curve, since the light transfer works on display-referred values.
    """
    if pixels.dtype in INTEGER_PEAK:
        return pixels.astype(np.float32) / INTEGER_PEAK[pixels.dtype]
    return linear_to_srgb(np.clip(pixels.astype(np.float32), 0.0, 1.0))


def from_unit_float(pixels: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Inverse of `to_unit_float` for the plate's dtype (rounded and clipped for integers)."""
    dtype = np.dtype(dtype)
    encoded = np.clip(pixels, 0.0, 1.0)
    if dtype in INTEGER_PEAK:
        return np.round(encoded * INTEGER_PEAK[dtype]).astype(dtype)
    return srgb_to_linear(encoded).astype(dtype)


def with_plate_range(new: np.ndarray, original: np.ndarray, matte: np.ndarray) -> np.ndarray:
    """A composited ``float32 (h, w, 3)`` scene-linear box (`from_unit_float` of the result)
    with the part of the plate box `original` that `to_unit_float` clipped (values above 1,
    below 0) put back where the plate shows, ``1 - matte`` (``float32 (h, w)``).

    The compositing works on display-referred values in [0, 1], so an EXR plate's highlights
    (a practical lamp, a rim light on the hair, 4.0 in linear light) inside the box but off the
    face came back as 1.0; now they are the plate's. The character's face itself stays within
    [0, 1].
    """
    excess = original - np.clip(original, 0.0, 1.0)
    return (new + excess * (1.0 - matte)[..., None]).astype(np.float32)


def face_outline_mask(landmarks: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``float32 (h, w)``: 1 inside the face oval of ``landmarks (478, 3)`` within `box`."""
    x0, y0, x1, y1 = box
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    polygon = np.round((landmarks[contour("face_oval"), :2] - (x0, y0)) * 16).astype(np.int32)
    cv2.fillPoly(mask, [polygon], 1, cv2.LINE_AA, 4)
    return mask.astype(np.float32)


def build_matte(
    layer: FaceLayer,
    face: Face,
    settings: CompositeSettings,
    occluder: np.ndarray | None = None,
    inside: np.ndarray | None = None,
) -> np.ndarray:
    """The face matte inside ``layer.box``: ``float32 (h, w)`` in [0, 1].

    `occluder` is a full-frame ``float32 (H, W)`` mask of things in front of the face (hands).
    `inside` is the face outline mask of the box when the caller has it already.
    """
    width = face_extent(face.landmarks)
    if inside is None:
        inside = face_outline_mask(face.landmarks, layer.box) * (layer.alpha > 0.5)
    matte = _erode_and_feather(inside, settings.erode * width, settings.feather * width)
    matte *= np.clip(layer.alpha, 0.0, 1.0)
    if layer.keep_plate is not None and layer.plate_warp is None:
        matte *= 1.0 - layer.keep_plate
    if occluder is not None:
        x0, y0, x1, y1 = layer.box
        matte *= 1.0 - occluder[y0:y1, x0:x1]
    return np.clip(matte, 0.0, 1.0).astype(np.float32)


def _erode_and_feather(
    mask: np.ndarray, erode: float, feather: float, factor: int | None = None
) -> np.ndarray:
    """Pull a ``float32 (h, w)`` mask's edge in by `erode` pixels (out, when negative) and
    soften it by `feather`.

    Both are smooth operations at face scale, so they run on a copy shrunk by `factor`
    (default: half size when the box is large; four times cheaper, same result to a fraction
    of a level). A weight that only needs to be smooth may pass a larger factor.
    """
    height, width = mask.shape
    if factor is None:
        factor = 2 if min(height, width) >= 128 else 1
    factor = max(1, min(factor, min(height, width) // 16))
    small = shrink(mask, factor)
    radius = max(1, round(abs(erode) / factor))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    grown_or_shrunk = cv2.dilate(small, kernel) if erode < 0 else cv2.erode(small, kernel)
    small = cv2.GaussianBlur(grown_or_shrunk, (0, 0), max(0.5, feather / factor))
    return grow(small, mask.shape, factor)


def _rim_regions(
    inside: np.ndarray,
    landmarks: np.ndarray,
    box: tuple[int, int, int, int],
    width: float,
    settings: CompositeSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """Where the rim colour match is measured, and how much of it each pixel takes.

    Parameters
    ----------
    inside
        ``float32 (h, w)`` in {0, 1}: the face outline (without eye or mouth holes) in `box`.
    landmarks
        ``(478, 3)`` face landmarks in frame pixels.
    width
        Face width in pixels.

    Returns
    -------
    tuple of numpy.ndarray
        ``float32 (h, w)`` ring between the matte's solid edge and `edge_band` in from the
        outline, minus the brows and eyes; and ``float32 (h, w)`` weight in [0, 1]: 1 out to
        `edge_band`, a smooth step down to 0 over `edge_fade`, 0 on the brows and eyes.
    """
    depth = cv2.distanceTransform((inside > 0.5).astype(np.uint8), cv2.DIST_L2, 3) / width
    solid = settings.erode + settings.feather
    features = _brows_and_eyes(landmarks, box, settings.feature_margin * width)
    rim = ((depth >= solid) & (depth <= settings.edge_band)).astype(np.float32)
    rim *= 1.0 - features
    step = np.clip((depth - settings.edge_band) / max(settings.edge_fade, 1e-6), 0.0, 1.0)
    weight = (1.0 - step * step * (3.0 - 2.0 * step)) * (1.0 - features) * inside
    return rim, weight.astype(np.float32)


def _opening_rings(
    landmarks: np.ndarray, box: tuple[int, int, int, int], settings: CompositeSettings
) -> np.ndarray | None:
    """``float32 (h, w)`` in [0, 1]: 1 at the edge of the eye and mouth openings of
    ``landmarks (478, 3)``, falling linearly to 0 at `eye_ring` / `mouth_ring` eye widths from
    them; 0 inside the openings. ``None`` when both rings are 0."""
    x0, y0, x1, y1 = box
    eye_width = float(np.linalg.norm(landmarks[33, :2] - landmarks[133, :2]))
    weight = None
    for names, reach in (
        (("left_eye", "right_eye"), settings.eye_ring),
        (("lips_inner",), settings.mouth_ring),
    ):
        if reach <= 0:
            continue
        polygons = [
            np.round(landmarks[contour(name), :2] - (x0, y0)).astype(np.int32) for name in names
        ]
        ring = _ring_around(polygons, (y1 - y0, x1 - x0), max(reach * eye_width, 1.0))
        weight = ring if weight is None else np.maximum(weight, ring)
    return weight


def _ring_around(polygons: list[np.ndarray], shape: tuple[int, int], reach: float) -> np.ndarray:
    """``float32 shape (h, w)``: 1 at the edge of the filled ``(K, 2)`` integer `polygons`,
    falling linearly to 0 at `reach` pixels from them, 0 inside them.

    The distance transform runs only over the polygons' bounding box grown by the reach (a
    tenth of the face box for the mouth, a third for the eyes): beyond it the ring is 0, and
    inside it the distances are those of a whole-box transform (to 1e-7).
    """
    corners = np.concatenate(polygons)
    margin = int(np.ceil(reach)) + 2
    left, top = np.maximum(corners.min(axis=0) - margin, 0)
    right, bottom = np.minimum(corners.max(axis=0) + 1 + margin, (shape[1], shape[0]))
    ring = np.zeros(shape, np.float32)
    if right <= left or bottom <= top:
        return ring
    openings = np.zeros((bottom - top, right - left), np.uint8)
    cv2.fillPoly(openings, [polygon - (left, top) for polygon in polygons], 1)
    distance = cv2.distanceTransform(1 - openings, cv2.DIST_L2, 3)
    ring[top:bottom, left:right] = np.clip(1.0 - distance / reach, 0.0, 1.0) * (1 - openings)
    return ring


def _brows_and_eyes(
    landmarks: np.ndarray, box: tuple[int, int, int, int], margin: float
) -> np.ndarray:
    """``float32 (h, w)`` in [0, 1]: the hull of each brow with its eye, grown by `margin`
    pixels and softened over half of it."""
    sides = [
        landmarks[np.concatenate([contour(f"{side}_eyebrow"), contour(f"{side}_eye")]), :2]
        for side in ("left", "right")
    ]
    return _grown_polygons(sides, box, margin, hulls=True)


def _grown_polygons(
    polygons: list[np.ndarray], box: tuple[int, int, int, int], margin: float, hulls: bool = False
) -> np.ndarray:
    """``float32 (h, w)`` in [0, 1]: the ``(K, 2)`` frame-pixel `polygons` (or, with `hulls`,
    their convex hulls) filled in `box` with anti-aliased edges, grown by `margin` pixels and
    softened over half of it."""
    x0, y0, x1, y1 = box
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    fixed = [np.round((polygon - (x0, y0)) * 16).astype(np.int32) for polygon in polygons]
    if hulls:
        for points in fixed:
            cv2.fillConvexPoly(mask, cv2.convexHull(points), 1, cv2.LINE_AA, 4)
    else:
        cv2.fillPoly(mask, fixed, 1, cv2.LINE_AA, 4)
    return _erode_and_feather(mask.astype(np.float32), -margin, margin / 2)


def _foreground(
    plate_box: np.ndarray, layer: FaceLayer, face: Face, inside: np.ndarray, margin: float
) -> np.ndarray | None:
    """``float32 (h, w)`` in [0, 1]: what is coloured unlike skin in front of the face
    (`foreground_mask`), never on the actor's eyes and lips grown by `margin` pixels or on what
    the engine keeps of the plate; ``None`` when nothing is."""
    in_front = foreground_mask(plate_box, inside)
    if in_front is None:
        return None
    in_front *= 1.0 - _eyes_and_lips(face.landmarks, layer.box, margin)
    if layer.keep_plate is not None:
        in_front *= 1.0 - layer.keep_plate
    return in_front


def _eyes_and_lips(landmarks: np.ndarray, box: tuple[int, int, int, int], margin: float):
    """``float32 (h, w)`` in [0, 1]: the actor's eye openings and lips (outer contour) of
    ``landmarks (478, 3)`` in `box`, grown by `margin` pixels and softened over half of it."""
    names = ("left_eye", "right_eye", "lips_outer")
    return _grown_polygons([landmarks[contour(name), :2] for name in names], box, margin)


def _warped_plate(plate_box: np.ndarray, layer: FaceLayer) -> np.ndarray:
    """The plate as the engine's moved geometry sees it (``plate_box`` itself when unmoved)."""
    if layer.plate_warp is None:
        return plate_box
    map_x, map_y = layer.plate_warp
    return cv2.remap(plate_box, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def composite_face(
    plate_box: np.ndarray,
    layer: FaceLayer,
    face: Face,
    settings: CompositeSettings,
    occluder: np.ndarray | None = None,
) -> CompositedFace:
    """Relight and blend one face layer over the plate pixels of its box.

    Parameters
    ----------
    plate_box
        ``float32 (h, w, 3)`` in [0, 1]: the plate cut to ``layer.box``.
    layer
        The engine's render of the face.
    face
        The tracked face (landmarks in frame pixels).
    settings
        Composite settings.
    occluder
        Optional full-frame ``float32 (H, W)`` occluder mask in [0, 1].
    """
    inside = face_outline_mask(face.landmarks, layer.box) * (layer.alpha > 0.5)
    matte = build_matte(layer, face, settings, occluder, inside)
    width = face_extent(face.landmarks)
    face_plate = _warped_plate(plate_box, layer)
    skin = inside
    if layer.keep_plate is not None:
        skin = inside * (layer.keep_plate < 0.05)
    if occluder is not None:
        x0, y0, x1, y1 = layer.box
        skin = skin * (1.0 - occluder[y0:y1, x0:x1])  # a hand's colour is not the face's light
    if settings.keep_foreground:
        in_front = _foreground(plate_box, layer, face, inside, settings.feature_margin * width)
        if in_front is not None:
            matte *= 1.0 - in_front
            skin = skin * (1.0 - in_front)
    rim = rim_weight = None
    if settings.rim_scale > 0:
        rim, rim_weight = _rim_regions(inside, face.landmarks, layer.box, width, settings)
    relit = transfer_lighting(
        layer.rgb,
        face_plate,
        skin,
        sigma=max(1.0, settings.light_scale * width),
        keep_character_tone=settings.keep_character_tone,
        rim=rim,
        rim_sigma=max(1.0, settings.rim_scale * width),
        rim_weight=rim_weight,
        opening_weight=_opening_rings(face.landmarks, layer.box, settings),
        opening_sigma=max(1.0, settings.opening_light_scale * width),
    )
    # where the engine drew nothing the foreground is the plate (no artificial edge at the mesh
    # border for the pyramid's bands to ring on); a moved face also shows the plate's eyes and
    # mouth interior, warped along
    coverage = layer.alpha
    if layer.plate_warp is not None and layer.keep_plate is not None:
        coverage = coverage * (1.0 - layer.keep_plate)
    relit = mix(face_plate, relit, coverage)
    if settings.blend == "feather":
        rgb = mix(plate_box, relit, matte)
        return CompositedFace(layer.box, rgb.astype(np.float32), matte, matte > 0)
    blended = laplacian_blend(relit, plate_box, matte, settings.pyramid_levels)
    # coarse bands reach beyond the matte; fade the blend out smoothly there so that pixels
    # farther than `reach` from the matte are exactly the plate's, with no visible boundary
    reach = blend_reach(settings.pyramid_levels)
    fade = _fade(matte > 1e-3, reach)
    rgb = mix(plate_box, np.clip(blended, 0.0, 1.0), fade)
    return CompositedFace(layer.box, rgb.astype(np.float32), matte, fade > 0)


def _fade(support: np.ndarray, reach: int) -> np.ndarray:
    """``float32 (h, w)`` in [0, 1]: 1 within about `reach` / 2 of ``support (h, w) bool``,
    falling smoothly to exactly 0 by about `reach` beyond it.

    The fall-off is a Gaussian of sigma ``reach / 4`` over the support grown by ``reach / 2``,
    computed at half size (it is smooth at that scale; four times cheaper).
    """
    grown = cv2.dilate(support.astype(np.uint8), np.ones((reach + 1,) * 2, np.uint8))
    factor = 1 if min(support.shape) < 64 else 2
    small = cv2.GaussianBlur(shrink(grown.astype(np.float32), factor), (0, 0), reach / 4 / factor)
    return grow(small, support.shape, factor)
