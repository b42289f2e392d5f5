"""The character's face texture: every reference photo unwrapped onto one pose-free layout.

Texture space is the mesh's frontal layout (`facecast.mesh.frontal`) of the most frontal
reference, scaled into a square image. Each reference is warped into it triangle by triangle;
where several references see the same spot, the one that sees it most squarely and as clear skin
wins (a soft maximum), after the references' colours are matched to the first. Spots no
reference shows cleanly (under a fringe of hair, inside the eyes and mouth) are filled by
inpainting from their surroundings and keep a low weight, so the compositor can fall back to
the actor's own, relit skin there; a rejected spot that clean skin encloses on every side (a
highlight, a blemish) is no occluder and is kept as photographed, and so are the lids next to
each eye (`LID_BAND`) and rejected patches beside one eye only (shadowed lid skin, eye
corners: glasses span both eyes, hair comes in from the outline). A black-and-white photo
among colour ones (an archival print) gives the texture its tone and detail but not its colour,
which comes from the colour photos alone (`MONOCHROME_CHROMA`); with only black-and-white
photos the texture is grey and the swap's light transfer brings in the plate's colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facecast.character.skin import occluders, shows_glasses, skin_maps
from facecast.composite.light import masked_lowpass
from facecast.mesh.frontal import frontal_points
from facecast.mesh.regions import contour, eye_ring
from facecast.mesh.triangles import NUM_SURFACE_POINTS, mesh_triangles
from facecast.mesh.warp import rasterize, sample

#: Exponent of the soft maximum that picks, per texel, the reference seeing it best.
SELECTION_SHARPNESS = 6.0
#: Weight factor of every reference after the first: they fill in where the first is weak
#: instead of averaging with it (averaging two expressions ghosts the mouth and eyes).
SECONDARY_PRIORITY = 0.7
#: Where several references show a region of the lower face (kept whatever its colour, for
#: beards), the one whose pixels there look most like its skin is preferred: a strand of hair
#: hanging over one photo's cheek is taken from a photo without it. The preference is the skin
#: likeness smoothed over this share of the texture, from `UNCLEAN_FLOOR` (none of it
#: skin-like) to 1; with `SELECTION_SHARPNESS` a region a quarter as clean weighs 4**6 times
#: less, while a beard, as dark in every photo, keeps the first reference's.
CLEAN_REGION = 1 / 64
UNCLEAN_FLOOR = 0.25
#: Texels that no reference shows as skin with at least this probability are refilled from
#: their surroundings, so no trace of hair or glasses stays in the texture.
CLEAN_COVERAGE = 0.5
#: Share of the way from each eye contour to the next ring of landmarks (lid margins, lashes,
#: eye corners) over which the texture keeps what the references show, at full weight, even
#: where the skin model rejects it: lashes and lid margins are never skin-coloured, and
#: glasses sit farther out. Refilled, they showed as flat pale pockets at the eye corners
#: (London 042, 012, 024) and flat patches over the lids (004). Measured with
#: ``benchmarks/quality.py`` (first 60 frames of weekly_address_clip1..4 x London
#: 004/012/024/042; both runs side by side on one tree) against refilling them, with
#: `_holes_beside_one_eye` kept too: dlib distance to the character 0.489 -> 0.482 (004:
#: 0.015-0.030 nearer on every clip), eye error 0.0092 -> 0.0091 mean (7 of 16 pairs within
#: 0.008 both), mouth error 0.0195 -> 0.0198 (12 -> 10 within 0.02: clip2 x 004 0.022 ->
#: 0.026, clip3 x 012 0.020 -> 0.021), seam ΔE up to 0.15 lower on 11 pairs (0.02 higher
#: on 2), stability and PSNR within 0.01 / 0.1 dB, retrieval 100% throughout. Any change to
#: the face moves dlib's mouth reading by up to 0.003 on a pair (two runs of one texture
#: before and after a change of encoder threads differed that much), so the opening errors
#: did not move beyond noise.
LID_BAND = 1.0
#: A reference whose skin has a median CIELAB chroma (a*b* distance from grey) below this is
#: black-and-white (an archival print, a greyscale scan): it gives the texture tone and
#: detail, never colour. Skin in colour photos reads 10-41 (the 32 London set photos 10-23,
#: the astronaut and Grace Hopper portraits 19 and 41); a greyscale copy of a London photo 0.0.
#: A sepia-toned print (London 004 in sepia: 32) counts as colour, its tone matched to the
#: first colour reference like any other colour photo.
MONOCHROME_CHROMA = 3.0


@dataclass
class FaceTexture:
    """A character's unwrapped face.

    Attributes
    ----------
    image
        ``float32 (S, S, 3)`` display-referred RGB in [0, 1].
    weight
        ``float32 (S, S)`` in [0, 1]: how surely some reference shows each texel as visible skin
        (0 = refilled from the surroundings).
    uv
        ``float32 (478, 2)`` texel position of every mesh landmark (iris points included).
    monochrome
        Per reference (in build order): True for a black-and-white photo, which gave the
        texture its tone but not its colour (`MONOCHROME_CHROMA`).
    glasses
        Per reference: True for a face wearing glasses, whose region gave the texture nothing
        (`facecast.character.skin.shows_glasses`).
    hands
        Per reference: how many hands in front of the face it shows; their region gave the
        texture nothing (`facecast.character.skin.hands_over_face`).
    """

    image: np.ndarray
    weight: np.ndarray
    uv: np.ndarray
    monochrome: tuple[bool, ...] = ()
    glasses: tuple[bool, ...] = ()
    hands: tuple[int, ...] = ()

    @property
    def size(self) -> int:
        return int(self.image.shape[0])


def texture_layout(landmarks: np.ndarray, size: int, margin: float = 0.06) -> np.ndarray:
    """Frontal layout of ``landmarks (478, 3)`` scaled into a ``size`` x ``size`` texture.

    Returns ``float32 (478, 2)`` texel coordinates, centred, aspect kept.
    """
    flat = frontal_points(landmarks)[:, :2]
    low, high = flat.min(axis=0), flat.max(axis=0)
    scale = (1.0 - 2 * margin) * size / float(np.max(high - low))
    centre = (low + high) / 2.0
    return ((flat - centre) * scale + size / 2.0).astype(np.float32)


def layout_hull(uv: np.ndarray, size: int) -> np.ndarray:
    """``uint8 (size, size)``: 1 inside the convex hull of the ``(478, 2)`` texel coordinates
    `uv` (the part of the texture the face layout covers), 0 in its empty outside."""
    hull = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(uv[:, :2]).astype(np.int32)), 1)
    return hull


def triangle_facing(landmarks: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``float32 (T,)`` in [0, 1]: how squarely each triangle faces the camera (|cos| of its
    normal with the view axis)."""
    a, b, c = (landmarks[triangles[:, k]].astype(np.float64) for k in range(3))
    normals = np.cross(b - a, c - a)
    length = np.linalg.norm(normals, axis=1) + 1e-12
    return (np.abs(normals[:, 2]) / length).astype(np.float32)


@dataclass(frozen=True)
class _Unwrapped:
    """One reference warped into texture space: ``float32 (S, S)`` maps in [0, 1] unless said.

    Attributes
    ----------
    colour
        ``float32 (S, S, 3)`` RGB.
    selection
        How squarely and how clearly the photo sees each texel (its weight in the merge).
    seen
        The texel is visible skin in this photo, whatever the angle.
    facing
        How squarely the photo sees each texel, skin or not, occluders left out.
    occluded
        A hand in front of the face, or the user's mask of what not to use, covers the texel.
    """

    colour: np.ndarray
    selection: np.ndarray
    seen: np.ndarray
    facing: np.ndarray
    occluded: np.ndarray


def _unwrap(
    image: np.ndarray,
    landmarks: np.ndarray,
    uv: np.ndarray,
    size: int,
    glasses: bool,
    hands: list[np.ndarray],
    left_out: np.ndarray | None = None,
) -> _Unwrapped:
    """Warp one reference (wearing `glasses` or not, with `hands` in front of its face or
    none, and the user's `left_out` mask ``float32 (H, W)`` in [0, 1] or none) into texture
    space."""
    triangles = mesh_triangles()
    surface = slice(0, NUM_SURFACE_POINTS)
    raster = rasterize(uv[surface], landmarks[surface, :2], triangles, (0, 0, size, size))
    colour = sample(image.astype(np.float32) / 255.0, raster)
    in_front = occluders(hands, left_out, image.shape[:2])
    visible, likeness = skin_maps(image, landmarks, glasses, in_front)
    skin = sample(visible, raster)
    occluded = np.zeros((size, size), np.float32)
    if in_front is not None:
        occluded = sample(in_front, raster) * raster.covered
    facing = triangle_facing(landmarks[surface], triangles)
    weight = np.where(raster.covered, facing[np.maximum(raster.triangle_index, 0)] ** 2, 0.0)
    weight = cv2.GaussianBlur(weight.astype(np.float32), (0, 0), size / 128) * raster.covered
    seen = (skin * raster.covered).astype(np.float32)
    selection = weight * skin * _cleanliness(sample(likeness, raster), size)
    return _Unwrapped(
        colour,
        selection.astype(np.float32),
        seen,
        (weight * (1.0 - occluded)).astype(np.float32),
        occluded.astype(np.float32),
    )


def _cleanliness(likeness: np.ndarray, size: int) -> np.ndarray:
    """``float32 (S, S)`` in [`UNCLEAN_FLOOR`, 1]: how cleanly a reference shows each region of
    the face, from its skin `likeness` in texture space smoothed over `CLEAN_REGION` of the
    texture, so that references are preferred region by region, never texel by texel."""
    smooth = cv2.GaussianBlur(likeness.astype(np.float32), (0, 0), CLEAN_REGION * size)
    return (UNCLEAN_FLOOR + (1.0 - UNCLEAN_FLOOR) * np.clip(smooth, 0.0, 1.0)).astype(np.float32)


def _match_colour(
    colour: np.ndarray,
    weight: np.ndarray,
    target: np.ndarray,
    target_weight: np.ndarray,
    channels: slice = slice(0, 3),
) -> np.ndarray:
    """Shift and scale ``colour``'s Lab statistics to ``target``'s over texels both show well.

    ``colour``, ``target``: ``float32 (S, S, 3)`` RGB in [0, 1]; ``weight``, ``target_weight``
    ``(S, S)``. `channels` picks the Lab channels matched (``slice(0, 1)``: lightness only,
    ``slice(1, 3)``: colour only); the others are kept.
    """
    shared = (weight > 0.3) & (target_weight > 0.3)
    if shared.sum() < 100:
        return colour
    lab = cv2.cvtColor(colour, cv2.COLOR_RGB2LAB)
    target_lab = cv2.cvtColor(target, cv2.COLOR_RGB2LAB)
    mean, std = lab[shared].mean(axis=0), lab[shared].std(axis=0) + 1e-3
    target_mean, target_std = target_lab[shared].mean(axis=0), target_lab[shared].std(axis=0)
    matched = lab.copy()
    matched[..., channels] = ((lab - mean) * (target_std / std) + target_mean)[..., channels]
    return np.clip(cv2.cvtColor(matched.astype(np.float32), cv2.COLOR_LAB2RGB), 0.0, 1.0)


def is_monochrome(colour: np.ndarray, weight: np.ndarray) -> bool:
    """Whether an unwrapped reference ``float32 (S, S, 3)`` RGB in [0, 1] is black-and-white:
    the median CIELAB chroma of its skin (``weight (S, S)`` above 0.3) under
    `MONOCHROME_CHROMA`."""
    skin = weight > 0.3
    if skin.sum() < 100:
        skin = weight > 0
    lab = cv2.cvtColor(colour, cv2.COLOR_RGB2LAB)
    chroma = np.hypot(lab[..., 1], lab[..., 2])[skin]
    return bool(chroma.size) and float(np.median(chroma)) < MONOCHROME_CHROMA


def build_texture(
    images: list[np.ndarray],
    landmarks: list[np.ndarray],
    size: int = 512,
    hands: list[list[np.ndarray]] | None = None,
    left_out: list[np.ndarray | None] | None = None,
) -> FaceTexture:
    """Merge reference photos into one face texture.

    Parameters
    ----------
    images
        Reference photos, ``uint8 RGB (H, W, 3)`` each; the first should be the most frontal.
    landmarks
        ``float (478, 3)`` mesh points of each photo, in its pixels.
    size
        Texture side in texels.
    hands
        Per photo, the ``float32 (21, 2)`` keypoints (pixels) of each hand in front of its face
        (`facecast.character.skin.hands_over_face`); none when not given.
    left_out
        Per photo, ``float32 (H, W)`` in [0, 1] marking what is not to be used (a hard shadow,
        a blemish on a print), or ``None``: treated as an occluder, like a hand.

    Returns
    -------
    FaceTexture
    """
    if not images or len(images) != len(landmarks):
        raise ValueError(f"need matching images and landmarks, got {len(images)}/{len(landmarks)}")
    hands = hands if hands is not None else [[] for _ in images]
    if len(hands) != len(images):
        raise ValueError(f"need the hands of every photo, got {len(hands)} for {len(images)}")
    left_out = left_out if left_out is not None else [None for _ in images]
    if len(left_out) != len(images):
        raise ValueError(f"need a mask or None per photo, got {len(left_out)} for {len(images)}")
    uv = texture_layout(landmarks[0], size)
    pairs = zip(images, landmarks, strict=True)
    glasses = tuple(shows_glasses(image, points) for image, points in pairs)
    unwrapped = [
        _unwrap(image, points, uv, size, worn, in_front, mask)
        for image, points, worn, in_front, mask in zip(
            images, landmarks, glasses, hands, left_out, strict=True
        )
    ]
    colours = [u.colour for u in unwrapped]
    weights = [u.selection for u in unwrapped]
    visible = [u.seen for u in unwrapped]
    facing = [u.facing for u in unwrapped]
    monochrome = tuple(is_monochrome(c, w) for c, w in zip(colours, weights, strict=True))
    tinted = [i for i, grey in enumerate(monochrome) if not grey]
    mixed = 0 < len(tinted) < len(images)
    for i in range(1, len(images)):
        colours[i] = _matched(colours, weights, i, tinted[0] if mixed else 0, monochrome[i])
        weights[i] = weights[i] * SECONDARY_PRIORITY
        facing[i] = facing[i] * SECONDARY_PRIORITY
    merged = _soft_select(np.stack(colours), np.stack(weights))
    coverage = np.stack(visible).max(axis=0)
    # a hand (or a masked region) no photo sees past is an occluder wherever it lies: never
    # kept as photographed
    occluded = np.stack([u.occluded for u in unwrapped]).max(axis=0) > 0.5
    hidden = occluded & (coverage < CLEAN_COVERAGE)
    coverage = np.where(_enclosed_holes(coverage, uv) & ~hidden, 1.0, coverage)
    lids = _lid_band(uv, size)
    lids |= _holes_beside_one_eye(np.where(lids, 1.0, coverage), uv)
    lids &= ~hidden
    merged = np.where(lids[..., None], _soft_select(np.stack(colours), np.stack(facing)), merged)
    # the lashes are no skin to fill the holes beside them with
    filled = _fill_holes(merged, np.where(lids, 0.0, coverage), uv)
    merged = np.where(lids[..., None], merged, filled)
    if mixed:
        merged = _recoloured(
            merged,
            [colours[i] for i in tinted],
            [weights[i] for i in tinted],
            [facing[i] for i in tinted],
            np.stack([visible[i] for i in tinted]).max(axis=0),
            lids,
            uv,
        )
    weight = np.where(lids, 1.0, coverage).astype(np.float32)
    counts = tuple(len(in_front) for in_front in hands)
    return FaceTexture(merged, weight, uv, monochrome, glasses, counts)


def _matched(
    colours: list, weights: list, index: int, colour_anchor: int, monochrome: bool
) -> np.ndarray:
    """Reference `index`'s unwrapped colour matched to the first reference's Lab statistics,
    or, when the photos mix colour and black-and-white, its lightness to the first and (for a
    colour photo) its colour to `colour_anchor`, the first colour one."""
    colour, weight = colours[index], weights[index]
    if colour_anchor == 0:
        return _match_colour(colour, weight, colours[0], weights[0])
    colour = _match_colour(colour, weight, colours[0], weights[0], slice(0, 1))
    if index == colour_anchor or monochrome:
        return colour
    anchor = colours[colour_anchor]
    return _match_colour(colour, weight, anchor, weights[colour_anchor], slice(1, 3))


def _recoloured(
    merged: np.ndarray,
    colours: list[np.ndarray],
    weights: list[np.ndarray],
    facing: list[np.ndarray],
    seen: np.ndarray,
    lids: np.ndarray,
    uv: np.ndarray,
) -> np.ndarray:
    """``merged (S, S, 3)`` with its CIELAB colour (a*, b*) taken from the colour references
    only (``colours``, ``weights``, ``facing``: one ``(S, S[, 3])`` each), its lightness kept
    from all of them. Where no colour reference shows clean skin (``seen (S, S)``), the colour
    is refilled from the skin around, as holes are (`_fill_holes`)."""
    chroma = [cv2.cvtColor(c, cv2.COLOR_RGB2LAB)[..., 1:] for c in colours]
    picked = _soft_select(np.stack(chroma), np.stack(weights))
    picked = np.where(lids[..., None], _soft_select(np.stack(chroma), np.stack(facing)), picked)
    shown = np.where(np.stack(weights).sum(axis=0) > 1e-6, seen, 0.0)
    filled = _fill_holes(picked, np.where(lids, 0.0, shown), uv)
    lab = cv2.cvtColor(merged, cv2.COLOR_RGB2LAB)
    lab[..., 1:] = np.where(lids[..., None], picked, filled)
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB), 0.0, 1.0).astype(np.float32)


def _soft_select(colours: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per texel, the colour of the references ``(R, S, S, 3)`` that weigh most ``(R, S, S)``
    (a soft maximum of sharpness `SELECTION_SHARPNESS`): ``float32 (S, S, 3)``."""
    selection = weights.astype(np.float64) ** SELECTION_SHARPNESS
    total = selection.sum(axis=0)
    merged = np.einsum("rhw,rhwc->hwc", selection, colours) / np.maximum(total, 1e-300)[..., None]
    return merged.astype(np.float32)


def _lid_band(uv: np.ndarray, size: int) -> np.ndarray:
    """``bool (S, S)``: the lids around each eye opening of the layout ``uv (478, 2)``, out to
    `LID_BAND` of the way to the next ring of landmarks (the opening itself excluded)."""
    band = np.zeros((size, size), np.uint8)
    opening = np.zeros((size, size), np.uint8)
    for name in ("left_eye", "right_eye"):
        lid, ring = uv[contour(name)], uv[eye_ring(name)]
        outer = lid + LID_BAND * (ring - lid)
        cv2.fillPoly(band, [np.round(outer * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
        cv2.fillPoly(opening, [np.round(lid * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    return (band > 0) & (opening == 0)


def _enclosed_holes(coverage: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """``bool (S, S)``: texels of unclean holes that clean skin surrounds on every side.

    A hole that reaches neither the face outline nor an eye or the mouth cannot be hair or
    glasses (they come in from the hairline, the temples or around the eyes); it is a
    specular highlight or a blemish the skin model rejected, and is kept as photographed, at
    full weight. Refilled, it showed as a flat patch of another tone (London 042's forehead
    highlight on the weekly address actor); at low weight, as the actor's own skin.
    """
    size = coverage.shape[0]
    hull = layout_hull(uv, size)
    reach = max(1, size // 32)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    openings = np.zeros((size, size), np.uint8)
    for name in ("left_eye", "right_eye", "lips_inner"):
        cv2.fillPoly(openings, [np.round(uv[contour(name)]).astype(np.int32)], 1)
    fringe = (hull - cv2.erode(hull, kernel)) | cv2.dilate(openings, kernel)
    holes = ((coverage < CLEAN_COVERAGE) & hull.astype(bool)).astype(np.uint8)
    _, labels = cv2.connectedComponents(holes, connectivity=8)
    touching = np.unique(labels[(fringe > 0) & (holes > 0)])
    return (labels > 0) & ~np.isin(labels, touching)


def _holes_beside_one_eye(coverage: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """``bool (S, S)``: texels of unclean holes next to one eye that reach neither the face
    outline, the mouth nor the other eye.

    Glasses span both eyes (the bridge) and reach the temples, hair comes in from the outline;
    a rejected patch that touches one eye only is the shadowed skin of a lid or an eye corner
    (London 004's upper lids and 042's outer corners), kept as photographed like the lids.
    """
    size = coverage.shape[0]
    hull = layout_hull(uv, size)
    reach = max(1, size // 32)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    eyes = [np.zeros((size, size), np.uint8) for _ in range(2)]
    mouth = np.zeros((size, size), np.uint8)
    for mask, name in zip((*eyes, mouth), ("left_eye", "right_eye", "lips_inner"), strict=True):
        cv2.fillPoly(mask, [np.round(uv[contour(name)]).astype(np.int32)], 1)
    fringe = (hull - cv2.erode(hull, kernel)) | cv2.dilate(mouth, kernel)
    unclean = (coverage < CLEAN_COVERAGE) & hull.astype(bool) & ((eyes[0] | eyes[1]) == 0)
    _, labels = cv2.connectedComponents(unclean.astype(np.uint8), connectivity=8)
    near = [np.unique(labels[(cv2.dilate(eye, kernel) > 0) & unclean]) for eye in eyes]
    beside = np.setxor1d(near[0], near[1])
    beside = np.setdiff1d(beside, np.unique(labels[(fringe > 0) & unclean]))
    return np.isin(labels, beside[beside > 0])


def _fill_holes(colour: np.ndarray, coverage: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Refill texels no reference shows cleanly (coverage < `CLEAN_COVERAGE`) inside the outline
    with the smooth skin colour of the clean texels around them (normalised convolution, so
    neither the hair nor the empty outside of the layout leaks in). Texels the skin model was
    less sure of count less: the halo of a rejected highlight or strand would otherwise tint
    the fill."""
    size = colour.shape[0]
    hull = layout_hull(uv, size)
    clean = (coverage >= CLEAN_COVERAGE).astype(np.float32)
    holes = (clean == 0) & hull.astype(bool)
    if not holes.any() or not clean.any():
        return colour.astype(np.float32)
    sureness = np.clip((coverage - CLEAN_COVERAGE) / (1.0 - CLEAN_COVERAGE), 0.0, 1.0)
    source = clean * (0.05 + 0.95 * sureness**2)
    fill = masked_lowpass(colour.astype(np.float32), source.astype(np.float32), sigma=size / 24)
    return np.where(holes[..., None], fill, colour).astype(np.float32)
