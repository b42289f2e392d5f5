"""Identity survives the light transfer: a fair, light-browed character on a dark-skinned actor.

London person 012 on weekly_address_clip1 was the hardest pair of the quality benchmark: the
old edge match copied the plate per pixel over a band holding the outer brows and eye corners,
and the output read as the actor (dlib distance 0.69 to the character, 0.60 to the actor;
retrieval 0-5%). Identity is measured with the quality code's dlib descriptor, never used by
the engine or the compositor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facecast.analysis import FaceAnalyzer
from facecast.character.asset import create_character
from facecast.composite.compositor import CompositeSettings, composite_face, to_unit_float
from facecast.engines import create_engine
from facecast.media import VideoWriter, open_plate
from facecast.mesh.regions import contour
from facecast.quality import dlibface
from facecast.quality.identity import distance_to
from facecast.quality.identity import load_character as load_character_identity
from facecast.render import render_shot

PLATE = "plates/weekly_address_clip1.mp4"
#: Frames of the plate swapped, and the stride of the (slow) dlib measurement.
FRAMES, STRIDE = 24, 2
CONSENT = """
subject = "Face Research Lab London Set, person 012"
granted_by = "DeBruine & Jones (2017), released under CC BY 4.0"
basis = "licensed"
production = "facecast tests"
"""


def _refs(find_data, person: str) -> list[Path]:
    return [find_data(f"faces/london/{person}/{n}.jpg") for n in ("neutral", "smiling")]


@pytest.fixture(scope="module")
def swap(tmp_path_factory):
    """The first `FRAMES` frames of the plate swapped with character 012 (default settings)."""
    from conftest import find_data

    tmp = tmp_path_factory.mktemp("identity")
    consent = tmp / "consent.toml"
    consent.write_text(CONSENT)
    character = tmp / "london-012"
    create_character(character, _refs(find_data, "012"), consent)
    source = open_plate(find_data(PLATE))
    clip = tmp / "clip.mkv"
    info = source.info
    with VideoWriter(clip, info.width, info.height, info.fps, codec="ffv1") as writer:
        for _, frame in zip(range(FRAMES), source.frames(), strict=False):
            writer.write(frame)
    output = tmp / "out.mkv"
    render_shot(clip, character, output, progress=False)
    return {"plate": clip, "output": output, "character": character, "other": find_data}


def _descriptor(models, image: np.ndarray) -> np.ndarray | None:
    boxes = dlibface.detect_faces(models, image)
    if len(boxes) == 0:
        return None
    return dlibface.descriptor(models, image, dlibface.landmarks(models, image, boxes[0]))


def test_output_reads_as_the_character_not_the_actor(swap):
    """In a clear majority of frames the output face is nearer the character than both the
    actor (that frame's plate face) and another London person (004), and within dlib's
    same-person tolerance of the character on average."""
    models = dlibface.load_quality_models()
    character, _ = load_character_identity(models, swap["character"])
    other = np.stack(
        [_descriptor(models, _rgb(p)) for p in _refs(swap["other"], "004")]
    )  # (2, 128)
    plates, outputs = list(open_plate(swap["plate"]).frames()), []
    outputs = list(open_plate(swap["output"]).frames())
    nearest, to_character = [], []
    for index in range(0, FRAMES, STRIDE):
        actor, out = _descriptor(models, plates[index]), _descriptor(models, outputs[index])
        assert actor is not None and out is not None, f"no face in frame {index}"
        own = float(distance_to(character, out)[0])
        rivals = [
            float(np.linalg.norm(out - actor)),
            float(np.linalg.norm(other - out, axis=1).min()),
        ]
        nearest.append(own < min(rivals))
        to_character.append(own)
    assert np.mean(nearest) >= 0.8, (nearest, to_character)
    assert np.mean(to_character) < 0.6, to_character


def _rgb(path: Path) -> np.ndarray:
    from facecast.media import read_image, to_uint8

    return to_uint8(read_image(path))


def test_rim_meets_the_plate_and_leaves_brows_and_eyes_the_characters(tmp_path, data):
    """One real frame composited directly, with and without the rim match: near the face
    outline the match brings the colour to the plate's; the brows and eyes (where the old
    per-pixel edge match copied the actor's) are not touched by it."""
    import cv2

    from facecast.quality.colour import delta_e_2000, rgb_to_lab

    consent = tmp_path / "consent.toml"
    consent.write_text(CONSENT)
    character = create_character(tmp_path / "c", _refs(data, "012"), consent)
    frame = next(iter(open_plate(data(PLATE)).frames()))
    with FaceAnalyzer(static_images=True) as analyzer:
        face = max(analyzer.detect(frame), key=lambda f: f.size)
    engine = create_engine("mesh", shape_strength=0.0)
    engine.prepare(character)
    layer = engine.render(frame, face)
    x0, y0, x1, y1 = layer.box
    plate = to_unit_float(frame[y0:y1, x0:x1])
    matched, unmatched = (
        composite_face(plate, layer, face, CompositeSettings(rim_scale=scale), None).rgb
        for scale in (CompositeSettings().rim_scale, 0.0)
    )

    def polygon(*names: str) -> np.ndarray:
        mask = np.zeros(plate.shape[:2], np.uint8)
        for name in names:
            points = np.round(face.landmarks[contour(name), :2] - (x0, y0)).astype(np.int32)
            cv2.fillPoly(mask, [points], 1)
        return mask.astype(bool)

    features = polygon("left_eyebrow", "right_eyebrow") & (layer.alpha > 0.99)
    assert features.sum() > 200
    assert np.abs(matched[features] - unmatched[features]).max() < 2 / 255

    depth = cv2.distanceTransform(polygon("face_oval").astype(np.uint8), cv2.DIST_L2, 3)
    width = float(np.ptp(face.landmarks[contour("face_oval"), 0]))
    ring = (depth > 0.045 * width) & (depth < 0.08 * width) & (layer.alpha > 0.99)

    def ring_delta_e(image: np.ndarray) -> float:
        lab = rgb_to_lab(np.round(np.stack([image[ring], plate[ring]]) * 255).astype(np.uint8))
        return float(delta_e_2000(lab[0].mean(axis=0), lab[1].mean(axis=0)))

    assert ring_delta_e(matched) < min(3.0, ring_delta_e(unmatched)), (
        ring_delta_e(matched),
        ring_delta_e(unmatched),
    )
