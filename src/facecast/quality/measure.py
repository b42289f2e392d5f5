"""Stream an output and its plate (and matte) frame by frame and measure every frame.

Only small per-frame numbers are kept, plus the previous frame pair and the last two landmark
sets; memory does not grow with the length of the shot beyond those numbers and one 128-D
descriptor per sampled frame.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facecast.errors import MediaError
from facecast.media import ShotInfo, open_plate, to_uint8
from facecast.media.aspect import chosen_pixel_aspect, square_view
from facecast.media.timecode import timecode
from facecast.quality.dlibface import (
    DlibFace,
    QualityModels,
    descriptor,
    detect_faces,
    detect_near,
    landmarks,
    near_scale,
)
from facecast.quality.frames import FrameMetrics, FramePair, frame_change, pixel_metrics
from facecast.quality.geometry import (
    angle_difference,
    eye_opening,
    head_pose,
    inter_ocular,
    mouth_opening,
)
from facecast.quality.identity import IdentityReferences, Person, cosine_similarity, distance_to
from facecast.quality.local import local_openings
from facecast.quality.regions import face_hull, face_outline, mask_box, polygon_mask

#: Shots up to this many frames get an identity descriptor on every frame; longer shots are
#: sampled every ``ceil(frames / MAX_IDENTITY_SAMPLES)`` frames (see `default_stride`).
MAX_IDENTITY_SAMPLES = 240
#: Mean matte alpha inside a plate face's box for that face to count as the swapped one.
MIN_MATTE_IN_BOX = 0.05
#: Name of the actor (the plate's own face) among the retrieval candidates.
ACTOR = "actor (plate face)"
#: Head yaw (degrees from facing the camera, the plate face's, read by dlib) beyond which the
#: pose and opening errors are not measured: the frame is flagged ``"turned"``. dlib's 68-point
#: model places a turned face's far side from what it can hardly see; moving the frame by a
#: quarter or half pixel, or softening it like a codec, moves its readings by a mean 0.0015-0.002
#: (eye), 0.002-0.003 (mouth) inter-ocular distances and 0.3-0.4 degrees below 25 degrees of
#: yaw, but 0.008-0.011, 0.009-0.016 and 1.5-2.0 degrees beyond 35 (benchmarks/measurer_yaw.py,
#: tears_of_steel_10s and weekly_address_clip1/3): there the reader's own noise is the eye
#: target (0.008), so it cannot tell a swap that meets the targets from one that does not.
LANDMARK_YAW_LIMIT = 30.0


@dataclass
class ShotMeasurement:
    """The per-frame measurements of one shot and what they were measured against.

    Attributes
    ----------
    frames
        One `FrameMetrics` per compared frame, in order.
    plate, output
        Descriptions of the two shots (``frame_count`` is what their headers promise).
    references
        The character and gallery the faces were compared with.
    stride
        Identity descriptors were computed on frames whose index is a multiple of `stride`.
    matte
        The matte file used for the face region, or ``None`` when it was derived from landmarks.
    actor
        The plate face's mean descriptor (a retrieval candidate), ``None`` if no face was seen.
    max_frames
        The frame limit the shot was measured with, if any.
    """

    frames: list[FrameMetrics]
    plate: ShotInfo
    output: ShotInfo
    references: IdentityReferences
    stride: int
    matte: Path | None = None
    actor: Person | None = None
    max_frames: int | None = None


@dataclass
class _Track:
    """What the loop carries from one frame to the next."""

    plate_box: np.ndarray | None = None
    scale: float = 1.0
    previous: FramePair | None = None
    plate_points: deque = field(default_factory=lambda: deque(maxlen=2))
    output_points: deque = field(default_factory=lambda: deque(maxlen=2))
    plate_descriptors: list[np.ndarray] = field(default_factory=list)
    output_descriptors: dict[int, np.ndarray] = field(default_factory=dict)


def default_stride(frame_count: int) -> int:
    """Every frame for shots up to `MAX_IDENTITY_SAMPLES` frames, evenly sampled beyond."""
    return max(1, math.ceil(frame_count / MAX_IDENTITY_SAMPLES))


def measure_shot(
    output: Path,
    plate: Path,
    references: IdentityReferences,
    models: QualityModels,
    *,
    matte: Path | None = None,
    stride: int | None = None,
    max_frames: int | None = None,
    on_frame: Callable[[int], None] | None = None,
    pixel_aspect: float | None = None,
) -> ShotMeasurement:
    """Measure every frame of `output` against `plate`.

    Parameters
    ----------
    output, plate
        Video files or image-sequence folders of the same frame size.
    references
        From `facecast.quality.identity.load_references`.
    models
        From `facecast.quality.dlibface.load_quality_models`.
    matte
        Video or image sequence whose first channel is the swap's alpha (0 = plate, 255 =
        replaced). Without it the face region is the landmark outline of plate and output.
    stride
        Compute identity descriptors every `stride` frames (default `default_stride`).
    max_frames
        Measure only the first `max_frames` frames.
    on_frame
        Called with each frame index after it is measured (progress display).
    pixel_aspect
        Width over height of a stored pixel (default: the plate's own). Plate, output and matte
        are measured in square pixels (an anamorphic plate's faces unsqueezed), and every box
        and landmark of the records is in those pixels.

    Raises
    ------
    MediaError
        If a file cannot be read or the frame sizes differ.
    """
    plate_shot, output_shot = open_plate(plate), open_plate(output)
    aspect = chosen_pixel_aspect(plate_shot.info, pixel_aspect)
    plate_shot, output_shot = square_view(plate_shot, aspect), square_view(output_shot, aspect)
    _check_same_size(output_shot.info, plate_shot.info)
    stride = stride or default_stride(min(plate_shot.info.frame_count, max_frames or 1 << 62))
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    track, records = _Track(), []
    matte_shot = None if matte is None else square_view(open_plate(matte), aspect)
    frames = _frames(output_shot, plate_shot, matte_shot)
    for index, (out, pla, alpha) in enumerate(frames):
        if max_frames is not None and index >= max_frames:
            break
        record = FrameMetrics(index, timecode(index, plate_shot.info.fps, plate_shot.info.timecode))
        _measure_frame(models, references, track, record, out, pla, alpha, index % stride == 0)
        records.append(record)
        if on_frame is not None:
            on_frame(index)
    actor = _retrieval(records, track, references)
    return ShotMeasurement(
        records, plate_shot.info, output_shot.info, references, stride, matte, actor, max_frames
    )


def _check_same_size(output: ShotInfo, plate: ShotInfo) -> None:
    if (output.width, output.height) != (plate.width, plate.height):
        raise MediaError(
            f"is {output.width}x{output.height} but the plate is {plate.width}x{plate.height}",
            output.path,
        )


def _frames(output_shot, plate_shot, matte_shot) -> Iterator[tuple]:
    """Yield ``(output, plate, alpha)``: ``uint8`` RGB frames and a ``float32`` matte or None."""
    outputs = (to_uint8(f) for f in output_shot.frames())
    plates = (to_uint8(f) for f in plate_shot.frames())
    if matte_shot is None:
        for out, pla in zip(outputs, plates, strict=False):
            yield out, pla, None
        return
    if (matte_shot.info.width, matte_shot.info.height) != (
        plate_shot.info.width,
        plate_shot.info.height,
    ):
        raise MediaError(
            f"matte is {matte_shot.info.width}x{matte_shot.info.height} but the plate is "
            f"{plate_shot.info.width}x{plate_shot.info.height}",
            matte_shot.info.path,
        )
    alphas = (to_uint8(f)[..., 0].astype(np.float32) / 255.0 for f in matte_shot.frames())
    yield from zip(outputs, plates, alphas, strict=False)


def _measure_frame(
    models: QualityModels,
    references: IdentityReferences,
    track: _Track,
    record: FrameMetrics,
    output: np.ndarray,
    plate: np.ndarray,
    matte: np.ndarray | None,
    sample_identity: bool,
) -> None:
    """Measure one frame pair into `record`, updating `track`.

    A frame whose given matte is empty was left alone by the renderer (no tracked face, or a
    face it was not asked to swap): its faces are not the swap's, so only the pixels outside
    are measured and the status is ``"not_swapped"``.
    """
    if matte is not None and mask_box(matte, 0) is None:
        record.status = "not_swapped"
        track.plate_box = track.previous = None
        pixel_metrics(_frame_pair(output, plate, matte, None, None), record)
        _geometry(None, None, plate.shape, record, track)
        return
    plate_face, output_face = _find_faces(models, plate, output, track, matte)
    if plate_face is not None:
        record.status = "measured" if output_face is not None else "lost"
        record.face_box = [float(v) for v in plate_face.box]
        record.inter_ocular = inter_ocular(plate_face.points)
    pair = _frame_pair(output, plate, matte, plate_face, output_face)
    pixel_metrics(pair, record)
    frame_change(pair, track.previous, record)
    track.previous = pair
    _geometry(plate_face, output_face, plate.shape, record, track)
    if output_face is not None and "turned" not in record.flags:
        _local_openings(models, plate, output, plate_face, record)
    if sample_identity:
        _identity(models, references, track, record, output, plate, plate_face, output_face)


def _find_faces(
    models: QualityModels,
    plate: np.ndarray,
    output: np.ndarray,
    track: _Track,
    matte: np.ndarray | None,
) -> tuple[DlibFace | None, DlibFace | None]:
    """The tracked face in the plate and the same face in the output.

    Both are found by the same search around the same guide box (the last frame's plate face,
    else a fresh whole-frame detection), so identical faces get identical landmarks.
    """
    guide, plate_box = _plate_face_box(models, plate, track, matte)
    track.plate_box = plate_box
    if plate_box is None:
        return None, None
    output_box = detect_near(models, output, guide, track.scale)
    plate_face = landmarks(models, plate, plate_box)
    output_face = None if output_box is None else landmarks(models, output, output_box)
    return plate_face, output_face


def _plate_face_box(
    models: QualityModels, plate: np.ndarray, track: _Track, matte: np.ndarray | None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(guide, box)`` of the plate face to follow; ``(None, None)`` when there is none.

    The last frame's face is searched for near its box first. With a matte, only a face the
    matte touches is accepted, so a shot with several faces follows the swapped one even when
    it is too small for the whole-frame scan (it is then looked for in the matte's box).
    """
    wanted = None if matte is None else mask_box(matte, 0)

    def swapped(box: np.ndarray) -> bool:
        return wanted is None or _box_mean(matte, box) >= MIN_MATTE_IN_BOX

    if track.plate_box is not None:
        box = detect_near(models, plate, track.plate_box, track.scale)
        if box is not None and swapped(box):
            return track.plate_box, box
    candidates = [box for box in detect_faces(models, plate) if swapped(box)]
    if not candidates and wanted is not None:
        region = np.float32(wanted)
        box = detect_near(models, plate, region, near_scale(region))
        candidates = [] if box is None or not swapped(box) else [box]
    if not candidates:
        return None, None
    guide = _pick_face(np.stack(candidates), matte)
    track.scale = near_scale(guide)
    box = detect_near(models, plate, guide, track.scale)
    return guide, guide if box is None else box


def _pick_face(boxes: np.ndarray, matte: np.ndarray | None) -> np.ndarray:
    """The face the matte covers most, else the largest (`boxes` come largest first)."""
    if matte is None:
        return boxes[0]
    cover = [_box_mean(matte, box) for box in boxes]
    return boxes[int(np.argmax(cover))] if max(cover) > 0 else boxes[0]


def _box_mean(image: np.ndarray, box: np.ndarray) -> float:
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    crop = image[y0 : max(y0, int(box[3])), x0 : max(x0, int(box[2]))]
    return float(crop.mean()) if crop.size else 0.0


def _frame_pair(
    output: np.ndarray,
    plate: np.ndarray,
    matte: np.ndarray | None,
    plate_face: DlibFace | None,
    output_face: DlibFace | None,
) -> FramePair:
    """The face (68-point hull) and the swap region: the matte, else both faces' outlines."""
    face = alpha = None
    if plate_face is not None:
        face = polygon_mask(face_hull(plate_face.points), plate.shape)
        alpha = polygon_mask(face_outline(plate_face.points), plate.shape)
        if output_face is not None:
            outline = polygon_mask(face_outline(output_face.points), plate.shape)
            alpha = np.maximum(alpha, outline)
    alpha = alpha if matte is None else matte
    iod = None if plate_face is None else inter_ocular(plate_face.points)
    return FramePair(output, plate, alpha, face, iod, matte is not None)


def _geometry(
    plate_face: DlibFace | None,
    output_face: DlibFace | None,
    shape: tuple[int, ...],
    record: FrameMetrics,
    track: _Track,
) -> None:
    """Pose, expression and landmark jitter of a frame where both faces were found.

    Every reading is kept; the pose and opening errors are left out (``None``) when the plate's
    head is turned beyond `LANDMARK_YAW_LIMIT` (the frame is flagged ``"turned"``).
    """
    if plate_face is None or output_face is None:
        track.plate_points.clear()
        track.output_points.clear()
        return
    height, width = shape[:2]
    plate_pose = head_pose(plate_face.points, width, height)
    output_pose = head_pose(output_face.points, width, height)
    record.plate_pose, record.output_pose = plate_pose.tolist(), output_pose.tolist()
    record.mouth_plate, record.mouth_output = (
        mouth_opening(f.points) for f in (plate_face, output_face)
    )
    record.eye_plate, record.eye_output = (eye_opening(f.points) for f in (plate_face, output_face))
    if abs(float(plate_pose[0])) > LANDMARK_YAW_LIMIT:
        record.flags.append("turned")
    else:
        errors = angle_difference(output_pose, plate_pose)
        record.yaw_error, record.pitch_error, record.roll_error = (float(e) for e in errors)
        record.pose_error = float(np.linalg.norm(errors))
        record.mouth_error = abs(record.mouth_output - record.mouth_plate)
        record.eye_error = abs(record.eye_output - record.eye_plate)
    iod = inter_ocular(plate_face.points)
    record.jitter_plate = _jitter(track.plate_points, plate_face.points, iod)
    record.jitter_output = _jitter(track.output_points, output_face.points, iod)


def _local_openings(
    models: QualityModels,
    plate: np.ndarray,
    output: np.ndarray,
    plate_face: DlibFace,
    record: FrameMetrics,
) -> None:
    """Eye and mouth opening errors of the output's features read alone in the plate's face
    (`facecast.quality.local`): free of the rest of the character's face moving the reader."""
    eye, mouth = local_openings(models, plate, output, plate_face)
    record.eye_local_output, record.mouth_local_output = eye, mouth
    record.eye_local_error = abs(eye - record.eye_plate)
    record.mouth_local_error = abs(mouth - record.mouth_plate)


def _jitter(history: deque, points: np.ndarray, iod: float) -> float | None:
    """Mean size of the landmarks' second difference in time, over the inter-ocular distance.

    `history` holds the points of the previous frames (only consecutive ones) and is updated.
    """
    value = None
    if len(history) == 2:
        acceleration = points - 2 * history[1] + history[0]
        value = float(np.linalg.norm(acceleration, axis=1).mean() / iod)
    history.append(points)
    return value


def _identity(
    models: QualityModels,
    references: IdentityReferences,
    track: _Track,
    record: FrameMetrics,
    output: np.ndarray,
    plate: np.ndarray,
    plate_face: DlibFace | None,
    output_face: DlibFace | None,
) -> None:
    """Descriptor distances of the plate face and output face to the character and each other."""
    if plate_face is None:
        return
    record.identity_sampled = True
    character = references.character
    plate_vector = descriptor(models, plate, plate_face)
    track.plate_descriptors.append(plate_vector)
    record.plate_distance_to_character = float(distance_to(character, plate_vector)[0])
    if output_face is None:
        return
    vector = descriptor(models, output, output_face)
    track.output_descriptors[record.index] = vector
    record.distance_to_character = float(distance_to(character, vector)[0])
    record.similarity_to_character = max(
        cosine_similarity(vector, r) for r in character.descriptors
    )
    record.distance_to_plate = float(np.linalg.norm(vector - plate_vector))
    record.similarity_to_plate = cosine_similarity(vector, plate_vector)


def _retrieval(
    records: list[FrameMetrics], track: _Track, references: IdentityReferences
) -> Person | None:
    """Fill `nearest` and `retrieved` for every frame with an output descriptor.

    The candidates are the character, the actor (mean descriptor of the plate's face over the
    shot) and the gallery people; the output face is retrieved when the character is nearest.
    """
    if not track.plate_descriptors:
        return None
    actor = Person(ACTOR, np.mean(track.plate_descriptors, axis=0, keepdims=True))
    candidates = [references.character, actor, *references.gallery]
    if not track.output_descriptors:
        return actor
    indices = sorted(track.output_descriptors)
    vectors = np.stack([track.output_descriptors[i] for i in indices])
    table = np.stack([distance_to(p, vectors) for p in candidates], axis=1)
    for row, index in zip(table, indices, strict=True):
        best = int(np.argmin(row))
        records[index].distance_to_actor = float(row[1])
        records[index].nearest = candidates[best].name
        records[index].retrieved = best == 0
    return actor
