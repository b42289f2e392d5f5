"""How far dlib's reading of one swap moves when only the invisible watermark changes.

Every render carries a watermark of its render id (about 1 level of 255 RMS, invisible), and
the render id hashes the inputs, the character asset's files included (its creation time). So
two benchmark runs of the same clip x character differ only by that pattern. This renders each
pair with ``--payloads`` characters built from the same photos (one render id each) and once
without the watermark, measures each output with the report (`facecast.quality.write_report`,
dlib), and prints the eye and mouth opening errors per render and their spread (largest minus
smallest). The spread is the measurer's noise on these metrics: a target closer to a pair's
value than its spread cannot be told met or missed by one run.

    .venv/bin/python benchmarks/measurer_noise.py [--frames 60] [--pairs clip1x042 ...]

About 25 s per render on 2 cores. Data: ../shared/data.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from facecast.quality import load_quality_models, write_report
from facecast.quality.identity import load_people
from facecast.render import RenderSettings, render_shot
from quality import DATA, _character, _references, _trimmed

PAIRS = (
    "weekly_address_clip1x042",
    "weekly_address_clip2x004",
    "weekly_address_clip2x042",
    "weekly_address_clip3x042",
)
KEYS = ("mouth_error", "eye_error", "mouth_following_error", "eye_following_error")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--payloads", type=int, default=3, help="watermarked renders per pair")
    parser.add_argument("--pairs", nargs="+", default=list(PAIRS), help="PLATExPERSON")
    return parser.parse_args()


def _measure(clip: Path, person: str, work: Path, watermark: bool, models, people) -> dict:
    """Build the character afresh (a new render id), render `clip` and report on it."""
    work.mkdir()
    character = _character(DATA / "faces" / "london" / person, work)
    references = _references(models, character, people)
    settings = RenderSettings(watermark=watermark)
    output = work / "out.mp4"
    result = render_shot(
        clip, character, output, matte=work / "matte.mkv", progress=False, settings=settings
    )
    summary = write_report(
        output,
        clip,
        character,
        work / "report",
        matte=result.matte,
        models=models,
        references=references,
        progress=False,
    )
    values = {m["key"]: m["value"] for m in summary["metrics"]}
    return {"render_id": result.render_id, **{key: values[key] for key in KEYS}}


def main() -> None:
    args = _arguments()
    models = load_quality_models()
    people, _ = load_people(models, DATA / "faces" / "london")
    work = Path(tempfile.mkdtemp(prefix="facecast-measurer-noise-"))
    print(f"{'pair':30s} {'render':17s} " + " ".join(f"{key:>22s}" for key in KEYS))
    for pair in args.pairs:
        plate, person = pair.rsplit("x", 1)
        clip = _trimmed(DATA / "plates" / f"{plate}.mp4", args.frames, work)
        rows = []
        for index in range(args.payloads + 1):
            watermark = index < args.payloads
            folder = work / f"{pair}_{index}"
            row = _measure(clip, person, folder, watermark, models, people)
            label = row["render_id"] if watermark else "no watermark"
            print(f"{pair:30s} {label:17s} " + " ".join(f"{row[k]:22.4f}" for k in KEYS))
            rows.append(row)
        spread = [max(r[k] for r in rows) - min(r[k] for r in rows) for k in KEYS]
        print(f"{pair:30s} {'spread':17s} " + " ".join(f"{s:22.4f}" for s in spread), flush=True)


if __name__ == "__main__":
    main()
