"""Move the plate's light onto the character's face, not the plate's identity.

The character's render keeps its high spatial frequencies (pores, brows, lips, lids: identity);
its low frequencies (shading, colour cast, exposure) are replaced by the plate's, measured over
the same face region. The transfer is a ratio in linear light, so detail keeps its contrast
relative to the local brightness (the idea of Disney's light- and contrast-preserving swaps).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facecast.composite.grid import gaussian_radius, grow, shrink
from facecast.composite.pixelwise import mix, weigh

#: Linear light is approximated by squaring display-referred values (gamma 2.0; close to sRGB
#: for this purpose and several times cheaper than a true power curve).

#: Largest light gain (linear). A dark-skinned character on a brightly lit, lighter-skinned
#: actor needs gains of 10-20 in linear light (3-4.5 in display values); a cap of 8 left
#: character 042 on weekly_address_clip2 darker than the plate at the edge (seam ΔE 4.6 -> 2.7
#: with this cap, same retrieval).
MAX_GAIN = 32.0
#: Rim support (Gaussian-weighted share of rim pixels) below which `rim_correction` fades out.
RIM_MIN_SUPPORT = 0.05
#: The gain is smooth at the scale of its finest low-pass (the opening light, a few pixels), so
#: it is computed on a grid `GAIN_GRID` times coarser than the face box (for boxes at least
#: `GAIN_GRID_ABOVE` pixels a side) and grown back once: a third less time for the light
#: transfer (6.7 -> 4.4 ms on a 720p face). Measured against the full-size gain on the first 60
#: frames of weekly_address_clip1/2 with London 004/042 (dlib, `benchmarks/quality.py`
#: metrics): eye error 0.0074/0.0066/0.0066/0.0084 -> 0.0065/0.0066/0.0060/0.0072, mouth
#: error within 0.0015 either way, seam ΔE00 within 0.01, distance to the character within
#: 0.002, stability and PSNR unchanged; the relit skin differs by 0.07 levels on average.
GAIN_GRID = 2
GAIN_GRID_ABOVE = 64


def masked_lowpass(image: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian low-pass of ``image (h, w, C)`` using only pixels where ``mask (h, w)`` is set.

    Normalised convolution: pixels outside the mask neither contribute nor leave dark borders.
    Returns ``float32 (h, w, C)``; where no masked pixel is near, the result is 0.
    """
    (small,), _ = _masked_lowpasses((image,), mask, sigma)
    grown = grow(small, mask.shape, _factor(sigma))
    return grown.reshape(grown.shape[:2] + image.shape[2:])  # OpenCV drops a single channel


def _factor(sigma: float) -> int:
    """Shrink factor of the grid a low-pass of scale `sigma` is computed on: about sigma/3
    (the result is smooth at that scale, so nothing is lost; an order of magnitude cheaper
    for face-sized sigmas)."""
    return max(1, int(sigma / 3))


def transfer_lighting(
    render: np.ndarray,
    plate: np.ndarray,
    region: np.ndarray,
    sigma: float,
    keep_character_tone: float = 0.0,
    rim: np.ndarray | None = None,
    rim_sigma: float | None = None,
    rim_weight: np.ndarray | None = None,
    opening_weight: np.ndarray | None = None,
    opening_sigma: float | None = None,
) -> np.ndarray:
    """Relight the character's render with the plate's low-frequency light and colour.

    The gain (`light_gain`) is computed on a grid `GAIN_GRID` times coarser than the box and
    applied to the render at full size, so the render's detail is untouched.

    Parameters
    ----------
    render
        ``float32 (h, w, 3)`` in [0, 1]: the engine's face render.
    plate
        ``float32 (h, w, 3)`` in [0, 1]: the plate over the same box.
    region
        ``float32 (h, w)`` in [0, 1]: skin both images show (the face minus eyes and mouth).
    sigma
        Low-pass scale in pixels of the light transfer (about a tenth of the face width).
    keep_character_tone
        0 takes the plate's skin tone with its light; 1 keeps the character's mean skin colour
        and moves only the plate's shading.
    rim, rim_sigma, rim_weight
        Optional rim colour match (see `rim_correction`): ``float32 (h, w)`` in [0, 1] where
        along the face's edge the relit render is compared with the plate, the smoothing scale
        in pixels, and ``float32 (h, w)`` in [0, 1] how much of the correction each pixel takes
        (1 at the edge, 0 deep inside and on the brows and eyes).
    opening_weight, opening_sigma
        Optional ``float32 (h, w)`` in [0, 1] and a fine low-pass scale in pixels: where the
        weight is set (the lids and lips next to the actor's eye and mouth openings) the gain
        moves toward the plate's at that fine scale, so the edges of the openings the plate
        shows carry the plate's local light.

    Returns
    -------
    numpy.ndarray
        ``float32 (h, w, 3)`` in [0, 1].
    """
    render_linear = np.square(render)
    full = LightInputs(
        render_linear,
        np.square(plate),
        region,
        sigma,
        rim=None if rim is None else region * rim,
        rim_sigma=rim_sigma,
        rim_weight=rim_weight,
        opening_weight=opening_weight,
        opening_sigma=opening_sigma,
    )
    factor = GAIN_GRID if min(region.shape) >= GAIN_GRID_ABOVE else 1
    gain = light_gain(full.shrunk(factor), keep_character_tone)
    # sqrt(min(render * min(gain, MAX_GAIN), 1)), in place in the grown gain's buffer
    relit = np.minimum(grow(gain, region.shape, factor), MAX_GAIN)
    relit *= render_linear
    np.minimum(relit, 1.0, out=relit)
    return np.sqrt(relit, out=relit)


@dataclass(frozen=True)
class LightInputs:
    """What `light_gain` works from, on one grid: arrays ``(h, w[, 3])`` float32, lengths in
    this grid's pixels.

    Attributes
    ----------
    render_linear, plate_linear
        Squared display values of the render and the plate, ``(h, w, 3)``.
    region, sigma
        Skin both show, in [0, 1], and the scale of the light transfer.
    rim, rim_sigma, rim_weight
        The rim ring (already multiplied by `region`), its smoothing scale and the share of
        the rim correction each pixel takes (see `rim_correction`); ``None`` without one.
    opening_weight, opening_sigma
        Where the gain moves to the finer `opening_sigma` (the lids and lips next to the
        openings); ``None`` without.
    """

    render_linear: np.ndarray
    plate_linear: np.ndarray
    region: np.ndarray
    sigma: float
    rim: np.ndarray | None = None
    rim_sigma: float | None = None
    rim_weight: np.ndarray | None = None
    opening_weight: np.ndarray | None = None
    opening_sigma: float | None = None

    def shrunk(self, factor: int) -> LightInputs:
        """The same inputs on a grid `factor` times coarser (`shrink`; lengths divided)."""
        if factor == 1:
            return self

        def small(image: np.ndarray | None) -> np.ndarray | None:
            return None if image is None else shrink(image, factor)

        def scaled(length: float | None) -> float | None:
            return None if length is None else length / factor

        return LightInputs(
            small(self.render_linear),
            small(self.plate_linear),
            small(self.region),
            self.sigma / factor,
            rim=small(self.rim),
            rim_sigma=scaled(self.rim_sigma),
            rim_weight=small(self.rim_weight),
            opening_weight=small(self.opening_weight),
            opening_sigma=scaled(self.opening_sigma),
        )


def light_gain(inputs: LightInputs, keep_character_tone: float = 0.0) -> np.ndarray:
    """The linear-light gain ``float32 (h, w, 3)`` that relights ``inputs.render_linear`` with
    ``inputs.plate_linear``, on their grid (not capped at `MAX_GAIN`); see `transfer_lighting`.
    """
    render, plate, region = inputs.render_linear, inputs.plate_linear, inputs.region
    gain = grow(_gain(render, plate, region, inputs.sigma), region.shape, _factor(inputs.sigma))
    if inputs.opening_weight is not None and inputs.opening_sigma is not None:
        _mix_in_fine_gain(gain, render, plate, region, inputs.opening_weight, inputs.opening_sigma)
    if keep_character_tone > 0.0:
        inside = region > 0.5
        if inside.any():
            tone = render[inside].mean(axis=0) / np.maximum(plate[inside].mean(axis=0), 1e-4)
            gain = gain * tone**keep_character_tone
    if inputs.rim is not None and inputs.rim_sigma is not None and inputs.rim_weight is not None:
        relit = render * np.minimum(gain, MAX_GAIN)
        gain *= rim_correction(relit, plate, inputs.rim, inputs.rim_sigma, inputs.rim_weight)
    return gain


def rim_correction(
    relit: np.ndarray, plate: np.ndarray, rim: np.ndarray, sigma: float, weight: np.ndarray
) -> np.ndarray:
    """Gain that brings the relit face's colour to the plate's along the face's edge.

    The plate/relit ratio is averaged over the thin `rim` ring near each point (a smooth
    colour along the contour, not a copy of the plate's features: the ring never holds a
    brow, lid or lip) and applied in proportion to `weight`.

    Parameters
    ----------
    relit, plate
        ``float32 (h, w, 3)`` linear-light face render after the light transfer, and plate.
    rim
        ``float32 (h, w)`` in [0, 1]: where the two are compared.
    sigma
        Averaging scale in pixels along the ring.
    weight
        ``float32 (h, w)`` in [0, 1]: share of the correction each pixel takes.

    Returns
    -------
    numpy.ndarray
        ``float32 (h, w, 3)`` gain, 1 where `weight` is 0 or no rim pixel is near.
    """
    (plate_rim, relit_rim), support = _masked_lowpasses((plate, relit), rim, sigma)
    ratio = plate_rim / np.maximum(relit_rim, 1e-4)
    # far from every rim pixel the normalised average means nothing: no correction there
    trust = np.clip(support / RIM_MIN_SUPPORT, 0.0, 1.0)[..., None]
    ratio = 1.0 + trust * (np.clip(ratio, 1.0 / MAX_GAIN, MAX_GAIN) - 1.0)
    excess = grow(ratio, rim.shape, _factor(sigma))
    excess -= 1.0
    correction = weigh(excess, weight)
    correction += 1.0
    return correction.astype(np.float32, copy=False)


def _mix_in_fine_gain(
    gain: np.ndarray,
    render_linear: np.ndarray,
    plate_linear: np.ndarray,
    region: np.ndarray,
    weight: np.ndarray,
    sigma: float,
) -> None:
    """Mix the gain at the fine scale `sigma` into ``gain (h, w, 3)`` in place, in proportion
    to ``weight (h, w)`` in [0, 1].

    The fine low-pass is computed only around the weight's support (the eye and mouth rings,
    about a third of the face box): over the support's bounding box grown by the reach of the
    Gaussian and of the grid, on the same grid cells as over the whole box, so the result
    there is identical to a whole-box computation, at about half its cost.
    """
    rows, cols = np.nonzero(weight.any(axis=1))[0], np.nonzero(weight.any(axis=0))[0]
    if rows.size == 0:
        return
    factor = _factor(sigma)
    reach = (gaussian_radius(sigma / factor) + 2) * factor
    height, width = weight.shape
    # the crop starts on a cell boundary of the whole box's grid
    top = max(0, rows[0] - reach) // factor * factor
    left = max(0, cols[0] - reach) // factor * factor
    bottom, right = min(height, rows[-1] + 1 + reach), min(width, cols[-1] + 1 + reach)
    crop = (slice(top, bottom), slice(left, right))
    fine = _gain(render_linear[crop], plate_linear[crop], region[crop], sigma)
    fine = grow(fine, (bottom - top, right - left), factor)
    inner = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    inner_in_crop = (
        slice(rows[0] - top, rows[-1] + 1 - top),
        slice(cols[0] - left, cols[-1] + 1 - left),
    )
    gain[inner] = mix(
        np.ascontiguousarray(gain[inner]),
        np.ascontiguousarray(fine[inner_in_crop]),
        np.ascontiguousarray(weight[inner]),
    )


def _gain(render_linear: np.ndarray, plate_linear: np.ndarray, region: np.ndarray, sigma: float):
    """Low-frequency plate/render ratio on the grid of `shrink` for `sigma`."""
    (plate_low, render_low), _ = _masked_lowpasses((plate_linear, render_linear), region, sigma)
    return plate_low / np.maximum(render_low, 1e-4)


def _masked_lowpasses(
    images: tuple[np.ndarray, ...], mask: np.ndarray, sigma: float
) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Gaussian low-pass of each ``(h, w, C)`` image using only pixels where ``mask (h, w)``
    is set (normalised convolution), on the grid of `shrink` for `sigma`; the mask is shrunk
    and blurred once for all of them.

    Returns the low-passed ``float32`` grids and the low-passed mask (the share of masked
    pixels near each grid point, before the 1e-4 floor the division uses).
    """
    factor = _factor(sigma)

    def lowpass(image: np.ndarray) -> np.ndarray:
        blurred = cv2.GaussianBlur(shrink(image, factor), (0, 0), sigma / factor)
        return blurred.reshape(blurred.shape[:2] + image.shape[2:])  # OpenCV drops (h, w, 1)

    weight = lowpass(mask)
    floor = np.maximum(weight, 1e-4)[..., None]
    return tuple(lowpass(weigh(image, mask)) / floor for image in images), weight
