"""From per-frame numbers to a shot verdict: thresholds, pass/warn/fail, problem frames.

Every threshold is data in `THRESHOLDS`, with where it comes from; the report prints them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from facecast.quality.frames import FrameMetrics
from facecast.quality.geometry import angle_difference
from facecast.quality.identity import SAME_PERSON_DISTANCE, UNCHANGED_DISTANCE
from facecast.quality.measure import LANDMARK_YAW_LIMIT, ShotMeasurement

PASS, WARN, FAIL, NA = "pass", "warn", "fail", "n/a"
_RANK = {NA: -1, PASS: 0, WARN: 1, FAIL: 2}


@dataclass(frozen=True)
class Threshold:
    """How one shot metric is judged.

    A value passes at or better than `good`, warns at or better than `bad`, fails beyond it.
    Per frame, a value beyond `bad` marks the frame as a problem with code `problem`.
    """

    key: str
    label: str
    unit: str
    good: float
    bad: float
    higher_is_better: bool
    problem: str
    source: str
    meaning: str

    def judge(self, value: float | None) -> str:
        """``"pass"``, ``"warn"``, ``"fail"``, or ``"n/a"`` for a missing value."""
        if value is None or not np.isfinite(value):
            return NA
        sign = -1.0 if self.higher_is_better else 1.0
        if sign * value <= sign * self.good:
            return PASS
        return WARN if sign * value <= sign * self.bad else FAIL


MOUTH_TARGET = Threshold(
    key="mouth_error",
    label="Mouth opening error",
    unit="IOD",
    good=0.02,
    bad=0.04,
    higher_is_better=False,
    problem="mouth",
    source="issue 3 target (<= 0.02)",
    meaning="Mean |mouth opening output - plate| over the inter-ocular distance.",
)
EYE_TARGET = Threshold(
    key="eye_error",
    label="Eye opening error",
    unit="IOD",
    good=0.008,
    bad=0.016,
    higher_is_better=False,
    problem="eyes",
    source="issue 3 target (<= 0.008)",
    meaning="Mean |eye opening output - plate| over the inter-ocular distance.",
)


def _own_bound(target: Threshold, key: str, label: str, meaning: str) -> Threshold:
    """A diagnostic reading of `target`'s quantity held to the target's bounds (no problem
    code of its own: the target's already marks the frames)."""
    feature = target.key.removesuffix("_error")
    return replace(
        target,
        key=key,
        label=label,
        problem="",
        source=f"facecast's own bound (the {feature} target's)",
        meaning=meaning,
    )


THRESHOLDS: tuple[Threshold, ...] = (
    Threshold(
        key="retrieval_rate",
        label="Identity retrieval",
        unit="%",
        good=0.95,
        bad=0.80,
        higher_is_better=True,
        problem="identity",
        source="issue 3 target (>= 95%)",
        meaning="Share of sampled frames whose output face is nearest to the character among "
        "the character, the actor and the gallery (dlib descriptor).",
    ),
    Threshold(
        key="distance_to_character",
        label="Distance to character",
        unit="dlib",
        good=SAME_PERSON_DISTANCE,
        bad=0.70,
        higher_is_better=False,
        problem="",
        source="dlib same-person tolerance (0.6)",
        meaning="Mean dlib descriptor distance of the output face to the nearest reference photo.",
    ),
    Threshold(
        key="pose_error",
        label="Pose error",
        unit="deg",
        good=3.0,
        bad=6.0,
        higher_is_better=False,
        problem="pose",
        source="published one-shot swappers: 1.2-3 deg",
        meaning="Mean |yaw, pitch, roll| difference (vector length) between plate and output "
        "head pose, from dlib 68 landmarks + solvePnP.",
    ),
    Threshold(
        key="pose_tracking_error",
        label="Pose tracking error",
        unit="deg",
        good=3.0,
        bad=6.0,
        higher_is_better=False,
        problem="",
        source="facecast's own bound",
        meaning="Pose error after removing the shot's median yaw/pitch/roll offset: how well "
        "the output follows the head's motion. A character's different proportions bias "
        "landmark pose by a constant amount, which this leaves out (the offset is in the notes).",
    ),
    MOUTH_TARGET,
    EYE_TARGET,
    _own_bound(
        MOUTH_TARGET,
        "mouth_following_error",
        "Mouth following error",
        "Mouth opening error after removing the shot's median signed offset: how well "
        "the output's mouth follows the actor's as it opens and closes. The landmark reader "
        "can place a character's lips a constant amount higher or lower than an actor's on "
        "the same opening; this leaves that out (the offset is in the notes).",
    ),
    _own_bound(
        EYE_TARGET,
        "eye_following_error",
        "Eye following error",
        "Eye opening error after removing the shot's median signed offset: how well "
        "the output's eyes follow the actor's blinks and squints. A character's lids and brows "
        "around the actor's eyes move the landmark reader by a constant amount, which this "
        "leaves out (the offset is in the notes).",
    ),
    _own_bound(
        MOUTH_TARGET,
        "mouth_local_error",
        "Mouth error, read alone",
        "Mouth opening error with only the output's mouth region pasted into the plate "
        "frame: the landmark reader places every point from the whole face, so the "
        "character's nose and cheeks move its lip points; this reading leaves them out "
        "and shows what the swap did to the mouth itself.",
    ),
    _own_bound(
        EYE_TARGET,
        "eye_local_error",
        "Eye error, read alone",
        "Eye opening error with only the output's eye regions (lids and lashes, not "
        "the brows) pasted into the plate frame: the character's brows, nose and cheeks "
        "around the actor's eyes move the landmark reader's lid points; this reading leaves "
        "them out and shows what the swap did to the eyes themselves.",
    ),
    Threshold(
        key="stability_ratio",
        label="Temporal stability",
        unit="ratio",
        good=1.10,
        bad=1.30,
        higher_is_better=False,
        problem="flicker",
        source="issue 3 target (<= 1.1)",
        meaning="Frame-to-frame luma change inside the face, output over plate (1.0 = as "
        "stable as the original footage).",
    ),
    Threshold(
        key="jitter_ratio",
        label="Landmark jitter",
        unit="ratio",
        good=1.20,
        bad=1.50,
        higher_is_better=False,
        problem="",
        source="facecast's own bound",
        meaning="Mean landmark acceleration (second difference in time) of the output face over "
        "the plate face's.",
    ),
    Threshold(
        key="edge_de_excess",
        label="Seam colour (ΔE00)",
        unit="ΔE",
        good=3.0,
        bad=6.0,
        higher_is_better=False,
        problem="seam",
        source="issue 3 target (<= 3)",
        meaning="Colour step across the matte edge (rings inside and outside, 16 sectors) "
        "beyond the plate's own step there: mean CIEDE2000 of the output's inside colour vs "
        "its outside colour plus the plate's inside-outside difference.",
    ),
    Threshold(
        key="psnr_outside",
        label="Untouched pixels (PSNR)",
        unit="dB",
        good=40.0,
        bad=35.0,
        higher_is_better=True,
        problem="background",
        source="issue 3 target (>= 40 dB)",
        meaning="Worst frame's PSNR outside the dilated face region (100 = identical).",
    ),
    Threshold(
        key="face_coverage",
        label="Face kept",
        unit="%",
        good=0.95,
        bad=0.80,
        higher_is_better=True,
        problem="",
        source="issue 3 (face replaced in >= 95% of tracked frames)",
        meaning="Share of frames with a plate face where the output face is found too (not lost).",
    ),
)


def summarise(shot: ShotMeasurement) -> dict:
    """Shot summary: metric values with verdicts, identity verdict, frame counts, problems.

    Also fills each frame's ``problems`` list.

    Returns
    -------
    dict
        JSON-ready; see the report's documentation in `facecast.quality.report`.
    """
    frames = shot.frames
    offset = pose_offset(frames)
    for record in frames:
        if offset is not None and record.pose_error is not None:
            signed = np.subtract(record.output_pose, record.plate_pose) - offset
            record.pose_tracking_error = float(np.linalg.norm((signed + 180) % 360 - 180))
        record.problems = frame_problems(record)
    openings = remove_opening_offsets(frames)
    values, counts = shot_values(frames), shot_frame_counts(frames)
    metrics = [_metric_row(t, values.get(t.key), counts.get(t.key, 0)) for t in THRESHOLDS]
    metrics.append(_frame_count_row(shot))
    status = max((m["status"] for m in metrics), key=_RANK.__getitem__)
    identity = identity_verdict(frames, shot.references.character.name)
    return {
        "status": PASS if status == NA else status,
        "identity": identity,
        "metrics": metrics,
        "frames": _frame_counts(shot),
        "problem_frames": [
            {"frame": r.index, "timecode": r.timecode, "problems": r.problems}
            for r in frames
            if r.problems
        ],
        "worst_frames": ranked_frames(frames, worst=True),
        "best_frames": ranked_frames(frames, worst=False),
        "notes": _notes(shot) + _pose_note(offset) + _opening_note(openings),
        "offsets": {
            "pose": None if offset is None else [float(v) for v in offset],
            **openings,
        },
    }


def pose_offset(frames: list[FrameMetrics]) -> np.ndarray | None:
    """``float64 (3,)`` median signed yaw, pitch, roll difference output - plate, in degrees."""
    pairs = [(r.output_pose, r.plate_pose) for r in frames if r.pose_error is not None]
    if not pairs:
        return None
    signed = np.array([np.subtract(out, plate) for out, plate in pairs], float)
    return np.median((signed + 180) % 360 - 180, axis=0)


def _pose_note(offset: np.ndarray | None) -> list[str]:
    if offset is None:
        return []
    yaw, pitch, roll = offset
    return [
        f"Median pose offset output - plate: yaw {yaw:+.1f}, pitch {pitch:+.1f}, roll "
        f"{roll:+.1f} deg (constant offsets often come from the character's proportions)"
    ]


def remove_opening_offsets(frames: list[FrameMetrics]) -> dict[str, float]:
    """Fill each frame's mouth and eye following errors; return the median signed offsets
    output - plate (``{"mouth": ..., "eye": ...}``, only those measured somewhere)."""
    offsets = {}
    for name in ("mouth", "eye"):
        pairs = [
            (getattr(r, f"{name}_output"), getattr(r, f"{name}_plate"))
            for r in frames
            if getattr(r, f"{name}_error") is not None
        ]
        if not pairs:
            continue
        offsets[name] = float(np.median([out - plate for out, plate in pairs]))
        for record in frames:
            if getattr(record, f"{name}_error") is not None:
                signed = getattr(record, f"{name}_output") - getattr(record, f"{name}_plate")
                setattr(record, f"{name}_following_error", abs(signed - offsets[name]))
    return offsets


def _opening_note(offsets: dict[str, float]) -> list[str]:
    if not offsets:
        return []
    parts = [f"{name} {value:+.4f}" for name, value in offsets.items()]
    return [
        f"Median opening offset output - plate (inter-ocular distances): {', '.join(parts)} "
        "(a constant offset is the landmark reader placing the character's lids or lips "
        "differently on the same opening; the following errors leave it out)"
    ]


#: Metrics that are the mean of a per-frame value, with how to read it off a frame.
_MEAN_OF: dict[str, Callable[[FrameMetrics], float | None]] = {
    "retrieval_rate": lambda r: None if r.retrieved is None else float(r.retrieved),
    "distance_to_character": lambda r: r.distance_to_character,
    "pose_error": lambda r: r.pose_error,
    "pose_tracking_error": lambda r: r.pose_tracking_error,
    "mouth_error": lambda r: r.mouth_error,
    "eye_error": lambda r: r.eye_error,
    "mouth_following_error": lambda r: r.mouth_following_error,
    "eye_following_error": lambda r: r.eye_following_error,
    "mouth_local_error": lambda r: r.mouth_local_error,
    "eye_local_error": lambda r: r.eye_local_error,
    "edge_de_excess": lambda r: r.edge_de_excess,
}
#: Metrics that are a ratio of two per-frame sums (output over plate).
_RATIO_OF: dict[str, tuple[Callable, Callable]] = {
    "stability_ratio": (lambda r: r.change_output, lambda r: r.change_plate),
    "jitter_ratio": (lambda r: r.jitter_output, lambda r: r.jitter_plate),
}


def shot_values(frames: list[FrameMetrics]) -> dict[str, float | None]:
    """Shot-level value of every metric in `THRESHOLDS` (``None`` where nothing was measured)."""
    measured = sum(r.status == "measured" for r in frames)
    lost = sum(r.status == "lost" for r in frames)
    return {
        **{key: _mean(frames, get) for key, get in _MEAN_OF.items()},
        **{key: _ratio(frames, top, bottom) for key, (top, bottom) in _RATIO_OF.items()},
        "psnr_outside": _min(frames, lambda r: r.psnr_outside),
        "face_coverage": measured / (measured + lost) if measured + lost else None,
    }


def shot_frame_counts(frames: list[FrameMetrics]) -> dict[str, int]:
    """How many frames each metric of `shot_values` was worked out from."""
    return {
        **{key: len(_values(frames, get)) for key, get in _MEAN_OF.items()},
        **{
            key: sum(top(r) is not None and bottom(r) is not None for r in frames)
            for key, (top, bottom) in _RATIO_OF.items()
        },
        "psnr_outside": len(_values(frames, lambda r: r.psnr_outside)),
        "face_coverage": sum(r.status in ("measured", "lost") for r in frames),
    }


def frame_problems(record: FrameMetrics) -> list[str]:
    """Problem codes of one frame: its status/flags and every per-frame value beyond `bad`."""
    problems = [code for code in ("lost",) if record.status == code]
    problems += [flag for flag in ("occluded", "unchanged") if flag in record.flags]
    if record.retrieved is False:
        problems.append("identity")
    tracking = record.pose_tracking_error
    per_frame = {
        "pose": record.pose_error if tracking is None else tracking,
        "mouth": record.mouth_error,
        "eyes": record.eye_error,
        "seam": record.edge_de_excess,
        "background": record.psnr_outside,
    }
    for threshold in THRESHOLDS:
        value = per_frame.get(threshold.problem)
        if value is not None and threshold.judge(value) == FAIL:
            problems.append(threshold.problem)
    if _flickers(record):
        problems.append("flicker")
    return problems


def _flickers(record: FrameMetrics) -> bool:
    """Output changed from the previous frame much more than the plate (and by > 1 level)."""
    if record.change_output is None or record.change_plate is None:
        return False
    limit = next(t.bad for t in THRESHOLDS if t.key == "stability_ratio")
    excess = record.change_output - record.change_plate
    return excess > max(1.0, (limit - 1.0) * record.change_plate)


def identity_verdict(frames: list[FrameMetrics], character: str) -> dict:
    """Did the face's identity change, and to whom? Plain words plus the numbers behind them."""
    to_plate = [r.distance_to_plate for r in frames if r.distance_to_plate is not None]
    pairs = [
        (r.distance_to_character, r.distance_to_actor)
        for r in frames
        if r.distance_to_character is not None and r.distance_to_actor is not None
    ]
    numbers = {
        "distance_to_character": _mean(frames, lambda r: r.distance_to_character),
        "plate_distance_to_character": _mean(frames, lambda r: r.plate_distance_to_character),
        "median_distance_to_plate": float(np.median(to_plate)) if to_plate else None,
        "closer_to_character_than_actor": (
            float(np.mean([c < a for c, a in pairs])) if pairs else None
        ),
    }
    if not to_plate:
        return {
            "verdict": "not measured",
            "text": "no frame had a face in both plate and output",
            **numbers,
        }
    if numbers["median_distance_to_plate"] < UNCHANGED_DISTANCE:
        return {
            "verdict": "unchanged",
            "text": "identity did not change: the output face is the plate's own face",
            **numbers,
        }
    share = numbers["closer_to_character_than_actor"] or 0.0
    if share >= 0.5:
        text = (
            f"identity changed to {character} (closer to the character than to the actor "
            f"in {share:.0%} of sampled frames)"
        )
        return {"verdict": "character", "text": text, **numbers}
    text = (
        f"identity changed, but not to {character} (closer to the character than to the "
        f"actor in only {share:.0%} of sampled frames)"
    )
    return {"verdict": "other", "text": text, **numbers}


def frame_badness(record: FrameMetrics) -> float | None:
    """How far a frame is from the targets: the largest value/target ratio (1 = on target)."""
    limits = {t.key: t.good for t in THRESHOLDS}
    ratios = [
        value / limits[key]
        for key, value in (
            ("distance_to_character", record.distance_to_character),
            ("pose_tracking_error", record.pose_tracking_error),
            ("mouth_error", record.mouth_error),
            ("eye_error", record.eye_error),
            ("edge_de_excess", record.edge_de_excess),
        )
        if value is not None
    ]
    if record.psnr_outside is not None:
        ratios.append(limits["psnr_outside"] / max(record.psnr_outside, 1e-6))
    if record.status != "measured" or not ratios:
        return None
    return float(max(ratios))


def ranked_frames(frames: list[FrameMetrics], worst: bool, count: int = 3) -> list[int]:
    """Indices of the `count` worst (or best) measured frames by `frame_badness`.

    Picks lie at least 1/20 of the shot apart, so they show different moments.
    """
    scored = [(frame_badness(r), r.index) for r in frames]
    scored = [(s, i) for s, i in scored if s is not None]
    scored.sort(key=lambda pair: (-pair[0], pair[1]) if worst else pair)
    gap = max(1, len(frames) // 20)
    picks: list[int] = []
    for _, index in scored:
        if all(abs(index - p) >= gap for p in picks):
            picks.append(index)
        if len(picks) == count:
            break
    return picks


def _metric_row(threshold: Threshold, value: float | None, frames: int) -> dict:
    return {
        "key": threshold.key,
        "label": threshold.label,
        "value": None if value is None else round(float(value), 5),
        "frames": frames,
        "unit": threshold.unit,
        "status": threshold.judge(value),
        "pass_if": f"{'>=' if threshold.higher_is_better else '<='} {threshold.good:g}",
        "warn_if": f"{'>=' if threshold.higher_is_better else '<='} {threshold.bad:g}",
        "source": threshold.source,
        "meaning": threshold.meaning,
    }


def _frame_count_row(shot: ShotMeasurement) -> dict:
    same = shot.output.frame_count == shot.plate.frame_count
    return {
        "key": "frame_count",
        "label": "Frame count",
        "value": shot.output.frame_count,
        "unit": "frames",
        "frames": len(shot.frames),
        "status": PASS if same else FAIL,
        "pass_if": f"== {shot.plate.frame_count} (the plate's)",
        "warn_if": "",
        "source": "issue 3 (frame count equal)",
        "meaning": "Frames in the output; must equal the plate's.",
    }


def _frame_counts(shot: ShotMeasurement) -> dict:
    frames = shot.frames
    return {
        "plate": shot.plate.frame_count,
        "output": shot.output.frame_count,
        "compared": len(frames),
        "measured": sum(r.status == "measured" for r in frames),
        "lost": sum(r.status == "lost" for r in frames),
        "no_face": sum(r.status == "no_face" for r in frames),
        "not_swapped": sum(r.status == "not_swapped" for r in frames),
        "occluded": sum("occluded" in r.flags for r in frames),
        "unchanged": sum("unchanged" in r.flags for r in frames),
        "turned": sum("turned" in r.flags for r in frames),
        "identity_sampled": sum(r.identity_sampled for r in frames),
        "identity_skipped": sum(
            r.status in ("measured", "lost") and not r.identity_sampled for r in frames
        ),
        "stride": shot.stride,
    }


def _notes(shot: ShotMeasurement) -> list[str]:
    refs = shot.references
    notes = [
        f"Identity measured every {shot.stride} frame(s)"
        + (" (sampled: long shot)" if shot.stride > 1 else " (every frame)"),
        f"Retrieval candidates: the character ({len(refs.character.descriptors)} ref photos), "
        f"the actor (mean plate face) and {len(refs.gallery)} gallery people",
        f"Face region: the matte {shot.matte}"
        if shot.matte
        else "Face region: derived from dlib landmarks of plate and output (outline + forehead); "
        "no matte given, so seam and untouched-pixel values are estimates",
        "Pose, expression and identity use dlib (independent of the engine's mediapipe mesh)",
    ]
    if shot.matte is None:
        notes.append("Occlusion is judged from the matte's coverage; without a matte it is not")
    notes += [f"Skipped photo {s}" for s in refs.skipped]
    expected = min(shot.output.frame_count, shot.plate.frame_count, shot.max_frames or 1 << 62)
    if shot.output.frame_count != shot.plate.frame_count:
        notes.append(
            f"Output has {shot.output.frame_count} frames, plate {shot.plate.frame_count}; "
            f"compared the first {len(shot.frames)}"
        )
    elif len(shot.frames) < expected:
        notes.append(
            f"Only {len(shot.frames)} of {expected} frames could be compared "
            "(the matte or a shot ended early)"
        )
    if shot.max_frames is not None:
        notes.append(f"Measured the first {shot.max_frames} frames only (--frames)")
    return notes + _turned_note(shot.frames)


def _turned_note(frames: list[FrameMetrics]) -> list[str]:
    """Why frames with the head turned away are missing from the pose and opening metrics,
    with what the readings there would have said."""
    turned = [r for r in frames if "turned" in r.flags]
    if not turned:
        return []
    faced = sum(r.plate_pose is not None for r in frames)
    pose = np.mean([np.linalg.norm(angle_difference(r.output_pose, r.plate_pose)) for r in turned])
    mouth = np.mean([abs(r.mouth_output - r.mouth_plate) for r in turned])
    eye = np.mean([abs(r.eye_output - r.eye_plate) for r in turned])
    return [
        f"{len(turned)} of {faced} frames with both faces have the head turned more than "
        f"{LANDMARK_YAW_LIMIT:g} deg from the camera: pose, mouth and eye errors leave them "
        "out, as dlib's landmark readings of a turned face move by about the eye target for a "
        "half-pixel shift of the frame (benchmarks/measurer_yaw.py). Unscored readings there: "
        f"pose {pose:.1f} deg, mouth {mouth:.3f}, eye {eye:.3f}"
    ]


def _values(frames: list[FrameMetrics], get: Callable) -> list[float]:
    return [float(v) for v in map(get, frames) if v is not None and np.isfinite(v)]


def _mean(frames: list[FrameMetrics], get: Callable) -> float | None:
    values = _values(frames, get)
    return float(np.mean(values)) if values else None


def _min(frames: list[FrameMetrics], get: Callable) -> float | None:
    values = _values(frames, get)
    return float(np.min(values)) if values else None


def _ratio(frames: list[FrameMetrics], top: Callable, bottom: Callable) -> float | None:
    """Sum of `top` over sum of `bottom`, over frames that have both."""
    pairs = [(top(r), bottom(r)) for r in frames if top(r) is not None and bottom(r) is not None]
    denominator = sum(b for _, b in pairs)
    return sum(t for t, _ in pairs) / denominator if pairs and denominator > 0 else None
