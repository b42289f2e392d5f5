"""Training batches: each identity's aligned faces in memory, sampled and augmented per step.

The batch of a step is a pure function of ``(seed, step, rank, identity)``: resuming at step
``k`` draws exactly the batches an uninterrupted run would have drawn, with no sampler state to
save, and each process of a distributed run draws different faces.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facecast.analysis import topology
from facecast.errors import FaceNotFoundError
from facecast.neural import augment
from facecast.neural.config import TrainConfig

#: Dilation of the eye and mouth polygons in the emphasis map, as a fraction of the crop side.
_EMPHASIS_GROW = 0.03


@dataclass
class IdentityData:
    """One identity's aligned training faces.

    Attributes
    ----------
    name
        The identity (decoder) name.
    rgb
        ``uint8 (N, R, R, 3)`` aligned face crops.
    mask
        ``uint8 (N, R, R)`` face masks, 255 inside the face.
    emphasis
        ``uint8 (N, R, R)`` eyes and mouth region, 255 inside.
    """

    name: str
    rgb: np.ndarray
    mask: np.ndarray
    emphasis: np.ndarray

    def __post_init__(self) -> None:
        n, r = self.rgb.shape[:2]
        if n == 0:
            raise FaceNotFoundError(f"identity {self.name!r} has no training faces")
        if self.rgb.shape != (n, r, r, 3) or self.mask.shape != (n, r, r):
            raise ValueError(f"rgb {self.rgb.shape} and mask {self.mask.shape} do not match")

    @property
    def resolution(self) -> int:
        return int(self.rgb.shape[1])

    def __len__(self) -> int:
        return int(self.rgb.shape[0])

    def subset(self, indices: np.ndarray | list[int]) -> IdentityData:
        """The faces at `indices` (e.g. a training or held-out split)."""
        idx = np.asarray(indices, np.int64)
        return IdentityData(self.name, self.rgb[idx], self.mask[idx], self.emphasis[idx])


def emphasis_map(landmarks: np.ndarray, size: int) -> np.ndarray:
    """Eyes and mouth region of an aligned face.

    Parameters
    ----------
    landmarks
        ``(478, 2)`` mesh landmarks in crop pixels.
    size
        Crop side.

    Returns
    -------
    ndarray
        ``uint8 (size, size)``: 255 inside both eyes and the outer lips (slightly grown), else 0.
    """
    canvas = np.zeros((size, size), np.uint8)
    for contour in (topology.LEFT_EYE, topology.RIGHT_EYE, topology.LIPS_OUTER):
        polygon = np.round(landmarks[contour, :2]).astype(np.int32)
        cv2.fillPoly(canvas, [polygon], 255)
    grow = max(1, round(_EMPHASIS_GROW * size))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    return cv2.dilate(canvas, kernel)


def batch_rng(seed: int, step: int, rank: int, identity: int) -> np.random.Generator:
    """The generator that draws one identity's batch of one step on one process."""
    return np.random.default_rng([seed, step, rank, identity])


@dataclass
class Batch:
    """One identity's augmented batch, channels first, ``float32`` in [0, 1].

    Attributes
    ----------
    inputs
        ``(B, 3, R, R)`` network input (warped when random warp is on).
    target
        ``(B, 3, R, R)`` faces to reconstruct.
    mask, emphasis
        ``(B, 1, R, R)`` target face mask and eyes/mouth region.
    """

    inputs: np.ndarray
    target: np.ndarray
    mask: np.ndarray
    emphasis: np.ndarray


def sample_batch(
    data: IdentityData, size: int, rng: np.random.Generator, cfg: TrainConfig
) -> Batch:
    """Draw `size` faces with replacement and augment them (see `augment`).

    The target gets a random similarity (and mirror if ``cfg.random_flip``) and a random colour
    change; the input is the target, further warped when ``cfg.random_warp`` is set.
    """
    res = data.resolution
    inputs = np.empty((size, 3, res, res), np.float32)
    target = np.empty_like(inputs)
    mask = np.empty((size, 1, res, res), np.float32)
    emphasis = np.empty_like(mask)
    for slot, index in enumerate(rng.integers(0, len(data), size=size)):
        stack = np.dstack([data.rgb[index], data.mask[index], data.emphasis[index]])
        matrix = augment.random_similarity(rng, res, flip=cfg.random_flip)
        stack = augment.apply_similarity(stack, matrix).astype(np.float32) / 255.0
        face = augment.random_colour(rng, stack[..., :3])
        warped = (
            augment.apply_warp(face, augment.random_warp_maps(rng, res))
            if cfg.random_warp
            else face
        )
        inputs[slot] = warped.transpose(2, 0, 1)
        target[slot] = face.transpose(2, 0, 1)
        mask[slot, 0] = stack[..., 3]
        emphasis[slot, 0] = stack[..., 4]
    return Batch(inputs, target, mask, emphasis)


def plain_batch(data: IdentityData, indices: np.ndarray | list[int]) -> Batch:
    """The faces at `indices` without augmentation (previews and held-out evaluation)."""
    idx = np.asarray(indices, np.int64)
    rgb = data.rgb[idx].astype(np.float32).transpose(0, 3, 1, 2) / 255.0
    return Batch(
        inputs=rgb,
        target=rgb,
        mask=data.mask[idx, None].astype(np.float32) / 255.0,
        emphasis=data.emphasis[idx, None].astype(np.float32) / 255.0,
    )
