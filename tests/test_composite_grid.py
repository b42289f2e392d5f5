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
