"""Give faces stable ids through a shot and smooth their landmarks.

Association, frame by frame:

1. faces are matched to the tracks seen within the last `max_gap_s` seconds by box overlap
   (Hungarian assignment, ``scipy.optimize.linear_sum_assignment`` on ``1 - IoU``);
2. a face left over is compared by appearance (`appearance.appearance_descriptor`) with every
   track of the current shot that was not matched in this frame, so a face that leaves and
   comes back (or was hidden) gets its old id;
3. anything else starts a new track.

`cut` ends every track: after a shot cut no face joins a track from before it. Landmarks are
smoothed per track by a One Euro filter (`smoothing.OneEuroFilter`), restarted after a gap.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np
from scipy.optimize import linear_sum_assignment

from facecast.analysis.appearance import appearance_descriptor, similarity
from facecast.analysis.face import Face
from facecast.analysis.geometry import iou_matrix, landmark_box
from facecast.analysis.pose import head_pose
from facecast.analysis.smoothing import OneEuroFilter

__all__ = ["GALLERY_SIZE", "FaceTracker"]

#: Views of a face kept per track for re-identification.
GALLERY_SIZE = 8
#: A new view this similar to one in the gallery adds nothing.
_NEW_VIEW_SIMILARITY = 0.95


@dataclass
class _Track:
    track_id: int
    last_frame: int
    bbox: np.ndarray
    smoother: OneEuroFilter
    gallery: list[np.ndarray]
    hits: int = 1


class FaceTracker:
    """Assign track ids and smooth landmarks, one frame at a time.

    Parameters
    ----------
    fps
        Frame rate of the shot (times for smoothing and gaps come from frame indices).
    max_gap_s
        A track missing for up to this long is still matched by position.
    min_iou
        Least box overlap for a face to continue a track by position.
    reid_similarity
        Least appearance similarity (see `appearance.similarity`) between a face and any view
        in a track's gallery for the face to take over the id of a track that is not in view.
    min_cutoff, beta
        One Euro filter settings (Hz; per face-size-per-second): see `smoothing.OneEuroFilter`.
    descriptor_every
        Describe a matched track's face every this many frames; a view unlike those already
        in the track's gallery (up to `GALLERY_SIZE` views, oldest dropped) is added to it.
    """

    def __init__(
        self,
        fps: Fraction | float = Fraction(30),
        *,
        max_gap_s: float = 0.5,
        min_iou: float = 0.2,
        reid_similarity: float = 0.82,
        min_cutoff: float = 0.5,
        beta: float = 10.0,
        descriptor_every: int = 5,
    ) -> None:
        self.fps = float(fps)
        self.max_gap = max(1, round(max_gap_s * self.fps))
        self.min_iou = min_iou
        self.reid_similarity = reid_similarity
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.descriptor_every = max(1, descriptor_every)
        self._tracks: list[_Track] = []
        self._next_id = 0

    def cut(self) -> None:
        """End every track: faces after a shot cut never join a track from before it."""
        self._tracks = []

    def update(self, frame_index: int, frame: np.ndarray, faces: list[Face]) -> list[Face]:
        """Track the faces of one frame.

        Parameters
        ----------
        frame_index
            Index of `frame` in the shot; must increase from call to call.
        frame
            ``uint8`` RGB ``(H, W, 3)`` the faces were found in (for appearance).
        faces
            This frame's faces from `FaceAnalyzer.detect`.

        Returns
        -------
        list of Face
            New `Face` objects, in the order of `faces`, with ``track_id`` and ``frame_index``
            set, ``landmarks`` smoothed (``float32 (478, 3)`` px), ``raw_landmarks`` the input
            landmarks, and ``bbox``/``pose`` recomputed from the smoothed landmarks.
        """
        assigned = self._match_by_position(frame_index, faces)
        descriptors: dict[int, np.ndarray] = {}
        for i, face in enumerate(faces):
            if i in assigned:
                continue
            descriptors[i] = appearance_descriptor(frame, face.landmarks)
            track = self._reidentify(descriptors[i], set(assigned.values()), frame_index)
            if track is None:
                track = self._new_track(frame_index, face, descriptors[i])
            assigned[i] = track.track_id
        by_id = {t.track_id: t for t in self._tracks}
        return [
            self._advance(by_id[assigned[i]], frame_index, frame, face, descriptors.get(i))
            for i, face in enumerate(faces)
        ]

    # -- association ---------------------------------------------------------------------------
    def _match_by_position(self, frame_index: int, faces: list[Face]) -> dict[int, int]:
        """``{face position: track id}`` for faces that continue a recent track by overlap."""
        recent = [t for t in self._tracks if frame_index - t.last_frame <= self.max_gap]
        if not recent or not faces:
            return {}
        overlap = iou_matrix(np.stack([f.bbox for f in faces]), np.stack([t.bbox for t in recent]))
        rows, cols = linear_sum_assignment(1.0 - overlap)
        return {
            int(r): recent[c].track_id
            for r, c in zip(rows, cols, strict=True)
            if overlap[r, c] >= self.min_iou
        }

    def _reidentify(
        self, descriptor: np.ndarray, taken: set[int], frame_index: int
    ) -> _Track | None:
        best, best_score = None, self.reid_similarity
        for track in self._tracks:
            if track.track_id in taken or track.last_frame == frame_index:
                continue
            score = max(similarity(descriptor, seen) for seen in track.gallery)
            if score >= best_score:
                best, best_score = track, score
        return best

    def _new_track(self, frame_index: int, face: Face, descriptor: np.ndarray) -> _Track:
        track = _Track(
            track_id=self._next_id,
            last_frame=frame_index,
            bbox=face.bbox,
            smoother=OneEuroFilter(self.min_cutoff, self.beta),
            gallery=[descriptor],
            hits=0,
        )
        self._next_id += 1
        self._tracks.append(track)
        return track

    # -- per-track update ----------------------------------------------------------------------
    def _advance(
        self,
        track: _Track,
        frame_index: int,
        frame: np.ndarray,
        face: Face,
        descriptor: np.ndarray | None,
    ) -> Face:
        if frame_index - track.last_frame > self.max_gap:
            track.smoother.reset()  # a face back after a long gap may be anywhere
        smoothed = track.smoother(face.landmarks, frame_index / self.fps, scale=face.size)
        if track.hits and track.hits % self.descriptor_every == 0:
            descriptor = appearance_descriptor(frame, face.landmarks)
        if descriptor is not None and track.hits:
            _remember(track.gallery, descriptor)
        track.last_frame = frame_index
        track.bbox = face.bbox
        track.hits += 1
        return replace(
            face,
            landmarks=smoothed,
            raw_landmarks=face.landmarks,
            bbox=landmark_box(smoothed),
            pose=head_pose(smoothed),
            track_id=track.track_id,
            frame_index=frame_index,
        )


def _remember(gallery: list[np.ndarray], descriptor: np.ndarray) -> None:
    """Add a view unlike those in `gallery`, dropping the oldest beyond `GALLERY_SIZE`."""
    if max(similarity(descriptor, seen) for seen in gallery) >= _NEW_VIEW_SIMILARITY:
        return
    gallery.append(descriptor)
    if len(gallery) > GALLERY_SIZE:
        del gallery[1]  # keep the first view: the face as it entered the shot
