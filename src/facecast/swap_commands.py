"""``facecast swap``: the main job, from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Attach the ``swap`` command to the facecast app."""
    app.command("swap", short_help="Put CHARACTER's face on the actor in PLATE; write OUTPUT.")(
        swap_command
    )


def swap_command(
    plate: Annotated[
        Path, typer.Argument(help="Video file or image-sequence folder.", metavar="PLATE")
    ],
    character: Annotated[Path, typer.Option(help="Character folder (facecast character create).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output video or folder.")],
    track: Annotated[int | None, typer.Option(help="Swap only this track id.")] = None,
    all_faces: Annotated[bool, typer.Option("--all-faces", help="Swap every face.")] = False,
    matte: Annotated[
        Path | None, typer.Option(help="Write the alpha matte: video file or PNG folder.")
    ] = None,
    layer: Annotated[
        Path | None,
        typer.Option(
            help="Write the face layer: a folder of premultiplied RGBA OpenEXR frames that, "
            "merged over the plate, rebuild the output (for Nuke)."
        ),
    ] = None,
    engine: Annotated[str, typer.Option(help="Swap engine: mesh or neural.")] = "mesh",
    model: Annotated[Path | None, typer.Option(help="Model folder (neural engine).")] = None,
    shape_strength: Annotated[
        float | None,
        typer.Option(help="Mesh engine: 0 keeps the actor's proportions, 1 the character's."),
    ] = None,
    steady_frames: Annotated[
        float,
        typer.Option(
            min=0.0, help="Frames over which head tremor is removed, without lag (0: off)."
        ),
    ] = 2.5,
    tracks: Annotated[
        Path | None, typer.Option(help="Reuse tracks.json from facecast analyze.")
    ] = None,
    codec: Annotated[
        str | None,
        typer.Option(
            help="h264 (default; for a plate of more than 8 bits: prores4444 in .mov, ffv1 in "
            ".mkv), prores4444, ffv1; png (default), tiff, exr, dpx, jpg for folders (exr for a "
            "float EXR plate, dpx for a DPX plate)."
        ),
    ] = None,
    crf: Annotated[int | None, typer.Option(help="H.264 quality, lower is better.")] = None,
    pixel_aspect: Annotated[
        float | None,
        typer.Option(
            help="Width over height of a stored pixel, when the plate does not say (2 for a 2x "
            "anamorphic scan); faces are swapped in square pixels."
        ),
    ] = None,
    encoder_threads: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Video encoder threads (default 2); the output bytes depend on it, not on the "
            "machine's cores.",
        ),
    ] = None,
    hands: Annotated[bool, typer.Option("--hands/--no-hands", help="Hands occlude.")] = True,
    glasses: Annotated[
        bool,
        typer.Option(
            "--glasses/--no-glasses",
            help="Eyeglass frames of an actor who wears them stay in front of the character.",
        ),
    ] = True,
    foreground: Annotated[
        bool,
        typer.Option(
            "--foreground/--no-foreground",
            help="What is coloured unlike skin in front of the face (a glow, a light streak) "
            "stays in front of the character.",
        ),
    ] = True,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report", help="Also write the quality report to this folder.", show_default=False
        ),
    ] = None,
    gallery: Annotated[Path | None, typer.Option(help="Gallery of other people.")] = None,
    sign_cert: Annotated[
        Path | None, typer.Option(help="C2PA signing certificate chain (PEM).")
    ] = None,
    sign_key: Annotated[Path | None, typer.Option(help="C2PA signing private key (PEM).")] = None,
    project: Annotated[
        Path | None, typer.Option(help="Project folder holding the consent ledger.")
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(min=1, help="Frames swapped at once (default: one per core; same output)."),
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show progress bars on stderr.")
    ] = True,
) -> None:
    """Replace the actor's face in PLATE with CHARACTER; write OUTPUT, its manifest and matte."""
    from facecast.composite.compositor import CompositeSettings
    from facecast.render import RenderSettings, render_shot

    if track is not None and all_faces:
        raise typer.BadParameter("give --track or --all-faces, not both")
    signing = None
    if sign_cert or sign_key:
        if not (sign_cert and sign_key):
            raise typer.BadParameter("--sign-cert and --sign-key go together")
        from facecast.provenance.credentials import SigningIdentity

        signing = SigningIdentity.from_files(sign_cert, sign_key)
    settings = RenderSettings(
        engine=engine,
        model=str(model) if model else None,
        shape_strength=shape_strength,
        steady_frames=steady_frames,
        track=track,
        all_faces=all_faces,
        hands=hands,
        glasses=glasses,
        codec=codec,
        crf=crf,
        pixel_aspect=pixel_aspect,
        composite=CompositeSettings(keep_foreground=foreground),
        **({} if encoder_threads is None else {"encoder_threads": encoder_threads}),
    )
    result = render_shot(
        plate,
        character,
        output,
        settings=settings,
        matte=matte,
        layer=layer,
        tracks_file=tracks,
        report_dir=report,
        gallery=gallery,
        signing=signing,
        project_dir=project,
        progress=progress,
        threads=threads,
    )
    total = sum(result.seconds.values())
    typer.echo(
        f"swapped track(s) {result.target_tracks} in {result.swapped_frames}/{result.frame_count} "
        f"frames in {total:.1f} s ({result.frame_count / max(total, 1e-9):.1f} fps); "
        f"render id {result.render_id}; C2PA {result.credentials}"
    )
    if result.glasses_tracks:
        typer.echo(
            f"eyeglass frames kept in front of the character on track(s) {result.glasses_tracks}"
        )
    if result.plate is not None:
        typer.echo(f"plate:    {plate} ({result.plate.describe()})")
    encoding = dict(result.encoding)
    aspect = encoding.pop("pixel_aspect", None)
    encoding.pop("pixel_aspect_stored", None)  # told below, with the matte's (aspect_unstored)
    written = ", ".join(
        f"{value}-bit" if key == "bit_depth" else str(value) for key, value in encoding.items()
    )
    if aspect is not None and result.output not in result.aspect_unstored:
        written += f", pixel aspect {aspect}"
    typer.echo(f"output:   {result.output} ({written})")
    if result.aspect_unstored:
        names = " and ".join(path.name for path in result.aspect_unstored)
        verb = "does" if len(result.aspect_unstored) == 1 else "do"
        typer.echo(
            f"warning: {names} {verb} not store the pixel aspect {result.pixel_aspect} (FFV1 in "
            "Matroska keeps none): set it in the compositing tool, or write H.264, ProRes "
            "(.mov) or an image sequence",
            err=True,
        )
    if result.matte:
        typer.echo(f"matte:    {result.matte}")
    if result.layer:
        typer.echo(f"layer:    {result.layer} (RGBA OpenEXR, premultiplied, scene-linear)")
    typer.echo(f"manifest: {result.manifest}")
    if result.report is not None:
        typer.echo(f"report:   {report / 'report.html'}")
