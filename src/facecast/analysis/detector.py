"""Find every face in a frame and fit the 478-point mesh to each one.

Route: mediapipe's full-range face detector (``model_selection=1``, good down to small and far
faces) proposes boxes and eye positions on the whole frame; each becomes a rotated square
region (`landmarks.Roi`) in which the face-mesh landmark network runs (`landmarks.LandmarkModel`)
on a crop, mapped back to full-frame pixels. Skipping the mesh's own short-range detector is
what makes 50-70 px faces in a crowd shot and faces looking down or away work.

In video mode (``static_images=False``) the analyzer takes this frame's regions from the
previous frame's landmarks, as mediapipe's own tracking mode does, and runs the full-frame
detector only every `detect_every` frames (to find faces entering the shot) or when a face was
lost. Reference photos (``static_images=True``) get a second landmark pass in the region of the
first pass's landmarks, which centres and levels the face as tracking would.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np
from mediapipe.python.solutions import face_detection as mp_face_detection

from facecast.analysis.face import Face, check_rgb_frame
from facecast.analysis.geometry import box_iou, landmark_box
from facecast.analysis.landmarks import LandmarkModel, Roi, roi_from_landmarks, roi_from_points
from facecast.analysis.pose import head_pose
from facecast.analysis.quiet import QuietGraph

__all__ = ["FaceAnalyzer"]

#: Longest side a detector window is scaled to before the network (whose input is 192 px):
#: scaling down once here with area averaging is cheaper than mediapipe doing it per call.
DETECT_MAX_SIDE = 640
#: Detections from overlapping windows that overlap more than this are one face.
_DUPLICATE_DETECTION_IOU = 0.3
#: Boxes overlapping more than this are one face.
_SAME_FACE_IOU = 0.45


@dataclass
class _Region:
    """A square area that should hold one face, with where it came from."""

    roi: Roi
    box: np.ndarray  # float32 (4,) the face box it came from: x0, y0, x1, y1
    score: float
    from_detector: bool


class FaceAnalyzer:
    """Detect faces, fit 478 landmarks and measure head pose, one frame at a time.

    Parameters
    ----------
    max_faces
        Most faces returned per frame (largest first).
    min_face_size
        Faces whose box is smaller than this many pixels are not landmarked; they are listed in
        `last_skipped` with reason ``"too small"``.
    static_images
        ``True`` for unrelated photos (every call runs the full detector, no temporal hints);
        ``False`` for consecutive video frames.
    detect_every
        In video mode, run the full-frame detector at least every this many frames (new faces
        entering the shot are found within that delay).
    min_detection_confidence
        Threshold of the full-range face detector, in [0, 1].
    detect_tiles
        Besides the whole frame, run the detector on a ``detect_tiles`` x ``detect_tiles`` grid
        of overlapping windows, which finds faces of about 25-40 px that it misses at full-frame
        scale: all tiles on the first frame of a shot, then one tile per routine search in turn.
        ``1`` turns tiling off.

    Notes
    -----
    Holds two mediapipe graphs; use it as a context manager (or call `close`). One analyzer
    serves one stream of frames: call `reset` at a shot cut so stale crops are not reused.
    """

    def __init__(
        self,
        max_faces: int = 8,
        min_face_size: int = 24,
        static_images: bool = False,
        detect_every: int = 8,
        min_detection_confidence: float = 0.5,
        detect_tiles: int = 2,
    ) -> None:
        if max_faces < 1:
            raise ValueError(f"max_faces must be >= 1, got {max_faces}")
        self.max_faces = max_faces
        self.min_face_size = min_face_size
        self.static_images = static_images
        self.detect_every = max(1, detect_every)
        self.detect_tiles = detect_tiles
        self._detector = QuietGraph(
            lambda: mp_face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=min_detection_confidence
            )
        )
        self._mesh = LandmarkModel()
        self._previous: list[Face] = []
        self._since_search: int | None = None
        self._searches = 0
        self._lost = False
        #: Faces seen but not landmarked in the last `detect` call: ``{bbox, score, reason}``.
        self.last_skipped: list[dict] = []
        #: Seconds spent per step (``"detect"``, ``"mesh"``) and calls, for benchmarks.
        self.timings: dict[str, float] = {"detect": 0.0, "mesh": 0.0, "frames": 0.0}

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Release the mediapipe graphs."""
        self._detector.close()
        self._mesh.close()

    def __enter__(self) -> FaceAnalyzer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()

    def reset(self) -> None:
        """Forget the previous frame's faces (call at a shot cut)."""
        self._previous = []
        self._since_search = None
        self._searches = 0
        self._lost = False

    # -- per frame ---------------------------------------------------------------------------
    def detect(self, frame: np.ndarray) -> list[Face]:
        """Find the faces of one frame.

        Parameters
        ----------
        frame
            ``uint8`` RGB ``(H, W, 3)``.

        Returns
        -------
        list of Face
            Largest first; ``landmarks`` ``float32 (478, 3)`` in frame pixels, ``bbox`` the
            landmarks' extent, ``pose`` from `head_pose`, ``track_id`` ``-1``.
        """
        check_rgb_frame(frame)
        self.timings["frames"] += 1
        self.last_skipped = []
        regions = self._hint_regions()
        windows = _windows(frame.shape[:2], self.detect_tiles)
        if self._full_search_due():
            if len(windows) > 1 and not self.static_images and self._since_search is not None:
                # Routine search: the whole frame and one tile in turn, so every tile is
                # searched once per `detect_tiles**2` searches at a fifth of the cost.
                self._searches += 1
                windows = [windows[0], windows[1 + self._searches % (len(windows) - 1)]]
            regions = _merge(regions, self._detect_regions(frame, windows))
            self._since_search = 0
        else:
            self._since_search = (self._since_search or 0) + 1
            if not self._previous or self._lost:
                regions = _merge(regions, self._detect_regions(frame, windows[:1]))
        self._lost = False
        faces = self._landmark_regions(frame, regions)
        if not self.static_images:
            self._previous = faces
        return faces

    def _full_search_due(self) -> bool:
        """Whether this frame gets a search for new faces (whole frame and tiles).

        It runs on the first frame and after `reset` (every tile), then every `detect_every`
        frames (the whole frame and one tile in turn). In between, a frame with no followed
        face, or where a face was lost, gets the cheap whole-frame pass only (one network run,
        about 7 ms of CPU).
        """
        if self.static_images or self._since_search is None:
            return True
        return self._since_search + 1 >= self.detect_every

    def _hint_regions(self) -> list[_Region]:
        if self.static_images:
            return []
        return [
            _Region(roi_from_landmarks(f.landmarks), f.bbox, f.score, False) for f in self._previous
        ]

    def _detect_regions(
        self, frame: np.ndarray, windows: list[tuple[int, int, int, int]]
    ) -> list[_Region]:
        started = time.perf_counter()
        found: list[tuple[np.ndarray, float, np.ndarray, np.ndarray]] = []
        for x0, y0, x1, y1 in windows:
            found.extend(self._detect_in(frame, x0, y0, x1, y1))
        self.timings["detect"] += time.perf_counter() - started
        regions: list[_Region] = []
        for box, score, right_eye, left_eye in sorted(found, key=lambda d: -d[1]):
            if any(box_iou(box, kept.box) > _DUPLICATE_DETECTION_IOU for kept in regions):
                continue  # the same face seen by an overlapping window
            if _side(box) < self.min_face_size:
                self.last_skipped.append(_skip(box, score, "too small"))
                continue
            regions.append(_Region(roi_from_points(box, right_eye, left_eye), box, score, True))
        return regions

    def _detect_in(
        self, frame: np.ndarray, x0: int, y0: int, x1: int, y1: int
    ) -> list[tuple[np.ndarray, float, np.ndarray, np.ndarray]]:
        """Run the detector on a window of the frame: ``(box, score, right eye, left eye)``."""
        window = frame[y0:y1, x0:x1]
        height, width = window.shape[:2]
        scale = min(1.0, DETECT_MAX_SIDE / max(height, width))
        if scale < 1.0:
            size = (round(width * scale), round(height * scale))
            window = cv2.resize(window, size, interpolation=cv2.INTER_AREA)
        result = self._detector.process(np.ascontiguousarray(window))
        found = []
        for detection in result.detections or []:
            rel = detection.location_data.relative_bounding_box
            box = np.asarray(
                [rel.xmin, rel.ymin, rel.xmin + rel.width, rel.ymin + rel.height], np.float32
            )
            box = box * np.float32([width, height, width, height]) + np.float32([x0, y0, x0, y0])
            eyes = [
                np.asarray([x0 + k.x * width, y0 + k.y * height], np.float32)
                for k in detection.location_data.relative_keypoints[:2]
            ]
            found.append((box, float(detection.score[0]), eyes[0], eyes[1]))
        return found

    def _landmark_regions(self, frame: np.ndarray, regions: list[_Region]) -> list[Face]:
        started = time.perf_counter()
        faces: list[Face] = []
        for region in sorted(regions, key=lambda r: -_side(r.box))[: self.max_faces * 2]:
            landmarks = self._mesh.landmarks(frame, region.roi)
            if landmarks is not None and self.static_images:
                landmarks = self._mesh.landmarks(frame, roi_from_landmarks(landmarks))
            if landmarks is None:
                if region.from_detector:
                    self.last_skipped.append(_skip(region.box, region.score, "no landmarks"))
                else:
                    self._lost = True  # a face followed from the last frame is gone
                continue
            box = landmark_box(landmarks)
            if _side(box) < self.min_face_size:
                self.last_skipped.append(_skip(box, region.score, "too small"))
                continue
            if any(box_iou(box, other.bbox) > _SAME_FACE_IOU for other in faces):
                continue
            faces.append(Face(box, landmarks, head_pose(landmarks), score=region.score))
        self.timings["mesh"] += time.perf_counter() - started
        faces.sort(key=lambda f: -f.size)
        return faces[: self.max_faces]


def _side(box: np.ndarray) -> float:
    return float(max(box[2] - box[0], box[3] - box[1]))


def _merge(hints: list[_Region], detections: list[_Region]) -> list[_Region]:
    """Hints (precise, from landmarks) win; detections add the faces no hint covers."""
    merged = list(hints)
    for detection in detections:
        covered = [h for h in hints if _inside(detection.box, h.box)]
        for hint in covered:
            hint.score = detection.score
        if not covered:
            merged.append(detection)
    return merged


def _windows(shape: tuple[int, ...], tiles: int) -> list[tuple[int, int, int, int]]:
    """The whole frame, then a ``tiles`` x ``tiles`` grid of windows overlapping by a third.

    The full-range detector sees every window at 192 px, so a tile shows a small face `tiles`
    times larger than the whole frame does.
    """
    height, width = int(shape[0]), int(shape[1])
    windows = [(0, 0, width, height)]
    if tiles < 2:
        return windows
    tile_w, tile_h = round(width / tiles * 4 / 3), round(height / tiles * 4 / 3)
    for row in range(tiles):
        for column in range(tiles):
            x0 = round(column * (width - tile_w) / (tiles - 1))
            y0 = round(row * (height - tile_h) / (tiles - 1))
            windows.append((x0, y0, x0 + tile_w, y0 + tile_h))
    return windows


def _inside(box: np.ndarray, outer: np.ndarray) -> bool:
    """Whether the centre of `box` lies inside `outer` (both ``x0, y0, x1, y1``)."""
    centre_x, centre_y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return bool(outer[0] <= centre_x <= outer[2] and outer[1] <= centre_y <= outer[3])


def _skip(box: np.ndarray, score: float, reason: str) -> dict:
    return {
        "bbox": [round(float(v), 2) for v in box],
        "score": round(float(score), 4),
        "reason": reason,
    }
