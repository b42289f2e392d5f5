"""How much dlib's landmark readings move, by head yaw, when the frame barely changes.

The quality report reads head pose and eye and mouth openings from dlib's 68-point landmarks.
That model places the far side of a turned face from appearance it can hardly see, so its
readings get noisy as the head turns away from the camera. This reads every plate frame that
has a face, then the same frame changed in ways no viewer would notice (moved by half a pixel,
or softened by a codec-sized blur), and prints per |yaw| bin the mean change of the eye and
mouth openings (inter-ocular distances) and of the head pose (degrees). Where that change
reaches a target (eye 0.008, mouth 0.02, pose 3 degrees) dlib cannot tell a swap that meets it
from one that does not, which is why the report leaves frames beyond
`facecast.quality.measure.LANDMARK_YAW_LIMIT` out of those metrics.

    .venv/bin/python benchmarks/measurer_yaw.py [--plates tears_of_steel_10s ...]

About 1 minute on 2 cores for the default plates. Data: ../shared/data (falls back to the
repo's tests/data plates).
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from facecast.media import open_plate
from facecast.quality import load_quality_models
from facecast.quality.dlibface import QualityModels, detect_faces, landmarks
from facecast.quality.geometry import eye_opening, head_pose, mouth_opening
from facecast.quality.measure import LANDMARK_YAW_LIMIT

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "plates"
DEFAULT_PLATES = ("tears_of_steel_10s", "weekly_address_clip1", "weekly_address_clip3")
#: |yaw| bin edges in degrees.
BINS = (0, 10, 20, 25, 30, 35, 40, 45, 50, 90)


def _shifted(frame: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``uint8 (H, W, 3)`` frame moved by a sub-pixel offset (bilinear)."""
    move = np.float32([[1, 0, dx], [0, 1, dy]])
    height, width = frame.shape[:2]
    return cv2.warpAffine(frame, move, (width, height), borderMode=cv2.BORDER_REFLECT)


#: Changes no viewer would notice, each with the shift it applies to the face box.
PERTURBATIONS: tuple[tuple[str, Callable[[np.ndarray], np.ndarray], tuple[float, float]], ...] = (
    ("half-pixel shift", lambda f: _shifted(f, 0.5, 0.5), (0.5, 0.5)),
    ("quarter-pixel shift", lambda f: _shifted(f, -0.25, 0.25), (-0.25, 0.25)),
    ("codec blur", lambda f: cv2.GaussianBlur(f, (0, 0), 0.5), (0.0, 0.0)),
)


def _readings(models: QualityModels, frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    """``float64 (5,)``: eye opening, mouth opening, yaw, pitch, roll of the face in `box`."""
    points = landmarks(models, frame, box).points
    pose = head_pose(points, frame.shape[1], frame.shape[0])
    return np.array([eye_opening(points), mouth_opening(points), *pose], np.float64)


def measure_plate(models: QualityModels, path: Path, limit: int | None) -> list[np.ndarray]:
    """Rows ``[|yaw|, eye change, mouth change, pose change]`` (means over the perturbations),
    one per frame with a face."""
    rows = []
    for index, frame in enumerate(open_plate(path).frames()):
        if limit is not None and index >= limit:
            break
        boxes = detect_faces(models, frame)
        if len(boxes) == 0:
            continue
        box = np.asarray(boxes[0], np.float64)
        base = _readings(models, frame, box)
        changes = []
        for _, change, (dx, dy) in PERTURBATIONS:
            moved = _readings(models, change(frame), box + np.array((dx, dy, dx, dy)))
            pose = np.linalg.norm((moved[2:] - base[2:] + 180) % 360 - 180)
            changes.append([abs(moved[0] - base[0]), abs(moved[1] - base[1]), pose])
        rows.append(np.array([abs(base[2]), *np.mean(changes, axis=0)]))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plates", nargs="+", default=list(DEFAULT_PLATES))
    parser.add_argument("--frames", type=int, default=None, help="first N frames of each plate")
    args = parser.parse_args()
    models = load_quality_models()
    rows = []
    for name in args.plates:
        path = DATA / f"{name}.mp4"
        if not path.exists():
            path = REPO / "tests" / "data" / "plates" / f"{name}.mp4"
        plate_rows = measure_plate(models, path, args.frames)
        print(f"{name}: {len(plate_rows)} frames with a face")
        rows += plate_rows
    table = np.array(rows)
    print(f"\n{'|yaw| deg':<10}{'frames':>7}{'eye':>9}{'mouth':>9}{'pose deg':>10}")
    for low, high in itertools.pairwise(BINS):
        inside = table[(table[:, 0] >= low) & (table[:, 0] < high)]
        if len(inside):
            eye, mouth, pose = inside[:, 1:].mean(axis=0)
            print(f"{low:>3}-{high:<6}{len(inside):>7}{eye:>9.4f}{mouth:>9.4f}{pose:>10.2f}")
    print(
        f"perturbations: {', '.join(name for name, _, _ in PERTURBATIONS)}; the report leaves "
        f"frames beyond |yaw| {LANDMARK_YAW_LIMIT:g} deg out of its pose and opening metrics "
        "(targets: eye 0.008, mouth 0.02, pose 3 deg)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
