"""Film plates: a 16-bit PNG sequence stays 16-bit through the swap, off-face pixels untouched."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facecast.character.asset import create_character
from facecast.media import SequenceWriter, open_plate
from facecast.render import RenderSettings, render_shot

CONSENT = Path(__file__).resolve().parents[1] / "examples" / "consent_london_004.toml"
FRAMES = 12


def test_sixteen_bit_sequence_swaps_in_sixteen_bits(tmp_path, data):
    source = open_plate(data("plates/weekly_address_clip1.mp4"))
    plate = tmp_path / "plate16"
    with SequenceWriter(plate, extension="png") as writer:
        for index, frame in enumerate(source.frames()):
            if index == FRAMES:
                break
            # 16-bit plate with detail below the 8-bit step, as a film scan has
            writer.write(frame.astype(np.uint16) * 257 + (index * 37 % 200) + 1)
    character = create_character(
        tmp_path / "c", [data("faces/london/004/neutral.jpg")], CONSENT
    ).path
    output, matte = tmp_path / "out16", tmp_path / "matte16"
    result = render_shot(
        plate,
        character,
        output,
        matte=matte,
        progress=False,
        settings=RenderSettings(watermark=False, hands=False),
    )
    assert result.swapped_frames == FRAMES
    plate_frames = list(open_plate(plate).frames())
    out_frames = list(open_plate(output).frames())
    mattes = list(open_plate(matte).frames())
    assert out_frames[0].dtype == np.uint16 and mattes[0].dtype == np.uint16
    for before, after, alpha in zip(plate_frames, out_frames, mattes, strict=True):
        changed = np.any(before != after, axis=2)
        assert changed.sum() > 5000  # the face was replaced
        face = alpha[..., 0] > 0
        # every changed pixel lies within the blend's reach of the matte (box-local fade)
        ys, xs = np.nonzero(face)
        y0, y1, x0, x1 = ys.min() - 40, ys.max() + 40, xs.min() - 40, xs.max() + 40
        outside = np.ones_like(changed)
        outside[max(y0, 0) : y1, max(x0, 0) : x1] = False
        assert not changed[outside].any()  # bit-identical off the face, no watermark here
        # sub-8-bit detail kept: values that are not multiples of 257 survive off the face
        assert np.any(after[outside] % 257 != 0)
