"""``facecast faceset extract`` and ``facecast train``: the neural extract and train stages."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

faceset_app = typer.Typer(
    help="Aligned face sets for training the neural engine.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Attach ``faceset extract`` and ``train`` to the facecast app."""
    faceset_app.command("extract")(extract_command)
    app.add_typer(faceset_app, name="faceset")
    app.command("train", short_help="Train or resume a neural model: ACTOR faceset to CHARACTER.")(
        train_command
    )


def extract_command(
    sources: Annotated[
        list[Path],
        typer.Argument(
            help="Plates (video files), photos or photo folders, or character folders.",
            metavar="SOURCES",
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="New faceset folder.")],
    size: Annotated[int, typer.Option(help="Crop side in pixels (64-1024).")] = 256,
    coverage: Annotated[
        float, typer.Option(help="Crop width relative to the eyes-nose-mouth template.")
    ] = 1.35,
    every: Annotated[int, typer.Option(help="Keep every n-th frame of a plate.")] = 1,
    all_faces: Annotated[
        bool, typer.Option("--all-faces", help="Keep every tracked face, not only the main one.")
    ] = False,
    max_yaw: Annotated[float, typer.Option(help="Drop faces turned further (degrees).")] = 75.0,
    max_pitch: Annotated[float, typer.Option(help="Drop faces tilted further (degrees).")] = 50.0,
    min_sharpness: Annotated[
        float,
        typer.Option(help="Drop faces below this fraction of their source's median sharpness."),
    ] = 0.2,
    dedupe: Annotated[
        float, typer.Option(help="Drop near-duplicates closer than this (0 keeps all; try 0.02).")
    ] = 0.0,
    sort: Annotated[str, typer.Option(help="source | sharpness | yaw | pitch")] = "source",
    augment: Annotated[int, typer.Option(help="Augmented copies per face (tiny photo sets).")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the augmentation.")] = 0,
    sequence: Annotated[
        bool, typer.Option("--sequence", help="Treat image folders as one shot's frames.")
    ] = False,
) -> None:
    """Cut aligned faces with landmarks and masks out of SOURCES into a faceset folder."""
    from facecast.errors import MediaError
    from facecast.neural.extract import ExtractSettings, extract_faceset
    from facecast.neural.faceset import save_faceset

    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise MediaError("exists and is not an empty folder; refusing to overwrite", output)

    settings = ExtractSettings(
        size=size,
        coverage=coverage,
        every=every,
        all_faces=all_faces,
        max_yaw=max_yaw,
        max_pitch=max_pitch,
        min_sharpness=min_sharpness,
        dedupe=dedupe,
    )
    faceset, report = extract_faceset(
        sources, settings, sort=sort, augment_copies=augment, seed=seed, sequences=sequence
    )
    save_faceset(faceset, output)
    typer.echo(
        f"found {report.found} face(s); dropped {report.dropped_pose} turned, "
        f"{report.dropped_blur} blurred, {report.dropped_duplicate} duplicate; "
        f"added {report.augmented} augmented; wrote {report.kept} to {output}"
    )


def train_command(
    character: Annotated[Path, typer.Option(help="Character folder (facecast character create).")],
    actor: Annotated[Path, typer.Option(help="Actor faceset folder (facecast faceset extract).")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Model folder (resumed if it exists).")
    ],
    resolution: Annotated[int, typer.Option(help="Model crop side (64-1024, power of two).")] = 128,
    steps: Annotated[int, typer.Option(help="Total optimisation steps.")] = 20000,
    batch_size: Annotated[int, typer.Option(help="Faces per identity per step and process.")] = 8,
    learning_rate: Annotated[float, typer.Option(help="Adam learning rate.")] = 5e-4,
    seed: Annotated[int, typer.Option(help="Seed of weights and batches.")] = 0,
    encoder_dims: Annotated[int, typer.Option(help="Channels of the first encoder stage.")] = 32,
    ae_dims: Annotated[int, typer.Option(help="Width of the shared bottleneck.")] = 128,
    decoder_dims: Annotated[int, typer.Option(help="Channels of the last decoder stage.")] = 32,
    checkpoint_every: Annotated[int, typer.Option(help="Steps between checkpoints.")] = 500,
    preview_every: Annotated[int, typer.Option(help="Steps between preview grids (0: off).")] = 500,
    random_warp: Annotated[
        bool,
        typer.Option(
            "--random-warp/--no-random-warp",
            help="Warp training faces at random (DeepFaceLab style).",
        ),
    ] = True,
    augment: Annotated[int, typer.Option(help="Stored augmented copies per reference photo.")] = 0,
    pose_renders: Annotated[
        int, typer.Option(help="Mesh-engine renders of the character at actor poses.")
    ] = 16,
    processes: Annotated[
        int, typer.Option(help="Training processes (DDP; GPUs when present).")
    ] = 1,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show progress bars on stderr.")
    ] = True,
) -> None:
    """Train (or resume) a neural model that turns the ACTOR faceset into CHARACTER."""
    from facecast.neural.config import ModelConfig, TrainConfig
    from facecast.neural.workflow import CharacterData, train_character

    model_config = ModelConfig(
        resolution=resolution,
        encoder_dims=encoder_dims,
        ae_dims=ae_dims,
        decoder_dims=decoder_dims,
    )
    train_config = TrainConfig(
        steps=steps,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        checkpoint_every=checkpoint_every,
        preview_every=preview_every,
        random_warp=random_warp,
    )
    summary = train_character(
        character,
        actor,
        output,
        model_config,
        train_config,
        character_data=CharacterData(augment_copies=augment, pose_renders=pose_renders, seed=seed),
        processes=processes,
        progress=progress,
    )
    if summary.interrupted:
        typer.echo(
            f"interrupted at step {summary.end_step}; checkpoint saved in {output}; "
            "run the same command again to resume"
        )
        raise typer.Exit(130)
    last = summary.log[-1]["loss"] if summary.log else float("nan")
    typer.echo(
        f"trained steps {summary.start_step}-{summary.end_step}, last loss {last:.4f}; "
        f"model: {summary.final_model}"
    )
