"""The one interface every swap engine implements.

An engine is prepared once per worker with a character, then renders one face at a time. It sees
the plate frame and the tracked `Face` (landmarks, pose) and returns the character's face layer
for that face, in full-frame coordinates, plus the engine's own coverage alpha. Compositing
(colour/light match, occluders, blending, temporal smoothing, paste-back) is not the engine's job.

Engines never use the identity recognizer (dlib descriptor) that quality reports rely on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from facecast.analysis.face import Face


@dataclass
class FaceLayer:
    """An engine's rendering of one face.

    Attributes
    ----------
    rgb
        ``float32 (h, w, 3)`` in [0, 1], display-referred RGB of the character's face, covering
        the region ``box`` of the frame.
    alpha
        ``float32 (h, w)`` in [0, 1]: where the engine drew the face (before occluders and
        feathering, which the compositor applies).
    box
        ``(x0, y0, x1, y1)`` integer pixel box in the full frame that `rgb` and `alpha` cover.
    keep_plate
        Optional ``float32 (h, w)`` in [0, 1]: regions where the plate must show through inside
        the face (the actor's eyes and mouth interior), or ``None``.
    plate_warp
        Optional ``(map_x, map_y)``, each ``float32 (h, w)``: where each box pixel takes its
        plate content from, in box coordinates, when the engine moved the face's geometry (the
        actor's eyes and mouth interior then move with the lids and lips). ``None``: identity.
    """

    rgb: np.ndarray
    alpha: np.ndarray
    box: tuple[int, int, int, int]
    keep_plate: np.ndarray | None = None
    plate_warp: tuple[np.ndarray, np.ndarray] | None = None


class Engine(Protocol):
    """A swap engine: ``prepare`` once, then ``render`` per face per frame.

    An engine whose `render` carries no state from frame to frame (a pure function of the
    frame, the face and what `prepare`/`prepare_track` stored) sets ``frame_parallel = True``;
    the render then swaps several frames at once on threads. Engines that smooth or track
    across frames leave it unset and see the frames in order.
    """

    name: str
    frame_parallel: bool

    def prepare(self, character: object) -> None:
        """Load what the engine needs for `character` (a `facecast.character.Character`)."""

    def prepare_track(self, track_id: int, faces: list[Face]) -> None:
        """Optional: see every face of a track before rendering it (e.g. its neutral shape).

        The render calls it, when an engine defines it, once per target track.
        """

    def render(self, frame: np.ndarray, face: Face) -> FaceLayer | None:
        """Render the character onto `face` in `frame` (``uint8`` RGB ``(H, W, 3)``).

        Returns ``None`` when the engine cannot render this face (e.g. turned too far away).
        """

    def settings(self) -> dict:
        """JSON-ready settings recorded in the render manifest."""
