"""PNG, JPEG and TIFF frames say in their own metadata that they are AI-altered
(`facecast.media.labels`), and the pixels are unchanged by carrying the label."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from conftest import find_data
from facecast.errors import MediaError
from facecast.media.labels import DIGITAL_SOURCE_TYPE, _png_chunk, read_label
from facecast.media.sequence import read_image, write_image

LABEL = "facecast 0.1.0: AI-altered frame (face replaced), render id 5eed0fface0ca5e1"


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    """``uint8 RGB (H, W, 3)``: a real face photo, cut to an odd size."""
    return read_image(find_data("faces/london/004/neutral.jpg"))[101:400, 50:377]


@pytest.mark.parametrize(
    ("suffix", "depth", "channels"),
    [
        (".png", np.uint8, 3),
        (".png", np.uint16, 3),
        (".png", np.uint8, 4),
        (".tiff", np.uint8, 3),
        (".tif", np.uint16, 3),
        (".tiff", np.uint16, 4),
    ],
)
def test_a_lossless_frame_keeps_every_value_and_carries_the_label(
    tmp_path, frame, suffix, depth, channels
):
    pixels = frame.astype(depth) * (257 if depth == np.uint16 else 1)
    if depth == np.uint16:
        pixels += np.arange(pixels.size, dtype=np.uint16).reshape(pixels.shape) % 257
    if channels == 4:  # an alpha ramp
        alpha = np.linspace(0, np.iinfo(depth).max, pixels.shape[1]).astype(depth)
        pixels = np.dstack([pixels, np.broadcast_to(alpha, pixels.shape[:2])])
    path = tmp_path / f"frame{suffix}"
    write_image(path, pixels, label=LABEL)
    stored = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    code = cv2.COLOR_BGRA2RGBA if channels == 4 else cv2.COLOR_BGR2RGB
    assert np.array_equal(cv2.cvtColor(stored, code), pixels)
    label = read_label(path)
    assert label.text == LABEL
    assert label.source_type == DIGITAL_SOURCE_TYPE and label.ai_altered


def test_a_jpeg_frame_carries_the_label_and_decodes_as_without_it(tmp_path, frame):
    labelled, plain = tmp_path / "labelled.jpg", tmp_path / "plain.jpg"
    write_image(labelled, frame, label=LABEL)
    write_image(plain, frame)
    assert np.array_equal(read_image(labelled), read_image(plain))  # only metadata added
    assert read_label(labelled).text == LABEL and read_label(labelled).ai_altered
    assert read_label(plain).text is None and read_label(plain).source_type is None


def test_ffmpeg_reads_the_labelled_frames(tmp_path, frame):
    """An independent decoder (FFmpeg's PNG, MJPEG and TIFF readers) takes each file."""
    for suffix in (".png", ".jpg", ".tiff"):
        path = tmp_path / f"frame{suffix}"
        write_image(path, frame, label=LABEL)
        with av.open(str(path)) as container:
            decoded = next(container.decode(video=0)).to_ndarray(format="rgb24")
        assert decoded.shape == frame.shape
        if suffix != ".jpg":
            assert np.array_equal(decoded, frame)


def test_a_photo_without_a_label_reads_as_such(data):
    """A camera JPEG's own comment is read as it is, and it declares no AI source type."""
    label = read_label(data("faces/london/004/neutral.jpg"))
    assert label.source_type is None and not label.ai_altered


def test_xmp_with_a_doctype_is_not_parsed(tmp_path, frame):
    """Entity expansion (a 'billion laughs' XMP) is refused before any XML parsing."""
    path = tmp_path / "frame.png"
    write_image(path, frame)
    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        b"&b;</x:xmpmeta>"
    )
    data = path.read_bytes()
    chunk = _png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + hostile)
    path.write_bytes(data[:33] + chunk + data[33:])
    assert read_label(path).source_type is None


def test_a_broken_file_is_one_clear_error(tmp_path):
    broken = tmp_path / "broken.tiff"
    broken.write_bytes(b"II*\x00" + b"\xff" * 20)
    with pytest.raises(MediaError, match=r"broken\.tiff"):
        read_label(broken)
