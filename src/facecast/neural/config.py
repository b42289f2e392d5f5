"""The settings of a neural face model and of its training run, as plain JSON-ready dataclasses.

A checkpoint stores both in its metadata, so a model folder can be resumed or rendered from with
nothing but the checkpoint file.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from facecast.errors import ModelError

#: Name and version of the network layout; a checkpoint of any other architecture is refused.
ARCHITECTURE = "facecast-comb-df/1"

#: Smallest and largest aligned face crop the model accepts, in pixels.
MIN_RESOLUTION = 64
MAX_RESOLUTION = 1024


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the shared-encoder, per-identity-decoder network.

    Attributes
    ----------
    resolution
        Side of the square aligned face crop, a power of two in [64, 1024].
    identities
        Decoder names, one per identity, e.g. ``("actor", "character")``. The first is the
        performer whose faces are replaced; the others are characters.
    encoder_dims
        Channels of the first encoder stage; later stages double it, up to 8x.
    ae_dims
        Width of the dense bottleneck shared by all identities.
    decoder_dims
        Channels of the last decoder stage; earlier stages double it, up to 8x.
    """

    resolution: int = 64
    identities: tuple[str, ...] = ("actor", "character")
    encoder_dims: int = 32
    ae_dims: int = 128
    decoder_dims: int = 32

    def __post_init__(self) -> None:
        res = self.resolution
        if not (MIN_RESOLUTION <= res <= MAX_RESOLUTION) or res & (res - 1):
            raise ModelError(
                f"resolution {res} must be a power of two in [{MIN_RESOLUTION}, {MAX_RESOLUTION}]"
            )
        if len(self.identities) < 2 or len(set(self.identities)) != len(self.identities):
            raise ModelError(f"identities {self.identities} must be at least two distinct names")
        for name in ("encoder_dims", "ae_dims", "decoder_dims"):
            if getattr(self, name) < 4:
                raise ModelError(f"{name} = {getattr(self, name)} is below the minimum of 4")
        object.__setattr__(self, "identities", tuple(self.identities))

    @property
    def bottleneck_resolution(self) -> int:
        """Spatial side of the dense bottleneck: ``resolution / 16``, at most 16."""
        return min(self.resolution // 16, 16)

    @property
    def encoder_stages(self) -> int:
        """Number of stride-2 encoder stages from `resolution` down to the bottleneck."""
        return int(math.log2(self.resolution // self.bottleneck_resolution))

    def to_dict(self) -> dict:
        """JSON-ready form."""
        data = dataclasses.asdict(self)
        data["identities"] = list(self.identities)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """Inverse of `to_dict`; unknown keys raise `ModelError`."""
        return _from_dict(cls, data, "model config")


@dataclass(frozen=True)
class LossConfig:
    """Weights of the training loss terms (see `facecast.neural.losses`).

    Attributes
    ----------
    l1, ssim
        Weights of the masked L1 and masked structural dissimilarity ``(1 - SSIM) / 2``.
    mask
        Weight of the L1 error of the predicted face mask.
    perceptual
        Weight of the Laplacian-pyramid term (a perceptual proxy that needs no trained weights).
    eyes_mouth
        Extra weight inside the eyes and mouth: the pixel weight there is ``1 + eyes_mouth``.
    """

    l1: float = 1.0
    ssim: float = 1.0
    mask: float = 1.0
    perceptual: float = 0.5
    eyes_mouth: float = 2.0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LossConfig:
        return _from_dict(cls, data, "loss config")


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained; with the same values (and data) a run is repeatable.

    Attributes
    ----------
    steps
        Total optimisation steps of the run (a resumed run continues up to this number).
    batch_size
        Faces per identity per step and per process.
    learning_rate
        Adam learning rate.
    seed
        Seeds the weight initialisation and, together with the step, every batch.
    checkpoint_every, preview_every
        Period in steps of checkpoints and preview grids (0 disables previews).
    keep_checkpoints
        How many step checkpoints to keep on disk (the newest ones).
    random_warp
        Apply DeepFaceLab-style random grid warps to the network input (not the target).
    random_flip
        Mirror faces at random (input and target alike).
    loss
        Loss weights.
    """

    steps: int = 1000
    batch_size: int = 8
    learning_rate: float = 5e-4
    seed: int = 0
    checkpoint_every: int = 250
    preview_every: int = 250
    keep_checkpoints: int = 2
    random_warp: bool = True
    random_flip: bool = True
    loss: LossConfig = field(default_factory=LossConfig)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ModelError(
                f"steps ({self.steps}) and batch_size ({self.batch_size}) must be >= 1"
            )
        if self.checkpoint_every < 1 or self.keep_checkpoints < 1:
            raise ModelError("checkpoint_every and keep_checkpoints must be >= 1")
        if isinstance(self.loss, dict):
            object.__setattr__(self, "loss", LossConfig.from_dict(self.loss))

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["loss"] = self.loss.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        return _from_dict(cls, data, "train config")


def _from_dict(cls: type, data: dict, what: str):
    """Build a config dataclass from a dict, naming unknown keys in a `ModelError`."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ModelError(f"{what} has unknown keys {unknown}")
    values = dict(data)
    if "identities" in values:
        values["identities"] = tuple(values["identities"])
    return cls(**values)
