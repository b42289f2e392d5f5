"""Invisible watermark: a 64-bit payload in the luma of every frame, found again after attacks.

Design
------
The payload (64 bits + CRC-32, rate-1/3 convolutional code, see `facecast.provenance.coding`)
is spread over a square *tile* of ``GRID x GRID`` cells. Each cell carries one chip: a
key-derived pilot sign (for synchronisation) plus the sign of one coded bit times a key-derived
spreading sign. The tile is band-limited to the band the detector reads (a low-pass rounds the
cells off, a high-pass removes the slow swells that picture content would drown anyway and that
would only cost PSNR), repeated over the whole frame and added to the luma (the same offset on
R, G and B) at an RMS of ``strength`` 8-bit levels.

Because the pattern is periodic, the detector needs no knowledge of the original frame size:

1. a band-pass residual of the luma, divided by its local variance (a Wiener-style whitening:
   flat areas, where the pattern stands out, count more than texture and edges, where it is
   buried), keeps the pattern's band and suppresses most picture content;
2. the tile period (and so any rescaling) is read from the autocorrelation of that residual,
   separately along x and y;
3. the residual is folded modulo the period into one canonical tile, which averages every
   repetition of the pattern in the frame;
4. a circular cross-correlation with the pilot gives the tile's offset (so any crop is undone);
5. the chips are read, de-spread and Viterbi-decoded; the CRC decides.

A video is judged by folding many frames into the same tile before decoding.

The default key's seed is public: this is a labelling watermark (anyone can read it), not DRM.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy import fft as sfft

from facecast.media import IMAGE_SUFFIXES, open_plate, read_image, to_uint8
from facecast.provenance import coding

#: Cells per tile side; the tile holds ``GRID**2`` chips.
GRID = 32
#: Public seed of the default facecast key.
DEFAULT_SEED = 0x0FACECA5
#: Default embedding strength: RMS luma change in 8-bit levels (PSNR about 46.5 dB).
DEFAULT_STRENGTH = 1.2
#: Frame short side per cell: cells of 8 pixels at 720p, 12 at 1080p (at least 4).
_CELLS_PER_SHORT_SIDE = 90
#: Chip amplitudes: pilot and data share the energy 1/4 : 3/4.
_PILOT_AMPLITUDE = 0.5
_DATA_AMPLITUDE = 0.75**0.5
#: Band of the embedded pattern, as Gaussian sigmas in cells: low-pass, and high-pass cut.
_LOW_PASS = 1 / 3
_HIGH_PASS = 0.8
#: Detector band-pass (Gaussian sigmas at a 360-pixel short side) and the standard deviation
#: of the local-variance window (two box passes) at that size.
_BAND = (0.47, 1.66)
#: Frames with a short side under 360 pixels are also read at the band of their own size, down
#: to this scale (a halved 360p plate has 2-pixel cells).
_MIN_SCALE = 0.5
_VARIANCE_SIGMA = 3.0
#: Variance floor (8-bit levels squared) and clip (standard deviations) of the residual.
_VARIANCE_FLOOR = 0.1
_RESIDUAL_CLIP = 3.0
#: Magnitude threshold (standard deviations) and the two levels of the stored 2-bit residual.
_STORE_THRESHOLD = 1.0
_STORE_LEVELS = (0.45, 1.5)
#: Canonical cell size (bins) of the folded tile inside the detector: 4 bins a side locate
#: the tile to a quarter of a cell, so no cell is read across its neighbour's edge.
_CANON_CELL = 4
#: Bins per cell side when candidate periods are only ranked (cheaper folds).
_RANK_CELL = 2
#: Mean `coding.Decoded.agreement` of pure noise; confidence is measured from here to 1.
_NOISE_AGREEMENT = 0.56
#: Period candidates examined (autocorrelation peaks, strongest first) and decoded (best sync).
_CANDIDATES = 10
_DECODED = 3
#: Pilot sync (in standard deviations; noise gives about 4) worth refining the period for.
_POLISH_SYNC = 6.0


@dataclass(frozen=True)
class WatermarkKey:
    """The secret (or, by default, public) seed that lays out the watermark pattern.

    Parameters
    ----------
    seed
        Any non-negative integer; `DEFAULT_SEED` is facecast's public labelling key.
    """

    seed: int = DEFAULT_SEED

    def layout(self) -> _Layout:
        """The key's pilot, spreading signs and cell-to-bit assignment."""
        rng = np.random.default_rng([self.seed, 0x5EED])
        cells = GRID * GRID
        pilot = rng.choice(np.array([-1.0, 1.0], np.float32), size=cells)
        spread = rng.choice(np.array([-1.0, 1.0], np.float32), size=cells)
        bit_of_cell = rng.permutation(np.arange(cells) % coding.CODED_BITS)
        return _Layout(pilot.reshape(GRID, GRID), spread.reshape(GRID, GRID), bit_of_cell)


@dataclass(frozen=True)
class _Layout:
    pilot: np.ndarray  # (GRID, GRID) float32 in {-1, 1}
    spread: np.ndarray  # (GRID, GRID) float32 in {-1, 1}
    bit_of_cell: np.ndarray  # (GRID*GRID,) int, coded-bit index of each cell


@dataclass(frozen=True)
class WatermarkResult:
    """What the detector found.

    Attributes
    ----------
    found
        True when a payload decoded with a matching CRC-32.
    payload
        The 8 payload bytes (the render id) when found, else ``None``.
    confidence
        Strength of the evidence in [0, 1]: 0 is what noise gives, 1 a clean watermark.
    sync
        Pilot correlation peak in standard deviations of the correlation surface.
    period
        Tile period found in the examined frames, ``(px, py)`` in pixels (``None`` if none).
    frames
        Number of frames examined.
    frames_found
        Number of frames that decoded on their own (video detection only; else 0 or 1).
    """

    found: bool
    payload: bytes | None
    confidence: float
    sync: float = 0.0
    period: tuple[float, float] | None = None
    frames: int = 1
    frames_found: int = 0

    @property
    def render_id(self) -> str | None:
        """The payload as 16 lowercase hex digits, or ``None``."""
        return None if self.payload is None else self.payload.hex()


# ----------------------------------------------------------------------------------- embedding


def cell_size(height: int, width: int) -> int:
    """Pixels per cell for a frame: about 1/90 of the short side, at least 4.

    Tying the cell to the frame size keeps the pattern in the same relative band at every
    resolution, so a 4K master downscaled for the web keeps it. Cells this size keep the
    pattern in frequencies that H.264 at CRF 28 still codes after a frame is halved.
    """
    return max(4, round(min(height, width) / _CELLS_PER_SHORT_SIDE))


def watermark_tile(payload: bytes, key: WatermarkKey, cell: int) -> np.ndarray:
    """The periodic luma pattern of one tile, with unit RMS.

    Parameters
    ----------
    payload
        8 bytes.
    key
        Pattern layout.
    cell
        Pixels per cell.

    Returns
    -------
    numpy.ndarray
        ``(GRID * cell, GRID * cell)`` ``float32``, zero mean, RMS 1, periodic.

    Notes
    -----
    The square cells are low-passed (their corners carry frequencies that compression and
    resizing remove) and high-passed (runs of same-signed cells make slow swells that the
    detector's band-pass discards, as picture content dominates there): at a given RMS, and
    so a given PSNR, more of the pattern's energy lies where the detector reads it.
    """
    tile = np.kron(_cells(payload, key.layout()), np.ones((cell, cell), np.float32))
    tile = _periodic_blur(tile, sigma=cell * _LOW_PASS)
    tile -= _periodic_blur(tile, sigma=cell * _HIGH_PASS)
    tile -= tile.mean()
    return tile / float(np.sqrt(np.mean(tile**2)))


def _cells(payload: bytes, layout: _Layout) -> np.ndarray:
    """Chip amplitude of every cell ``(GRID, GRID)`` ``float32``: pilot plus spread data."""
    chips = coding.encode_payload(payload).astype(np.float32)[layout.bit_of_cell]
    data = chips.reshape(GRID, GRID) * layout.spread
    return _PILOT_AMPLITUDE * layout.pilot + _DATA_AMPLITUDE * data


def _rounded_tile(tile: np.ndarray, strength: float) -> np.ndarray:
    """The unit-RMS `tile` scaled and rounded to whole 8-bit levels with RMS `strength`.

    Rounding adds its own error (about 1/12 level squared), so the scale is found by bisection
    on the rounded values: the PSNR the embedder promises is the PSNR it delivers.

    Returns
    -------
    numpy.ndarray
        Same shape as `tile`, ``int16``.
    """
    if strength <= 0:
        raise ValueError(f"strength must be positive, got {strength}")
    low, high = 0.0, 2.0 * strength
    for _ in range(24):
        scale = 0.5 * (low + high)
        rms = float(np.sqrt(np.mean(np.rint(tile * scale) ** 2)))
        low, high = (scale, high) if rms < strength else (low, scale)
    return np.rint(tile * 0.5 * (low + high)).astype(np.int16)


def _periodic_blur(tile: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with wrap-around borders (the tile repeats)."""
    pad = int(np.ceil(3 * sigma))
    wrapped = np.pad(tile, pad, mode="wrap")
    blurred = cv2.GaussianBlur(wrapped, (0, 0), sigma)
    return blurred[pad:-pad, pad:-pad]


class WatermarkEmbedder:
    """Precomputed watermark for one frame size and payload; `apply` costs two saturating adds.

    Parameters
    ----------
    payload
        8 bytes (the render id).
    key
        Pattern layout.
    shape
        ``(H, W)`` of the frames.
    strength
        RMS luma change in 8-bit levels, measured after rounding to whole levels.
    """

    def __init__(
        self,
        payload: bytes,
        key: WatermarkKey,
        shape: tuple[int, int],
        strength: float = DEFAULT_STRENGTH,
    ) -> None:
        height, width = shape
        tile = _rounded_tile(watermark_tile(payload, key, cell_size(height, width)), strength)
        reps = (-(-height // tile.shape[0]), -(-width // tile.shape[1]))
        delta = np.tile(tile, reps)[:height, :width]
        self.shape = (height, width)
        self.delta = delta
        self._up = cv2.merge([np.clip(delta, 0, 255).astype(np.uint8)] * 3)
        self._down = cv2.merge([np.clip(-delta, 0, 255).astype(np.uint8)] * 3)
        self._deep: tuple[np.ndarray, np.ndarray] | None = None

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """Watermark one frame (a new array; the input is not modified).

        Parameters
        ----------
        frame
            RGB ``(H, W, 3)``: ``uint8``, ``uint16`` or ``float32`` scene-linear (the pattern
            is then added in sRGB-encoded values, as it is detected).

        Returns
        -------
        numpy.ndarray
            Same shape and dtype.
        """
        if frame.ndim != 3 or frame.shape[:2] != self.shape or frame.shape[2] != 3:
            raise ValueError(
                f"expected a ({self.shape[0]}, {self.shape[1]}, 3) frame, got {frame.shape}"
            )
        if frame.dtype == np.uint8:
            return cv2.subtract(cv2.add(frame, self._up), self._down)
        if frame.dtype == np.uint16:
            if self._deep is None:  # 16-bit copies of the pattern, made on first use
                self._deep = tuple(part.astype(np.uint16) * 257 for part in (self._up, self._down))
            return cv2.subtract(cv2.add(frame, self._deep[0]), self._deep[1])
        if frame.dtype == np.float32:
            return _apply_linear(frame, self.delta)
        raise ValueError(f"expected uint8, uint16 or float32 frame, got {frame.dtype}")


def _apply_linear(frame: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Add `delta` (8-bit levels) to a scene-linear frame in sRGB-encoded values."""
    linear = np.clip(frame, 0.0, 1.0)
    encoded = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    encoded = np.clip(encoded + delta[..., None] / 255.0, 0.0, 1.0)
    decoded = np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4)
    # keep what lies outside [0, 1] (highlights in EXR) untouched
    return np.where((frame >= 0.0) & (frame <= 1.0), decoded, frame).astype(np.float32)


def embed_watermark(
    frame: np.ndarray,
    payload: bytes,
    key: WatermarkKey | None = None,
    *,
    strength: float = DEFAULT_STRENGTH,
) -> np.ndarray:
    """Embed `payload` into one frame.

    For a whole shot build one `WatermarkEmbedder` and call its `apply` per frame; this
    function rebuilds the pattern on every call.

    Parameters
    ----------
    frame
        RGB ``(H, W, 3)`` ``uint8`` (also ``uint16``, or ``float32`` scene-linear).
    payload
        8 bytes, e.g. ``bytes.fromhex(render_id)``.
    key
        Pattern layout; default `WatermarkKey()`.
    strength
        RMS luma change in 8-bit levels.

    Returns
    -------
    numpy.ndarray
        The watermarked frame, same shape and dtype.
    """
    embedder = WatermarkEmbedder(payload, key or WatermarkKey(), frame.shape[:2], strength)
    return embedder.apply(frame)


# ----------------------------------------------------------------------------------- detection


def band_scales(height: int, width: int) -> tuple[float, ...]:
    """Band scales at which the detector reads a frame: 1 at a 360-pixel short side, in
    proportion above; a frame with a shorter side is read at 1 (a small original with the
    4-pixel minimum cell) and at its own size (a downscaled copy), down to 0.5."""
    own = min(height, width) / 360.0
    if own >= 1.0:
        return (own,)
    return (1.0, max(_MIN_SCALE, own))


def residual(frame: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Whitened band-pass of the luma: keeps the watermark's band, suppresses picture content.

    The band (a difference of Gaussians) scales with the frame's short side (tuned at 360
    pixels), as the pattern does. Each pixel is then divided by the local variance of the band
    (a Wiener-style weight: the pattern's evidence is worth most where the picture adds the
    least to it), normalised to unit standard deviation and clipped, so that no edge dominates.

    Parameters
    ----------
    frame
        RGB ``(H, W, 3)`` ``uint8``.
    scale
        Band scale (1 at a 360-pixel short side); default the first of `band_scales`.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` ``float32``, zero-centred, scaled to unit standard deviation and then
        clipped to ``[-3, 3]``.
    """
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected uint8 RGB (H, W, 3), got {frame.dtype} {frame.shape}")
    luma = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    if scale is None:
        scale = band_scales(*frame.shape[:2])[0]
    band = cv2.GaussianBlur(luma, (0, 0), _BAND[0] * scale)
    band -= cv2.GaussianBlur(luma, (0, 0), _BAND[1] * scale)
    box = 2 * round(_VARIANCE_SIGMA * scale * 6**0.5 / 2) + 1  # two passes: sigma as asked
    variance = cv2.blur(cv2.blur(band * band, (box, box)), (box, box))
    whitened = band / (variance + _VARIANCE_FLOOR)
    spread = float(np.std(whitened)) or 1.0
    return np.clip(whitened / spread, -_RESIDUAL_CLIP, _RESIDUAL_CLIP)


def _spectra(res: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Power spectra summed over rows ``(W // 2 + 1,)`` and over columns ``(H // 2 + 1,)``."""
    rows = sfft.rfft(res, axis=1, workers=-1)
    cols = sfft.rfft(res, axis=0, workers=-1)
    return (np.abs(rows) ** 2).sum(axis=0), (np.abs(cols) ** 2).sum(axis=1)


def _autocorrelation(power: np.ndarray, length: int) -> np.ndarray:
    """Autocorrelation ``(length,)`` of a spectrally whitened signal from its power spectrum."""
    background = cv2.blur(power.reshape(1, -1).astype(np.float32), (31, 1)).ravel()
    whitened = power / np.maximum(background, 1e-12)
    whitened[:4] = 0.0  # drop DC and the lowest frequencies
    return sfft.irfft(whitened, n=length)


def _period_candidates(
    acx: np.ndarray, acy: np.ndarray, size: tuple[int, int]
) -> list[tuple[float, float]]:
    """Tile periods ``(px, py)`` suggested by the x and y autocorrelations.

    Lags are scored per axis by the autocorrelation at the lag and its multiples (a tiling
    repeats at every multiple), and the best lags of each axis and of both together are kept.
    A period must span at least 24 pixels and fit twice along the side it is measured on; along
    a side too short for it, the other side's estimate is used (square pixels).
    """
    height, width = size
    acs = {"x": (acx, width), "y": (acy, height)}
    lags = np.arange(24, max(width, height) // 2)
    if len(lags) < 3:
        return []
    scores = {axis: _harmonic_score(ac, length, lags) for axis, (ac, length) in acs.items()}
    scores["both"] = scores["x"] + scores["y"]
    chosen: list[int] = []
    for score in scores.values():
        interior = score[1:-1]
        peaks = np.flatnonzero((interior > score[:-2]) & (interior >= score[2:])) + 1
        chosen += [int(lags[i]) for i in peaks[np.argsort(-score[peaks])][:_CANDIDATES]]
    out: list[tuple[float, float]] = []
    for lag in chosen:
        estimate = {
            axis: _refine(ac, lag) if lag < length // 2 else None
            for axis, (ac, length) in acs.items()
        }
        px, py = estimate["x"] or estimate["y"], estimate["y"] or estimate["x"]
        for period in {(px, py), (px, px), (py, py)}:
            if all(abs(period[0] - o[0]) + abs(period[1] - o[1]) > 0.5 for o in out):
                out.append(period)
    return out


def _harmonic_score(ac: np.ndarray, length: int, lags: np.ndarray) -> np.ndarray:
    """Mean normalised autocorrelation at each lag and its multiples up to 3 (0 where unusable)."""
    usable = lags < length // 2
    if usable.sum() < 3:
        return np.zeros(len(lags))
    norm = np.zeros(len(ac))
    norm[lags[usable]] = _normalise(ac[lags[usable]])
    score = np.zeros(len(lags))
    terms = np.zeros(len(lags))
    for k in (1, 2, 3):
        multiple = k * lags
        fits = multiple < length // 2
        score[fits] += norm[multiple[fits]]
        terms[fits] += 1
    return np.where(terms > 0, score / np.sqrt(np.maximum(terms, 1)), 0.0)


def _normalise(values: np.ndarray) -> np.ndarray:
    spread = float(np.std(values)) or 1.0
    return (values - float(np.median(values))) / spread


def _refine(ac: np.ndarray, lag: int) -> float:
    """Sub-pixel period near `lag`, fitted through the peaks at its multiples in `ac`."""
    period = _peak(ac, lag)
    moments, weights = period, 1.0
    for k in range(2, 8):
        if k * period + 3 >= len(ac) // 2:
            break
        moments += k * _peak(ac, round(k * period))
        weights += k * k
    return moments / weights


def _peak(ac: np.ndarray, lag: int) -> float:
    """Sub-pixel maximum of `ac` within 2 pixels of `lag`, by parabolic interpolation."""
    lo, hi = max(lag - 2, 1), min(lag + 3, len(ac) - 1)
    peak = lo + int(np.argmax(ac[lo:hi]))
    left, mid, right = ac[peak - 1], ac[peak], ac[peak + 1]
    curvature = left - 2 * mid + right
    shift = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
    return float(peak + np.clip(shift, -0.5, 0.5))


def _bins(
    shape: tuple[int, int], period: tuple[float, float], per_cell: int = _CANON_CELL
) -> tuple[np.ndarray, ...]:
    """One-hot maps from columns ``(W, C)`` and to rows ``(C, H)`` into canonical tile bins,
    and the pixel count per bin ``(C, C)``."""
    px, py = period
    canon = GRID * per_cell
    bx = (np.mod(np.arange(shape[1]), px) * (canon / px)).astype(np.int64) % canon
    by = (np.mod(np.arange(shape[0]), py) * (canon / py)).astype(np.int64) % canon
    columns = np.zeros((shape[1], canon), np.float32)
    columns[np.arange(shape[1]), bx] = 1.0
    rows = np.zeros((canon, shape[0]), np.float32)
    rows[by, np.arange(shape[0])] = 1.0
    count = np.outer(rows.sum(axis=1), columns.sum(axis=0))
    return columns, rows, np.maximum(count, 1.0)


def _fold(res: np.ndarray, columns: np.ndarray, rows: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Mean residual per canonical tile bin ``(C, C)`` (the frame folded onto one tile)."""
    return (rows @ (res @ columns)).astype(np.float64) / count


def _synchronise(tile: np.ndarray, template: np.ndarray) -> tuple[tuple[int, int], float]:
    """Offset ``(oy, ox)`` of a cell template ``(GRID, GRID)`` (the pilot, or the whole pattern
    once the payload is known) in a folded tile, and the peak's height in standard deviations
    of the circular cross-correlation surface (about 4 for noise)."""
    per_cell = tile.shape[0] // GRID
    pattern = np.kron(template, np.ones((per_cell, per_cell)))
    spectrum = np.fft.fft2(tile - tile.mean()) * np.conj(np.fft.fft2(pattern))
    surface = np.real(np.fft.ifft2(spectrum))
    oy, ox = np.unravel_index(int(np.argmax(surface)), surface.shape)
    sync = float((surface[oy, ox] - surface.mean()) / (surface.std() + 1e-12))
    return (int(oy), int(ox)), sync


def _decode_aligned(tile: np.ndarray, offset: tuple[int, int], layout: _Layout) -> coding.Decoded:
    """Read the chips of a folded tile at a known pilot offset, de-spread and decode them."""
    aligned = np.roll(tile, (-offset[0], -offset[1]), axis=(0, 1))
    per_cell = tile.shape[0] // GRID
    cells = aligned.reshape(GRID, per_cell, GRID, per_cell).mean(axis=(1, 3))
    pilot_gain = float(np.sum(cells * layout.pilot)) / cells.size
    chips = ((cells - pilot_gain * layout.pilot) * layout.spread).ravel()
    soft = np.bincount(layout.bit_of_cell, weights=chips, minlength=coding.CODED_BITS)
    scale = float(np.std(soft)) or 1.0
    return coding.decode_soft(soft / scale)


def _confidence(decoded: coding.Decoded) -> float:
    value = (decoded.agreement - _NOISE_AGREEMENT) / (1.0 - _NOISE_AGREEMENT)
    return float(np.clip(value, 0.0, 1.0))


class _Pyramid:
    """A residual image and its 2x and 4x area reductions, to fold candidate periods cheaply.

    A period is folded at the coarsest level that still leaves a pixel per canonical bin
    (`per_cell` pixels per cell); the pattern is smooth at that scale, so nothing is lost.
    """

    def __init__(self, image: np.ndarray) -> None:
        self.levels = [image]
        for _ in range(2):
            previous = self.levels[-1]
            if min(previous.shape) < 96:
                break
            self.levels.append(
                cv2.resize(previous, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
            )

    def level(self, period: tuple[float, float], per_cell: int = _CANON_CELL) -> int:
        """The pyramid level at which `period` (full-resolution pixels) is folded."""
        level = 0
        while level + 1 < len(self.levels) and min(period) / 2 ** (level + 1) >= per_cell * GRID:
            level += 1
        return level

    def fold(self, period: tuple[float, float], per_cell: int = _CANON_CELL) -> np.ndarray:
        """The canonical tile ``(GRID * per_cell,) * 2`` of `period` (full-resolution pixels)."""
        level = self.level(period, per_cell)
        image = self.levels[level]
        scaled = (period[0] / 2**level, period[1] / 2**level)
        return _fold(image, *_bins(image.shape, scaled, per_cell))


def _polish(pyramid: _Pyramid, period: tuple[float, float], template: np.ndarray) -> tuple:
    """Refine a period by the sync of a cell `template` on a small grid, one axis at a time.

    Returns ``(sync, period, offset, tile)`` at the best period found.
    """
    best = None
    for axis in (0, 1, 0):
        base = best[1] if best else period
        for step in (-0.3, -0.15, 0.0, 0.15, 0.3):
            trial = (base[0] + step * (axis == 0), base[1] + step * (axis == 1))
            tile = pyramid.fold(trial)
            offset, sync = _synchronise(tile, template)
            if best is None or sync > best[0]:
                best = (sync, trial, offset, tile)
    return best


def _pack(res: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A residual ``(H, W)`` as two bit-packed planes: its sign and whether it is large."""
    return np.packbits(res > 0), np.packbits(np.abs(res) > _STORE_THRESHOLD)


def _unpack(packed: tuple[np.ndarray, np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """The 4-level ``float32`` residual ``(H, W)`` stored by `_pack`."""
    size = shape[0] * shape[1]
    sign, large = (np.unpackbits(plane, count=size) for plane in packed)
    small, big = _STORE_LEVELS
    magnitude = np.where(large.astype(bool), np.float32(big), np.float32(small))
    return ((2.0 * sign.astype(np.float32) - 1.0) * magnitude).reshape(shape)


class _Accumulator:
    """Evidence from a run of same-sized frames.

    The residuals are summed into one image (folding is linear, so folding the sum equals
    summing the folds) and kept per frame, quantised to 2 bits and packed, to count the frames
    that decode alone.
    """

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self.shape: tuple[int, int] | None = None
        self.packed: list[tuple[np.ndarray, np.ndarray]] = []
        self.total: np.ndarray | None = None
        self.power: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, frame: np.ndarray) -> None:
        """Analyse one ``uint8`` RGB ``(H, W, 3)`` frame (all frames must share one size)."""
        if self.shape is not None and frame.shape[:2] != self.shape:
            raise ValueError(f"frame size {frame.shape[:2]} differs from the first {self.shape}")
        res = residual(frame, self.scale)
        power = _spectra(res)
        if self.total is None:
            self.shape, self.total, self.power = res.shape, res.copy(), power
        else:
            self.total += res
            self.power = (self.power[0] + power[0], self.power[1] + power[1])
        self.packed.append(_pack(res))

    def _frame_residuals(self) -> Iterator[np.ndarray]:
        for packed in self.packed:
            yield _unpack(packed, self.shape)

    def detect(self, layout: _Layout) -> WatermarkResult:
        """Rank candidate periods by pilot sync on the summed residual; decode the best ones."""
        frames = len(self.packed)
        if self.shape is None or min(self.shape) < 48:
            return WatermarkResult(False, None, 0.0, frames=frames)
        acx = _autocorrelation(self.power[0], self.shape[1])
        acy = _autocorrelation(self.power[1], self.shape[0])
        pyramid = _Pyramid(self.total)
        periods = _period_candidates(acx, acy, self.shape)
        ranked = sorted(
            periods, key=lambda p: -_synchronise(pyramid.fold(p, _RANK_CELL), layout.pilot)[1]
        )
        best = WatermarkResult(False, None, 0.0, frames=frames)
        for period in ranked[:_DECODED]:
            tile = pyramid.fold(period)
            offset, sync = _synchronise(tile, layout.pilot)
            decoded = _decode_aligned(tile, offset, layout)
            if sync >= _POLISH_SYNC and decoded.payload is None:
                sync, period, offset, tile = _polish(pyramid, period, layout.pilot)
                decoded = _decode_aligned(tile, offset, layout)
            if decoded.payload is not None:
                if frames > 1:  # the known payload gives the whole pattern: a sharper period
                    template = _cells(decoded.payload, layout)
                    _, period, offset, _ = _polish(pyramid, period, template)
                return WatermarkResult(
                    found=True,
                    payload=decoded.payload,
                    confidence=_confidence(decoded),
                    sync=sync,
                    period=period,
                    frames=frames,
                    frames_found=self._frames_found(
                        pyramid.level(period), period, offset, layout, decoded.payload
                    ),
                )
            if sync > best.sync:
                best = WatermarkResult(False, None, _confidence(decoded), sync, period, frames)
        return best

    def _frames_found(
        self,
        level: int,
        period: tuple[float, float],
        offset: tuple[int, int],
        layout: _Layout,
        payload: bytes,
    ) -> int:
        """How many frames decode `payload` on their own at the clip's period and offset,
        each folded at pyramid `level` as the clip was."""
        if len(self.packed) == 1:
            return 1
        found = 0
        for res in self._frame_residuals():
            image = _Pyramid(res).levels[level]
            bins = _bins(image.shape, (period[0] / 2**level, period[1] / 2**level))
            found += _decode_aligned(_fold(image, *bins), offset, layout).payload == payload
        return found


def detect_watermark(frame: np.ndarray, key: WatermarkKey | None = None) -> WatermarkResult:
    """Look for a facecast watermark in one frame.

    Parameters
    ----------
    frame
        RGB ``(H, W, 3)`` ``uint8`` (any size; cropped or rescaled copies are fine).
    key
        Pattern layout; default `WatermarkKey()`.

    Returns
    -------
    WatermarkResult
        ``found`` with the payload when a CRC-checked payload decodes.
    """
    return _detect([frame], key or WatermarkKey())


def detect_in_frames(
    frames: Iterable[np.ndarray], key: WatermarkKey | None = None
) -> WatermarkResult:
    """Look for one watermark in a run of frames, combining the evidence of all of them.

    Parameters
    ----------
    frames
        RGB ``(H, W, 3)`` ``uint8`` frames of one size (e.g. a shot).
    key
        Pattern layout; default `WatermarkKey()`.

    Returns
    -------
    WatermarkResult
        ``frames_found`` counts the frames that also decode on their own.
    """
    return _detect(frames, key or WatermarkKey())


def _detect(frames: Iterable[np.ndarray], key: WatermarkKey) -> WatermarkResult:
    """Accumulate `frames` at every band scale of their size; the first scale that decodes
    wins, else the result with the strongest pilot sync."""
    accumulators: list[_Accumulator] = []
    for frame in frames:
        if not accumulators:
            accumulators = [_Accumulator(scale) for scale in band_scales(*frame.shape[:2])]
        for evidence in accumulators:
            evidence.add(frame)
    layout = key.layout()
    results = []
    for evidence in accumulators or [_Accumulator()]:
        results.append(evidence.detect(layout))
        if results[-1].found:
            return results[-1]
    return max(results, key=lambda result: result.sync)


def detect_in_video(
    path: str | Path, key: WatermarkKey | None = None, *, max_frames: int = 96
) -> WatermarkResult:
    """Look for a facecast watermark in a video file, an image-sequence folder or an image.

    Up to `max_frames` frames, spread evenly over the shot, are folded together before
    decoding, so a watermark too degraded to read in any single frame is still found.

    Parameters
    ----------
    path
        Video file, folder of numbered images, or a single image file.
    key
        Pattern layout; default `WatermarkKey()`.
    max_frames
        Most frames to examine.

    Raises
    ------
    MediaError
        If the file cannot be read.
    """
    return detect_in_frames(_sample_frames(Path(path), max_frames), key)


def _sample_frames(path: Path, max_frames: int) -> Iterator[np.ndarray]:
    """``uint8`` RGB frames of a media path, at most `max_frames`, evenly spaced."""
    if max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        yield to_uint8(read_image(path))
        return
    plate = open_plate(path)
    stride = max(1, -(-plate.info.frame_count // max_frames))
    taken = 0
    for number, frame in enumerate(plate.frames()):
        if number % stride == 0 and taken < max_frames:
            taken += 1
            yield to_uint8(frame)
