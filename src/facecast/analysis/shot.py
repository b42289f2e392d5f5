"""Analyse a whole shot: faces, tracks, cuts and skipped faces, streamed frame by frame.

`iter_analysis` is the streaming core (one decoded frame in memory at a time); `analyze_plate`
collects its results into `ShotTracks`, which saves to and loads from a versioned JSON file.
"""

from __future__ import annotations

import json
import os
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facecast.analysis.cuts import CutDetector
from facecast.analysis.detector import FaceAnalyzer
from facecast.analysis.face import Face
from facecast.analysis.tracker import FaceTracker
from facecast.errors import FacecastError
from facecast.media import Plate, to_uint8

__all__ = [
    "TRACKS_FORMAT",
    "TRACKS_VERSION",
    "FrameAnalysis",
    "ShotTracks",
    "TracksFileError",
    "analyze_plate",
    "iter_analysis",
]

TRACKS_FORMAT = "facecast.tracks"
TRACKS_VERSION = 1
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
    """

    index: int
    frame: np.ndarray
    faces: list[Face]
    skipped: list[dict]
    cut: bool


def iter_analysis(
    plate: Plate,
    analyzer: FaceAnalyzer,
    tracker: FaceTracker | None = None,
    cuts: CutDetector | None = None,
    min_track_frames: int = 3,
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

    Yields
    ------
    FrameAnalysis
        One per frame, in order.
    """
    tracker = tracker or FaceTracker(plate.info.fps)
    cuts = cuts or CutDetector()
    results = _analyse(plate, analyzer, tracker, cuts)
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
    for index, raw in enumerate(plate.frames()):
        frame = to_uint8(raw)
        cut = cuts.is_cut(frame)
        if cut:
            analyzer.reset()
            tracker.cut()
        faces = tracker.update(index, frame, analyzer.detect(frame))
        skipped = [{"frame_index": index, **s} for s in analyzer.last_skipped]
        yield FrameAnalysis(index, frame, faces, skipped, cut)


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
    """

    frames: list[list[Face]] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def add(self, result: FrameAnalysis) -> None:
        """Append one frame's result (frames must arrive in order)."""
        if result.index != len(self.frames):
            raise ValueError(f"frame {result.index} added after {len(self.frames)} frames")
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
        }

    def save(self, path: str | Path) -> Path:
        """Write the tracks as JSON, atomically (temporary name, then rename).

        Layout: ``{"format": "facecast.tracks", "version": 1, "info": {...}, "cuts": [...],
        "skipped": [...], "frames": [[{"track_id", "bbox", "score", "pose", "landmarks"}, ...],
        ...]}`` with one list per frame; landmarks are ``478 x [x, y, z]`` pixels.
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
            If the file is missing, too large, not JSON, or not a version-1 tracks file.
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
        if data.get("version") != TRACKS_VERSION:
            raise TracksFileError(
                f"has tracks version {data.get('version')!r}; this facecast reads {TRACKS_VERSION}",
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
            )
        except (KeyError, TypeError, ValueError) as error:
            raise TracksFileError(f"has a malformed face record ({error})", path) from None


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

    Returns
    -------
    ShotTracks
        With ``len(frames) == `` the number of decoded frames.
    """
    tracks = ShotTracks(info=plate.info.to_dict())
    with ExitStack() as stack:
        if analyzer is None:
            analyzer = stack.enter_context(FaceAnalyzer())
        bar = stack.enter_context(progress_bar(plate, enabled=progress))
        for result in iter_analysis(plate, analyzer, tracker):
            tracks.add(result)
            bar.advance()
    return tracks


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
