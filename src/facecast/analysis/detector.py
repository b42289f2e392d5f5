"""Find every face in a frame and fit the 478-point mesh to each one.

Route: mediapipe's full-range face detector (``model_selection=1``, good down to small and far
faces) proposes boxes on the whole frame; each box is cut out as a square crop, scaled to
`CROP_SIZE`, and mediapipe's face mesh (with iris refinement) runs on the crop. Its landmarks
are mapped back to full-frame pixels. Running the mesh on an upscaled crop is what makes
50-70 px faces in a crowd shot work: the mesh's own detector is short-range and would miss them
on the full frame.

In video mode (``static_images=False``) the analyzer reuses the previous frame's landmarks as
this frame's crops, as mediapipe's own tracking does, and runs the full-frame detector only
every `detect_every` frames or when a face was lost, which roughly halves the cost per frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np
from mediapipe.python.solutions import face_detection as mp_face_detection
from mediapipe.python.solutions import face_mesh as mp_face_mesh

from facecast.analysis.face import NUM_LANDMARKS, Face
from facecast.analysis.geometry import box_iou, landmark_box
from facecast.analysis.pose import head_pose

__all__ = ["CROP_SIZE", "FaceAnalyzer"]

#: Side in pixels of the square crop the face mesh sees.
CROP_SIZE = 256
#: Longest side the full-frame detector sees (its network input is 192 px anyway).
DETECT_MAX_SIDE = 1280
#: Crop side as a multiple of a detector box / of a landmark box.
_DETECTION_MARGIN = 1.9
_LANDMARK_MARGIN = 1.6
#: A mesh found in a crop belongs to that crop's face only if its centre lies this close to the
#: crop's centre (fraction of the crop side); otherwise it is a neighbour's face.
_CENTRE_TOLERANCE = 0.22
#: Boxes overlapping more than this are one face.
_SAME_FACE_IOU = 0.45


@dataclass
class _Region:
    """A square area that should hold one face, with where it came from."""

    box: np.ndarray  # float32 (4,) x0, y0, x1, y1
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
    ) -> None:
        if max_faces < 1:
            raise ValueError(f"max_faces must be >= 1, got {max_faces}")
        self.max_faces = max_faces
        self.min_face_size = min_face_size
        self.static_images = static_images
        self.detect_every = max(1, detect_every)
        self._detector = mp_face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=min_detection_confidence
        )
        self._mesh = mp_face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=2,
            refine_landmarks=True,
            min_detection_confidence=0.5,
        )
        self._previous: list[Face] = []
        self._since_detection = 0
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
        self._since_detection = 0
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
        _check_frame(frame)
        self.timings["frames"] += 1
        self.last_skipped = []
        regions = self._hint_regions()
        if self._should_detect():
            regions = _merge(regions, self._detect_regions(frame))
            self._since_detection = 0
        else:
            self._since_detection += 1
        self._lost = False
        faces = self._landmark_regions(frame, regions)
        if not self.static_images:
            self._previous = faces
        return faces

    def _should_detect(self) -> bool:
        if self.static_images or not self._previous or self._lost:
            return True
        return self._since_detection + 1 >= self.detect_every

    def _hint_regions(self) -> list[_Region]:
        if self.static_images:
            return []
        return [_Region(_square(f.bbox, _LANDMARK_MARGIN), f.score, False) for f in self._previous]

    def _detect_regions(self, frame: np.ndarray) -> list[_Region]:
        started = time.perf_counter()
        height, width = frame.shape[:2]
        scale = min(1.0, DETECT_MAX_SIDE / max(height, width))
        small = frame
        if scale < 1.0:
            size = (round(width * scale), round(height * scale))
            small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        result = self._detector.process(small)
        self.timings["detect"] += time.perf_counter() - started
        regions = []
        for detection in result.detections or []:
            rel = detection.location_data.relative_bounding_box
            box = np.asarray(
                [
                    rel.xmin * width,
                    rel.ymin * height,
                    (rel.xmin + rel.width) * width,
                    (rel.ymin + rel.height) * height,
                ],
                np.float32,
            )
            score = float(detection.score[0])
            side = float(max(box[2] - box[0], box[3] - box[1]))
            if side < self.min_face_size:
                self.last_skipped.append(_skip(box, score, "too small"))
                continue
            regions.append(_Region(_square(box, _DETECTION_MARGIN), score, True))
        return regions

    def _landmark_regions(self, frame: np.ndarray, regions: list[_Region]) -> list[Face]:
        started = time.perf_counter()
        faces: list[Face] = []
        for region in sorted(regions, key=lambda r: -_side(r.box))[: self.max_faces * 2]:
            landmarks = self._mesh_in(frame, region.box)
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

    def _mesh_in(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """Run the face mesh on the square crop `box`; landmarks in frame pixels, or None."""
        side = float(box[2] - box[0])
        scale = CROP_SIZE / side
        affine = np.asarray([[scale, 0, -box[0] * scale], [0, scale, -box[1] * scale]], np.float32)
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        crop = cv2.warpAffine(
            frame,
            affine,
            (CROP_SIZE, CROP_SIZE),
            flags=interpolation,
            borderMode=cv2.BORDER_CONSTANT,
        )
        result = self._mesh.process(crop)
        if not result.multi_face_landmarks:
            return None
        best, best_distance = None, _CENTRE_TOLERANCE
        for candidate in result.multi_face_landmarks:
            points = np.asarray([(p.x, p.y, p.z) for p in candidate.landmark], np.float32)
            centre = (points[:, :2].min(axis=0) + points[:, :2].max(axis=0)) / 2
            distance = float(np.abs(centre - 0.5).max())
            if distance < best_distance and len(points) == NUM_LANDMARKS:
                best, best_distance = points, distance
        if best is None:
            return None
        landmarks = best * np.float32(side)
        landmarks[:, 0] += box[0]
        landmarks[:, 1] += box[1]
        return landmarks.astype(np.float32)


def _check_frame(frame: np.ndarray) -> None:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise ValueError(f"expected a uint8 RGB frame, got {getattr(frame, 'dtype', type(frame))}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected a uint8 RGB frame of shape (H, W, 3), got {frame.shape}")


def _side(box: np.ndarray) -> float:
    return float(max(box[2] - box[0], box[3] - box[1]))


def _square(box: np.ndarray, margin: float) -> np.ndarray:
    """Square box with side ``margin`` x the larger side of `box`, same centre."""
    centre_x, centre_y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half = _side(box) * margin / 2
    return np.asarray(
        [centre_x - half, centre_y - half, centre_x + half, centre_y + half], np.float32
    )


def _merge(hints: list[_Region], detections: list[_Region]) -> list[_Region]:
    """Hints (precise, from landmarks) win; detections add the faces no hint covers."""
    merged = list(hints)
    for detection in detections:
        covered = [h for h in hints if box_iou(h.box, detection.box) > 0.25]
        for hint in covered:
            hint.score = detection.score
        if not covered:
            merged.append(detection)
    return merged


def _skip(box: np.ndarray, score: float, reason: str) -> dict:
    return {
        "bbox": [round(float(v), 2) for v in box],
        "score": round(float(score), 4),
        "reason": reason,
    }
