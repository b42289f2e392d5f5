"""Before/after stills for the contact sheet, taken in a second pass over plate and output."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from facecast import __version__
from facecast.media import open_plate, to_uint8
from facecast.media.aspect import square_view
from facecast.media.labels import labelled
from facecast.quality.frames import FrameMetrics

#: Height in pixels of each still in the contact sheet.
STILL_HEIGHT = 240
#: Crop around the face: this many face-box sizes wide and high.
CROP_FACES = 1.8


def still_label(output_name: str) -> str:
    """What a contact-sheet crop of the output says made it (its JPEG text and XMP): a crop of
    a swapped frame is AI-altered like the frame (a still saved from the report page keeps it).
    """
    return (
        f"facecast {__version__}: AI-altered frame (face replaced), a crop of {output_name} "
        "in its quality report"
    )


@dataclass(frozen=True)
class Still:
    """A plate/output pair at one frame, as ``uint8 RGB (STILL_HEIGHT, w, 3)`` crops."""

    index: int
    plate: np.ndarray
    output: np.ndarray


def grab_stills(
    plate: Path,
    output: Path,
    records: list[FrameMetrics],
    wanted: list[int],
    pixel_aspect: Fraction = Fraction(1),
) -> list[Still]:
    """Decode plate and output once more and keep crops at the `wanted` frame indices.

    Each crop is a square of `CROP_FACES` face sizes around the plate face (the whole frame
    where no face was found), resized to `STILL_HEIGHT` pixels high. Frames are seen in the
    square pixels of `pixel_aspect`, as `facecast.quality.measure.measure_shot` measured them.
    """
    targets = set(wanted)
    grabbed: dict[int, Still] = {}
    if not targets:
        return []
    last = max(targets)
    shots = (square_view(open_plate(path), pixel_aspect) for path in (plate, output))
    pairs = zip(*(shot.frames() for shot in shots), strict=False)
    for index, (plate_frame, output_frame) in enumerate(pairs):
        if index in targets:
            box = _crop_box(records[index].face_box, plate_frame.shape)
            grabbed[index] = Still(index, _crop(plate_frame, box), _crop(output_frame, box))
        if index >= last:
            break
    return [grabbed[i] for i in wanted if i in grabbed]


def _crop_box(face_box: list[float] | None, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    height, width = shape[:2]
    if face_box is None:
        return 0, 0, width, height
    x0, y0, x1, y1 = face_box
    half = CROP_FACES * max(x1 - x0, y1 - y0) / 2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return (
        max(0, int(cx - half)),
        max(0, int(cy - half)),
        min(width, int(cx + half)),
        min(height, int(cy + half)),
    )


def _crop(frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    crop = to_uint8(frame)[y0:y1, x0:x1]
    scale = STILL_HEIGHT / crop.shape[0]
    size = (max(1, round(crop.shape[1] * scale)), STILL_HEIGHT)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(crop, size, interpolation=interpolation)


def jpeg_bytes(image: np.ndarray, quality: int = 88, label: str | None = None) -> bytes:
    """Encode ``uint8 RGB (h, w, 3)`` as JPEG, carrying `label` (`facecast.media.labels`) when
    one is given."""
    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise ValueError(f"cannot encode a {image.shape} image as JPEG")
    return data.tobytes() if label is None else labelled(data.tobytes(), ".jpg", label)
