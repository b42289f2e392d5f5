"""How much of the eye-opening error is the measurer's: dlib's reading of eyes left untouched.

The mesh engine hands the actor's eye openings back to the compositor, so with the face's
proportions left alone (``shape_strength`` 0) the output's eyes are the plate's own pixels; only
the face around them is the character's. This prints, per clip x character, how far the output
differs from the plate inside the eye openings (mean absolute difference, 8-bit levels, codec
included) and just around them, next to the eye-opening error dlib reads there (signed mean and
mean absolute, inter-ocular distances), at ``shape_strength`` 0 and at the default (which
moves the eyes with the character's proportions, so its pixels differ there). Where the
eye pixels match to a few levels, what dlib still reads is its response to the rest of the
face (its 68-point model places the lids from the whole face's appearance).

    .venv/bin/python benchmarks/eye_floor.py [--frames 60] [--plates ...] [--characters ...]

About 15 s per clip x character x setting on 2 cores. Data: ../shared/data.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np

from facecast.analysis import analyze_plate
from facecast.character.asset import create_character
from facecast.media import open_plate
from facecast.mesh.regions import contour
from facecast.quality import dlibface, load_quality_models
from facecast.quality.geometry import eye_opening
from facecast.render import RenderSettings, render_shot
from quality import CONSENT, DATA, _trimmed

#: Frames of each clip measured with dlib (every `STRIDE`-th).
STRIDE = 2
PLATES = ("weekly_address_clip2", "weekly_address_clip3")
CHARACTERS = ("004", "012", "024", "042")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument(
        "--plates", nargs="+", default=["weekly_address_clip2", "weekly_address_clip3"]
    )
    parser.add_argument("--characters", nargs="+", default=["004", "012", "024", "042"])
    return parser.parse_args()


def _eye_masks(frame_shape: tuple[int, int], landmarks: np.ndarray) -> tuple[np.ndarray, ...]:
    """Boolean ``(H, W)`` masks: inside the eye openings (eroded a pixel) and a 4-pixel ring."""
    openings = np.zeros(frame_shape, np.uint8)
    for name in ("left_eye", "right_eye"):
        cv2.fillPoly(openings, [np.round(landmarks[contour(name), :2]).astype(np.int32)], 1)
    inside = cv2.erode(openings, np.ones((3, 3), np.uint8)).astype(bool)
    ring = (cv2.dilate(openings, np.ones((9, 9), np.uint8)) > 0) & ~openings.astype(bool)
    return inside, ring


def _dlib_eye(models, frame: np.ndarray) -> float | None:
    boxes = dlibface.detect_faces(models, frame)
    if not len(boxes):
        return None
    return eye_opening(dlibface.landmarks(models, frame, boxes[0]).points)


def _measure(plate_frames, output: Path, tracks, models) -> dict:
    inside_diff, ring_diff, errors = [], [], []
    for index, frame in enumerate(open_plate(output).frames()):
        if index % STRIDE or not tracks.frames[index]:
            continue
        plate = plate_frames[index]
        inside, ring = _eye_masks(plate.shape[:2], tracks.frames[index][0].landmarks)
        difference = np.abs(frame.astype(np.float32) - plate.astype(np.float32)).mean(axis=2)
        inside_diff.append(difference[inside].mean())
        ring_diff.append(difference[ring].mean())
        read_plate, read_output = _dlib_eye(models, plate), _dlib_eye(models, frame)
        if read_plate is not None and read_output is not None:
            errors.append(read_output - read_plate)
    errors = np.array(errors)
    return {
        "inside": float(np.mean(inside_diff)),
        "ring": float(np.mean(ring_diff)),
        "signed": float(errors.mean()),
        "error": float(np.abs(errors).mean()),
    }


def main() -> None:
    args = _arguments()
    models = load_quality_models()
    work = Path(tempfile.mkdtemp(prefix="facecast-eye-floor-"))
    print(
        f"{'clip':22s} {'char':5s} {'shape':>5s} {'eye px':>7s} {'ring px':>7s} "
        f"{'dlib eye err':>12s} {'signed':>8s}"
    )
    for plate_name in args.plates:
        clip = _trimmed(DATA / "plates" / f"{plate_name}.mp4", args.frames, work)
        plate_frames = list(open_plate(clip).frames())
        tracks = analyze_plate(open_plate(clip), progress=False)
        for person in args.characters:
            character = work / f"london{person}"
            if not character.exists():
                consent = work / f"consent_{person}.toml"
                consent.write_text(CONSENT.format(person=person))
                photos = sorted((DATA / "faces" / "london" / person).glob("*.jpg"))
                create_character(character, photos, consent)
            for strength in (0.0, None):
                output = work / f"{plate_name}_{person}_{strength}.mp4"
                settings = RenderSettings(shape_strength=strength)
                render_shot(clip, character, output, progress=False, settings=settings)
                row = _measure(plate_frames, output, tracks, models)
                label = "0" if strength == 0.0 else "dflt"
                print(
                    f"{plate_name:22s} {person:5s} {label:>5s} {row['inside']:7.2f} "
                    f"{row['ring']:7.2f} {row['error']:12.4f} {row['signed']:+8.4f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
