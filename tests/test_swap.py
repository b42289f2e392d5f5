"""The main job on real footage: weekly_address_clip1 with London person 004 as the character.

Identity is measured with the dlib descriptor through the quality code (never the engine).
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from facecast.character.asset import create_character
from facecast.media import open_plate
from facecast.provenance.verify import verify_file
from facecast.quality import dlibface
from facecast.quality.identity import distance_to
from facecast.quality.identity import load_character as load_character_identity
from facecast.render import RenderSettings, render_shot

PLATE = "plates/weekly_address_clip1.mp4"
CONSENT = Path(__file__).resolve().parents[1] / "examples" / "consent_london_004.toml"
#: Matte dilation (pixels) beyond which the output must equal the plate up to the codec.
DILATION = 24
#: Frames sampled for the (slow) dlib identity measurement.
IDENTITY_STRIDE = 4


def _render(tmp: Path, plate: Path, refs: list[Path], name: str) -> dict:
    character = tmp / f"char-{name}"
    create_character(character, refs, CONSENT)
    output = tmp / f"{name}.mp4"
    matte = tmp / f"{name}_matte.mkv"
    result = render_shot(plate, character, output, matte=matte, progress=False)
    return {"character": character, "output": output, "matte": matte, "result": result}


@pytest.fixture(scope="module")
def swaps(tmp_path_factory, request):
    """Two renders of the same plate: a two-photo character and a one-photo character."""
    from conftest import find_data

    tmp = tmp_path_factory.mktemp("swap")
    plate = find_data(PLATE)
    neutral = find_data("faces/london/004/neutral.jpg")
    smiling = find_data("faces/london/004/smiling.jpg")
    return {
        "plate": plate,
        "two": _render(tmp, plate, [neutral, smiling], "two"),
        "one": _render(tmp, plate, [neutral], "one"),
    }


def _frames(path: Path) -> list[np.ndarray]:
    return list(open_plate(path).frames())


def _identity(render: dict, plate: Path) -> dict:
    """Per sampled frame: is the output face nearer the character than the actor (plate face)?"""
    models = dlibface.load_quality_models()
    character, _ = load_character_identity(models, render["character"])
    plate_frames, out_frames = _frames(plate), _frames(render["output"])
    nearer, distances = [], []
    for index in range(0, len(plate_frames), IDENTITY_STRIDE):
        actor_desc = _largest_face_descriptor(models, plate_frames[index])
        out_desc = _largest_face_descriptor(models, out_frames[index])
        if actor_desc is None or out_desc is None:
            continue
        to_character = float(distance_to(character, out_desc)[0])
        to_actor = float(np.linalg.norm(out_desc - actor_desc))
        nearer.append(to_character < to_actor)
        distances.append(to_character)
    return {"nearer": np.array(nearer), "distance": float(np.mean(distances))}


def _largest_face_descriptor(models, image: np.ndarray) -> np.ndarray | None:
    boxes = dlibface.detect_faces(models, image)
    if len(boxes) == 0:
        return None
    face = dlibface.landmarks(models, image, boxes[0])
    return dlibface.descriptor(models, image, face)


def test_face_replaced_in_tracked_frames(swaps):
    result = swaps["two"]["result"]
    mattes = _frames(swaps["two"]["matte"])
    replaced = sum(m.max() > 128 for m in mattes)
    assert result.frame_count == len(mattes)
    assert replaced >= 0.95 * result.frame_count, f"{replaced}/{result.frame_count} replaced"


def test_output_face_is_nearer_the_character_than_the_actor(swaps):
    identity = _identity(swaps["two"], swaps["plate"])
    assert len(identity["nearer"]) >= 20
    assert identity["nearer"].mean() >= 0.8, identity


def test_pixels_away_from_the_matte_are_the_plates(swaps):
    import cv2

    plate_frames = _frames(swaps["plate"])
    out_frames = _frames(swaps["two"]["output"])
    mattes = _frames(swaps["two"]["matte"])
    kernel = np.ones((2 * DILATION + 1, 2 * DILATION + 1), np.uint8)
    errors = []
    for plate, out, matte in zip(plate_frames, out_frames, mattes, strict=True):
        outside = cv2.dilate((matte[..., 0] > 0).astype(np.uint8), kernel) == 0
        diff = plate[outside].astype(np.float64) - out[outside]
        errors.append(np.mean(diff**2))
    psnr = 10 * np.log10(255.0**2 / np.mean(errors))
    assert psnr > 40.0, psnr


def test_frame_count_fps_and_audio_kept(swaps):
    plate, output = open_plate(swaps["plate"]).info, open_plate(swaps["two"]["output"]).info
    assert (output.frame_count, output.fps) == (plate.frame_count, plate.fps)
    assert (output.width, output.height) == (plate.width, plate.height)
    with av.open(str(swaps["plate"])) as a, av.open(str(swaps["two"]["output"])) as b:
        plate_audio = [bytes(p) for p in a.demux(a.streams.audio[0]) if p.size]
        out_audio = [bytes(p) for p in b.demux(b.streams.audio[0]) if p.size]
    assert out_audio == plate_audio  # copied packet for packet


def test_the_output_says_it_is_ai_altered_and_which_render_made_it(swaps):
    result = swaps["two"]["result"]
    with av.open(str(swaps["two"]["output"])) as container:
        comment = container.metadata.get("comment", "")
    assert "AI-altered" in comment and result.render_id in comment
    assert verify_file(swaps["two"]["output"], max_frames=4).label == comment  # verify tells it


def test_manifest_records_inputs_consent_and_settings(swaps):
    result = swaps["two"]["result"]
    manifest = json.loads(result.manifest.read_text())
    assert manifest["render_id"] == result.render_id and len(result.render_id) == 16
    assert manifest["inputs"]["plate"]["sha256"]
    assert manifest["consent"]["basis"] == "licensed"
    assert manifest["settings"]["engine"] == "mesh"
    assert manifest["settings"]["encoder_threads"] == 2  # the output bytes depend on it
    assert manifest["versions"]["mediapipe"] == "0.10.21"
    assert manifest["frames"]["swapped"] == result.swapped_frames


def test_single_photo_character_works_and_two_photos_do_at_least_as_well(swaps):
    one = _identity(swaps["one"], swaps["plate"])
    two = _identity(swaps["two"], swaps["plate"])
    assert one["nearer"].mean() >= 0.8, one
    # same metric: mean descriptor distance to the character (lower is better), small tolerance
    assert two["distance"] <= one["distance"] + 0.02, (one, two)


def test_same_inputs_give_the_same_bytes_on_any_number_of_threads(swaps, tmp_path):
    """The fixture's render swapped frames on one thread per core; this one on a single
    thread: the bytes are the same."""
    render = swaps["two"]
    again = render_shot(
        swaps["plate"],
        render["character"],
        tmp_path / "again.mp4",
        progress=False,
        settings=RenderSettings(),
        threads=1,
    )
    assert again.render_id == render["result"].render_id
    assert again.output.read_bytes() == render["output"].read_bytes()
