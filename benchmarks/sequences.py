"""Image-sequence formats: time to read and write one 720p frame, and its size on disk.

Run: ``.venv/bin/python benchmarks/sequences.py [--frames N]``

Writes the first N frames of weekly_address_clip1 (shipped in tests/data) in each format a
plate or an output may take (8- and 16-bit PNG, JPEG, 16-bit TIFF, half-float EXR, 10-bit
Cineon-log DPX, 10-bit and 16-bit code-value DPX) with `facecast.media.write_image`, each frame
carrying a swap's AI label as an output does, reads them back with
`facecast.media.read_image` and prints, per format, the median milliseconds per frame of each,
the size of a frame, the milliseconds per frame of signing the sequence with C2PA
(`facecast.provenance.credentials.sign_sequence`, with a throwaway test certificate; PNG, JPEG
and TIFF only) and how a frame survives two round trips (`_round_trip`). A float plate (EXR,
log DPX) is written from the frame in linear light.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from facecast.media import open_plate, read_image, write_image
from facecast.media.transfer import srgb_to_linear
from facecast.provenance.credentials import MIME_TYPES, SigningIdentity, sign_sequence
from facecast.render import output_label

REPO = Path(__file__).resolve().parents[1]
PLATE = REPO / "tests" / "data" / "plates" / "weekly_address_clip1.mp4"
RENDER_ID = "5eed0fface0ca5e1"


def _deep(frame: np.ndarray) -> np.ndarray:
    """``uint16 (H, W, 3)`` full range from an 8-bit frame."""
    return frame.astype(np.uint16) * 257


def _linear(frame: np.ndarray) -> np.ndarray:
    """``float32 (H, W, 3)`` linear light from an 8-bit sRGB frame."""
    return srgb_to_linear(frame / 255.0).astype(np.float32)


#: name, file suffix, frame maker, write_image attributes
FORMATS: list[tuple[str, str, Callable[[np.ndarray], np.ndarray], dict]] = [
    ("PNG 8-bit", "png", np.asarray, {}),
    ("JPEG", "jpg", np.asarray, {}),
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
    second changes anything (it must not, but in JPEG: a plate read and written again keeps its
    codes)."""
    first = folder / f"trip_a.{suffix}"
    write_image(first, image, attributes=attributes)
    once = read_image(first)
    write_image(folder / f"trip_b.{suffix}", once, attributes=attributes)
    twice = read_image(folder / f"trip_b.{suffix}")
    change = float(np.abs(once.astype(np.float64) - image.astype(np.float64)).max())
    floating = np.issubdtype(image.dtype, np.floating)
    unit = "linear" if floating else f"of {np.iinfo(image.dtype).max}"
    again = "unchanged" if np.array_equal(once, twice) else "changed"
    return f"first trip max {change:.3g} {unit}, second trip {again}"


def _test_signer(folder: Path) -> SigningIdentity:
    """A throwaway CA and signing certificate (the test suite's), for timing only."""
    sys.path.insert(0, str(REPO / "tests"))
    from test_c2pa import make_ca, make_leaf

    return SigningIdentity.from_files(*make_leaf(folder, make_ca()))


def _sign_milliseconds(folder: Path, identity: SigningIdentity) -> str:
    """Milliseconds per frame of signing the sequence in `folder`, or ``-`` if C2PA cannot."""
    if next(folder.iterdir()).suffix not in MIME_TYPES:
        return "-"
    count = len(list(folder.iterdir()))
    total = _milliseconds(
        sign_sequence,
        folder,
        folder.with_name(f"{folder.name}_signed"),
        render_id=RENDER_ID,
        consent_summary={"subject": "benchmark"},
        identity=identity,
        title="benchmark",
    )
    return f"{total / count:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=8)
    args = parser.parse_args()
    frames = [f for _, f in zip(range(args.frames), open_plate(PLATE).frames(), strict=False)]
    height, width = frames[0].shape[:2]
    label = output_label(RENDER_ID)
    print(f"{len(frames)} frames of {PLATE.name}, {width}x{height}")
    print(f"{'format':<20}{'write ms':>10}{'read ms':>10}{'MB/frame':>10}{'sign ms':>9}  read back")
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        identity = _test_signer(work)
        for number, (name, suffix, make, attributes) in enumerate(FORMATS):
            folder = work / f"format{number}"
            folder.mkdir()
            writes, reads = [], []
            for index, frame in enumerate(frames):
                image, path = make(frame), folder / f"frame.{index:04d}.{suffix}"
                writes.append(
                    _milliseconds(write_image, path, image, attributes=attributes, label=label)
                )
                reads.append(_milliseconds(read_image, path))
            size = path.stat().st_size / 1e6
            sign = _sign_milliseconds(folder, identity)
            trip = _round_trip(make(frames[0]), suffix, attributes, work)
            print(
                f"{name:<20}{statistics.median(writes):>10.1f}{statistics.median(reads):>10.1f}"
                f"{size:>10.2f}{sign:>9}  {trip}"
            )


if __name__ == "__main__":
    main()
