"""Whole-block grids for smooth quantities (`facecast.composite.grid`), on a real photograph."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facecast.composite.grid import grow, shrink
from facecast.media import read_image


@pytest.fixture(scope="module")
def face():
    from conftest import find_data

    image = read_image(find_data("faces/london/004/neutral.jpg"))
    return (cv2.resize(image, (391, 461), interpolation=cv2.INTER_AREA) / 255.0).astype(np.float32)


@pytest.mark.parametrize("factor", [1, 2, 5, 12])
def test_shrink_averages_whole_blocks_and_pads_with_zeros(face, factor):
    small = shrink(face, factor)
    rows, cols = -(-461 // factor), -(-391 // factor)
    assert small.shape == (rows, cols, 3) and small.dtype == np.float32
    block = face[factor : 2 * factor, 2 * factor : 3 * factor].mean(axis=(0, 1))
    assert np.allclose(small[1, 2], block, atol=1e-5)
    if 391 % factor:  # the last column of blocks holds 391 % factor pixels and zeros
        edge = face[:factor, (cols - 1) * factor :].sum(axis=(0, 1)) / factor**2
        assert np.allclose(small[0, -1], edge, atol=1e-5)


@pytest.mark.parametrize("factor", [2, 5, 12])
def test_grow_puts_a_smooth_image_back_where_it_was(face, factor):
    smooth = cv2.GaussianBlur(face, (0, 0), 3 * factor)
    back = grow(shrink(smooth, factor), smooth.shape, factor)
    assert back.shape == smooth.shape and back.flags["C_CONTIGUOUS"]
    inner = (slice(3 * factor, -3 * factor),) * 2  # away from the zero padding
    assert np.abs(back[inner] - smooth[inner]).max() < 0.01


@pytest.mark.parametrize("sigma", [3.0, 7.5, 12.0])
def test_fine_light_near_the_openings_equals_a_whole_box_transfer(face, sigma):
    """The fine light gain is low-passed only around the eye and mouth rings (a crop on the
    whole box's grid); the relit face is the same as with the gain computed over the whole box
    and mixed in with the rings' weight."""
    from facecast.composite.grid import grow
    from facecast.composite.light import MAX_GAIN, _factor, _gain, transfer_lighting
    from facecast.composite.pixelwise import mix

    plate = np.ascontiguousarray(face[:, ::-1] * 0.8)  # another light on the same layout
    height, width = face.shape[:2]
    region = np.zeros((height, width), np.float32)
    cv2.ellipse(region, (width // 2, height // 2), (150, 200), 0, 0, 360, 1.0, -1)
    rings = np.zeros_like(region)
    for centre in ((140, 180), (250, 180), (195, 330)):  # eyes and mouth, 0 far from them
        cv2.circle(rings, centre, 45, 1.0, -1)
    rings = cv2.GaussianBlur(rings, (0, 0), 8) * (rings > 0)
    relit = transfer_lighting(face, plate, region, 40.0, opening_weight=rings, opening_sigma=sigma)

    render_linear, plate_linear = np.square(face), np.square(plate)
    coarse = grow(_gain(render_linear, plate_linear, region, 40.0), region.shape, _factor(40.0))
    fine = grow(_gain(render_linear, plate_linear, region, sigma), region.shape, _factor(sigma))
    gain = mix(coarse, fine, rings)
    expected = np.sqrt(np.minimum(render_linear * np.minimum(gain, MAX_GAIN), 1.0))
    assert np.array_equal(relit, expected)
    assert not np.array_equal(relit, np.sqrt(np.minimum(render_linear * coarse, 1.0)))
