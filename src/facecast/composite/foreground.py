"""Coloured things in front of the face that are not hands: glows, light streaks, props.

A foreground element coloured unlike skin (the out-of-focus green hologram and the magenta
light streak across the demo plate's face) belongs to the plate in front of the face: the
character goes behind it, as behind a hand, and the plate's light under it is not taken for
the face's. Skin of every tone, in light or shadow, has its CIELAB chroma (a*, b*) along one
direction, the face's own median; hair, brows, sclera and teeth have little chroma at all.
What has strong chroma off that direction, or opposite to it, is taken for a foreground.

Measured on face boxes (chroma score of `chroma_off_skin`, 99.9th percentile over the face):
weekly address clips 1-3, 8-19; tears_of_steel frame 130 (no element) 14; the elements in
front of tears_of_steel frames 160 and 170 score 38-58 (3-4% of the face above 30). On a face
with nothing in front (a 396 x 464 box of weekly_address_clip1) the search costs 0.7 ms.
"""

from __future__ import annotations

import cv2
import numpy as np

from facecast.composite.grid import grow, shrink

#: Chroma score (CIELAB a*b* units) where a pixel starts to count as foreground, and where it
#: counts fully. Skin of the weekly address plates stays below 19 (99.9th percentile).
FOREGROUND_CHROMA = (20.0, 30.0)
#: Faces whose median chroma is below this (grey-scale or desaturated plates) have no skin
#: direction to measure against: nothing is taken for a foreground.
MIN_SKIN_CHROMA = 3.0
#: The skin's median chroma is taken over every this-many-th row and column of the grid
#: (thousands of pixels remain on any face).
SAMPLE_STEP = 2
#: The score is smooth at the scale of a few pixels: worked out on a grid this much coarser.
GRID = 2
#: Whether anything scores at all is first asked on a grid this much coarser (a glow or a prop
#: covers many of its cells): the usual answer, no, costs a third of the fine grid's work.
SEARCH_GRID = 4


def skin_chroma(lab: np.ndarray, skin: np.ndarray) -> np.ndarray | None:
    """Median ``float32 (2,)`` CIELAB chroma (a*, b*) of ``lab (h, w, 3)`` where
    ``skin (h, w)`` is above 0.5, over every `SAMPLE_STEP`-th row and column; ``None`` when no
    such pixel is."""
    step = (slice(None, None, SAMPLE_STEP),) * 2
    chroma = lab[step][..., 1:][skin[step] > 0.5]
    if len(chroma) == 0:
        return None
    return np.median(chroma, axis=0).astype(np.float32)


def chroma_off_skin(lab: np.ndarray, skin: np.ndarray) -> np.ndarray | None:
    """How far each pixel's chroma lies from the skin's direction: ``float32 (h, w)``, >= 0.

    With ``u`` the unit direction of the skin's median chroma (`skin_chroma`) and ``c`` a
    pixel's (a*, b*): the larger of the part of ``c`` across ``u`` and the part of ``c``
    against ``u``. Skin lit brighter or darker, and colourless hair, sclera or teeth, score
    near 0; a green or blue light, or a magenta one, scores its chroma. ``None`` when the
    skin has no direction (no skin, or its chroma below `MIN_SKIN_CHROMA`).

    Parameters
    ----------
    lab
        ``float32 (h, w, 3)`` CIELAB (L* in [0, 100]).
    skin
        ``float32 (h, w)`` in [0, 1]: the face's skin, whose median defines the direction.
    """
    median = skin_chroma(lab, skin)
    if median is None or float(np.hypot(*median)) < MIN_SKIN_CHROMA:
        return None
    along_a, along_b = median / np.float32(np.hypot(*median))
    a, b = lab[..., 1], lab[..., 2]
    across = np.abs(a * along_b - b * along_a)
    against = -(a * along_a + b * along_b)
    return np.maximum(across, against).astype(np.float32)


def foreground_mask(plate: np.ndarray, skin: np.ndarray) -> np.ndarray | None:
    """Where something coloured unlike skin is in front of the face.

    Parameters
    ----------
    plate
        ``float32 (h, w, 3)`` display-referred RGB in [0, 1]: the plate over the face box.
    skin
        ``float32 (h, w)`` in [0, 1]: the face's skin (its median chroma is the reference).

    Returns
    -------
    numpy.ndarray or None
        ``float32 (h, w)`` in [0, 1]: 0 below ``FOREGROUND_CHROMA[0]``, 1 above
        ``FOREGROUND_CHROMA[1]``, over the whole box (beyond the face too: the caller limits
        it to the matte and leaves out what the actor's own colours are). ``None`` when no
        pixel of the skin reaches ``FOREGROUND_CHROMA[0]`` (the usual case, and cheap).
    """
    low, high = FOREGROUND_CHROMA
    score, on_grid = _scores(plate, skin, SEARCH_GRID)
    if score is None or not bool((score[on_grid] >= low).any()):
        return None
    score, _ = _scores(plate, skin, GRID)
    share = np.clip((score - low) / (high - low), 0.0, 1.0)
    share = cv2.GaussianBlur(share, (0, 0), 1.0)
    return np.clip(grow(share, skin.shape, _grid_factor(skin.shape, GRID)), 0.0, 1.0)


def _grid_factor(shape: tuple[int, ...], wanted: int) -> int:
    """`wanted`, or less for a box under 16 cells a side."""
    return max(1, min(wanted, min(shape[:2]) // 16))


def _scores(
    plate: np.ndarray, skin: np.ndarray, factor: int
) -> tuple[np.ndarray | None, np.ndarray]:
    """`chroma_off_skin` of ``plate (h, w, 3)`` on a grid about `factor` times coarser
    (`_grid_factor`), and ``bool`` the skin on that grid (each cell's first pixel of
    ``skin (h, w)``)."""
    factor = _grid_factor(skin.shape, factor)
    small = np.ascontiguousarray(shrink(plate, factor), dtype=np.float32)
    on_grid = skin[::factor, ::factor] > 0.5
    score = chroma_off_skin(cv2.cvtColor(small, cv2.COLOR_RGB2Lab), on_grid.astype(np.float32))
    return score, on_grid
