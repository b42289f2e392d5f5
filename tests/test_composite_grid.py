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


def _rings_and_skin(face):
    """A face-shaped skin region and eye/mouth rings (1 near them, 0 far) on the test image."""
    height, width = face.shape[:2]
    region = np.zeros((height, width), np.float32)
    cv2.ellipse(region, (width // 2, height // 2), (150, 200), 0, 0, 360, 1.0, -1)
    rings = np.zeros_like(region)
    for centre in ((140, 180), (250, 180), (195, 330)):
        cv2.circle(rings, centre, 45, 1.0, -1)
    return region, cv2.GaussianBlur(rings, (0, 0), 8) * (rings > 0)


@pytest.mark.parametrize("sigma", [3.0, 7.5, 12.0])
def test_fine_light_near_the_openings_equals_a_whole_box_gain(face, sigma):
    """The fine light gain is low-passed only around the eye and mouth rings (a crop on the
    whole box's grid); the gain is the same as with the fine gain computed over the whole box
    and mixed in with the rings' weight."""
    from facecast.composite.light import LightInputs, _factor, _gain, light_gain
    from facecast.composite.pixelwise import mix

    region, rings = _rings_and_skin(face)
    render, plate = np.square(face), np.square(np.ascontiguousarray(face[:, ::-1] * 0.8))
    inputs = LightInputs(render, plate, region, 40.0, opening_weight=rings, opening_sigma=sigma)
    gain = light_gain(inputs)

    coarse = grow(_gain(render, plate, region, 40.0), region.shape, _factor(40.0))
    fine = grow(_gain(render, plate, region, sigma), region.shape, _factor(sigma))
    assert np.array_equal(gain, mix(coarse, fine, rings))
    assert not np.array_equal(gain, coarse)


def test_light_gain_on_a_half_size_grid_matches_the_full_size_one(face):
    """`transfer_lighting` computes its gain on a grid half the box's size: the relit face is
    within a fraction of an 8-bit level of relighting with the full-size gain, and takes the
    plate's light (here 0.8 times as bright, mirrored)."""
    from facecast.composite.light import MAX_GAIN, LightInputs, light_gain, transfer_lighting

    region, rings = _rings_and_skin(face)
    plate = np.ascontiguousarray(face[:, ::-1] * 0.8)
    relit = transfer_lighting(face, plate, region, 40.0, opening_weight=rings, opening_sigma=7.5)
    render_linear = np.square(face)
    full = light_gain(
        LightInputs(
            render_linear, np.square(plate), region, 40.0, opening_weight=rings, opening_sigma=7.5
        )
    )
    expected = np.sqrt(np.minimum(render_linear * np.minimum(full, MAX_GAIN), 1.0))
    skin = region > 0.5
    difference = np.abs(relit - expected)[skin] * 255
    assert difference.mean() < 0.25 and np.percentile(difference, 99) < 2.0, difference.max()
    assert abs(relit[skin].mean() - plate[skin].mean()) < 0.25 * abs(
        face[skin].mean() - plate[skin].mean()
    )


@pytest.mark.parametrize("sigma", [2.0, 12.0])
def test_a_one_channel_masked_lowpass_is_that_channel_of_a_colour_one(face, sigma):
    """`masked_lowpass` of an ``(h, w, 1)`` image keeps its shape and equals the same
    channel of a three-channel call. OpenCV returns one-channel images as ``(h, w)``, which
    broadcast against the ``(h, w, 1)`` mask weights into an ``(h, w, w)`` result before."""
    from facecast.composite.light import masked_lowpass

    region, _ = _rings_and_skin(face)
    one = masked_lowpass(np.ascontiguousarray(face[..., 1:2]), region, sigma)
    assert one.shape == (*face.shape[:2], 1) and one.dtype == np.float32
    assert np.allclose(one[..., 0], masked_lowpass(face, region, sigma)[..., 1], atol=1e-6)
