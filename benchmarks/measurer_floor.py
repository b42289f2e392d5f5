"""How much of the eye- and mouth-opening error is the measurer's: dlib reading untouched
openings.

The mesh engine hands the actor's eye openings and mouth (its opening, the whole upper lip and
the inner half of the lower lip) back to the compositor. With the face's proportions left alone
(``shape_strength`` 0) the output's eyes are the plate's own pixels, and at any strength so is
the mouth (the lower face keeps the actor's geometry); only the face around them is the
character's. This prints, per clip x character, how far the output differs from the plate
inside the eye openings and inside the mouth opening (mean absolute difference, 8-bit levels,
codec included), next to the opening errors dlib reads there (mean absolute, and the signed
mean, in inter-ocular distances), at ``shape_strength`` 0 and at the default (which moves the
eyes with the character's proportions, so their pixels differ there). Where the pixels match to
a few levels, what dlib still reads is its response to the rest of the face (its 68-point
model places lids and lips from the whole face's appearance).

    .venv/bin/python benchmarks/measurer_floor.py [--frames 60] [--plates ...] [--characters ...]

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
from facecast.quality.geometry import eye_opening, mouth_opening
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


def _inside(frame_shape: tuple[int, int], landmarks: np.ndarray, names: tuple[str, ...]):
    """Boolean ``(H, W)``: inside the named contours of ``landmarks (478, 3)``, eroded a pixel."""
    mask = np.zeros(frame_shape, np.uint8)
    for name in names:
        cv2.fillPoly(mask, [np.round(landmarks[contour(name), :2]).astype(np.int32)], 1)
    return cv2.erode(mask, np.ones((3, 3), np.uint8)).astype(bool)


def _dlib_openings(models, frame: np.ndarray) -> tuple[float, float] | None:
    """dlib's ``(eye, mouth)`` opening of the frame's first face, or ``None``."""
    boxes = dlibface.detect_faces(models, frame)
    if not len(boxes):
        return None
    points = dlibface.landmarks(models, frame, boxes[0]).points
    return eye_opening(points), mouth_opening(points)


def _measure(plate_frames, output: Path, tracks, models) -> dict:
    eye_pixels, mouth_pixels, errors = [], [], []
    for index, frame in enumerate(open_plate(output).frames()):
        if index % STRIDE or not tracks.frames[index]:
            continue
        plate = plate_frames[index]
        landmarks = tracks.frames[index][0].landmarks
        difference = np.abs(frame.astype(np.float32) - plate.astype(np.float32)).mean(axis=2)
        eyes = _inside(plate.shape[:2], landmarks, ("left_eye", "right_eye"))
        mouth = _inside(plate.shape[:2], landmarks, ("lips_inner",))
        eye_pixels.append(difference[eyes].mean())
        if mouth.any():
            mouth_pixels.append(difference[mouth].mean())
        read_plate, read_output = _dlib_openings(models, plate), _dlib_openings(models, frame)
        if read_plate is not None and read_output is not None:
            errors.append(np.subtract(read_output, read_plate))
    errors = np.array(errors)
    return {
        "eye_pixels": float(np.mean(eye_pixels)),
        "mouth_pixels": float(np.mean(mouth_pixels)),
        "eye": float(np.abs(errors[:, 0]).mean()),
        "eye_signed": float(errors[:, 0].mean()),
        "mouth": float(np.abs(errors[:, 1]).mean()),
        "mouth_signed": float(errors[:, 1].mean()),
    }


def main() -> None:
    args = _arguments()
    models = load_quality_models()
    work = Path(tempfile.mkdtemp(prefix="facecast-measurer-floor-"))
    print(
        f"{'clip':22s} {'char':5s} {'shape':>5s} {'eye px':>7s} {'eye err':>8s} {'signed':>8s}"
        f" {'mouth px':>8s} {'mouth err':>9s} {'signed':>8s}"
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
                    f"{plate_name:22s} {person:5s} {label:>5s} {row['eye_pixels']:7.2f} "
                    f"{row['eye']:8.4f} {row['eye_signed']:+8.4f} {row['mouth_pixels']:8.2f} "
                    f"{row['mouth']:9.4f} {row['mouth_signed']:+8.4f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
