"""Swap engines, one module each, behind the `Engine` interface in `facecast.engines.base`.

``mesh`` (default, CPU, no training) and ``neural`` (a per-character model trained with
``facecast train``).
"""

from __future__ import annotations

from facecast.engines.base import Engine, FaceLayer
from facecast.errors import ModelError

ENGINE_NAMES = ("mesh", "neural")

__all__ = ["ENGINE_NAMES", "Engine", "FaceLayer", "create_engine"]


def create_engine(
    name: str, model: str | None = None, shape_strength: float | None = None
) -> Engine:
    """Make an engine by name.

    Parameters
    ----------
    name
        ``"mesh"`` or ``"neural"``.
    model
        Model folder (``neural`` only).
    shape_strength
        Pull of the inner face toward the character's proportions (``mesh`` only; default
        `facecast.engines.mesh.DEFAULT_SHAPE_STRENGTH`).

    Raises
    ------
    ModelError
        For an unknown engine or a neural engine without a model.
    """
    if name == "mesh":
        from facecast.engines.mesh import DEFAULT_SHAPE_STRENGTH, MeshEngine

        return MeshEngine(DEFAULT_SHAPE_STRENGTH if shape_strength is None else shape_strength)
    if name == "neural":
        if not model:
            raise ModelError("the neural engine needs --model MODEL_DIR (from facecast train)")
        from facecast.engines.neural import NeuralEngine

        return NeuralEngine(model)
    raise ModelError(f"unknown engine {name!r}; choose from {', '.join(ENGINE_NAMES)}")
