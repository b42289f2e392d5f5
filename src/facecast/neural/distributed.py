"""Process-group plumbing for training on 1 process, N CPU processes or N GPUs with one code path.

`launch` runs a worker function once (``processes == 1``), spawns ``processes`` local workers
with `torch.multiprocessing.spawn` (rendezvous through a temporary file), or, when started by
``torchrun`` (``WORLD_SIZE`` set in the environment), runs this process's rank of that job. The
device is picked per rank: ``cuda:<local rank>`` when CUDA is present, else the CPU; the backend
follows (NCCL on GPUs, Gloo on CPUs).
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


@dataclass(frozen=True)
class Rank:
    """Where one worker stands in the job.

    Attributes
    ----------
    rank, world_size
        This worker's index and the number of workers.
    device
        The torch device this worker computes on.
    """

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """True on the worker that writes checkpoints, previews and logs."""
        return self.rank == 0


def pick_device(local_rank: int = 0) -> torch.device:
    """``cuda:<local_rank mod GPUs>`` when CUDA is available, else ``cpu``."""
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def backend_for(device: torch.device) -> str:
    """Collective backend for `device`: ``nccl`` on CUDA, ``gloo`` otherwise."""
    return "nccl" if device.type == "cuda" else "gloo"


def env_world() -> tuple[int, int, int] | None:
    """``(rank, local_rank, world_size)`` when launched by ``torchrun`` with >1 workers."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None
    return int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")), world


def launch(worker: Callable[[Rank, object], None], job: object, processes: int = 1) -> None:
    """Run ``worker(rank, job)`` on every worker of the job and wait for all of them.

    Parameters
    ----------
    worker
        A module-level function (it is pickled by reference for spawned processes).
    job
        Picklable description of the work, passed to every worker unchanged.
    processes
        Local processes to spawn; ignored when ``torchrun`` already started this process.
    """
    launched = env_world()
    if launched is not None:
        rank, local_rank, world = launched
        _run_worker(local_rank, world, "env://", worker, job, rank)
    elif processes <= 1:
        device = pick_device(0)
        if device.type == "cuda":
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
        worker(Rank(0, 1, device), job)
    else:
        with tempfile.TemporaryDirectory(prefix="facecast-ddp-") as folder:
            init = f"file://{folder}/rendezvous"
            context = mp.spawn(
                _run_worker,
                args=(processes, init, worker, job, None),
                nprocs=processes,
                join=False,
            )
            _join(context)


def _join(context: mp.ProcessContext) -> None:
    """Wait for spawned workers; Ctrl-C here lets them finish their interrupted step."""
    while True:
        try:
            if context.join():
                return
        except KeyboardInterrupt:
            continue


def _run_worker(
    local_rank: int,
    world: int,
    init_method: str,
    worker: Callable[[Rank, object], None],
    job: object,
    global_rank: int | None,
) -> None:
    rank = local_rank if global_rank is None else global_rank
    device = pick_device(local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cudnn.deterministic = True  # exact resume needs repeatable kernels
        torch.backends.cudnn.benchmark = False
    else:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    dist.init_process_group(
        backend_for(device), init_method=init_method, rank=rank, world_size=world
    )
    try:
        worker(Rank(rank, world, device), job)
        # leave together: a rank that tears its gloo connections down while another still
        # uses them can abort that one ("terminate called without an active exception",
        # SIGABRT, seen once in a CI run of the two-process test)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def any_rank(flag: bool, rank: Rank) -> bool:
    """Whether `flag` is set on any worker (an all-reduce; plain `flag` on a single worker)."""
    if rank.world_size == 1:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=rank.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


class StopRequest:
    """Turns Ctrl-C (SIGINT) into a flag checked between training steps.

    Use as a context manager; outside the main thread it only holds the flag.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def _handle(self, signum, frame) -> None:
        self.requested = True

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._previous is not None:
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGINT, self._previous)
