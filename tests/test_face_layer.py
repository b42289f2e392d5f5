"""The face layer for Nuke: premultiplied linear RGBA that, merged over the plate, is the swap.

weekly_address_clip1 (first 8 frames, lossless) swapped with London 004, output as a PNG
sequence so the comparison sees the swap's own pixels, watermark on as in every render.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest

from facecast.character.asset import create_character
from facecast.composite.layer import face_layer, layer_over
from facecast.errors import MediaError
from facecast.media import open_plate
from facecast.media.transfer import scene_linear
from facecast.render import render_shot

CONSENT = Path(__file__).resolve().parents[1] / "examples" / "consent_london_004.toml"
FRAMES = 8


def _encoded(linear: np.ndarray) -> np.ndarray:
    """``float (H, W, 3)`` linear light to 8-bit sRGB levels (float, rounded)."""
    linear = np.clip(linear, 0.0, 1.0)
    encoded = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.round(encoded * 255.0)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    from conftest import find_data as data
    from conftest import trimmed_plate

    folder = tmp_path_factory.mktemp("layer")
    clip = data("plates/weekly_address_clip1.mp4")
    plate = trimmed_plate(clip, range(FRAMES), folder / "plate.mkv")
    character = folder / "london004"
    refs = [data(f"faces/london/004/{name}.jpg") for name in ("neutral", "smiling")]
    create_character(character, refs, CONSENT)
    result = render_shot(
        plate,
        character,
        folder / "out",
        matte=folder / "matte",
        layer=folder / "layer",
        progress=False,
    )
    plates = list(open_plate(plate).frames())
    outputs = list(open_plate(folder / "out").frames())
    mattes = [
        cv2.imread(str(p), cv2.IMREAD_UNCHANGED).astype(np.float32) / 65535.0
        for p in sorted((folder / "matte").glob("*.png"))
    ]
    return result, plates, outputs, mattes


def _layers(folder: Path) -> list[tuple[np.ndarray, dict]]:
    """Each layer EXR as ``float16 (H, W, 4)`` in its display window (its data window is the
    alpha's bounding box), with its header."""
    layers = []
    for path in sorted(folder.glob("*.exr")):
        with OpenEXR.File(str(path)) as exr:  # the header is only valid while it is open
            header = {key: exr.header()[key] for key in exr.header()}
            pixels = exr.channels()["RGBA"].pixels
        (x0, y0), (x1, y1) = header["dataWindow"]
        (_, _), (right, bottom) = header["displayWindow"]
        assert pixels.shape[:2] == (y1 - y0 + 1, x1 - x0 + 1)
        full = np.zeros((bottom + 1, right + 1, 4), np.float16)
        full[y0 : y1 + 1, x0 : x1 + 1] = pixels
        layers.append((full, header))
    return layers


def test_the_layer_over_the_plate_is_the_output(rendered):
    result, plates, outputs, mattes = rendered
    layers = _layers(result.layer)
    assert min(p.name for p in result.layer.glob("*.exr")) == "layer.000000.exr"
    assert len(layers) == FRAMES == len(outputs)
    for (pixels, _), plate, output, matte in zip(layers, plates, outputs, mattes, strict=True):
        assert pixels.dtype == np.float16 and pixels.shape == (*plate.shape[:2], 4)
        rebuilt = _encoded(layer_over(pixels, plate))
        face = matte > 0.5
        assert face.sum() > 10_000  # a face was swapped
        # the over gives back the swap's pixels to within a level (half floats) inside the face
        difference = np.abs(rebuilt - output.astype(np.float32))
        assert difference[face].max() <= 1.0
        assert difference[face].mean() < 0.05
        # ... while the plate's own pixels, far from the face, are not in the layer at all
        alpha = pixels[..., 3].astype(np.float32)
        far = cv2.dilate((matte > 0).astype(np.uint8), np.ones((41, 41), np.uint8)) == 0
        assert far.sum() > 0.5 * far.size and not alpha[far].any()
        # the alpha is the matte, widened only where the blend changed pixels beyond it
        assert np.all(alpha >= matte - 2e-3)
        assert np.abs(alpha - matte)[matte > 0].mean() < 0.01
        # premultiplied: no channel above its alpha (the plate is display-referred, peak 1)
        assert np.all(pixels[..., :3].astype(np.float32) <= alpha[..., None] + 1e-3)


def test_the_layer_is_labelled_and_recorded(rendered):
    result, *_ = rendered
    for pixels, header in _layers(result.layer):
        # stored as the face's bounding box, not the whole 1280 x 720 frame
        (x0, y0), (x1, y1) = header["dataWindow"]
        assert (x1 - x0 + 1) * (y1 - y0 + 1) < 0.25 * pixels.shape[0] * pixels.shape[1]
        assert "AI-generated" in header["comments"]
        assert header["facecast_render_id"] == result.render_id
    manifest = json.loads(result.manifest.read_text())
    assert manifest["outputs"]["layer"]["path"] == "layer"
    assert len(manifest["outputs"]["layer"]["sha256"]) == 64


def test_face_layer_widens_the_alpha_only_as_far_as_the_over_needs():
    """A pixel the blend darkened below the plate, with the matte 0 there, gets just the alpha
    that darkens it back; untouched pixels stay transparent; the over is exact."""
    plate = np.full((2, 3, 3), 200, np.uint8)
    output = plate.copy()
    output[0, 0] = 120  # inside the matte
    output[0, 1] = 190  # beyond it: the blend's reach
    matte = np.zeros((2, 3), np.float32)
    matte[0, 0] = 0.7
    changed = np.any(output != plate, axis=2)
    layer = face_layer(output, plate, matte, changed)
    assert layer.origin == (0, 0) and layer.pixels.shape == (1, 2, 4)  # the changed pixels' box
    alpha = layer.full()[..., 3].astype(np.float32)
    assert alpha[0, 0] == pytest.approx(0.7, abs=1e-3)
    darker = 1.0 - scene_linear(output[:1, 1:2])[0, 0, 0] / scene_linear(plate[:1, 1:2])[0, 0, 0]
    assert alpha[0, 1] == pytest.approx(darker, abs=1e-3) and alpha[0, 1] > 0
    assert not alpha[1].any() and not alpha[0, 2]
    assert np.abs(_encoded(layer_over(layer, plate)) - output).max() <= 1.0


def test_a_layer_path_with_an_extension_is_refused_before_any_work(rendered, tmp_path):
    result, *_ = rendered
    with pytest.raises(MediaError, match="give a folder"):
        render_shot(
            result.output.parent / "plate.mkv",
            result.output.parent / "london004",
            tmp_path / "again.mp4",
            layer=tmp_path / "layer.exr",
            progress=False,
        )
    assert not list(tmp_path.iterdir())
