"""The ``facecast report`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

_STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "red", "n/a": "dim"}


def register(app: typer.Typer) -> None:
    """Add ``report`` to the facecast command line."""
    app.command("report", short_help="Measure a swapped shot against its plate; write a report.")(
        report
    )


def report(
    output: Annotated[
        Path,
        typer.Argument(
            help="The rendered shot (video or image-sequence folder).", metavar="OUTPUT"
        ),
    ],
    plate: Annotated[Path, typer.Option("--plate", help="The original shot it was rendered from.")],
    character: Annotated[Path, typer.Option("--character", help="The character asset folder.")],
    report_dir: Annotated[
        Path | None,
        typer.Option("-o", "--out", help="Report folder (default: <OUTPUT>.report beside it)."),
    ] = None,
    gallery: Annotated[
        Path | None, typer.Option("--gallery", help="Folder of other people for retrieval.")
    ] = None,
    matte: Annotated[
        Path | None, typer.Option("--matte", help="The swap's alpha (video or image sequence).")
    ] = None,
    stride: Annotated[
        int | None,
        typer.Option("--stride", min=1, help="Identity every N frames (default: all up to 240)."),
    ] = None,
    frames: Annotated[
        int | None, typer.Option("--frames", min=1, help="Measure only the first N frames.")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit with status 2 when the shot fails.")
    ] = False,
    pixel_aspect: Annotated[
        float | None,
        typer.Option(
            "--pixel-aspect",
            help="Width over height of a stored pixel when the plate does not say (as given to "
            "swap); faces are measured in square pixels.",
        ),
    ] = None,
) -> None:
    """Measure a rendered shot against its plate and character; write report.json/html."""
    from rich.console import Console
    from rich.table import Table

    from facecast.quality.report import REPORT_HTML, write_report

    report_dir = report_dir or output.with_name(output.name + ".report")
    summary = write_report(
        output,
        plate,
        character,
        report_dir,
        gallery=gallery,
        matte=matte,
        stride=stride,
        max_frames=frames,
        pixel_aspect=pixel_aspect,
    )
    console = Console()
    table = Table(title=f"{output.name}: {summary['identity']['text']}")
    for column in ("metric", "value", "frames", "status", "pass if"):
        table.add_column(column)
    for row in summary["metrics"]:
        value = "-" if row["value"] is None else f"{row['value']:.4g}"
        style = _STATUS_STYLE[row["status"]]
        status = f"[{style}]{row['status']}[/]"
        table.add_row(row["label"], value, str(row["frames"]), status, row["pass_if"])
    console.print(table)
    console.print(
        f"{len(summary['problem_frames'])} problem frame(s); overall "
        f"[{_STATUS_STYLE[summary['status']]}]{summary['status']}[/]. "
        f"Report: {report_dir / REPORT_HTML}"
    )
    if strict and summary["status"] == "fail":
        raise typer.Exit(2)
