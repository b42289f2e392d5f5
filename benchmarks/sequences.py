"""Image-sequence formats: time to read and write one 720p frame, and its size on disk.

Run: ``.venv/bin/python benchmarks/sequences.py [--frames N]``

Writes the first N frames of weekly_address_clip1 (shipped in tests/data) in each format a
plate or an output may take (16-bit PNG, 16-bit TIFF, half-float EXR, 10-bit Cineon-log DPX,
10-bit and 16-bit code-value DPX) with `facecast.media.write_image`, reads them back with
`facecast.media.read_image` and prints, per format, the median milliseconds per frame of each,
the size of a frame, and how a frame survives two round trips (`_round_trip`). A float plate
(EXR, log DPX) is written from the frame in linear light.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from facecast.media import open_plate, read_image, write_image
from facecast.media.transfer import srgb_to_linear

PLATE = (
    Path(__file__).resolve().parents[1] / "tests" / "data" / "plates" / "weekly_address_clip1.mp4"
)


def _deep(frame: np.ndarray) -> np.ndarray:
    """``uint16 (H, W, 3)`` full range from an 8-bit frame."""
    return frame.astype(np.uint16) * 257


def _linear(frame: np.ndarray) -> np.ndarray:
    """``float32 (H, W, 3)`` linear light from an 8-bit sRGB frame."""
    return srgb_to_linear(frame / 255.0).astype(np.float32)


#: name, file suffix, frame maker, write_image attributes
FORMATS: list[tuple[str, str, Callable[[np.ndarray], np.ndarray], dict]] = [
    ("PNG 16-bit", "png", _deep, {}),
    ("TIFF 16-bit", "tiff", _deep, {}),
    ("EXR half", "exr", lambda f: _linear(f).astype(np.float16), {}),
    ("DPX 10-bit log", "dpx", _linear, {"bit_depth": 10}),
    ("DPX 10-bit linear", "dpx", _deep, {"bit_depth": 10}),
    ("DPX 16-bit", "dpx", _deep, {"bit_depth": 16}),
]


def _milliseconds(function: Callable, *args, **kwargs) -> float:
    """Wall time of one call of `function`, in milliseconds."""
    started = time.perf_counter()
    function(*args, **kwargs)
    return (time.perf_counter() - started) * 1000.0


def _round_trip(image: np.ndarray, suffix: str, attributes: dict, folder: Path) -> str:
    """How a frame survives being written and read back, twice: the largest change of the
    first round trip (16-bit code values, or linear light for float frames), and whether the
    second changes anything (it must not: a plate read and written again keeps its codes)."""
    first = folder / f"trip_a.{suffix}"
    write_image(first, image, attributes=attributes)
    once = read_image(first)
    write_image(folder / f"trip_b.{suffix}", once, attributes=attributes)
    twice = read_image(folder / f"trip_b.{suffix}")
    change = float(np.abs(once.astype(np.float64) - image.astype(np.float64)).max())
    unit = "linear" if np.issubdtype(image.dtype, np.floating) else "of 65535"
    again = "unchanged" if np.array_equal(once, twice) else "CHANGED"
    return f"first trip max {change:.3g} {unit}, second trip {again}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=8)
    args = parser.parse_args()
    frames = [f for _, f in zip(range(args.frames), open_plate(PLATE).frames(), strict=False)]
    height, width = frames[0].shape[:2]
    print(f"{len(frames)} frames of {PLATE.name}, {width}x{height}")
    print(f"{'format':<20}{'write ms':>10}{'read ms':>10}{'MB/frame':>10}  read back")
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        for name, suffix, make, attributes in FORMATS:
            writes, reads = [], []
            for index, frame in enumerate(frames):
                image, path = make(frame), folder / f"{index}.{suffix}"
                writes.append(_milliseconds(write_image, path, image, attributes=attributes))
                reads.append(_milliseconds(read_image, path))
            size = path.stat().st_size / 1e6
            trip = _round_trip(make(frames[0]), suffix, attributes, folder)
            print(
                f"{name:<20}{statistics.median(writes):>10.1f}{statistics.median(reads):>10.1f}"
                f"{size:>10.2f}  {trip}"
            )


if __name__ == "__main__":
    main()
