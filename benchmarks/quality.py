"""Quality benchmark: swap every plate with several London characters and report each shot.

Prints one table, clip x character: identity retrieval (the character nearest among the
character, the actor and the other London people), dlib distance to the character (and the
untouched plate's, for scale), pose error, mouth and eye opening error (each raw, and with
the shot's constant offset removed: how well the output follows the actor's motion; and read
alone, the output's eyes or mouth pasted into the plate: what the swap did to that feature),
temporal stability ratio, landmark jitter ratio, seam ΔE00, PSNR outside the matte, and swap /
report speed.

    .venv/bin/python benchmarks/quality.py                  # every plate, 4 characters, all frames
    .venv/bin/python benchmarks/quality.py --frames 48 --characters 004 012
    .venv/bin/python benchmarks/quality.py --json out.json  # also save every row

Every frame of all six plates with four characters takes about 30-40 minutes on 2 CPU cores;
``--frames`` measures the first N frames of each plate. Uses the project's render
(`facecast.render.render_shot`, default mesh engine) and `facecast.quality.write_report`.
Data: ../shared/data (plates: see their licences; faces: London set, CC BY 4.0, DeBruine &
Jones 2017).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from facecast.errors import FacecastError
from facecast.media import VideoWriter, open_plate
from facecast.quality import IdentityReferences, load_quality_models, write_report
from facecast.quality.identity import (
    exclude_character,
    load_character,
    load_people,
    source_hashes,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_CHARACTERS = ("004", "012", "024", "042")
CONSENT = """
subject = "Face Research Lab London Set, person {person}"
granted_by = "DeBruine & Jones (2017), released under CC BY 4.0"
basis = "licensed"
production = "facecast quality benchmark"
"""
COLUMNS = (
    ("retrieval", "retrieval_rate", "{:.0%}"),
    ("dist", "distance_to_character", "{:.3f}"),
    ("pose°", "pose_error", "{:.2f}"),
    ("track°", "pose_tracking_error", "{:.2f}"),
    ("mouth", "mouth_error", "{:.4f}"),
    ("eye", "eye_error", "{:.4f}"),
    ("mouthF", "mouth_following_error", "{:.4f}"),
    ("eyeF", "eye_following_error", "{:.4f}"),
    ("mouthL", "mouth_local_error", "{:.4f}"),
    ("eyeL", "eye_local_error", "{:.4f}"),
    ("eye±", "eye_offset", "{:+.4f}"),
    ("stab", "stability_ratio", "{:.3f}"),
    ("jitter", "jitter_ratio", "{:.2f}"),
    ("seamΔE", "edge_de_excess", "{:.2f}"),
    ("PSNR", "psnr_outside", "{:.1f}"),
)
TARGETS = (
    "targets: retrieval >= 95%, mouth <= 0.02, eye <= 0.008, seam ΔE <= 3, stability <= 1.1, "
    "PSNR outside >= 40 dB; dist <= 0.6 is dlib's same-person tolerance"
)
#: The issue's targets: (label, row key, the bound, True when the value must stay at or below).
TARGET_BOUNDS = (
    ("retrieval", "retrieval_rate", 0.95, False),
    ("mouth", "mouth_error", 0.02, True),
    ("eye", "eye_error", 0.008, True),
    ("seamΔE", "edge_de_excess", 3.0, True),
    ("stab", "stability_ratio", 1.1, True),
    ("PSNR", "psnr_outside", 40.0, False),
)


def main() -> int:
    args = _arguments()
    plates = sorted((args.data / "plates").glob("*.mp4"))
    if args.plates:
        plates = [p for p in plates if p.stem in args.plates]
    london = args.data / "faces" / "london"
    if not plates or not london.is_dir():
        print(f"no plates or London faces under {args.data}", file=sys.stderr)
        return 1
    models = load_quality_models()
    people, _ = load_people(models, london)
    rows = []
    with tempfile.TemporaryDirectory(prefix="facecast-bench-") as work:
        work = Path(work)
        characters = {p: _character(london / p, work) for p in args.characters}
        for plate in plates:
            clip = _trimmed(plate, args.frames, work)
            for person, character_dir in characters.items():
                references = _references(models, character_dir, people)
                row = _run(clip, plate.stem, person, character_dir, references, models, work)
                rows.append(row)
                print(_format_row(row), flush=True)
    print()
    print(_table(rows))
    print(TARGETS)
    print()
    print(_per_clip(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=None, help="first N frames of each plate")
    parser.add_argument("--characters", nargs="+", default=list(DEFAULT_CHARACTERS))
    parser.add_argument("--plates", nargs="+", default=None, help="plate names (file stems)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    return parser.parse_args()


def _character(person_dir: Path, work: Path) -> Path:
    """Build the London person's character asset with the project's own builder."""
    from facecast.character.asset import create_character

    consent = work / f"consent_{person_dir.name}.toml"
    consent.write_text(CONSENT.format(person=person_dir.name))
    folder = work / f"london{person_dir.name}"
    create_character(folder, sorted(person_dir.glob("*.jpg")), consent)
    return folder


def _references(models, character_dir: Path, people) -> IdentityReferences:
    """Character refs plus every other London person (the gallery), loaded once per run."""
    character, skipped = load_character(models, character_dir)
    gallery, left_out = exclude_character(people, character, source_hashes(character_dir))
    return IdentityReferences(character, gallery, tuple(skipped + left_out))


def _trimmed(plate: Path, frames: int | None, work: Path) -> Path:
    """The plate itself, or its first `frames` frames as a lossless copy."""
    if frames is None:
        return plate
    source = open_plate(plate)
    info = source.info
    clip = work / f"{plate.stem}_first{frames}.mkv"
    with VideoWriter(clip, info.width, info.height, info.fps, codec="ffv1") as writer:
        for _, frame in zip(range(frames), source.frames(), strict=False):
            writer.write(frame)
    return clip


def _run(clip, name, person, character_dir, references, models, work) -> dict:
    from facecast.render import render_shot

    row = {"clip": name, "character": person}
    output, matte = work / f"{name}_{person}.mp4", work / f"{name}_{person}_matte.mkv"
    try:
        start = time.perf_counter()
        result = render_shot(clip, character_dir, output, matte=matte, progress=False)
        swap_seconds = time.perf_counter() - start
        start = time.perf_counter()
        summary = write_report(
            output,
            clip,
            character_dir,
            work / f"report_{name}_{person}",
            matte=result.matte,
            models=models,
            references=references,
            progress=False,
        )
        report_seconds = time.perf_counter() - start
    except FacecastError as error:
        row["error"] = str(error)
        return row
    frames = summary["frames"]["compared"]
    row.update({m["key"]: m["value"] for m in summary["metrics"]})
    row["plate_distance"] = summary["identity"]["plate_distance_to_character"]
    row["eye_offset"] = summary["offsets"].get("eye")
    row["mouth_offset"] = summary["offsets"].get("mouth")
    row["frames"] = frames
    row["measured"] = summary["frames"]["measured"]
    row["status"] = summary["status"]
    row["swap_fps"] = frames / swap_seconds
    row["report_fps"] = frames / report_seconds
    return row


def _cell(row: dict, key: str, fmt: str) -> str:
    value = row.get(key)
    return "-" if value is None else fmt.format(value)


def _format_row(row: dict) -> str:
    if "error" in row:
        return f"{row['clip']:<26} {row['character']:<5} error: {row['error']}"
    cells = [f"{_cell(row, key, fmt):>9}" for _, key, fmt in COLUMNS]
    return (
        f"{row['clip']:<26} {row['character']:<5} {row['measured']:>4}/{row['frames']:<5}"
        + "".join(cells)
        + f"{_cell(row, 'plate_distance', '{:.3f}'):>9}"
        + f"{_cell(row, 'swap_fps', '{:.1f}'):>8}{_cell(row, 'report_fps', '{:.1f}'):>8}"
        + f"  {row['status']}"
    )


def _table(rows: list[dict]) -> str:
    header = (
        f"{'clip':<26} {'char':<5} {'face/frm':<10}"
        + "".join(f"{label:>9}" for label, _, _ in COLUMNS)
        + f"{'plate→ch':>9}{'swapfps':>8}{'repfps':>8}  status"
    )
    return "\n".join([header, *(_format_row(r) for r in rows)])


def _within(value: float, bound: float, at_most: bool) -> bool:
    return value <= bound if at_most else value >= bound


def _per_clip(rows: list[dict]) -> str:
    """Each clip's mean over its characters for every targeted metric (``*`` marks a miss),
    and how many clip x character pairs meet each target."""
    measured = [row for row in rows if "error" not in row]
    header = f"{'per clip (mean over characters)':<33}" + "".join(
        f"{label:>11}" for label, *_ in TARGET_BOUNDS
    )
    lines = [header]
    for clip in dict.fromkeys(row["clip"] for row in measured):
        cells = []
        for _, key, bound, at_most in TARGET_BOUNDS:
            values = [r[key] for r in measured if r["clip"] == clip and r.get(key) is not None]
            if not values:
                cells.append(f"{'-':>11}")
                continue
            mean = sum(values) / len(values)
            mark = " " if _within(mean, bound, at_most) else "*"
            cells.append(f"{mean:>10.4f}{mark}")
        lines.append(f"{clip:<33}" + "".join(cells))
    counts = []
    for _, key, bound, at_most in TARGET_BOUNDS:
        values = [row[key] for row in measured if row.get(key) is not None]
        passing = sum(_within(value, bound, at_most) for value in values)
        counts.append(f"{passing}/{len(values):<3}".rjust(11))
    lines.append(f"{'pairs within target':<33}" + "".join(counts))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
