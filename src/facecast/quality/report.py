"""`write_report`: measure a shot and write ``report.json`` and ``report.html``.

``report.json`` holds:

- ``inputs``: the output, plate, character, gallery and matte paths, and the character id;
- ``shot``: the plate's description (size, fps, frame count, timecode);
- ``settings``: identity stride and frame limit;
- ``thresholds``: every metric's pass/warn limits and where they come from;
- ``summary``: the dictionary `write_report` returns (status, identity verdict, metric rows,
  frame counts, problem frames with timecodes, worst/best frames, notes, and the median
  signed pose, mouth and eye offsets output - plate);
- ``frames``: every per-frame measurement (`facecast.quality.frames.FrameMetrics`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

from facecast import __version__
from facecast.errors import FacecastError
from facecast.media import open_plate
from facecast.media.aspect import chosen_pixel_aspect
from facecast.quality.dlibface import QualityModels, load_quality_models
from facecast.quality.identity import IdentityReferences, load_references
from facecast.quality.measure import ShotMeasurement, measure_shot
from facecast.quality.page import render_page
from facecast.quality.stills import grab_stills
from facecast.quality.summary import THRESHOLDS, summarise

REPORT_JSON, REPORT_HTML = "report.json", "report.html"


def write_report(
    output: Path,
    plate: Path,
    character_dir: Path,
    report_dir: Path,
    *,
    gallery: Path | None = None,
    matte: Path | None = None,
    progress: bool = True,
    stride: int | None = None,
    max_frames: int | None = None,
    models: QualityModels | None = None,
    references: IdentityReferences | None = None,
    pixel_aspect: float | None = None,
) -> dict:
    """Measure `output` against `plate` and `character_dir`; write the report files.

    Parameters
    ----------
    output
        The rendered shot (video file or image-sequence folder).
    plate
        The original shot it was rendered from (same frame size).
    character_dir
        The character asset folder (``character.json`` + ``refs/``), or a folder of photos.
    report_dir
        Folder for ``report.json`` and ``report.html`` (created; other files are left alone).
    gallery
        Folder of other people for identity retrieval (subfolder or image per person).
    matte
        The swap's alpha as a video or image sequence; without it the face region is derived
        from dlib landmarks of plate and output.
    progress
        Show a progress bar on stderr.
    stride
        Identity descriptors every `stride` frames (default: every frame up to 240 frames,
        sampled beyond); the report says which.
    max_frames
        Measure only the first `max_frames` frames.
    models, references
        Already-loaded dlib models and identity references, to reuse across shots.
    pixel_aspect
        Width over height of a stored pixel when the plate does not say (`measure_shot`).

    Returns
    -------
    dict
        The shot summary, also saved as ``summary`` in ``report.json``.

    Raises
    ------
    FacecastError
        On unreadable inputs, mismatched frame sizes, a character without a usable face, or a
        `report_dir` that is not a folder.
    """
    output, plate, character_dir, report_dir = map(Path, (output, plate, character_dir, report_dir))
    if report_dir.exists() and not report_dir.is_dir():
        raise FacecastError("report folder exists and is not a folder", report_dir)
    models = models or load_quality_models()
    references = references or load_references(models, character_dir, gallery)
    plate_info = open_plate(plate).info
    aspect = chosen_pixel_aspect(plate_info, pixel_aspect)
    total = plate_info.frame_count
    total = min(total, max_frames) if max_frames else total
    with _progress_bar(progress, total, f"report {output.name}") as advance:
        shot = measure_shot(
            output,
            plate,
            references,
            models,
            matte=matte,
            stride=stride,
            max_frames=max_frames,
            on_frame=advance,
            pixel_aspect=aspect,
        )
    summary = summarise(shot)
    report = _report_dict(shot, summary, output, character_dir, gallery, max_frames)
    stills = {
        key: grab_stills(plate, output, shot.frames, summary[f"{key}_frames"], aspect)
        for key in ("worst", "best")
    }
    page = render_page(report, shot.frames, stills)
    report_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(report_dir / REPORT_HTML, page)
    _write_atomic(report_dir / REPORT_JSON, json.dumps(report, indent=1, allow_nan=False) + "\n")
    return summary


def _report_dict(
    shot: ShotMeasurement,
    summary: dict,
    output: Path,
    character_dir: Path,
    gallery: Path | None,
    max_frames: int | None,
) -> dict:
    return {
        "facecast_version": __version__,
        "report_version": 1,
        "inputs": {
            "output": str(output),
            "plate": str(shot.plate.path),
            "character": str(character_dir),
            "character_id": shot.references.character.name,
            "gallery": None if gallery is None else str(gallery),
            "matte": None if shot.matte is None else str(shot.matte),
        },
        "shot": shot.plate.to_dict(),
        "settings": {"stride": shot.stride, "max_frames": max_frames},
        "thresholds": [asdict(t) for t in THRESHOLDS],
        "summary": summary,
        "frames": [r.to_dict() for r in shot.frames],
    }


def _write_atomic(path: Path, text: str) -> None:
    """Write `text` under a temporary name beside `path`, then rename it into place."""
    temp = path.with_name(f".{path.name}.partial")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


@contextlib.contextmanager
def _progress_bar(show: bool, total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on stderr yielding an ``advance(index)`` callback, or ``None``."""
    if not show:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda _index: bar.advance(task)
