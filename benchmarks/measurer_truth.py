"""How far dlib's eye-opening reading is from a human's, face by face.

The quality report reads how open the eyes are from dlib's 68-point landmarks and compares the
output with the plate (target: within 0.008 inter-ocular distances). That reading is only as
good as dlib's placement of the lids, and its error depends on the face: on a swap the face
around the actor's eyes is the character's, so a per-face error of the reader shows up as a
constant offset of the eye error for that character. The London set ships hand-placed
landmarks (189-point WebMorph template, ``neutral.tem``) for every neutral photo; this prints,
per person, the eye opening (mean lid height: the eye outline's area over its corner-to-corner
width, over the inter-ocular distance) from dlib and from the hand-placed lids, their
difference, and the spread of that difference over the people: a spread of the size of the
target means the reader alone can move one character's eye error past it.

    .venv/bin/python benchmarks/measurer_truth.py

About 20 seconds. Data: ../shared/data/faces/london (16 people; the repo ships three).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facecast.media import read_image
from facecast.quality import load_quality_models
from facecast.quality.dlibface import detect_faces, landmarks
from facecast.quality.geometry import eye_opening, inter_ocular

REPO = Path(__file__).resolve().parents[1]
LONDON = REPO.parent / "shared" / "data" / "faces" / "london"
#: Each eye's outline in the dlib 68-point layout: corner, upper lid, corner, lower lid.
DLIB_EYES = ((36, 37, 38, 39, 40, 41), (42, 43, 44, 45, 46, 47))
#: The same outlines in the London set's 189-point template (outer corner, three upper-lid
#: points, inner corner, three lower-lid points; then the other eye from its inner corner).
TEMPLATE_EYES = ((18, 19, 20, 21, 22, 30, 29, 28), (23, 24, 25, 26, 27, 33, 32, 31))


def read_template(path: Path) -> np.ndarray:
    """``float64 (N, 2)`` points of a WebMorph ``.tem`` file (first line: the point count)."""
    lines = path.read_text().split("\n")
    count = int(lines[0])
    return np.array([[float(v) for v in line.split()[:2]] for line in lines[1 : 1 + count]])


def lid_height(points: np.ndarray, eyes: tuple[tuple[int, ...], ...]) -> float:
    """Mean lid height of both eyes in pixels: each outline's area over its corner-to-corner
    width (the first point and the middle one are the corners)."""
    heights = []
    for outline in eyes:
        polygon = points[list(outline)]
        x, y = polygon[:, 0], polygon[:, 1]
        area = 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))
        width = float(np.linalg.norm(polygon[0] - polygon[len(outline) // 2]))
        heights.append(area / width)
    return float(np.mean(heights))


def main() -> int:
    models = load_quality_models()
    print(f"{'person':<8}{'dlib':>8}{'hand':>8}{'dlib-hand':>11}{'report eye':>12}")
    rows = []
    for person in sorted(p for p in LONDON.iterdir() if (p / "neutral.tem").exists()):
        image = read_image(person / "neutral.jpg")
        points = landmarks(models, image, detect_faces(models, image)[0]).points
        scale = inter_ocular(points)
        dlib = lid_height(points, DLIB_EYES) / scale
        hand = lid_height(read_template(person / "neutral.tem"), TEMPLATE_EYES) / scale
        rows.append((dlib, hand))
        print(
            f"{person.name:<8}{dlib:>8.4f}{hand:>8.4f}{dlib - hand:>+11.4f}"
            f"{eye_opening(points):>12.4f}"
        )
    table = np.array(rows)
    difference = table[:, 0] - table[:, 1]
    centred = difference - difference.mean()
    print(
        f"\n{len(rows)} people: dlib - hand {difference.mean():+.4f} mean (the two outlines' "
        f"sampling differs; a constant), spread {difference.std(ddof=1):.4f} (standard "
        f"deviation), {centred.min():+.4f} to {centred.max():+.4f} about the mean; "
        f"correlation {np.corrcoef(table.T)[0, 1]:.2f}. Eye target of the report: 0.008"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
