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


@pytest.fixture(scope="session")
def street_hand() -> tuple[np.ndarray, np.ndarray]:
    """A real hand: the street plate's frame 60 (``uint8 (480, 640, 3)``, a woman's raised hand
    holding a stick) and that hand's ``float32 (21, 2)`` keypoints."""
    from facecast.analysis import HandDetector
    from facecast.media import open_plate

    plate = open_plate(find_data("plates/street_group_3s.mp4"))
    frame = next(f for i, f in enumerate(plate.frames()) if i == 60)
    with HandDetector(max_hands=4, static_images=True) as detector:
        hands = detector.detect(frame)
    assert hands, "the street plate's raised hand should be found"
    return frame, hands[0]


def paste_hand(
    frames: list[np.ndarray],
    street_hand: tuple[np.ndarray, np.ndarray],
    share: float,
    spot: dict[int, float],
    drift: tuple[float, float] = (0.0, 0.0),
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Paste the street hand in front of the face of `frames` (``uint8 (H, W, 3)``, the first
    holding the face), `share` of the face's width in size (`hand_size`), centred on the mix of
    face landmarks `spot` (index: weight) and moving by `drift` pixels a frame: the new frames,
    the paste's alpha ``float32 (H, W)`` and the hand's keypoints ``float32 (21, 2)`` in each."""
    import cv2

    from facecast.analysis import FaceAnalyzer, hand_mask
    from facecast.analysis.masks import hand_size

    street, hand = street_hand
    cut = hand_mask([hand], street.shape[:2], dilate_px=8.0, feather_px=4.0)  # set by eye
    with FaceAnalyzer(static_images=True) as analyzer:
        face = analyzer.detect(frames[0])[0]
    scale = share * float(face.bbox[2] - face.bbox[0]) / hand_size(hand)
    centre = sum(weight * face.landmarks[index, :2] for index, weight in spot.items())
    size = (frames[0].shape[1], frames[0].shape[0])
    pasted, alphas, keypoints = [], [], []
    for index, frame in enumerate(frames):
        shift = centre - hand.mean(axis=0) * scale + index * np.float32(drift)
        move = np.float32([[scale, 0, shift[0]], [0, scale, shift[1]]])
        pixels = cv2.warpAffine(street, move, size, flags=cv2.INTER_CUBIC)
        alpha = cv2.warpAffine(cut, move, size, flags=cv2.INTER_LINEAR)
        blended = frame * (1 - alpha[..., None]) + pixels * alpha[..., None]
        pasted.append(np.round(blended).astype(np.uint8))
        alphas.append(alpha)
        keypoints.append((hand * scale + shift).astype(np.float32))
    return pasted, alphas, keypoints
