"""The `Face` record: one face in one frame, as every stage after analysis sees it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Number of face-mesh landmarks with iris refinement (mediapipe face mesh).
NUM_LANDMARKS = 478


def check_rgb_frame(frame: np.ndarray) -> None:
    """Raise ``ValueError`` unless `frame` is ``uint8`` RGB ``(H, W, 3)`` (what the models take)."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise ValueError(f"expected a uint8 RGB frame, got {getattr(frame, 'dtype', type(frame))}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected a uint8 RGB frame of shape (H, W, 3), got {frame.shape}")


@dataclass
class Face:
    """One face in one frame.

    Attributes
    ----------
    bbox
        ``float32 (4,)``: ``x0, y0, x1, y1`` in pixels of the full frame.
    landmarks
        ``float32 (478, 3)``: mediapipe face-mesh points with iris; ``x, y`` in pixels of the
        full frame, ``z`` relative depth in the same pixel scale (smaller is nearer the camera).
    pose
        ``float32 (3,)``: head ``yaw, pitch, roll`` in degrees (0, 0, 0 faces the camera;
        positive yaw turns to the image's right, positive pitch looks down, positive roll tilts
        clockwise in the image).
    score
        Detector confidence in [0, 1].
    track_id
        Stable id within the shot, assigned by the tracker; ``-1`` before tracking.
    frame_index
        Index of the frame in the shot, or ``-1`` for a still photo.
    raw_landmarks
        The unsmoothed landmarks when the tracker smoothed `landmarks`, else ``None``.
    """

    bbox: np.ndarray
    landmarks: np.ndarray
    pose: np.ndarray
    score: float = 1.0
    track_id: int = -1
    frame_index: int = -1
    raw_landmarks: np.ndarray | None = field(default=None, repr=False)

    @property
    def size(self) -> float:
        """Face size in pixels: the larger side of the bounding box."""
        x0, y0, x1, y1 = self.bbox
        return float(max(x1 - x0, y1 - y0))

    @property
    def points2d(self) -> np.ndarray:
        """``float32 (478, 2)`` landmark positions in pixels."""
        return self.landmarks[:, :2]

    def to_dict(self) -> dict:
        """JSON-ready form (landmarks rounded to 0.01 px)."""
        return {
            "track_id": int(self.track_id),
            "bbox": [round(float(v), 2) for v in self.bbox],
            "score": round(float(self.score), 4),
            "pose": [round(float(v), 3) for v in self.pose],
            "landmarks": np.round(self.landmarks, 2).tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict, frame_index: int = -1) -> Face:
        """Inverse of `to_dict`."""
        return cls(
            bbox=np.asarray(data["bbox"], np.float32),
            landmarks=np.asarray(data["landmarks"], np.float32),
            pose=np.asarray(data["pose"], np.float32),
            score=float(data.get("score", 1.0)),
            track_id=int(data.get("track_id", -1)),
            frame_index=frame_index,
        )
