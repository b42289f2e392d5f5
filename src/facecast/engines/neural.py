"""The neural engine: a comb model trained with ``facecast train`` swaps each face.

Per face: the actor's face is aligned into the model's square crop (the same alignment the
faceset used), encoded by the shared encoder, decoded by the character's decoder into a face
and a mask, and mapped back into the frame. The crop transform of each track is smoothed over
time with a One Euro filter on the crop's corners, so the face neither shimmers on a still
head nor lags on a fast turn.

Compositing (matte, relighting, blending) is the compositor's job, as for every engine. The
identity recognizer used by quality reports is never used here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from facecast.analysis import polygon_mask, topology
from facecast.analysis.face import Face
from facecast.analysis.smoothing import OneEuroFilter
from facecast.engines.base import FaceLayer
from facecast.errors import ModelError
from facecast.neural.align import (
    DEFAULT_COVERAGE,
    alignment_matrix,
    crop_box,
    invert,
    transform_points,
    warp_from_crop,
    warp_to_crop,
)
from facecast.neural.checkpoint import build_model, load_checkpoint, model_file
from facecast.neural.distributed import pick_device
from facecast.provenance.manifest import sha256_file

#: Width of the fade to zero at the crop's border, as a fraction of the crop side.
_BORDER_FADE = 0.06


@dataclass
class _TrackState:
    """Smoothing state of one face track."""

    filter: OneEuroFilter
    last_frame: int = -2


@dataclass(frozen=True)
class SmoothingSettings:
    """One Euro filter on the crop transform (see `facecast.analysis.smoothing`).

    Attributes
    ----------
    min_cutoff
        Cutoff in Hz of a still head: lower removes more shimmer.
    beta
        Cutoff increase with speed (per face size per second): higher follows fast turns.
    fps
        Frame rate assumed to turn frame indices into seconds.
    """

    min_cutoff: float = 1.5
    beta: float = 2.0
    fps: float = 30.0


_DEFAULT_SMOOTHING = SmoothingSettings()


class NeuralEngine:
    """Swap faces with a trained comb model.

    Parameters
    ----------
    model
        A model folder from ``facecast train`` (its ``model.safetensors``, else its newest
        checkpoint) or a checkpoint file.
    smoothing
        Temporal smoothing of the crop transform; ``None`` turns it off.
    keep_eyes_mouth
        Hand the actor's eye openings and mouth opening back to the compositor as
        ``keep_plate`` (gaze, blinks, teeth and tongue stay the actor's, as in the mesh engine).
        Off by default: it halves mouth and eye errors of a briefly trained model but brings
        the actor's identity back (clip1 x London 004, 64 px, 800 CPU steps: dlib retrieval
        78% without, 37% with; mouth error 0.059 -> 0.028, eye error 0.029 -> 0.008).
    device
        Torch device; default CUDA when present, else the CPU.

    Raises
    ------
    ModelError
        If the model is missing, unsafe (pickle) or of another architecture.
    """

    name = "neural"

    def __init__(
        self,
        model: str | Path,
        smoothing: SmoothingSettings | None = _DEFAULT_SMOOTHING,
        device: str | None = None,
        keep_eyes_mouth: bool = False,
    ) -> None:
        self.smoothing = smoothing
        self.keep_eyes_mouth = keep_eyes_mouth
        self._path = model_file(model)
        checkpoint = load_checkpoint(self._path)
        self._device = torch.device(device) if device else pick_device()
        self._net = build_model(checkpoint, self._device)
        self._config = checkpoint.model_config
        self._step = checkpoint.step
        self._coverage = float(checkpoint.extra.get("coverage", DEFAULT_COVERAGE))
        self._characters = list(self._config.identities[1:])
        self._identity: str | None = None
        self._tracks: dict[int, _TrackState] = {}
        self._sha256 = sha256_file(self._path)

    def prepare(self, character) -> None:
        """Pick the decoder of `character` (a `facecast.character.asset.Character`).

        Raises
        ------
        ModelError
            If the model has no decoder for this character.
        """
        character_id = getattr(character, "character_id", character)
        if character_id not in self._characters:
            raise ModelError(
                f"was trained for character(s) {self._characters}, not {character_id!r}; "
                "train a model for this character",
                self._path,
            )
        self._identity = str(character_id)
        self._tracks.clear()

    def settings(self) -> dict:
        """JSON-ready settings for the render manifest."""
        return {
            "engine": self.name,
            "model_file": self._path.name,
            "model_sha256": self._sha256,
            "step": self._step,
            "resolution": self._config.resolution,
            "coverage": self._coverage,
            "identity": self._identity,
            "smoothing": None if self.smoothing is None else asdict(self.smoothing),
            "keep_eyes_mouth": self.keep_eyes_mouth,
            "device": self._device.type,
        }

    def render(self, frame: np.ndarray, face: Face) -> FaceLayer | None:
        """Render the character on one face.

        Parameters
        ----------
        frame
            ``uint8 RGB (H, W, 3)`` plate frame.
        face
            The tracked face: landmarks ``(478, 3)`` in frame pixels, ``track_id`` and
            ``frame_index`` (smoothing is per track over consecutive frames).

        Returns
        -------
        FaceLayer or None
            ``rgb`` ``float32 (h, w, 3)`` in [0, 1], ``alpha`` the model's face mask, faded to 0
            at the crop border; ``None`` when the crop lies outside the frame.
        """
        if self._identity is None:
            raise RuntimeError("NeuralEngine.render called before prepare()")
        size = self._config.resolution
        matrix = self._smoothed(alignment_matrix(face.landmarks, size, self._coverage), face)
        box = crop_box(matrix, size, frame.shape[:2])
        if box is None or box[2] - box[0] < 4 or box[3] - box[1] < 4:
            return None
        rgb, mask = self.swap_crop(warp_to_crop(frame, matrix, size))
        alpha = mask * _border_fade(size)
        keep = eyes_and_mouth(face.landmarks, box) if self.keep_eyes_mouth else None
        return FaceLayer(
            rgb=np.clip(warp_from_crop(rgb, matrix, box), 0.0, 1.0),
            alpha=np.clip(warp_from_crop(alpha, matrix, box), 0.0, 1.0),
            box=box,
            keep_plate=keep,
        )

    @torch.inference_mode()
    def swap_crop(self, crop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Swap one aligned crop.

        Parameters
        ----------
        crop
            ``uint8 RGB (R, R, 3)`` aligned face, R the model resolution.

        Returns
        -------
        rgb, mask
            ``float32 (R, R, 3)`` and ``float32 (R, R)``, both in [0, 1].
        """
        tensor = torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1)))
        tensor = tensor.to(self._device, torch.float32)[None] / 255.0
        rgb, mask = self._net.swap(tensor, self._identity)
        return rgb[0].permute(1, 2, 0).float().cpu().numpy(), mask[0, 0].float().cpu().numpy()

    def _smoothed(self, matrix: np.ndarray, face: Face) -> np.ndarray:
        """Smooth the crop transform of `face`'s track (the crop's frame-space corners)."""
        if self.smoothing is None or face.frame_index < 0:
            return matrix
        size = self._config.resolution
        corners_crop = np.array([[0, 0], [size, 0], [0, size]], np.float32)
        corners = transform_points(corners_crop, invert(matrix))
        state = self._tracks.get(face.track_id)
        if state is None or face.frame_index != state.last_frame + 1:
            cfg = self.smoothing
            state = _TrackState(OneEuroFilter(cfg.min_cutoff, cfg.beta))
            self._tracks[face.track_id] = state
        state.last_frame = face.frame_index
        side = float(np.linalg.norm(corners[1] - corners[0]))
        smooth = state.filter(corners, face.frame_index / self.smoothing.fps, scale=side)
        return cv2.getAffineTransform(smooth.astype(np.float32), corners_crop).astype(np.float64)


def eyes_and_mouth(landmarks: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The actor's eye openings and mouth opening inside `box`, softened by about a pixel.

    Parameters
    ----------
    landmarks
        ``(478, 2+)`` mesh points in frame pixels.
    box
        ``(x0, y0, x1, y1)`` frame region.

    Returns
    -------
    ndarray
        ``float32 (y1 - y0, x1 - x0)`` in [0, 1].
    """
    x0, y0, x1, y1 = box
    polygons = [
        landmarks[contour, :2] - (x0, y0)
        for contour in (topology.LEFT_EYE, topology.RIGHT_EYE, topology.LIPS_INNER)
    ]
    eye_width = float(np.linalg.norm(landmarks[33, :2] - landmarks[133, :2]))
    return polygon_mask(polygons, (y1 - y0, x1 - x0), feather_px=max(1.0, 0.06 * eye_width))


def _border_fade(size: int) -> np.ndarray:
    """``float32 (size, size)``: 1 inside, ramping to 0 over the crop's outer `_BORDER_FADE`."""
    ramp = np.clip(np.minimum(np.arange(size), np.arange(size)[::-1]) / (_BORDER_FADE * size), 0, 1)
    return np.minimum.outer(ramp, ramp).astype(np.float32)
