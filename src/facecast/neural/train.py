"""Train a comb model: the loop, exact resume, checkpoints, previews, progress and the run log.

A model folder holds::

    checkpoint_00000250.safetensors ...  step checkpoints (weights, Adam state, RNG, config)
    model.safetensors                    final weights (what the engine loads)
    train_log.jsonl                      one JSON line per step: loss, its terms, samples/s
    previews/step_00000250.png ...       preview grids (input | decoded by each identity)

`train` resumes from the newest step checkpoint in the folder. Batches are a pure function of
``(seed, step, rank)`` (see `facecast.neural.data`), weights and Adam moments are restored
exactly, so a resumed run reproduces the loss curve of an uninterrupted one. Ctrl-C stops at the
end of the current step and writes a checkpoint first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from facecast.errors import ModelError
from facecast.neural.checkpoint import (
    FINAL_NAME,
    Checkpoint,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    step_checkpoint_path,
    step_checkpoints,
)
from facecast.neural.config import ModelConfig, TrainConfig
from facecast.neural.data import IdentityData, batch_rng, plain_batch, sample_batch
from facecast.neural.distributed import Rank, StopRequest, any_rank, launch
from facecast.neural.losses import masked_l1, reconstruction_loss
from facecast.neural.model import CombModel
from facecast.neural.preview import write_preview

LOG_NAME = "train_log.jsonl"
PREVIEW_DIR = "previews"
#: Training settings that may change between a run and its resumption without breaking exactness.
_RESUMABLE_CHANGES = {"steps", "checkpoint_every", "preview_every", "keep_checkpoints"}


@dataclass
class TrainSummary:
    """What a `train` call did.

    Attributes
    ----------
    model_dir
        The model folder.
    start_step, end_step
        Steps done before and after this call.
    interrupted
        True when the run stopped early (Ctrl-C or a callback's KeyboardInterrupt).
    log
        Log entries of the steps this call ran (see `read_log`).
    final_model
        The weights-only model, written when the run reached ``steps``.
    """

    model_dir: Path
    start_step: int
    end_step: int
    interrupted: bool
    log: list[dict] = field(default_factory=list)
    final_model: Path | None = None


@dataclass
class _Job:
    model_dir: Path
    data: list[IdentityData]
    model_config: ModelConfig
    train_config: TrainConfig
    resume_from: Path | None
    progress: bool
    extra: dict
    on_step: Callable[[dict], None] | None = None


def train(
    model_dir: str | Path,
    data: list[IdentityData],
    model_config: ModelConfig,
    train_config: TrainConfig,
    *,
    processes: int = 1,
    progress: bool = False,
    extra: dict | None = None,
    on_step: Callable[[dict], None] | None = None,
) -> TrainSummary:
    """Train (or resume training) the model in `model_dir` up to ``train_config.steps``.

    Parameters
    ----------
    model_dir
        Output folder; created if missing. If it holds step checkpoints, training resumes from
        the newest one, which must have the same model config and training settings (other
        than the number of steps and the checkpoint/preview periods).
    data
        One `IdentityData` per identity, in ``model_config.identities`` order, at
        ``model_config.resolution``.
    model_config, train_config
        Network shape and training settings.
    processes
        Local worker processes (DDP; Gloo on CPU, NCCL on GPUs). Under ``torchrun`` the job's
        own world size is used instead.
    progress
        Show a progress bar with loss and samples/s on stderr.
    extra
        JSON-ready facts stored in every checkpoint (e.g. ``{"character_id": ...}``).
    on_step
        Called after every step with the log entry (single process only); raising
        `KeyboardInterrupt` from it stops the run as Ctrl-C does.

    Returns
    -------
    TrainSummary

    Raises
    ------
    ModelError
        If the data does not fit the config, or the folder's checkpoint cannot be resumed.
    """
    model_dir = Path(model_dir)
    _check_data(data, model_config)
    if on_step is not None and processes > 1:
        raise ValueError("on_step callbacks run only in single-process training")
    resume_from = latest_checkpoint(model_dir)
    start = 0
    if resume_from is not None:
        start = _check_resumable(
            load_checkpoint(resume_from), model_config, train_config, resume_from
        )
    model_dir.mkdir(parents=True, exist_ok=True)
    _truncate_log(model_dir / LOG_NAME, start)
    extra = {**(extra or {}), "identities": {d.name: len(d) for d in data}, "processes": processes}
    job = _Job(model_dir, data, model_config, train_config, resume_from, progress, extra, on_step)
    if start < train_config.steps:
        launch(_train_worker, job, processes)
    log = [entry for entry in read_log(model_dir) if entry["step"] > start]
    end = log[-1]["step"] if log else start
    final = model_dir / FINAL_NAME
    return TrainSummary(
        model_dir=model_dir,
        start_step=start,
        end_step=end,
        interrupted=end < train_config.steps,
        log=log,
        final_model=final if end >= train_config.steps and final.is_file() else None,
    )


def _check_data(data: list[IdentityData], config: ModelConfig) -> None:
    names = tuple(d.name for d in data)
    if names != config.identities:
        raise ModelError(
            f"training data identities {names} differ from the model's {config.identities}"
        )
    for identity in data:
        if identity.resolution != config.resolution:
            raise ModelError(
                f"faces of {identity.name!r} are {identity.resolution} px; the model is "
                f"{config.resolution} px (resize the faceset)"
            )


def _check_resumable(
    checkpoint: Checkpoint, model_config: ModelConfig, train_config: TrainConfig, path: Path
) -> int:
    """Return the checkpoint's step if the run can resume from it exactly, else raise."""
    if checkpoint.model_config != model_config:
        raise ModelError(
            f"was trained with model config {checkpoint.model_config.to_dict()}, not "
            f"{model_config.to_dict()}; use a new model folder",
            path,
        )
    if checkpoint.train_config is None or checkpoint.optimizer_state is None:
        raise ModelError("holds no optimizer state and cannot be resumed", path)
    old, new = checkpoint.train_config.to_dict(), train_config.to_dict()
    changed = sorted(k for k in new if k not in _RESUMABLE_CHANGES and old.get(k) != new[k])
    if changed:
        detail = ", ".join(f"{k}={old.get(k)!r}" for k in changed)
        raise ModelError(f"was trained with {detail}; resume with the same settings", path)
    return checkpoint.step


def read_log(model_dir: str | Path) -> list[dict]:
    """The run log of `model_dir`: one dict per step, oldest first.

    Each entry holds ``step`` (steps done), ``loss`` (total over identities),
    ``identities`` (per identity: ``loss`` and its unweighted terms), ``samples_per_s`` and
    ``seconds`` (wall time of the step).
    """
    path = Path(model_dir) / LOG_NAME
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _truncate_log(path: Path, step: int) -> None:
    """Drop log entries after `step` (steps an interrupted run did past its last checkpoint)."""
    if not path.is_file():
        return
    keep = [
        line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step
    ]
    temp = path.with_name(f".{path.name}.partial")
    temp.write_text("".join(f"{line}\n" for line in keep))
    temp.replace(path)


def _train_worker(rank: Rank, job: _Job) -> None:
    """One worker's training loop (all ranks run it; rank 0 also writes files)."""
    cfg = job.train_config
    torch.manual_seed(cfg.seed)
    model = CombModel(job.model_config).to(rank.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    start = 0
    if job.resume_from is not None:
        checkpoint = load_checkpoint(job.resume_from)
        model.load_state_dict(checkpoint.model_state)
        optimizer.load_state_dict(checkpoint.optimizer_state)
        torch.set_rng_state(checkpoint.rng_state)
        start = checkpoint.step
    net = DistributedDataParallel(model) if rank.world_size > 1 else model
    writer = _Writer(job, model, optimizer) if rank.is_main else None
    with StopRequest() as stop, _progress(job, start, rank) as bar:
        step = start
        for step in range(start + 1, cfg.steps + 1):
            entry = _train_step(net, optimizer, job, rank, step)
            if writer is not None:
                writer.after_step(entry, bar)
            stop.requested |= _callback(job, entry, rank)
            if any_rank(stop.requested, rank):
                break
        if writer is not None:
            writer.finish(step)


def _train_step(net, optimizer, job: _Job, rank: Rank, step: int) -> dict:
    """Run optimisation step number `step` (1-based) and return its log entry."""
    cfg = job.train_config
    began = time.perf_counter()
    batches = [
        sample_batch(data, cfg.batch_size, batch_rng(cfg.seed, step - 1, rank.rank, i), cfg)
        for i, data in enumerate(job.data)
    ]
    outputs = net([torch.from_numpy(b.inputs).to(rank.device) for b in batches])
    total = torch.zeros((), device=rank.device)
    per_identity = {}
    for data, batch, (rgb, mask) in zip(job.data, batches, outputs, strict=True):
        loss, terms = reconstruction_loss(
            rgb,
            mask,
            torch.from_numpy(batch.target).to(rank.device),
            torch.from_numpy(batch.mask).to(rank.device),
            torch.from_numpy(batch.emphasis).to(rank.device),
            cfg.loss,
        )
        total = total + loss
        per_identity[data.name] = {"loss": float(loss.detach()), **terms}
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    optimizer.step()
    seconds = time.perf_counter() - began
    samples = cfg.batch_size * len(job.data) * rank.world_size
    return {
        "step": step,
        "loss": float(total.detach()),
        "identities": per_identity,
        "samples_per_s": samples / max(seconds, 1e-9),
        "seconds": seconds,
    }


def _callback(job: _Job, entry: dict, rank: Rank) -> bool:
    """Call ``job.on_step``; True when it asked to stop."""
    if job.on_step is None or not rank.is_main:
        return False
    try:
        job.on_step(entry)
    except KeyboardInterrupt:
        return True
    return False


class _Writer:
    """Rank 0's files: log lines, previews, step checkpoints and the final model."""

    def __init__(self, job: _Job, model: CombModel, optimizer: torch.optim.Optimizer) -> None:
        self.job, self.model, self.optimizer = job, model, optimizer
        self.log = (job.model_dir / LOG_NAME).open("a")
        self.rate = 0.0

    def after_step(self, entry: dict, bar) -> None:
        step, cfg = entry["step"], self.job.train_config
        self.log.write(json.dumps(entry) + "\n")
        self.log.flush()
        self.rate = (
            entry["samples_per_s"]
            if self.rate == 0
            else 0.9 * self.rate + 0.1 * entry["samples_per_s"]
        )
        if bar is not None:
            bar[0].update(bar[1], completed=step, loss=entry["loss"], rate=self.rate)
        if cfg.preview_every and step % cfg.preview_every == 0:
            self.preview(step)
        if step % cfg.checkpoint_every == 0:
            self.checkpoint(step)

    def preview(self, step: int) -> None:
        path = self.job.model_dir / PREVIEW_DIR / f"step_{step:08d}.png"
        write_preview(self.model, self.job.data, path)

    def checkpoint(self, step: int) -> Path:
        state = Checkpoint(
            model_config=self.job.model_config,
            model_state=self.model.state_dict(),
            step=step,
            train_config=self.job.train_config,
            optimizer_state=self.optimizer.state_dict(),
            rng_state=torch.get_rng_state(),
            extra=self.job.extra,
        )
        path = save_checkpoint(state, step_checkpoint_path(self.job.model_dir, step))
        for _, old in step_checkpoints(self.job.model_dir)[
            : -self.job.train_config.keep_checkpoints
        ]:
            old.unlink(missing_ok=True)
        return path

    def finish(self, step: int) -> None:
        """Checkpoint the last step; after the final step also write the preview and model."""
        self.log.close()
        cfg = self.job.train_config
        if step % cfg.checkpoint_every != 0:
            self.checkpoint(step)
        if step < cfg.steps:
            return
        if cfg.preview_every and step % cfg.preview_every != 0:
            self.preview(step)
        weights = Checkpoint(
            model_config=self.job.model_config,
            model_state=self.model.state_dict(),
            step=step,
            train_config=cfg,
            extra=self.job.extra,
        )
        save_checkpoint(weights, self.job.model_dir / FINAL_NAME)


class _progress:  # noqa: N801 - used like a function in a `with` statement
    """Context manager yielding ``(rich Progress, task id)`` on rank 0 when asked, else ``None``."""

    def __init__(self, job: _Job, start: int, rank: Rank) -> None:
        self.enabled = job.progress and rank.is_main
        self.start, self.total = start, job.train_config.steps
        self.bar = None

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}"),
            TextColumn("{task.fields[rate]:.1f} samples/s"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self.bar.__enter__()
        task = self.bar.add_task(
            "train", total=self.total, completed=self.start, loss=0.0, rate=0.0
        )
        return self.bar, task

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


@torch.no_grad()
def reconstruction_error(model: CombModel, data: IdentityData, batch_size: int = 32) -> float:
    """Masked L1 error of `model` reconstructing `data` with its own decoder (no augmentation).

    Returns
    -------
    float
        Mean absolute error in [0, 1] inside the face masks, averaged over all faces.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    errors, weights = [], []
    for begin in range(0, len(data), batch_size):
        batch = plain_batch(data, np.arange(begin, min(begin + batch_size, len(data))))
        faces = torch.from_numpy(batch.inputs).to(device)
        mask = torch.from_numpy(batch.mask).to(device)
        rgb, _ = model.swap(faces, data.name)
        errors.append(float(masked_l1(rgb, faces, mask)))
        weights.append(float(mask.sum()))
    model.train(was_training)
    return float(np.average(errors, weights=weights))
