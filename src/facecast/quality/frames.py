"""Per-frame measurements of an output against its plate: the record and its pixel metrics.

Everything here works on one frame pair at a time; nothing keeps frames beyond the previous one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from facecast.quality.colour import delta_e_2000, ring_colours, seam_delta_e
from facecast.quality.pixels import luma, mean_abs_change, mean_abs_difference, psnr
from facecast.quality.regions import CLEAR_ALPHA, SOLID_ALPHA, centroid, edge_rings, mask_box

#: Mean RGB difference (levels of 255) inside the face below which the face counts as unchanged.
UNCHANGED_LEVELS = 3.0
#: Fraction of the plate's face a given matte must cover for the face not to count as occluded.
MIN_MATTE_COVERAGE = 0.5
#: Width of the rings compared across the matte edge, as a fraction of the inter-ocular distance.
RING_FRACTION = 0.08
#: Extra margin around a given matte before pixels count as "outside" (fraction of inter-ocular
#: distance, plus `MATTE_MARGIN_PX`).
MATTE_MARGIN_FRACTION, MATTE_MARGIN_PX = 0.1, 4
#: Margin around a face region derived from landmarks (no matte given): generous, since the
#: landmark outline only estimates where a swap may have drawn.
DERIVED_MARGIN_FRACTION = 0.5


@dataclass
class FrameMetrics:
    """Every measurement of one frame; ``None`` where a value could not be measured.

    Distances are dlib descriptor distances; errors are absolute differences output - plate;
    pose values are degrees, expression values are fractions of the inter-ocular distance,
    change values are mean absolute luma differences in levels of 255, ΔE is CIEDE2000.
    """

    index: int
    timecode: str = ""
    #: "measured", "lost" (no face found in the output), "no_face" (none in the plate) or
    #: "not_swapped" (the given matte is empty: the renderer left the frame alone)
    status: str = "no_face"
    #: "occluded" (the matte covers too little of the face), "unchanged" (the face was left
    #: alone), "turned" (head turned beyond `measure.LANDMARK_YAW_LIMIT`: no pose or opening
    #: errors, the readings are kept)
    flags: list[str] = field(default_factory=list)
    face_box: list[float] | None = None
    inter_ocular: float | None = None
    identity_sampled: bool = False
    distance_to_character: float | None = None
    similarity_to_character: float | None = None
    plate_distance_to_character: float | None = None
    distance_to_plate: float | None = None
    distance_to_actor: float | None = None
    similarity_to_plate: float | None = None
    nearest: str | None = None
    retrieved: bool | None = None
    plate_pose: list[float] | None = None
    output_pose: list[float] | None = None
    yaw_error: float | None = None
    pitch_error: float | None = None
    roll_error: float | None = None
    pose_error: float | None = None
    pose_tracking_error: float | None = None
    mouth_plate: float | None = None
    mouth_output: float | None = None
    mouth_error: float | None = None
    eye_plate: float | None = None
    eye_output: float | None = None
    eye_error: float | None = None
    #: the opening errors with the shot's median signed offset removed (`summarise`)
    mouth_following_error: float | None = None
    eye_following_error: float | None = None
    #: the output's eyes / mouth read alone, pasted into the plate (`facecast.quality.local`)
    eye_local_output: float | None = None
    eye_local_error: float | None = None
    mouth_local_output: float | None = None
    mouth_local_error: float | None = None
    change_output: float | None = None
    change_plate: float | None = None
    jitter_output: float | None = None
    jitter_plate: float | None = None
    edge_de_output: float | None = None
    edge_de_plate: float | None = None
    edge_de_excess: float | None = None
    psnr_outside: float | None = None
    matte_coverage: float | None = None
    face_difference: float | None = None
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready form, floats rounded to 5 significant decimals."""
        return {key: _rounded(value) for key, value in asdict(self).items()}


def _rounded(value: object) -> object:
    if isinstance(value, float):
        return round(value, 5)
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


@dataclass(frozen=True)
class FramePair:
    """One output frame with its plate frame and the region where the face is.

    Attributes
    ----------
    output, plate
        ``uint8 RGB (H, W, 3)``.
    alpha
        ``float32 (H, W)`` in [0, 1]: the given matte, or the face region derived from
        landmarks; ``None`` when there is neither.
    face
        ``float32 (H, W)`` in {0, 1}: the hull of the plate face's 68 landmarks (jaw to brows),
        or ``None`` if no face.
    iod
        Inter-ocular distance of the plate face in pixels, or ``None``.
    matte_given
        Whether `alpha` is a matte from the renderer rather than derived from landmarks.
    """

    output: np.ndarray
    plate: np.ndarray
    alpha: np.ndarray | None
    face: np.ndarray | None
    iod: float | None
    matte_given: bool


def pixel_metrics(pair: FramePair, record: FrameMetrics) -> None:
    """Fill PSNR outside the dilated region, edge ΔE, face difference and matte coverage."""
    record.psnr_outside = psnr(pair.output, pair.plate, ~_dilated_region(pair))
    if pair.alpha is None:
        return
    _edge_metrics(pair, record)
    if pair.face is not None:
        inside = pair.face > 0.5
        record.face_difference = mean_abs_difference(pair.output, pair.plate, inside)
        if record.face_difference is not None and record.face_difference < UNCHANGED_LEVELS:
            record.flags.append("unchanged")
        if pair.matte_given:
            record.matte_coverage = float(pair.alpha[inside].mean()) if inside.any() else None
            if record.matte_coverage is not None and record.matte_coverage < MIN_MATTE_COVERAGE:
                record.flags.append("occluded")


def _dilated_region(pair: FramePair) -> np.ndarray:
    """``bool (H, W)``: the region a swap may touch; everything else must equal the plate."""
    if pair.alpha is None:
        return np.zeros(pair.plate.shape[:2], bool)
    iod = pair.iod or 0.05 * min(pair.plate.shape[:2])
    if pair.matte_given:
        radius = MATTE_MARGIN_FRACTION * iod + MATTE_MARGIN_PX
    else:
        radius = DERIVED_MARGIN_FRACTION * iod
    outside = (pair.alpha <= CLEAR_ALPHA).astype(np.uint8)
    return cv2.distanceTransform(outside, cv2.DIST_L2, 3) <= radius


def _edge_metrics(pair: FramePair, record: FrameMetrics) -> None:
    """ΔE00 across the region's edge in output and plate, and the output's seam (`seam_delta_e`)."""
    iod = pair.iod or 0.05 * min(pair.plate.shape[:2])
    width = max(3.0, RING_FRACTION * iod)
    box = mask_box(pair.alpha, width + 2)
    if box is None or not (pair.alpha >= SOLID_ALPHA).any():
        return
    x0, y0, x1, y1 = box
    alpha = pair.alpha[y0:y1, x0:x1]
    inner, outer = edge_rings(alpha, width)
    centre = centroid(alpha)
    out_in, out_out, valid = ring_colours(pair.output[y0:y1, x0:x1], inner, outer, centre)
    plate_in, plate_out, _ = ring_colours(pair.plate[y0:y1, x0:x1], inner, outer, centre)
    if not valid.any():
        return
    record.edge_de_output = float(delta_e_2000(out_in[valid], out_out[valid]).mean())
    record.edge_de_plate = float(delta_e_2000(plate_in[valid], plate_out[valid]).mean())
    record.edge_de_excess = seam_delta_e(
        (out_in[valid], out_out[valid]), (plate_in[valid], plate_out[valid])
    )


def frame_change(pair: FramePair, previous: FramePair | None, record: FrameMetrics) -> None:
    """Fill the frame-to-frame luma change inside the face region, for output and plate."""
    if previous is None or pair.alpha is None:
        return
    region = pair.face if pair.face is not None else pair.alpha
    box = mask_box(region, 0)
    if box is None:
        return
    x0, y0, x1, y1 = box
    where = region[y0:y1, x0:x1] > CLEAR_ALPHA
    crop = np.s_[y0:y1, x0:x1]
    record.change_output = mean_abs_change(
        luma(pair.output[crop]), luma(previous.output[crop]), where
    )
    record.change_plate = mean_abs_change(luma(pair.plate[crop]), luma(previous.plate[crop]), where)
