"""Checkpoints: safetensors files holding weights, optimizer and RNG state, config in metadata.

A checkpoint is one ``.safetensors`` file. Its tensors are the model weights (``model.*``), and
for a training checkpoint also the Adam moments (``optimizer.*``) and the torch RNG state
(``rng.torch``). Its metadata holds JSON: the architecture name, the model and training configs,
the step, the optimizer hyper-parameters and free-form ``extra`` (e.g. the character id).

Nothing is ever unpickled: a file holding a pickle payload (``torch.save``, ``pickle``) is
refused before it is parsed, and a checkpoint of another architecture is refused with the reason.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from facecast.errors import ModelError
from facecast.neural.config import ARCHITECTURE, ModelConfig, TrainConfig
from facecast.neural.model import CombModel

FORMAT = "facecast-neural-checkpoint"
#: File name pattern of step checkpoints inside a model folder.
STEP_PATTERN = re.compile(r"^checkpoint_(\d{8})\.safetensors$")
#: Weights-only model written at the end of training; the engine prefers it.
FINAL_NAME = "model.safetensors"
#: Largest checkpoint accepted, in bytes (a 1024 px model with optimizer state fits easily).
MAX_BYTES = 8 << 30

_PICKLE_MAGIC = (b"PK\x03\x04", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


@dataclass
class Checkpoint:
    """Everything a checkpoint file holds.

    Attributes
    ----------
    model_config
        Network shape.
    model_state
        ``state_dict`` of a `CombModel` built from `model_config`.
    step
        Optimisation steps done.
    train_config
        Training settings, or ``None`` for a weights-only file.
    optimizer_state
        ``torch.optim.Adam.state_dict()`` or ``None``.
    rng_state
        ``torch.get_rng_state()`` (``uint8`` tensor) or ``None``.
    extra
        JSON-ready facts about the run (character id, data sources, versions).
    """

    model_config: ModelConfig
    model_state: dict[str, torch.Tensor]
    step: int = 0
    train_config: TrainConfig | None = None
    optimizer_state: dict | None = None
    rng_state: torch.Tensor | None = None
    extra: dict = field(default_factory=dict)


def save_checkpoint(checkpoint: Checkpoint, path: str | Path) -> Path:
    """Write `checkpoint` to `path` atomically (temporary file, then rename).

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    tensors = {
        f"model.{k}": v.detach().cpu().contiguous() for k, v in checkpoint.model_state.items()
    }
    metadata = {
        "format": FORMAT,
        "architecture": ARCHITECTURE,
        "model_config": json.dumps(checkpoint.model_config.to_dict()),
        "step": str(int(checkpoint.step)),
        "extra": json.dumps(checkpoint.extra),
        "torch_version": torch.__version__,
    }
    if checkpoint.train_config is not None:
        metadata["train_config"] = json.dumps(checkpoint.train_config.to_dict())
    if checkpoint.optimizer_state is not None:
        optimizer_tensors, groups = _flatten_optimizer(checkpoint.optimizer_state)
        tensors.update(optimizer_tensors)
        metadata["optimizer_groups"] = json.dumps(groups)
    if checkpoint.rng_state is not None:
        tensors["rng.torch"] = checkpoint.rng_state.detach().cpu().contiguous()
    temp = path.with_name(f".{path.name}.partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        save_file(tensors, str(temp), metadata=metadata)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path


def _flatten_optimizer(state: dict) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """Split an optimizer ``state_dict`` into named tensors and JSON-ready param groups."""
    tensors = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            tensor = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"optimizer.{index}.{key}"] = tensor.detach().cpu().contiguous()
    groups = [
        {k: list(v) if isinstance(v, tuple) else v for k, v in group.items()}
        for group in state["param_groups"]
    ]
    return tensors, groups


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], groups: list[dict]) -> dict:
    state: dict[int, dict] = {}
    for name, tensor in tensors.items():
        _, index, key = name.split(".", 2)
        state.setdefault(int(index), {})[key] = tensor
    for group in groups:
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
    return {"state": state, "param_groups": groups}


def check_safetensors_file(path: Path) -> None:
    """Refuse anything but a readable safetensors file, before any parsing.

    Raises
    ------
    ModelError
        If the file is missing, too large, holds a pickle/``torch.save`` payload, or is not a
        safetensors file.
    """
    if not path.is_file():
        raise ModelError("checkpoint file does not exist", path)
    if path.stat().st_size > MAX_BYTES:
        raise ModelError(f"is larger than {MAX_BYTES >> 30} GiB; refusing to load", path)
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(_PICKLE_MAGIC):
        raise ModelError(
            "holds a pickle payload (torch.save/pickle); facecast loads only safetensors "
            "checkpoints and never unpickles",
            path,
        )


def load_checkpoint(path: str | Path, *, device: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint written by `save_checkpoint` (nothing is unpickled).

    Raises
    ------
    ModelError
        If the file is unsafe or not a safetensors file, is not a facecast checkpoint, is of
        another architecture, or its tensors do not match its config.
    """
    path = Path(path)
    check_safetensors_file(path)
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as handle:
            metadata = handle.metadata() or {}
            _check_metadata(metadata, path)
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except SafetensorError as error:
        raise ModelError(f"is not a valid safetensors file ({error})", path) from None
    try:
        model_config = ModelConfig.from_dict(json.loads(metadata["model_config"]))
        train_json = metadata.get("train_config")
        train_config = TrainConfig.from_dict(json.loads(train_json)) if train_json else None
        extra = json.loads(metadata.get("extra", "{}"))
        step = int(metadata.get("step", "0"))
        groups = (
            json.loads(metadata["optimizer_groups"]) if "optimizer_groups" in metadata else None
        )
    except (ValueError, KeyError, TypeError) as error:
        raise ModelError(f"has unreadable metadata ({error})", path) from None
    model_state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    _check_model_state(model_config, model_state, path)
    optimizer_tensors = {k: v for k, v in tensors.items() if k.startswith("optimizer.")}
    return Checkpoint(
        model_config=model_config,
        model_state=model_state,
        step=step,
        train_config=train_config,
        optimizer_state=None if groups is None else _unflatten_optimizer(optimizer_tensors, groups),
        rng_state=tensors.get("rng.torch"),
        extra=extra,
    )


def _check_metadata(metadata: dict[str, str], path: Path) -> None:
    if metadata.get("format") != FORMAT:
        raise ModelError("is a safetensors file but not a facecast neural checkpoint", path)
    architecture = metadata.get("architecture")
    if architecture != ARCHITECTURE:
        raise ModelError(
            f"is a checkpoint of architecture {architecture!r}; this facecast builds "
            f"{ARCHITECTURE!r} and cannot use it",
            path,
        )


def _check_model_state(config: ModelConfig, state: dict[str, torch.Tensor], path: Path) -> None:
    """Compare tensor names and shapes with a model built from `config` (on the meta device)."""
    with torch.device("meta"):
        expected = CombModel(config).state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        names = (missing or unexpected)[:3]
        what = "lacks" if missing else "has unexpected"
        raise ModelError(f"does not match its architecture: {what} tensors {names}", path)
    for name, tensor in expected.items():
        if tuple(state[name].shape) != tuple(tensor.shape):
            raise ModelError(
                f"does not match its architecture: tensor {name} has shape "
                f"{tuple(state[name].shape)}, expected {tuple(tensor.shape)}",
                path,
            )


def step_checkpoints(model_dir: str | Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of the step checkpoints in `model_dir`, oldest first."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return []
    found = []
    for path in model_dir.iterdir():
        match = STEP_PATTERN.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def step_checkpoint_path(model_dir: str | Path, step: int) -> Path:
    """Where the checkpoint of `step` lives in `model_dir`."""
    return Path(model_dir) / f"checkpoint_{step:08d}.safetensors"


def latest_checkpoint(model_dir: str | Path) -> Path | None:
    """The newest step checkpoint in `model_dir`, or ``None``."""
    found = step_checkpoints(model_dir)
    return found[-1][1] if found else None


def model_file(model_dir: str | Path) -> Path:
    """The checkpoint an engine should load: the final model, else the newest step checkpoint.

    Raises
    ------
    ModelError
        If `model_dir` holds neither.
    """
    model_dir = Path(model_dir)
    if model_dir.is_file():
        return model_dir
    final = model_dir / FINAL_NAME
    if final.is_file():
        return final
    latest = latest_checkpoint(model_dir)
    if latest is None:
        raise ModelError(f"holds no {FINAL_NAME} and no checkpoint_*.safetensors", model_dir)
    return latest


def build_model(checkpoint: Checkpoint, device: str | torch.device = "cpu") -> CombModel:
    """A `CombModel` with the checkpoint's weights, on `device`, in eval mode."""
    model = CombModel(checkpoint.model_config)
    model.load_state_dict(checkpoint.model_state)
    return model.to(device).eval()
