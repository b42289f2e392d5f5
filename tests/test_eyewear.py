"""An actor's eyeglass frames stay in front of the character's face.

The demo plate (tears_of_steel_10s) holds a man in glasses; the weekly address plates hold a
face without. Which tracks wear glasses is measured on the real footage, and a real swap must
show the plate's frames where they cross the face while swapping the rest as before.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from facecast.analysis import analyze_plate
from facecast.analysis.eyewear import GLASSES_THRESHOLD, frame_mask, wears_glasses
from facecast.character.asset import create_character
from facecast.media import open_plate
from facecast.render import RenderSettings, render_shot

CONSENT = Path(__file__).resolve().parents[1] / "examples" / "consent_london_004.toml"
#: Frames of tears_of_steel_10s held by the glasses wearer (near-frontal ones among them).
GLASSES_FRAMES = range(140, 176)


@pytest.fixture(scope="module")
def glasses_plate(tmp_path_factory) -> Path:
    from conftest import find_data, trimmed_plate

    folder = tmp_path_factory.mktemp("eyewear")
    source = find_data("plates/tears_of_steel_10s.mp4")
    return trimmed_plate(source, GLASSES_FRAMES, folder / "p.mkv")


def test_only_the_glasses_wearer_is_found(data):
    tears = analyze_plate(open_plate(data("plates/tears_of_steel_10s.mp4")), progress=False)
    wearer = tears.main_track()
    assert wears_glasses(tears.eyewear.get(wearer)), tears.eyewear
    others = {track: v for track, v in tears.eyewear.items() if track != wearer}
    assert others and all(v < GLASSES_THRESHOLD / 2 for v in others.values()), tears.eyewear
    bare = analyze_plate(open_plate(data("plates/weekly_address_clip1.mp4")), progress=False)
    assert bare.eyewear and not any(map(wears_glasses, bare.eyewear.values())), bare.eyewear


def test_analyze_writes_the_same_eyewear_evidence_as_a_swap(glasses_plate, tmp_path):
    """`facecast analyze` (with its debug video) and a swap's own analysis find the same
    glasses, and the tracks file keeps them, so `swap --tracks` keeps the frames too."""
    from conftest import run_facecast
    from facecast.analysis import ShotTracks
    from facecast.analysis.commands import TRACKS_NAME

    result = run_facecast(
        "analyze", glasses_plate, "-o", tmp_path / "a", "--debug-video", "--no-hands"
    )
    assert result.returncode == 0, result.stderr
    saved = ShotTracks.load(tmp_path / "a" / TRACKS_NAME)
    tracks = analyze_plate(open_plate(glasses_plate), progress=False)
    assert saved.eyewear == tracks.eyewear and saved.digest() == tracks.digest()
    assert f"glasses on track(s) [{tracks.main_track()}]" in result.stdout


def test_swap_keeps_the_frames_in_front_of_the_face(glasses_plate, data, tmp_path):
    """Measured when written (36 frames): on the frames' pixels inside the face the output
    differs from the plate by 9.6 levels of 255 with glasses kept, 31.7 without; the matte
    there is 0.14; elsewhere on the face the two renders differ by 0.7."""
    character = tmp_path / "london004"
    refs = [data(f"faces/london/004/{name}.jpg") for name in ("neutral", "smiling")]
    create_character(character, refs, CONSENT)
    renders = {}
    for kept in (True, False):
        output, matte = tmp_path / f"out_{kept}.mkv", tmp_path / f"matte_{kept}.mkv"
        result = render_shot(
            glasses_plate,
            character,
            output,
            matte=matte,
            progress=False,
            settings=RenderSettings(glasses=kept, codec="ffv1", watermark=False),
        )
        manifest = json.loads(result.manifest.read_text())
        renders[kept] = {
            "frames": list(open_plate(output).frames()),
            "matte": [m[..., 0] / 255.0 for m in open_plate(matte).frames()],
            "kept": manifest["settings"]["glasses_kept"],
        }
        assert result.glasses_tracks == manifest["settings"]["glasses_kept"]
    tracks = analyze_plate(open_plate(glasses_plate), progress=False)
    wearer = tracks.main_track()
    assert renders[True]["kept"] == [wearer] and renders[False]["kept"] == []

    on_lines, off_lines, elsewhere, matte_on_lines = [], [], [], []
    for index, plate in enumerate(open_plate(glasses_plate).frames()):
        faces = [f for f in tracks.frames[index] if f.track_id == wearer]
        if not faces:
            continue
        painted = renders[False]["matte"][index] > 0.9  # where the character covers the plate
        lines = (frame_mask(plate, faces[0].landmarks) > 0.5) & painted
        if lines.sum() < 20:
            continue
        far = painted & (renders[True]["matte"][index] > 0.9)
        plate_f = plate.astype(np.float32)
        on, off = (renders[k]["frames"][index].astype(np.float32) for k in (True, False))
        on_lines.append(np.abs(on - plate_f)[lines].mean())
        off_lines.append(np.abs(off - plate_f)[lines].mean())
        elsewhere.append(np.abs(on - off)[far].mean())
        matte_on_lines.append(renders[True]["matte"][index][lines].mean())
    assert len(on_lines) >= 10, len(on_lines)
    # the frames show the plate (up to the watermark) with glasses kept, the character without
    assert np.mean(on_lines) < 0.4 * np.mean(off_lines), (np.mean(on_lines), np.mean(off_lines))
    assert np.mean(matte_on_lines) < 0.3, np.mean(matte_on_lines)
    # and the rest of the face is swapped as before
    assert np.mean(elsewhere) < 1.5, np.mean(elsewhere)
