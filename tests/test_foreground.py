"""What is coloured unlike skin in front of the face stays in front of the character.

The demo plate (tears_of_steel_10s) has an out-of-focus green element rising in front of the
actor's chin in frames 150-176; the weekly address plate, the street plate and the London
photos have nothing in front of their faces. Measured on that real footage.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from facecast.analysis import FaceAnalyzer, analyze_plate
from facecast.character.asset import create_character
from facecast.composite.compositor import CompositeSettings, face_outline_mask, to_unit_float
from facecast.composite.foreground import foreground_mask
from facecast.media import open_plate
from facecast.render import RenderSettings, render_shot

CONSENT = Path(__file__).resolve().parents[1] / "examples" / "consent_london_004.toml"
GLOW_FRAMES = range(150, 177)


def _face_foreground(frame: np.ndarray, landmarks: np.ndarray) -> float:
    """Share of the face outline of ``uint8 (H, W, 3)`` `frame` taken for foreground."""
    low, high = np.floor(landmarks[:, :2].min(0)), np.ceil(landmarks[:, :2].max(0))
    x0, y0 = np.maximum(low, 0).astype(int)
    x1, y1 = np.minimum(high, (frame.shape[1], frame.shape[0])).astype(int)
    inside = face_outline_mask(landmarks, (x0, y0, x1, y1))
    mask = foreground_mask(to_unit_float(frame[y0:y1, x0:x1]), inside)
    return 0.0 if mask is None else float((mask * inside).sum() / inside.sum())


def test_skin_of_every_face_here_is_not_foreground(data):
    """Faces lit plainly (weekly address, street crowd, London photos, of several skin tones):
    nothing on them is foreground. Measured when written: at most 6e-6 of a face (25 faces)."""
    images = [data(f"faces/london/{p}/{n}.jpg") for p in ("004", "012") for n in ("neutral",)]
    frames = [cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB) for path in images]
    for name in ("weekly_address_clip1", "street_group_3s"):
        plate = open_plate(data(f"plates/{name}.mp4"))
        frames += [f for i, f in enumerate(plate.frames()) if i % 20 == 0]
    shares = []
    with FaceAnalyzer(static_images=True, max_faces=4) as analyzer:
        for frame in frames:
            shares += [_face_foreground(frame, face.landmarks) for face in analyzer.detect(frame)]
    assert len(shares) >= 12, len(shares)
    assert max(shares) < 0.002, shares


def test_grey_scale_plate_has_no_foreground(data):
    """Without colour there is no skin direction to measure against: nothing is foreground."""
    frame = next(iter(open_plate(data("plates/tears_of_steel_10s.mp4")).frames()))
    grey = np.repeat(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    box = to_unit_float(grey[:200, :200])
    skin = np.ones((200, 200), np.float32)
    assert foreground_mask(box, skin) is None


@pytest.fixture(scope="module")
def glow_plate(tmp_path_factory) -> Path:
    from conftest import find_data, trimmed_plate

    folder = tmp_path_factory.mktemp("foreground")
    return trimmed_plate(find_data("plates/tears_of_steel_10s.mp4"), GLOW_FRAMES, folder / "p.mkv")


@pytest.fixture(scope="module")
def character(tmp_path_factory) -> Path:
    from conftest import find_data

    folder = tmp_path_factory.mktemp("character") / "london004"
    refs = [find_data(f"faces/london/004/{name}.jpg") for name in ("neutral", "smiling")]
    create_character(folder, refs, CONSENT)
    return folder


def test_swap_keeps_the_green_glow_in_front_of_the_chin(glow_plate, character, tmp_path):
    """Where the plate is strongly green inside the face the output shows the plate's glow with
    the foreground kept and the character's skin without; the rest of the face is swapped the
    same either way. Measured when written (10 frames with a glow on the face): the glow's
    pixels differ from the plate by 7.2 levels of 255 kept, 39.5 not; the matte there is 0.12;
    elsewhere on the face the two renders differ by 0.56."""
    renders = {}
    for kept in (True, False):
        output, matte = tmp_path / f"out_{kept}.mkv", tmp_path / f"matte_{kept}.mkv"
        settings = RenderSettings(
            codec="ffv1", watermark=False, composite=CompositeSettings(keep_foreground=kept)
        )
        render_shot(glow_plate, character, output, matte=matte, progress=False, settings=settings)
        renders[kept] = (
            list(open_plate(output).frames()),
            [m[..., 0] / 255.0 for m in open_plate(matte).frames()],
        )
    tracks = analyze_plate(open_plate(glow_plate), progress=False)
    on_glow, off_glow, matte_on_glow, elsewhere = [], [], [], []
    for index, plate in enumerate(open_plate(glow_plate).frames()):
        painted = renders[False][1][index] > 0.9
        rgb = plate.astype(np.int32)
        green = (rgb[..., 1] - np.maximum(rgb[..., 0], rgb[..., 2]) > 40) & painted
        if green.sum() < 50 or not tracks.frames[index]:
            continue
        far = painted & ~cv2.dilate(green.astype(np.uint8), np.ones((31, 31), np.uint8), 1)
        on, off = (renders[k][0][index].astype(np.float32) for k in (True, False))
        on_glow.append(np.abs(on - plate)[green].mean())
        off_glow.append(np.abs(off - plate)[green].mean())
        matte_on_glow.append(renders[True][1][index][green].mean())
        elsewhere.append(np.abs(on - off)[far.astype(bool)].mean())
    assert len(on_glow) >= 5, len(on_glow)
    assert np.mean(on_glow) < 0.5 * np.mean(off_glow), (np.mean(on_glow), np.mean(off_glow))
    assert np.mean(matte_on_glow) < 0.3, np.mean(matte_on_glow)
    assert np.mean(elsewhere) < 1.5, np.mean(elsewhere)


def test_no_foreground_option_is_recorded(glow_plate, character, tmp_path):
    from conftest import run_facecast

    output = tmp_path / "out.mp4"
    result = run_facecast(
        "swap", glow_plate, "--character", character, "-o", output, "--no-foreground"
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads(output.with_name(output.name + ".facecast.json").read_text())
    assert manifest["settings"]["composite"]["keep_foreground"] is False
