"""Shared fixtures: where the real test footage and faces live.

Small samples ship in ``tests/data`` (see NOTICE); the larger pool in ``../shared/data`` is used
when present (CI has it) and tests needing it are skipped with a reason otherwise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED_DATA = REPO / "tests" / "data"
SHARED_DATA = REPO.parent / "shared" / "data"


def find_data(relative: str) -> Path:
    """Path of a data file, preferring the copy shipped in the repo; skip the test if absent."""
    for root in (SHIPPED_DATA, SHARED_DATA):
        candidate = root / relative
        if candidate.exists():
            return candidate
    pytest.skip(f"test data {relative} not found in tests/data or ../shared/data")


@pytest.fixture
def data():
    """``data("plates/weekly_address_clip1.mp4")`` -> Path, from tests/data or ../shared/data."""
    return find_data


def run_facecast(*args, timeout: int = 600):
    """Run the ``facecast`` command line in a subprocess, as a user would."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "facecast", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_line_error(result, *fragments: str) -> None:
    """A user error: exit status 1, one ``facecast: error:`` line on stderr, no traceback."""
    assert result.returncode == 1, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("facecast: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def trimmed_plate(source: Path, frames: range, path: Path) -> Path:
    """Write the `frames` of plate `source` to `path` (lossless FFV1) and return `path`."""
    from facecast.media import VideoWriter, open_plate

    plate = open_plate(source)
    info = plate.info
    with VideoWriter(path, info.width, info.height, info.fps, codec="ffv1") as writer:
        for index, frame in enumerate(plate.frames()):
            if index in frames:
                writer.write(frame)
            if index >= frames.stop:
                break
    return path


def outside_the_blend(matte: np.ndarray, reach: int = 40) -> np.ndarray:
    """``bool (H, W)``: pixels beyond `reach` of the matte's box (the blend's box-local fade)."""
    ys, xs = np.nonzero(matte > 0)
    outside = np.ones(matte.shape, bool)
    outside[
        max(ys.min() - reach, 0) : ys.max() + reach, max(xs.min() - reach, 0) : xs.max() + reach
    ] = False
    return outside


def bare_swap(plate: Path, character: Path, output: Path, **options):
    """`render_shot` of `plate` with nothing the plate does not ask for: no watermark, no hand
    search, no progress bar, so off the face the output must be the plate's bit for bit.
    `options` are `render_shot`'s (``matte=``, ``layer=``, ``tracks_file=``, ``report_dir=``)."""
    from facecast.render import RenderSettings, render_shot

    settings = RenderSettings(watermark=False, hands=False)
    return render_shot(plate, character, output, progress=False, settings=settings, **options)
