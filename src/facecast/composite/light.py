"""Move the plate's light onto the character's face, not the plate's identity.

The character's render keeps its high spatial frequencies (pores, brows, lips, lids: identity);
its low frequencies (shading, colour cast, exposure) are replaced by the plate's, measured over
the same face region. The transfer is a ratio in linear light, so detail keeps its contrast
relative to the local brightness (the idea of Disney's light- and contrast-preserving swaps).
"""

from __future__ import annotations

import cv2
import numpy as np

#: Linear light is approximated by squaring display-referred values (gamma 2.0; close to sRGB
#: for this purpose and several times cheaper than a true power curve).


def masked_lowpass(image: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian low-pass of ``image (h, w, C)`` using only pixels where ``mask (h, w)`` is set.

    Normalised convolution: pixels outside the mask neither contribute nor leave dark borders.
    Returns ``float32 (h, w, C)``; where no masked pixel is near, the result is 0.
    """
    small, _factor = _lowpass_small(image, mask, sigma)
    height, width = mask.shape
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _lowpass_small(image: np.ndarray, mask: np.ndarray, sigma: float) -> tuple[np.ndarray, int]:
    """`masked_lowpass` evaluated on a grid shrunk by up to sigma/3 (the result is smooth at
    that scale, so nothing is lost), an order of magnitude cheaper for face-sized sigmas.

    Returns the shrunk ``float32 (h', w', C)`` result and the shrink factor.
    """
    height, width = mask.shape
    factor = max(1, int(sigma / 3))
    size = (max(1, width // factor), max(1, height // factor))
    weighted = cv2.resize(image * mask[..., None], size, interpolation=cv2.INTER_AREA)
    weight = cv2.resize(mask, size, interpolation=cv2.INTER_AREA)
    small_sigma = sigma * size[0] / width
    weighted = cv2.GaussianBlur(weighted, (0, 0), small_sigma)
    weight = cv2.GaussianBlur(weight, (0, 0), small_sigma)
    return weighted / np.maximum(weight, 1e-4)[..., None], factor


def transfer_lighting(
    render: np.ndarray,
    plate: np.ndarray,
    region: np.ndarray,
    sigma: float,
    keep_character_tone: float = 0.0,
    edge_sigma: float | None = None,
    interior: np.ndarray | None = None,
) -> np.ndarray:
    """Relight the character's render with the plate's low-frequency light and colour.

    Parameters
    ----------
    render
        ``float32 (h, w, 3)`` in [0, 1]: the engine's face render.
    plate
        ``float32 (h, w, 3)`` in [0, 1]: the plate over the same box.
    region
        ``float32 (h, w)`` in [0, 1]: skin both images show (the face minus eyes and mouth).
    sigma
        Low-pass scale in pixels (a few percent of the face width).
    keep_character_tone
        0 takes the plate's skin tone with its light; 1 keeps the character's mean skin colour
        and moves only the plate's shading.
    edge_sigma, interior
        Optional finer scale used near the face's edge, and ``float32 (h, w)`` in [0, 1]
        saying how far inside the face each pixel is (0 at the edge, 1 deep inside): the gain
        is the fine one at the edge (the plate's colour is matched where the two images meet)
        and the coarse one inside (the character's own shading is kept where identity lives).

    Returns
    -------
    numpy.ndarray
        ``float32 (h, w, 3)`` in [0, 1].
    """
    render_linear, plate_linear = np.square(render), np.square(plate)
    gain = _gain(render_linear, plate_linear, region, sigma)
    if edge_sigma is not None and interior is not None:
        height, width = region.shape
        full = lambda g: cv2.resize(g, (width, height), interpolation=cv2.INTER_LINEAR)  # noqa: E731
        fine = full(_gain(render_linear, plate_linear, region, edge_sigma))
        coarse = full(gain)
        gain = fine + interior[..., None] * (coarse - fine)
    if keep_character_tone > 0.0:
        inside = region > 0.5
        if inside.any():
            tone = render_linear[inside].mean(axis=0) / np.maximum(
                plate_linear[inside].mean(axis=0), 1e-4
            )
            gain = gain * tone**keep_character_tone
    height, width = region.shape
    if gain.shape[:2] != (height, width):
        gain = cv2.resize(gain, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.sqrt(np.minimum(render_linear * np.minimum(gain, 8.0), 1.0))


def _gain(render_linear: np.ndarray, plate_linear: np.ndarray, region: np.ndarray, sigma: float):
    """Low-frequency plate/render ratio on the shrunk grid of `_lowpass_small`."""
    plate_low, _ = _lowpass_small(plate_linear, region, sigma)
    render_low, _ = _lowpass_small(render_linear, region, sigma)
    return plate_low / np.maximum(render_low, 1e-4)
