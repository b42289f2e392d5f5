"""The mesh engine (default, CPU, no training): the character's texture on the actor's mesh.

Every frame the actor's tracked face mesh is rasterised and each pixel looks up the character's
texture through its triangle, so head pose, expression and timing are the actor's and the skin,
brows, lips and eyelids are the character's. The actor's eyeballs (gaze, blinks) and mouth
opening (teeth, tongue), with the inner edges of their lids and lower lip and the whole upper
lip, are handed back as ``keep_plate`` so the compositor shows the plate there.

The openings are holes in the face mesh. The layer's coverage is filled there: left at 0, the
compositor's matte was eroded and feathered around every hole, so about half of each lip and lid
showed the plate, and, with the shape moved, the *unmoved* plate (the actor's teeth and eyes
where they were, a second lip edge beside the character's). Measured with the independent dlib
landmarks on the first 60 frames of weekly_address_clip1 with London 012: mouth error 0.032 ->
0.012 and dlib distance to the character 0.686 -> 0.636 from this fix alone.

With ``shape_strength`` above 0 the upper face (brows, eyes, nose) also moves toward the
character's proportions (`facecast.mesh.reshape`: mouth and chin keep the actor's geometry):
each frame's mesh gets the difference between the character's neutral shape and the actor's,
rotated into the current head pose, so the actor's expression (their deviation from their own
neutral face) is kept. The plate's eyes are warped along (``plate_warp``, inside the openings
by each contour's own motion) so gaze stays inside the new lids."""

from __future__ import annotations

import cv2
import numpy as np

from facecast.analysis.face import Face
from facecast.character.asset import Character
from facecast.character.texture import layout_hull
from facecast.composite.grid import gaussian_radius
from facecast.composite.light import masked_lowpass
from facecast.engines.base import FaceLayer
from facecast.mesh.frontal import face_scale, head_rotation
from facecast.mesh.regions import contour, eye_ring, face_extent
from facecast.mesh.reshape import resting_shape, shape_offsets
from facecast.mesh.triangles import NUM_SURFACE_POINTS, mesh_triangles
from facecast.mesh.warp import MeshRaster, rasterize, sample, with_source

#: Fraction of the face size added around the mesh's bounding box for the render box.
BOX_MARGIN = 0.12
#: Default pull of the upper face toward the character's proportions (0 to 1). Measured (dlib,
#: every 3rd of the first 60 frames of weekly_address_clip1, London 012 / 024) at 0 and at 0.8:
#: distance to the character 0.567 / 0.548 and 0.481 / 0.536, eye error 0.009 / 0.010 and
#: 0.013 / 0.011, mouth error 0.023 / 0.016 and 0.022 / 0.025 (moving the nose shifts dlib's
#: reading of the mouth below it). Identity gains most where the character's eyes and nose
#: differ most from the actor's (012), so 0.8 stays the default.
DEFAULT_SHAPE_STRENGTH = 0.8
#: Boxes larger than this (pixels) are rasterised every other pixel (see `rasterize`'s step).
RASTER_STEP_ABOVE = 256
#: Share of the lower lip's thickness, from the inner lip contour outward, kept from the plate
#: with the mouth opening (see `_eyes_and_mouth`). With `LID_EDGE`, measured against keeping
#: the bare openings (dlib, every 4th of the first 60 frames; clip2 x 042, clip2 x 004, clip1 x
#: 012): mouth error 0.038/0.046/0.012 -> 0.033/0.044/0.014, eye error 0.0063/0.0110/0.0068 ->
#: 0.0068/0.0082/0.0053, distance to the character +0.002 to +0.007. More of the lower lip
#: (0.75, 1.0) moved the mouth error by -0.004 to +0.006 per pair, no better on average.
LIP_EDGE = 0.5
#: The same share for the upper lip: all of it. dlib read the character's upper lip as lower
#: than the actor's (the inner-lip points 0.014 and 0.029 inter-ocular distances low on clip2
#: with London 004 and 042), closing the mouth. Measured against 0.5 (first 60 frames of
#: weekly_address_clip1..4 x 004/012/024/042, every 2nd frame): mouth error 0.0179 -> 0.0166
#: mean (13 -> 14 of 16 pairs within 0.02; clip1 x 042 0.0246 -> 0.0168), eye error 0.0094 ->
#: 0.0088 (6 -> 8 within 0.008), dlib distance to the character 0.482 -> 0.481.
UPPER_LIP_EDGE = 1.0
#: The inner-lip landmarks of the upper lip (the rest of the inner contour, corners included,
#: are the lower lip's).
UPPER_LIP = (82, 81, 80, 191, 13, 312, 311, 310, 415)
#: Share of the way from each eye contour to the next ring of landmarks (the lid margin and
#: lashes) kept from the plate with the eye opening. Measured (diagnostic on the first 60
#: frames of weekly_address_clip1..4 x London 004/012/024/042, dlib): 0.3 / 0.5 / 0.7 give
#: eye error 0.0093 / 0.0089 / 0.0090 mean (7 / 8 / 7 of 16 pairs within 0.008), mouth error
#: 0.0183 / 0.0181 / 0.0183, dlib distance to the character 0.482 / 0.483 / 0.484. The whole
#: band (1.0) for the upper lids only, as for the upper lip (2026-12-08, same 16 pairs): eye
#: error 0.0074 -> 0.0072 mean (12 -> 13 of 16 within), clip3's mean 0.0080 -> 0.0073 but
#: clip2's 0.0077 -> 0.0085, distance 0.477 -> 0.483; not adopted.
LID_EDGE = 0.5
#: Softness (Gaussian sigma) of the kept regions' edge, as a share of the eye width.
EDGE_SOFTNESS = 0.03
#: Strength of the texture's anti-alias prefilter (`prefilter_sigma`). Drawn smaller than its
#: size without it, the texture's pores shimmered as the head moved: on weekly_address_clip4
#: (the face 223 px wide, the texture's 367 texels: minification 1.65) the stability ratio
#: was 1.15 with London 004 and 1.29 with 042; a 1-texel blur gave 0.99 and 1.07 at +0.002 to
#: +0.004 of dlib distance. `benchmarks/quality.py` (first 60 frames, clip1..4 x 004/012/024/
#: 042), without / with: stability 0.73-1.29 (14 of 16 within 1.1) / 0.71-1.07 (16 of 16);
#: mouth error 0.0185 / 0.0186 mean (14 of 16 within 0.02 both); eye error 0.0085 / 0.0089
#: (10 / 8 of 16 within 0.008: 0.0072 -> 0.0089 on clip2 x 042, 0.0080 -> 0.0098 on clip4 x
#: 024; keeping the lids unfiltered did not change that); dlib distance 0.483 both.
PREFILTER = 0.8
#: Prefilter sigmas (texels) prepared once per character (4 MB each at 512 texels); each
#: face uses the nearest.
PREFILTER_LEVELS = (0.0, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
#: Gaussian sigma (texels) over which the texture's colour is carried out beyond its layout
#: (`padded_colour`), reaching about 4x as far: beyond the prefilter's widest reach (3 x its
#: largest level) so the mesh's edge never samples the layout's empty, black outside. Before,
#: the edge row of every face drawn small was darkened (tears_of_steel_10s with London 004, a
#: face of 150 px: the forehead's edge 137 instead of 182 of 255 in the render), which showed
#: as a thin dark arc across the forehead and down the cheek where the matte was still 0.1-0.3.
EDGE_PAD = 4.0
#: The openings of the face mesh (holes without triangles), where the plate shows through.
OPENINGS = ("left_eye", "right_eye", "lips_inner")


class MeshEngine:
    """Render a character's face texture onto tracked face meshes.

    Parameters
    ----------
    shape_strength
        0 keeps the actor's face proportions; 1 moves the inner face fully to the character's
        neutral proportions (keeping the actor's expression deltas).
    """

    name = "mesh"
    #: `render` carries no state from frame to frame, so frames may be rendered on threads.
    frame_parallel = True

    def __init__(self, shape_strength: float = DEFAULT_SHAPE_STRENGTH) -> None:
        if not 0.0 <= shape_strength <= 1.0:
            raise ValueError(f"shape_strength must lie in [0, 1], got {shape_strength}")
        self.shape_strength = shape_strength
        self._character: Character | None = None
        #: the texture prefiltered for each of `PREFILTER_LEVELS` (colour and coverage)
        self._prefiltered: list[np.ndarray] = []
        self._texture_face_extent = 1.0
        self._triangles = mesh_triangles()
        self._offsets: dict[int, np.ndarray] = {}

    def prepare(self, character: Character) -> None:
        """Keep the character's texture and neutral shape; derive the soft coverage texture."""
        self._character = character
        # the face's colour and its soft coverage as one 4-channel texture, sampled together
        coverage = coverage_alpha(character.texture.weight)
        colour = padded_colour(character.texture.image, character.texture.uv)
        self._prefiltered = [
            np.dstack([prefiltered_colour(colour, sigma), coverage]) for sigma in PREFILTER_LEVELS
        ]
        self._texture_face_extent = face_extent(character.texture.uv)

    def prepare_track(self, track_id: int, faces: list[Face]) -> None:
        """Learn the actor's resting shape on this track and the offsets to the character's."""
        if faces and self._character is not None:
            actor = resting_shape([f.landmarks for f in faces])
            self._offsets[track_id] = shape_offsets(self._character.neutral_shape, actor)

    def settings(self) -> dict:
        return {"engine": self.name, "shape_strength": self.shape_strength}

    def render(self, frame: np.ndarray, face: Face) -> FaceLayer | None:
        """Render the character on one face.

        Parameters
        ----------
        frame
            ``uint8 RGB (H, W, 3)`` plate frame (only its size is used).
        face
            The tracked face, landmarks ``(478, 3)`` in frame pixels.

        Returns
        -------
        FaceLayer or None
            ``None`` when the face lies outside the frame or is degenerate.
        """
        if self._character is None:
            raise RuntimeError("MeshEngine.render called before prepare()")
        texture = self._character.texture
        points = self.target_landmarks(face)
        box = _render_box(np.concatenate([points, face.landmarks]), frame.shape[:2])
        if box is None:
            return None
        surface = slice(0, NUM_SURFACE_POINTS)
        raster = rasterize(
            points[surface, :2],
            texture.uv[surface],
            self._triangles,
            box,
            depth=points[surface, 2],
            step=2 if max(box[2] - box[0], box[3] - box[1]) > RASTER_STEP_ABOVE else 1,
        )
        if not raster.covered.any():
            return None
        layers = sample(self._texture_for(points), raster)
        # contiguous colour and coverage planes (OpenCV's channel copies: 4x NumPy's strided ones)
        rgb, alpha = cv2.cvtColor(layers, cv2.COLOR_RGBA2RGB), cv2.extractChannel(layers, 3)
        keep = _eyes_and_mouth(points, box, _openings(points, box))
        # the openings are holes in the mesh: without coverage there, the compositor's matte
        # would be eroded around them and show the unmoved plate over half the lips and lids.
        # All of the kept region is covered, not only the openings' polygons: pixels between a
        # polygon and the lid or lip triangles folded over it (a closing eye or mouth) were
        # left as pinholes that the erosion widened (clip1 x London 024: in 22 of 60 frames)
        alpha = np.maximum(alpha, keep)
        warp = None
        if points is not face.landmarks:
            warp = _plate_warp(raster, points, face.landmarks, box)
        return FaceLayer(rgb=rgb, alpha=alpha, box=box, keep_plate=keep, plate_warp=warp)

    def _texture_for(self, points: np.ndarray) -> np.ndarray:
        """The prefiltered texture (``float32 (S, S, 4)``) for a face drawn with `points`
        (frame pixels): the level nearest `prefilter_sigma` of its minification."""
        minification = self._texture_face_extent / max(face_extent(points), 1.0)
        wanted = prefilter_sigma(minification)
        level = int(np.argmin(np.abs(np.asarray(PREFILTER_LEVELS) - wanted)))
        return self._prefiltered[level]

    def target_landmarks(self, face: Face) -> np.ndarray:
        """The face's landmarks with the inner face moved toward the character's proportions.

        Returns ``face.landmarks`` itself when nothing moves (strength 0 or unknown track).
        """
        offsets = self._offsets.get(face.track_id)
        if self.shape_strength == 0.0 or offsets is None:
            return face.landmarks
        rotation = head_rotation(face.landmarks)
        offset = offsets.astype(np.float64) @ rotation.T * face_scale(face.landmarks)
        return (face.landmarks + self.shape_strength * offset).astype(np.float32)


def prefilter_sigma(minification: float) -> float:
    """Gaussian sigma in texels that keeps a texture drawn `minification` texels per
    pixel from aliasing: ``PREFILTER * sqrt(m**2 - 1)``, 0 when it is drawn at or above its
    own size."""
    return PREFILTER * float(np.sqrt(max(minification**2 - 1.0, 0.0)))


def padded_colour(image: np.ndarray, uv: np.ndarray, sigma: float = EDGE_PAD) -> np.ndarray:
    """``float32 (S, S, 3)`` texture `image` with the empty outside of its layout
    (`layout_hull` of the texel coordinates `uv`) filled with the colour of the layout's edge
    (`masked_lowpass` of scale `sigma` texels; 0 beyond about 4 `sigma`). Inside the layout
    the texels are `image`'s own."""
    inside = layout_hull(uv, image.shape[0])
    colour = image.astype(np.float32)
    spread = masked_lowpass(colour, inside.astype(np.float32), sigma)
    return np.where(inside[..., None] > 0, colour, spread).astype(np.float32)


def prefiltered_colour(image: np.ndarray, sigma: float) -> np.ndarray:
    """``float32 (S, S, 3)`` texture blurred by `sigma` texels (itself when 0)."""
    if sigma <= 0:
        return image.astype(np.float32)
    return cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigma)


def coverage_alpha(weight: np.ndarray) -> np.ndarray:
    """Texture-space alpha from the references' coverage ``float32 (S, S)``: 1 wherever some
    reference shows skin, falling to 0 over about 1/20 of the texture where none does (under a
    fringe of hair), so the actor's own relit skin shows there without a hard edge.

    Lenient on purpose: a texture patch the skin model half rejected (a temple) keeps full
    alpha with the texture's smooth fill. Tried: alpha crossing 0.5 at the texture's
    CLEAN_COVERAGE, so the plate shows wherever the fill is. It removed a flat pale patch
    beside London 024's eye, but it showed the actor's own, unmatched skin in spots along
    the side of the face where the mesh foreshortens such patches (London 042, darker than
    the actor: 34 spots in 12 frames of weekly_address_clip1) and moved every character
    0.01-0.04 of dlib distance toward the actor."""
    size = weight.shape[0]
    soft = cv2.GaussianBlur(weight.astype(np.float32), (0, 0), size / 64)
    return np.clip((soft - 0.05) * 8.0, 0.0, 1.0).astype(np.float32)


def _plate_warp(
    raster: MeshRaster,
    moved: np.ndarray,
    original: np.ndarray,
    box: tuple[int, int, int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Box-local ``float32 (h, w)`` maps taking each pixel of the moved face to the plate pixel
    it came from.

    On the mesh (covered by `raster`) the maps follow its triangles from the ``moved`` to the
    ``original`` landmarks (``(478, 3)`` frame pixels). The eye and mouth openings are holes in
    the mesh; there each follows its contour's motion (`_contour_motion`), so the plate's eyes
    and teeth move with the lids and lips instead of staying where they were. Identity
    elsewhere off the mesh.
    """
    raster = with_source(raster, original[:NUM_SURFACE_POINTS])
    x0, y0, x1, y1 = box
    xs = np.arange(x1 - x0, dtype=np.float32)[None, :]
    ys = np.arange(y1 - y0, dtype=np.float32)[:, None]
    covered = raster.covered
    map_x = np.where(covered, raster.map_x - x0, xs)
    map_y = np.where(covered, raster.map_y - y0, ys)
    for name in OPENINGS:
        index = contour(name)
        rows, cols = _hole_pixels(moved[index, :2], box, covered)
        if rows.size:
            affine = _contour_motion(moved[index, :2], original[index, :2])
            px, py = cols.astype(np.float32) + x0, rows.astype(np.float32) + y0
            map_x[rows, cols] = affine[0, 0] * px + affine[0, 1] * py + affine[0, 2] - x0
            map_y[rows, cols] = affine[1, 0] * px + affine[1, 1] * py + affine[1, 2] - y0
    return map_x.astype(np.float32, copy=False), map_y.astype(np.float32, copy=False)


def _hole_pixels(
    polygon: np.ndarray, box: tuple[int, int, int, int], covered: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Box-local ``(rows, cols)`` of an opening: inside ``polygon (K, 2)`` (frame pixels) grown
    by 2 pixels, where the mesh (``covered (h, w) bool``) is not. Worked out on the polygon's
    own bounding box, not the whole face box (a tenth of the pixels)."""
    x0, y0, x1, y1 = box
    local = polygon - (x0, y0)
    left, top = np.maximum(np.floor(local.min(axis=0)).astype(int) - 4, 0)
    right, bottom = np.minimum(np.ceil(local.max(axis=0)).astype(int) + 5, (x1 - x0, y1 - y0))
    if right <= left or bottom <= top:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    hole = _fill([polygon], (x0 + left, y0 + top, x0 + right, y0 + bottom))
    hole = cv2.dilate(hole, np.ones((5, 5), np.uint8)).astype(bool)
    rows, cols = np.nonzero(hole & ~covered[top:bottom, left:right])
    return rows + top, cols + left


def _contour_motion(moved: np.ndarray, original: np.ndarray) -> np.ndarray:
    """``float64 (2, 3)`` affine map taking an opening's moved contour ``(K, 2)`` onto its
    original one, in frame pixels.

    Eyes move as rigid groups (a shift), lips with a change of width, which an affine map
    carries exactly; a ridge on the linear part keeps it to a shift along directions the
    contour does not span (a closed eye or mouth is almost a line).
    """
    centre = moved.mean(axis=0)
    spread = (moved - centre).astype(np.float64)
    shift = (original - moved).astype(np.float64)
    ridge = 1e-2 * float((spread**2).sum(axis=1).mean()) * np.eye(2)
    gradient = np.linalg.solve(spread.T @ spread + len(spread) * ridge, spread.T @ shift).T
    gradient += np.eye(2)
    offset = centre + shift.mean(axis=0) - gradient @ centre
    return np.concatenate([gradient, offset[:, None]], axis=1)


def _render_box(points: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """Integer box around the mesh plus a margin, clipped to a frame of ``shape (H, W)``."""
    low, high = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
    margin = BOX_MARGIN * float(np.max(high - low))
    x0, y0 = np.floor(low - margin).astype(int)
    x1, y1 = np.ceil(high + margin).astype(int)
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, shape[1]), min(y1, shape[0])
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    return int(x0), int(y0), int(x1), int(y1)


def _eye_width(landmarks: np.ndarray) -> float:
    """Width of the subject's right eye (corner to corner) in pixels."""
    return float(np.linalg.norm(landmarks[33, :2] - landmarks[133, :2]))


def _fill(polygons: list[np.ndarray], box: tuple[int, int, int, int]) -> np.ndarray:
    """``uint8 (h, w)``: 1 inside any of the ``(K, 2)`` frame-pixel `polygons`, within `box`."""
    x0, y0, x1, y1 = box
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for points in polygons:
        polygon = np.round((points - (x0, y0)) * 16).astype(np.int32)
        cv2.fillPoly(mask, [polygon], 1, cv2.LINE_8, 4)
    return mask


def _openings(landmarks: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``uint8 (h, w)``: 1 inside the eye openings and the mouth opening (inner lip contour)."""
    return _fill([landmarks[contour(name), :2] for name in OPENINGS], box)


def _eyes_and_mouth(
    landmarks: np.ndarray, box: tuple[int, int, int, int], openings: np.ndarray
) -> np.ndarray:
    """Where the plate shows through: ``float32 (h, w)`` in [0, 1] inside `box`.

    The actor's eye openings and mouth opening (`openings`, ``uint8 (h, w)``) plus the inner
    edges of their lips and lids: `LIP_EDGE` (lower lip) and `UPPER_LIP_EDGE` (upper lip) of
    the way from the inner to the outer lip contour and `LID_EDGE` of the way to the next ring
    of landmarks around each eye. The edges are where the opening is seen (teeth against lip,
    white against lashes), so they stay the actor's; the character's lips and lids start just
    beyond. The mask is solid over the
    openings and softened by `EDGE_SOFTNESS` of the eye width.
    """
    inner, outer = landmarks[contour("lips_inner"), :2], landmarks[contour("lips_outer"), :2]
    share = np.where(np.isin(contour("lips_inner"), UPPER_LIP), UPPER_LIP_EDGE, LIP_EDGE)
    polygons = [inner + share[:, None] * (outer - inner)]
    for name in ("left_eye", "right_eye"):
        lid, ring = landmarks[contour(name), :2], landmarks[eye_ring(name), :2]
        polygons.append(lid + LID_EDGE * (ring - lid))
    sigma = max(0.6, EDGE_SOFTNESS * _eye_width(landmarks))
    radius = int(np.ceil(2 * sigma)) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    # worked out on the features' bounding box grown by the dilation and the blur (a third of
    # the face box): the mask is 0 beyond it, so the blur there is the whole box's
    reach = radius + gaussian_radius(sigma) + 2
    top, left, bottom, right = _support_box(polygons, openings, box, reach)
    x0, y0 = box[:2]
    crop = (slice(top, bottom), slice(left, right))
    local = _fill(polygons, (x0 + left, y0 + top, x0 + right, y0 + bottom))
    mask = np.maximum(local, cv2.dilate(openings[crop], kernel))
    keep = np.zeros(openings.shape, np.float32)
    keep[crop] = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma)
    return keep


def _support_box(
    polygons: list[np.ndarray],
    openings: np.ndarray,
    box: tuple[int, int, int, int],
    margin: float,
) -> tuple[int, int, int, int]:
    """``(top, left, bottom, right)`` within `box` (box-local pixels) holding the ``(K, 2)``
    frame-pixel `polygons` and the set pixels of ``openings (h, w)``, grown by `margin`."""
    height, width = openings.shape
    corners = np.concatenate(polygons) - box[:2]
    x, y, w, h = cv2.boundingRect(openings)
    low = np.minimum(np.floor(corners.min(axis=0)), (x, y)) - np.ceil(margin)
    high = np.maximum(np.ceil(corners.max(axis=0)) + 1, (x + w, y + h)) + np.ceil(margin)
    left, top = np.maximum(low, 0).astype(int)
    right, bottom = np.minimum(high, (width, height)).astype(int)
    return int(top), int(left), int(bottom), int(right)
