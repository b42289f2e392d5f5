"""Neural engine benchmark: training samples/s, inference fps and peak memory per resolution.

    .venv/bin/python benchmarks/neural.py                       # 64, 128, 256 px
    .venv/bin/python benchmarks/neural.py --sizes 64 --steps 20
    .venv/bin/python benchmarks/neural.py --quality --quality-steps 400   # + neural vs mesh

Speed: real faces of weekly_address_clip1 (aligned once at 256 px, resized per size) and
London person 004 train a model of the default shape (``ModelConfig`` defaults) through the
project's own `facecast.neural.train.train` loop; samples/s is the median over the timed steps
(after warm-up steps), counting the faces of both identities. Inference runs
`facecast.engines.neural.NeuralEngine.render` on the clip's tracked faces (alignment, model,
paste-back) and, separately, the model alone on aligned crops. Each size runs in its own
process, so peak memory (max RSS) is that size's; "above base" subtracts the process's RSS after
imports and data loading (the baseline measured in the same run).

Quality (``--quality``): a model is trained for the stated number of steps on the clip and the
character, then the clip is rendered with ``--engine neural`` and with the mesh engine through
`facecast.render.render_shot` and measured with `facecast.quality.write_report` (the table of
benchmarks/quality.py).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLATE = REPO / "tests" / "data" / "plates" / "weekly_address_clip1.mp4"
REFS = sorted((REPO / "tests" / "data" / "faces" / "london" / "004").glob("*.jpg"))
CONSENT = REPO / "examples" / "consent_london_004.toml"


def _rss_mb() -> float:
    """Current resident set size of this process in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _measure(
    size: int, work: str, steps: int, warmup: int, frames: int, threads: int, queue
) -> None:
    """One resolution, in a fresh process: train, then infer; put the numbers on `queue`."""
    import numpy as np
    import torch

    if threads > 0:
        torch.set_num_threads(threads)

    from facecast.analysis import ShotTracks
    from facecast.engines.neural import NeuralEngine
    from facecast.media import open_plate
    from facecast.neural.checkpoint import FINAL_NAME, load_checkpoint, step_checkpoint_path
    from facecast.neural.config import ModelConfig, TrainConfig
    from facecast.neural.faceset import load_faceset
    from facecast.neural.train import train

    work_dir = Path(work)
    actor = load_faceset(work_dir / "actor").identity_data("actor", size)
    character = load_faceset(work_dir / "character").identity_data("person004", size)
    tracks = ShotTracks.load(work_dir / "tracks.json")
    faces = tracks.faces_of(tracks.main_track())
    plate_frames = [f for _, f in zip(range(frames), open_plate(PLATE).frames(), strict=False)]
    base = _rss_mb()
    config = ModelConfig(resolution=size, identities=("actor", "person004"))
    settings = TrainConfig(steps=warmup + steps, batch_size=8, checkpoint_every=warmup + steps)
    settings = TrainConfig(**{**settings.to_dict(), "preview_every": 0})
    model_dir = work_dir / f"model{size}"
    summary = train(model_dir, [actor, character], config, settings)
    rates = [entry["samples_per_s"] for entry in summary.log[warmup:]]
    train_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    engine = NeuralEngine(model_dir)
    engine.prepare("person004")
    engine.render(plate_frames[0], faces[0])
    started = time.perf_counter()
    for index, frame in enumerate(plate_frames):
        engine.render(frame, faces[index])
    render_fps = len(plate_frames) / (time.perf_counter() - started)
    crops = actor.rgb[: len(plate_frames)]
    started = time.perf_counter()
    for crop in crops:
        engine.swap_crop(crop)
    model_fps = len(crops) / (time.perf_counter() - started)
    weights = load_checkpoint(model_dir / FINAL_NAME).model_state
    params = sum(tensor.numel() for tensor in weights.values())
    queue.put(
        {
            "size": size,
            "params_m": params / 1e6,
            "train_samples_per_s": statistics.median(rates),
            "train_step_s": statistics.median(e["seconds"] for e in summary.log[warmup:]),
            "render_fps": render_fps,
            "model_fps": model_fps,
            "base_mb": base,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "train_peak_mb": train_peak,
            "threads": torch.get_num_threads(),
            "checkpoint_mb": step_checkpoint_path(model_dir, warmup + steps).stat().st_size / 2**20,
            "final_loss": float(np.mean([e["loss"] for e in summary.log[-5:]])),
        }
    )


def _prepare(work: Path) -> None:
    """Faces of the clip and of the character (256 px) and the clip's tracks, once."""
    from facecast.analysis import analyze_plate
    from facecast.character.asset import create_character
    from facecast.media import open_plate
    from facecast.neural.extract import ExtractSettings, extract_faceset, faces_from_character
    from facecast.neural.faceset import save_faceset

    settings = ExtractSettings(size=256)
    save_faceset(extract_faceset([PLATE], settings)[0], work / "actor")
    character = create_character(work / "person004", REFS, CONSENT)
    save_faceset(faces_from_character(character, settings), work / "character")
    analyze_plate(open_plate(PLATE), progress=False).save(work / "tracks.json")


def speed(args: argparse.Namespace, work: Path) -> list[dict]:
    context = mp.get_context("spawn")
    rows = []
    for size in args.sizes:
        queue = context.Queue()
        process = context.Process(
            target=_measure,
            args=(size, str(work), args.steps, args.warmup, args.frames, args.threads, queue),
        )
        process.start()
        row = _result(queue, process)
        rows.append(row)
        print(_speed_row(row), flush=True)
    return rows


def _result(queue, process) -> dict:
    """Wait for the measuring process's numbers; fail loudly if it died without any."""
    import queue as queues

    while True:
        try:
            row = queue.get(timeout=5)
        except queues.Empty:
            if not process.is_alive():
                raise RuntimeError(
                    f"measuring process exited with code {process.exitcode}"
                ) from None
            continue
        process.join()
        return row


def _speed_row(row: dict) -> str:
    return (
        f"{row['size']:>5} px  {row['params_m']:6.2f} M params  "
        f"train {row['train_samples_per_s']:7.1f} samples/s ({row['train_step_s']:.3f} s/step)  "
        f"render {row['render_fps']:6.1f} fps  model {row['model_fps']:7.1f} fps  "
        f"peak {row['peak_mb']:6.0f} MiB ({row['peak_mb'] - row['base_mb']:+.0f} above base "
        f"{row['base_mb']:.0f})  ckpt {row['checkpoint_mb']:.1f} MiB  threads {row['threads']}"
    )


def quality(args: argparse.Namespace, work: Path) -> None:
    """Train for ``--quality-steps`` and compare neural with mesh on the clip (quality table)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import quality as quality_bench
    from facecast.neural.config import ModelConfig, TrainConfig
    from facecast.neural.extract import ExtractSettings, extract_faceset
    from facecast.neural.faceset import save_faceset
    from facecast.neural.workflow import CharacterData, train_character
    from facecast.quality import load_quality_models, write_report
    from facecast.quality.identity import load_people
    from facecast.render import RenderSettings, render_shot

    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    size = args.quality_size
    faceset = work / f"actor{size}"
    save_faceset(extract_faceset([PLATE], ExtractSettings(size=size))[0], faceset)
    model = args.quality_model or work / f"quality_model{size}"
    config = ModelConfig(resolution=size, encoder_dims=16, ae_dims=64, decoder_dims=16)
    settings = TrainConfig(
        steps=args.quality_steps, batch_size=8, learning_rate=1e-3, preview_every=0
    )
    started = time.perf_counter()
    summary = train_character(
        work / "person004", faceset, model, config, settings,
        character_data=CharacterData(pose_renders=16),
    )  # fmt: skip
    train_seconds = time.perf_counter() - started
    print(
        f"\nneural model: {size} px, encoder/ae/decoder 16/64/16, {args.quality_steps} steps of "
        f"8+8 faces, lr 1e-3, pose renders 16; steps {summary.start_step}-{summary.end_step} "
        f"trained now in {train_seconds:.0f} s on this CPU"
    )
    models = load_quality_models()
    london = REPO.parent / "shared" / "data" / "faces" / "london"
    people = load_people(models, london)[0] if london.is_dir() else []
    references = quality_bench._references(models, work / "person004", people)
    rows = []
    for engine in ("mesh", "neural"):
        output = work / f"{engine}.mp4"
        render = RenderSettings(engine=engine, model=str(model) if engine == "neural" else None)
        started = time.perf_counter()
        result = render_shot(PLATE, work / "person004", output, settings=render, progress=False,
                             matte=work / f"{engine}_matte.mkv")  # fmt: skip
        swap_seconds = time.perf_counter() - started
        started = time.perf_counter()
        summary = write_report(
            output, PLATE, work / "person004", work / f"report_{engine}", matte=result.matte,
            models=models, references=references, progress=False,
        )  # fmt: skip
        report_seconds = time.perf_counter() - started
        frames = summary["frames"]["compared"]
        row = {"clip": f"clip1 {engine}", "character": "004"}
        row.update({m["key"]: m["value"] for m in summary["metrics"]})
        row.update(
            plate_distance=summary["identity"]["plate_distance_to_character"],
            frames=frames,
            measured=summary["frames"]["measured"],
            status=summary["status"],
            swap_fps=frames / swap_seconds,
            report_fps=frames / report_seconds,
        )
        rows.append(row)
    print(quality_bench._table(rows))
    print(quality_bench.TARGETS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per size")
    parser.add_argument("--warmup", type=int, default=3, help="untimed first steps")
    parser.add_argument("--frames", type=int, default=30, help="frames rendered per size")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--quality", action="store_true", help="also compare with the mesh engine")
    parser.add_argument("--quality-steps", type=int, default=400)
    parser.add_argument("--quality-size", type=int, default=64)
    parser.add_argument(
        "--quality-model", type=Path, default=None, help="keep (or resume) the quality model here"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="facecast-neural-bench-") as work:
        work = Path(work)
        _prepare(work)
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        speed(args, work)
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        if args.quality:
            quality(args, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
