"""Analyse a whole shot: faces, tracks, cuts and skipped faces, streamed frame by frame.

`iter_analysis` is the streaming core (one decoded frame in memory at a time); `analyze_plate`
collects its results into `ShotTracks`, which saves to and loads from a versioned JSON file.

Given a `HandSearch`, the same pass also finds the hands of every frame that holds a face (the
occluders a swap keeps in front of the face). Hand detection runs on a worker thread while the
main thread analyses the next frames: mediapipe's graphs do their work outside the GIL, so on
two cores the hands cost little wall time here, and the swap pass, which runs one core short
beside the encoder, no longer carries them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from facecast.analysis.cuts import CutDetector
from facecast.analysis.detector import FaceAnalyzer
from facecast.analysis.eyewear import EyewearEvidence
from facecast.analysis.face import Face
from facecast.analysis.geometry import landmark_box
from facecast.analysis.hands import HAND_POINTS, HandSearch
from facecast.analysis.pose import head_pose
from facecast.analysis.smoothing import steady_head_motion, zero_phase_one_euro
from facecast.analysis.tracker import FaceTracker
from facecast.errors import FacecastError
from facecast.media import Plate, to_uint8
from facecast.media.background import read_ahead
from facecast.media.transfer import to_rec709

__all__ = [
    "TRACKS_FORMAT",
    "TRACKS_VERSION",
    "FrameAnalysis",
    "ShotTracks",
    "TracksFileError",
    "analyze_plate",
    "iter_analysis",
    "remove_smoothing_lag",
]

TRACKS_FORMAT = "facecast.tracks"
#: Version 2 added ``hands``; version-1 files (no hands) still load.
TRACKS_VERSION = 2
READABLE_TRACKS_VERSIONS = (1, 2)
#: Frames a hand search may lag behind the face analysis before the pass waits for it.
HAND_LAG = 2
#: Largest tracks file `ShotTracks.load` accepts (bytes): about 1 hour of 2 faces at 24 fps.
MAX_TRACKS_BYTES = 4 << 30


class TracksFileError(FacecastError):
    """A tracks JSON file is missing, malformed or of an unknown version."""


@dataclass
class FrameAnalysis:
    """What analysis found in one frame (yielded by `iter_analysis`).

    Attributes
    ----------
    index
        Frame index in the shot.
    frame
        ``uint8`` RGB ``(H, W, 3)`` frame as analysed.
    faces
        Tracked faces (``track_id`` set, landmarks smoothed).
    skipped
        Faces seen but not analysed: ``{"frame_index", "bbox", "score", "reason"}``.
    cut
        Whether a shot cut was detected at this frame (tracks end before it).
    hands
        ``float32 (21, 2)`` keypoints in pixels per hand found in the frame; ``None`` when the
        pass did not look for hands, ``[]`` when it found none or the frame holds no face.
    """

    index: int
    frame: np.ndarray
    faces: list[Face]
    skipped: list[dict]
    cut: bool
    hands: list[np.ndarray] | None = None


def iter_analysis(
    plate: Plate,
    analyzer: FaceAnalyzer,
    tracker: FaceTracker | None = None,
    cuts: CutDetector | None = None,
    min_track_frames: int = 3,
    hands: HandSearch | None = None,
) -> Iterator[FrameAnalysis]:
    """Detect, landmark and track the faces of every frame of `plate`, streaming.

    Parameters
    ----------
    plate
        The shot (`facecast.media.open_plate`). 16-bit and float frames are analysed through
        `facecast.media.to_uint8`.
    analyzer
        A video-mode `FaceAnalyzer` (``static_images=False``); it is `reset` at each cut.
    tracker
        Defaults to a `FaceTracker` at the plate's frame rate.
    cuts
        Defaults to a `CutDetector` with its default settings.
    min_track_frames
        A track must hold a face in this many frames within ``2 * min_track_frames``
        consecutive frames to be reported; faces of shorter tracks (one-frame false detections
        on textures, robots, posters) move to ``skipped`` with reason ``"short track"``.
        Results are therefore yielded ``2 * min_track_frames`` frames late (a few frames are
        held in memory). ``1`` reports everything at once.
    hands
        A `HandSearch`: also find the hands of every frame that holds a face
        (``FrameAnalysis.hands``), on a worker thread.

    Yields
    ------
    FrameAnalysis
        One per frame, in order.
    """
    tracker = tracker or FaceTracker(plate.info.fps)
    cuts = cuts or CutDetector()
    results = _analyse(plate, analyzer, tracker, cuts)
    if hands is not None:
        results = _with_hands(results, hands)
    if min_track_frames <= 1:
        yield from results
        return
    delay = 2 * min_track_frames
    counts: Counter[int] = Counter()
    pending: deque[FrameAnalysis] = deque()
    for result in results:
        counts.update(face.track_id for face in result.faces)
        pending.append(result)
        if len(pending) > delay:
            yield _confirmed(pending.popleft(), counts, min_track_frames)
    while pending:
        yield _confirmed(pending.popleft(), counts, min_track_frames)


def _analyse(
    plate: Plate, analyzer: FaceAnalyzer, tracker: FaceTracker, cuts: CutDetector
) -> Iterator[FrameAnalysis]:
    for index, (frame, cut) in enumerate(read_ahead(_frames_and_cuts(plate, cuts))):
        if cut:
            analyzer.reset()
            tracker.cut()
        faces = tracker.update(index, frame, analyzer.detect(frame))
        skipped = [{"frame_index": index, **s} for s in analyzer.last_skipped]
        yield FrameAnalysis(index, frame, faces, skipped, cut)


def _frames_and_cuts(plate: Plate, cuts: CutDetector) -> Iterator[tuple[np.ndarray, bool]]:
    """The plate's frames as ``uint8 RGB (H, W, 3)``, each with whether it starts a new shot.

    Runs on `read_ahead`'s reader thread with the decoding, so the face analysis (the pass's
    slowest thread) does not wait for the histograms; the frames still go through `cuts` in
    order. A float plate in other primaries than Rec.709 is seen in Rec.709 (`to_uint8`), as
    the swap's compositing sees it."""
    into_rec709 = to_rec709(plate.info.chromaticities)
    for raw in plate.frames(exact=False):  # the fast YUV conversion: see iter_video_frames
        frame = to_uint8(raw, into_rec709)
        yield frame, cuts.is_cut(frame)


def _with_hands(results: Iterator[FrameAnalysis], hands: HandSearch) -> Iterator[FrameAnalysis]:
    """Attach the hands of each frame that holds a face, searched on one worker thread.

    The worker takes the frames in order, at most `HAND_LAG` frames behind the face analysis;
    results come out in order once their hands are settled.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="facecast-hands") as worker:
        searches: deque[Future] = deque()
        for result in results:
            searches.append(
                worker.submit(hands.feed, result, result.frame if result.faces else None)
            )
            if len(searches) > HAND_LAG:
                yield from _settled(searches.popleft())
        searches.append(worker.submit(hands.finish))
        while searches:
            yield from _settled(searches.popleft())


def _settled(search: Future) -> Iterator[FrameAnalysis]:
    for result, found in search.result():
        result.hands = found
        yield result


def _confirmed(result: FrameAnalysis, counts: Counter[int], min_frames: int) -> FrameAnalysis:
    """Move the faces of tracks seen fewer than `min_frames` times to ``skipped``."""
    kept = [face for face in result.faces if counts[face.track_id] >= min_frames]
    if len(kept) == len(result.faces):
        return result
    for face in result.faces:
        if counts[face.track_id] < min_frames:
            result.skipped.append(
                {
                    "frame_index": result.index,
                    "bbox": [round(float(v), 2) for v in face.bbox],
                    "score": round(float(face.score), 4),
                    "reason": "short track",
                }
            )
    result.faces = kept
    return result


@dataclass
class ShotTracks:
    """Faces of every frame of a shot, grouped into tracks.

    Attributes
    ----------
    frames
        One list of `Face` per frame (``frame_index`` set), ``len(frames)`` = frame count.
    skipped
        Faces seen but not analysed: ``{"frame_index", "bbox", "score", "reason"}``.
    cuts
        Frame indices where a shot cut was detected.
    info
        The plate's `ShotInfo.to_dict`, or ``{}``.
    hands
        Per frame, ``float32 (21, 2)`` keypoints in pixels of each hand found in frames that
        hold a face (frames without a face are not searched); ``None`` when the analysis did
        not look for hands (a swap then searches them itself).
    eyewear
        ``{track_id: bridge-line strength}`` (`facecast.analysis.eyewear`): how strongly a
        dark line crosses each track's nose bridge, for tracks seen near-frontal often enough;
        a track missing here is taken as not wearing glasses.
    """

    frames: list[list[Face]] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    hands: list[list[np.ndarray]] | None = None
    eyewear: dict[int, float] = field(default_factory=dict)

    def add(self, result: FrameAnalysis) -> None:
        """Append one frame's result (frames must arrive in order)."""
        if result.index != len(self.frames):
            raise ValueError(f"frame {result.index} added after {len(self.frames)} frames")
        if self.hands is not None:
            self.hands.append(result.hands or [])
        self.frames.append(result.faces)
        self.skipped.extend(result.skipped)
        if result.cut:
            self.cuts.append(result.index)

    def track_ids(self) -> list[int]:
        """Sorted ids of all tracks."""
        return sorted({face.track_id for faces in self.frames for face in faces})

    def faces_of(self, track_id: int) -> dict[int, Face]:
        """``{frame_index: Face}`` of one track."""
        return {
            index: face
            for index, faces in enumerate(self.frames)
            for face in faces
            if face.track_id == track_id
        }

    def main_track(self) -> int | None:
        """Id of the shot's main face: the largest sum of face sizes over the frames it is in.

        The sum favours a face that is both present long and large (a close-up over a passer-by
        in the background). ``None`` when the shot holds no face.
        """
        totals: dict[int, float] = {}
        for faces in self.frames:
            for face in faces:
                totals[face.track_id] = totals.get(face.track_id, 0.0) + face.size
        if not totals:
            return None
        return max(sorted(totals), key=lambda tid: totals[tid])

    def digest(self) -> str:
        """SHA-256 (hex) of everything a render takes from the tracks, rounded as the tracks
        file rounds it (`Face.to_dict`), so a shot analysed now and the same tracks loaded from
        their file give the same digest: cuts, and per frame each face's track id, box, pose
        and landmarks and each hand's keypoints."""
        digest = hashlib.sha256(f"{TRACKS_FORMAT}/{TRACKS_VERSION}".encode())
        digest.update(np.asarray(self.cuts, np.int64).tobytes())
        for index, faces in enumerate(self.frames):
            hands = self.hands[index] if self.hands is not None else None
            digest.update(np.asarray([len(faces), -1 if hands is None else len(hands)]).tobytes())
            for face in faces:
                digest.update(np.int64(face.track_id).tobytes())
                digest.update(_as_saved(face.bbox, 2).tobytes() + _as_saved(face.pose, 3).tobytes())
                digest.update(np.round(face.landmarks, 2).tobytes())
            for hand in hands or []:
                digest.update(np.round(hand, 2).tobytes())
        if self.eyewear:
            digest.update(json.dumps(self._saved_eyewear(), sort_keys=True).encode())
        return digest.hexdigest()

    def _saved_eyewear(self) -> dict[str, float]:
        return {str(track): round(float(value), 4) for track, value in self.eyewear.items()}

    def with_steady_heads(self, sigma_frames: float, max_shift: float = 0.01) -> ShotTracks:
        """A copy whose faces have their rigid head tremor removed, track by track
        (`facecast.analysis.smoothing.steady_head_motion` over each run of consecutive frames;
        cuts end a run). ``sigma_frames`` 0 returns the tracks unchanged."""
        if sigma_frames <= 0:
            return self
        frames = [[replace(face) for face in faces] for faces in self.frames]
        steady = ShotTracks(
            frames, list(self.skipped), list(self.cuts), dict(self.info), self.hands, self.eyewear
        )
        cuts = set(self.cuts)
        for track_id in steady.track_ids():
            for run in _consecutive_runs(sorted(steady.faces_of(track_id).items()), cuts):
                moved = steady_head_motion(
                    np.stack([f.landmarks for f in run]), sigma_frames, max_shift
                )
                for face, landmarks in zip(run, moved, strict=True):
                    face.landmarks = landmarks
        return steady

    def coverage(self, track_id: int) -> float:
        """Fraction of the shot's frames in which `track_id` appears, in [0, 1]."""
        return len(self.faces_of(track_id)) / max(len(self.frames), 1)

    # -- files ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-ready form (see `save`)."""
        return {
            "format": TRACKS_FORMAT,
            "version": TRACKS_VERSION,
            "info": self.info,
            "cuts": list(self.cuts),
            "skipped": list(self.skipped),
            "frames": [[face.to_dict() for face in faces] for faces in self.frames],
            "hands": None
            if self.hands is None
            else [[np.round(hand, 2).tolist() for hand in hands] for hands in self.hands],
            "eyewear": self._saved_eyewear(),
        }

    def save(self, path: str | Path) -> Path:
        """Write the tracks as JSON, atomically (temporary name, then rename).

        Layout: ``{"format": "facecast.tracks", "version": 2, "info": {...}, "cuts": [...],
        "skipped": [...], "frames": [[{"track_id", "bbox", "score", "pose", "landmarks"}, ...],
        ...], "hands": [[hand, ...], ...] or null, "eyewear": {"track_id": strength}}`` with one
        list per frame; landmarks are ``478 x [x, y, z]`` pixels, each hand ``21 x [x, y]``
        pixels. Files without ``"eyewear"`` read as no glasses.
        """
        path = Path(path)
        temp = path.with_name(f".{path.name}.partial")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with temp.open("w", encoding="utf-8") as stream:
                json.dump(self.to_dict(), stream, separators=(",", ":"))
            os.replace(temp, path)
        finally:
            temp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | Path) -> ShotTracks:
        """Read a file written by `save`.

        Raises
        ------
        TracksFileError
            If the file is missing, too large, not JSON, or not a version-1 or -2 tracks file.
        """
        path = Path(path)
        if not path.is_file():
            raise TracksFileError("tracks file does not exist", path)
        if path.stat().st_size > MAX_TRACKS_BYTES:
            raise TracksFileError("tracks file is larger than facecast accepts", path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise TracksFileError(f"is not valid JSON ({error.args[0]})", path) from None
        return cls.from_dict(data, path)

    @classmethod
    def from_dict(cls, data: dict, path: str | Path | None = None) -> ShotTracks:
        """Inverse of `to_dict`; raises `TracksFileError` naming `path` on a malformed dict."""
        if not isinstance(data, dict) or data.get("format") != TRACKS_FORMAT:
            raise TracksFileError(f"is not a {TRACKS_FORMAT} file", path)
        if data.get("version") not in READABLE_TRACKS_VERSIONS:
            raise TracksFileError(
                f"has tracks version {data.get('version')!r}; this facecast reads "
                f"{' and '.join(map(str, READABLE_TRACKS_VERSIONS))}",
                path,
            )
        try:
            frames = [
                [_face_from_dict(face, index) for face in faces]
                for index, faces in enumerate(data["frames"])
            ]
            return cls(
                frames=frames,
                skipped=list(data.get("skipped", [])),
                cuts=[int(c) for c in data.get("cuts", [])],
                info=dict(data.get("info", {})),
                hands=_hands_from_list(data.get("hands"), len(frames)),
                eyewear={int(k): float(v) for k, v in (data.get("eyewear") or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as error:
            raise TracksFileError(f"has a malformed face record ({error})", path) from None


def _consecutive_runs(indexed: list[tuple[int, Face]], cuts: set[int]) -> list[list[Face]]:
    """Split ``[(frame_index, face), ...]`` (sorted) where a frame is missing or a cut starts."""
    runs: list[list[Face]] = []
    previous = None
    for index, face in indexed:
        if previous is None or index != previous + 1 or index in cuts:
            runs.append([])
        runs[-1].append(face)
        previous = index
    return runs


def _as_saved(values: np.ndarray, decimals: int) -> np.ndarray:
    """``float32`` values as a save and load of the tracks file gives them back."""
    return np.asarray([round(float(v), decimals) for v in values], np.float32)


def _hands_from_list(data: list | None, frame_count: int) -> list[list[np.ndarray]] | None:
    """Inverse of the ``hands`` entry of `ShotTracks.to_dict` (raises ValueError if malformed)."""
    if data is None:
        return None
    if len(data) != frame_count:
        raise ValueError(f"hands cover {len(data)} frames, faces {frame_count}")
    hands = [[np.asarray(hand, np.float32) for hand in frame] for frame in data]
    for frame in hands:
        for hand in frame:
            if hand.shape != (HAND_POINTS, 2):
                raise ValueError(f"a hand has keypoints of shape {hand.shape}")
    return hands


def _face_from_dict(data: dict, index: int) -> Face:
    face = Face.from_dict(data, frame_index=index)
    if face.landmarks.ndim != 2 or face.landmarks.shape[1] != 3 or face.bbox.shape != (4,):
        raise ValueError(f"landmarks {face.landmarks.shape}, bbox {face.bbox.shape}")
    return face


def analyze_plate(
    plate: Plate,
    analyzer: FaceAnalyzer | None = None,
    progress: bool = True,
    tracker: FaceTracker | None = None,
    hands: HandSearch | None = None,
    each_frame: Callable[[FrameAnalysis], None] | None = None,
) -> ShotTracks:
    """Analyse a whole shot into `ShotTracks`, streaming its frames.

    Parameters
    ----------
    plate
        The shot (`facecast.media.open_plate`).
    analyzer
        A video-mode `FaceAnalyzer` to reuse (models loaded once per worker); a new one is made
        and closed when ``None``.
    progress
        Show a progress bar on stderr.
    tracker
        Defaults to a `FaceTracker` at the plate's frame rate.
    hands
        A `HandSearch`: also record the hands of frames that hold a face.
    each_frame
        Called with every frame's `FrameAnalysis` as it is added (the CLI draws its debug
        video there, in the same pass).

    Returns
    -------
    ShotTracks
        With ``len(frames) == `` the number of decoded frames; the lips and jaw without the
        tracker's lag (`remove_smoothing_lag`), unlike the streamed `iter_analysis` results;
        and each track's `eyewear` evidence.
    """
    tracks = ShotTracks(info=plate.info.to_dict(), hands=None if hands is None else [])
    tracker = tracker or FaceTracker(plate.info.fps)
    with ExitStack() as stack:
        if analyzer is None:
            analyzer = stack.enter_context(FaceAnalyzer())
        bar = stack.enter_context(progress_bar(plate, enabled=progress))
        eyewear = EyewearEvidence()
        for result in iter_analysis(plate, analyzer, tracker, hands=hands):
            tracks.add(result)
            eyewear.feed(result.frame, result.faces)
            if each_frame is not None:
                each_frame(result)
            bar.advance()
    tracks.eyewear = eyewear.strengths()
    remove_smoothing_lag(tracks, tracker)
    return tracks


def remove_smoothing_lag(tracks: ShotTracks, tracker: FaceTracker) -> None:
    """Take the tracker's lag out of each track's lips and jaw, in place (boxes and poses
    follow).

    The whole shot is known once analysed, so the forward One Euro filter's landmarks are
    blended, per point, with zero-phase ones (`smoothing.zero_phase_one_euro`, over each run
    of consecutive frames; cuts end a run): fully below the nose, not at all above the nose
    tip (`mesh.reshape.lower_face_weight` of the run's mean shape). The forward filter trails
    a fast-opening mouth by about a frame and the character's lips then cover part of the
    opening; on the lids the same two passes lower a quick blink, so they keep the forward
    filter. Measured with the quality report (first 60 frames of weekly_address_clip1..4 x
    London 004/012/024/042, the pairs of `benchmarks/quality.py`): mouth error 0.0197 ->
    0.0185 mean, 11 -> 13 of 16 pairs within 0.02; eye error 0.0091 both, 8 of 16 within
    0.008 both. Zero phase on the whole face
    lowered the eye error's pass count (clip1 x 004 up to 0.0126), and also de-lagging the
    lids' rigid motion (the similarity between the two passes, fitted on the upper face)
    gave mouth 0.0177 but eye 0.0094 (6 of 16)."""
    # imported here: facecast.mesh reads the topology from this package
    from facecast.mesh.frontal import frontal_points
    from facecast.mesh.reshape import lower_face_weight

    cuts = set(tracks.cuts)
    for track_id in tracks.track_ids():
        for run in _consecutive_runs(sorted(tracks.faces_of(track_id).items()), cuts):
            if len(run) < 2 or any(face.raw_landmarks is None for face in run):
                continue
            forward = np.stack([face.landmarks for face in run])
            raw = np.stack([face.raw_landmarks for face in run])
            # the filter's speed scale: the face size (larger side of the landmarks' box)
            sizes = np.ptp(raw[:, :, :2], axis=1).max(axis=1)
            zero_phase = zero_phase_one_euro(
                raw, forward, tracker.fps, tracker.min_cutoff, tracker.beta, sizes
            )
            lower_face = 1.0 - lower_face_weight(frontal_points(forward.mean(axis=0)))
            blended = forward + lower_face[None, :, None] * (zero_phase - forward)
            for face, landmarks in zip(run, blended.astype(np.float32), strict=True):
                face.landmarks = landmarks
                face.bbox = landmark_box(landmarks)
                face.pose = head_pose(landmarks)


class _Progress:
    """A rich progress bar over a plate's frames (a no-op when disabled)."""

    def __init__(self, total: int, label: str, enabled: bool) -> None:
        self._progress = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            self._progress = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._progress.add_task(label, total=total or None)

    def advance(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def __enter__(self) -> _Progress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._progress is not None:
            if exc_type is not None:
                self._progress.live.transient = True  # a failure leaves only its one-line error
            self._progress.stop()


def progress_bar(plate: Plate, label: str = "analyze", enabled: bool = True) -> _Progress:
    """Progress bar over the frames of `plate`, on stderr; use as a context manager."""
    if not enabled:
        return _Progress(0, label, False)
    return _Progress(plate.info.frame_count, f"{label} {plate.info.path.name}", True)
