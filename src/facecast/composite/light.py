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
    The blur runs on a copy shrunk by up to sigma/3 (the result is smooth at that scale anyway),
    which makes it an order of magnitude cheaper for face-sized sigmas.
    Returns ``float32 (h, w, C)``; where no masked pixel is near, the result is 0.
    """
    height, width = mask.shape
    factor = max(1, int(sigma / 3))
    small = (max(1, width // factor), max(1, height // factor))
    weighted = np.concatenate([image * mask[..., None], mask[..., None]], axis=2)
    shrunk = cv2.resize(weighted, small, interpolation=cv2.INTER_AREA)
    blurred = cv2.GaussianBlur(shrunk, (0, 0), sigma * small[0] / width)
    blurred = cv2.resize(blurred, (width, height), interpolation=cv2.INTER_LINEAR)
    return blurred[..., :-1] / np.maximum(blurred[..., -1:], 1e-4)


def transfer_lighting(
    render: np.ndarray,
    plate: np.ndarray,
    region: np.ndarray,
    sigma: float,
    keep_character_tone: float = 0.0,
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

    Returns
    -------
    numpy.ndarray
        ``float32 (h, w, 3)`` in [0, 1].
    """
    render_linear = np.square(np.clip(render, 0.0, 1.0))
    plate_linear = np.square(np.clip(plate, 0.0, 1.0))
    plate_low = masked_lowpass(plate_linear, region, sigma)
    render_low = masked_lowpass(render_linear, region, sigma)
    gain = plate_low / np.maximum(render_low, 1e-4)
    if keep_character_tone > 0.0:
        inside = region > 0.5
        if inside.any():
            tone = render_linear[inside].mean(axis=0) / np.maximum(
                plate_linear[inside].mean(axis=0), 1e-4
            )
            gain = gain * tone**keep_character_tone
    relit = render_linear * np.clip(gain, 0.0, 8.0)
    return np.sqrt(np.clip(relit, 0.0, 1.0)).astype(np.float32)
