"""The ``facecast train`` recipe: a character asset and an actor faceset in, a model folder out.

The character's few reference photos are aligned like the actor's faces, widened with
augmented copies and, optionally, with renders of the character's texture (the mesh engine) on
the actor's own face meshes, which add the actor's poses and expressions to the character's
side of the training data. The decoders are named ``actor`` and the character's id, so the
engine can check it is given the character the model was trained for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facecast.analysis.face import Face
from facecast.analysis.geometry import landmark_box
from facecast.errors import FaceNotFoundError, ModelError
from facecast.neural.config import ModelConfig, TrainConfig
from facecast.neural.extract import ExtractSettings, augment_faceset, faces_from_character
from facecast.neural.faceset import FaceRecord, Faceset, load_faceset
from facecast.neural.train import TrainSummary, train

ACTOR = "actor"


@dataclass(frozen=True)
class CharacterData:
    """How the character's side of the training data is widened.

    Attributes
    ----------
    augment_copies
        Stored augmented copies (mirror, colour, warp) per reference photo. Training augments
        every batch anyway; stored copies measurably diluted the likeness in short runs
        (dlib distance 0.77 with 8 copies against 0.68 without, 200 steps at 64 px).
    pose_renders
        Mesh-engine renders of the character on actor faces (new poses and expressions).
    seed
        Seed of the augmentation and of the choice of actor faces.
    """

    augment_copies: int = 0
    pose_renders: int = 0
    seed: int = 0


def mesh_pose_faces(character, actor: Faceset, count: int, seed: int = 0) -> Faceset:
    """Render the character's texture on `count` of the actor's aligned faces.

    The mesh engine draws the character's skin on each actor face mesh; the actor's eyes and
    mouth opening and everything outside the face stay the actor crop's. The face mask is the
    actor's mask times the render's coverage.

    Parameters
    ----------
    character
        A loaded `facecast.character.asset.Character`.
    actor
        The actor's faceset (landmarks ``(N, 478, 3)`` in crop pixels).
    count
        Number of renders (actor faces chosen evenly over the faceset, shuffled by `seed`).

    Returns
    -------
    Faceset
        ``count`` faces (fewer if the mesh engine declines some), marked ``"mesh-render"``.
    """
    from facecast.engines.mesh import MeshEngine
    from facecast.neural.extract import sharpness

    engine = MeshEngine()
    engine.prepare(character)
    rng = np.random.default_rng(seed)
    picks = rng.permutation(len(actor))[: min(count, len(actor))]
    rgb, mask, points, matrices, records = [], [], [], [], []
    for index in sorted(picks):
        crop = actor.rgb[index]
        landmarks = actor.landmarks[index]
        face = Face(landmark_box(landmarks), landmarks, np.asarray(actor.records[index].pose))
        layer = engine.render(crop, face)
        if layer is None:
            continue
        x0, y0, x1, y1 = layer.box
        keep = layer.keep_plate if layer.keep_plate is not None else 0.0
        weight = (layer.alpha * (1.0 - keep))[..., None]
        out = crop.astype(np.float32) / 255.0
        out[y0:y1, x0:x1] = weight * layer.rgb + (1.0 - weight) * out[y0:y1, x0:x1]
        coverage = np.zeros(crop.shape[:2], np.float32)
        coverage[y0:y1, x0:x1] = layer.alpha
        face_mask = np.round(actor.mask[index] * coverage).astype(np.uint8)
        rgb.append(np.round(out * 255).astype(np.uint8))
        mask.append(face_mask)
        points.append(landmarks)
        matrices.append(actor.matrices[index])
        source = actor.records[index]
        records.append(
            FaceRecord(
                source=f"{character.character_id} on {source.source}",
                frame=source.frame,
                pose=source.pose,
                sharpness=round(sharpness(rgb[-1], face_mask / 255.0), 3),
                augmented="mesh-render",
            )
        )
    if not records:
        raise FaceNotFoundError("the mesh engine rendered none of the actor's faces")
    return Faceset(
        actor.size,
        actor.coverage,
        np.stack(rgb),
        np.stack(mask),
        np.stack(points),
        np.stack(matrices),
        records,
    )


def character_faceset(character, actor: Faceset, options: CharacterData) -> Faceset:
    """The character's training faces, aligned like `actor` (same size and coverage)."""
    settings = ExtractSettings(size=actor.size, coverage=actor.coverage)
    faces = augment_faceset(
        faces_from_character(character, settings), options.augment_copies, options.seed
    )
    if options.pose_renders > 0:
        faces = faces.concat(mesh_pose_faces(character, actor, options.pose_renders, options.seed))
    return faces


def train_character(
    character_dir: str | Path,
    actor_faceset: str | Path,
    model_dir: str | Path,
    model_config: ModelConfig,
    train_config: TrainConfig,
    *,
    character_data: CharacterData | None = None,
    processes: int = 1,
    progress: bool = False,
) -> TrainSummary:
    """Train (or resume) a model that turns the actor of `actor_faceset` into the character.

    Parameters
    ----------
    character_dir
        A character folder (``facecast character create``).
    actor_faceset
        A faceset folder of the actor (``facecast faceset extract``).
    model_dir
        Model folder: created, or resumed from its newest checkpoint.
    model_config
        Network shape; its ``identities`` are replaced by ``("actor", character id)``.
    train_config
        Training settings.
    character_data
        How the character's few photos are widened.
    processes
        DDP worker processes.
    progress
        Progress bar on stderr.

    Raises
    ------
    CharacterError, ConsentError, MediaError, ModelError
        For an invalid character (or expired consent), faceset or model folder.
    """
    from facecast.character.asset import load_character

    character = load_character(character_dir)
    character.consent.require_valid(Path(character_dir) / "consent.toml")
    if character.character_id == ACTOR:
        raise ModelError(f"a character may not be called {ACTOR!r}", character_dir)
    actor = load_faceset(actor_faceset)
    character_faces = character_faceset(character, actor, character_data or CharacterData())
    config = ModelConfig(
        resolution=model_config.resolution,
        identities=(ACTOR, character.character_id),
        encoder_dims=model_config.encoder_dims,
        ae_dims=model_config.ae_dims,
        decoder_dims=model_config.decoder_dims,
    )
    data = [
        actor.identity_data(ACTOR, config.resolution),
        character_faces.identity_data(character.character_id, config.resolution),
    ]
    extra = {
        "coverage": actor.coverage,
        "character_id": character.character_id,
        "character_sha256": character.digest(),
        "actor_faceset": Path(actor_faceset).name,
    }
    return train(
        model_dir, data, config, train_config, processes=processes, progress=progress, extra=extra
    )
