"""The Laplacian-pyramid blend against the textbook two-pyramid form, on real photographs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facecast.composite.blend import blend_reach, laplacian_blend
from facecast.media import read_image


def _textbook_blend(foreground, background, alpha, levels):
    """Burt & Adelson as usually written: a Laplacian pyramid per image, blended per band."""
    fg, bg, a = [foreground], [background], [alpha]
    for _ in range(levels):
        fg.append(cv2.pyrDown(fg[-1]))
        bg.append(cv2.pyrDown(bg[-1]))
        a.append(cv2.pyrDown(a[-1]))
    result = a[-1][..., None] * fg[-1] + (1 - a[-1][..., None]) * bg[-1]
    for level in range(levels - 1, -1, -1):
        size = (fg[level].shape[1], fg[level].shape[0])
        fg_band = fg[level] - cv2.pyrUp(fg[level + 1], dstsize=size)
        bg_band = bg[level] - cv2.pyrUp(bg[level + 1], dstsize=size)
        weight = a[level][..., None]
        result = cv2.pyrUp(result, dstsize=size) + weight * fg_band + (1 - weight) * bg_band
    return result


@pytest.fixture(scope="module")
def pair(request):
    from conftest import find_data

    def face(person):
        image = read_image(find_data(f"faces/london/{person}/neutral.jpg"))
        return cv2.resize(image, (391, 461), interpolation=cv2.INTER_AREA) / np.float32(255)

    alpha = np.zeros((461, 391), np.float32)
    cv2.ellipse(alpha, (195, 230), (120, 160), 0, 0, 360, 1.0, -1)
    return face("004"), face("012"), cv2.GaussianBlur(alpha, (0, 0), 9)


@pytest.mark.parametrize("levels", [1, 3, 5])
def test_blend_equals_the_two_pyramid_form(pair, levels):
    foreground, background, alpha = (x.astype(np.float32) for x in pair)
    ours = laplacian_blend(foreground, background, alpha, levels)
    assert ours.dtype == np.float32 and ours.shape == foreground.shape
    reference = _textbook_blend(foreground, background, alpha, levels)
    assert np.abs(ours - reference).max() < 1e-5


def test_blend_keeps_each_image_where_alpha_is_flat(pair):
    foreground, background, _ = (x.astype(np.float32) for x in pair)
    ones = np.ones(foreground.shape[:2], np.float32)
    assert np.abs(laplacian_blend(foreground, background, ones, 3) - foreground).max() < 1e-5
    assert np.abs(laplacian_blend(foreground, background, 0 * ones, 3) - background).max() < 1e-5


def test_blend_changes_nothing_beyond_its_reach(pair):
    foreground, background, alpha = (x.astype(np.float32) for x in pair)
    alpha = np.where(alpha > 0.5, alpha, 0).astype(np.float32)
    blended = laplacian_blend(foreground, background, alpha, 3)
    reach = blend_reach(3)
    near = cv2.dilate((alpha > 0).astype(np.uint8), np.ones((2 * reach + 1,) * 2, np.uint8))
    assert np.abs(blended - background)[near == 0].max() < 1e-5
