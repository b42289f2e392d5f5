"""Display-referred code values and scene-linear light: the sRGB transfer curve, both ways.

facecast's convention for float pixels is scene-linear light whose display encoding is the sRGB
curve: an 8- or 16-bit plate (video, PNG, TIFF) holds sRGB-encoded values in [0, 1] of its
range; an EXR holds linear light, which may exceed 1.
"""

from __future__ import annotations

import numpy as np

#: The full-scale value of each integer pixel type.
INTEGER_PEAK = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def srgb_to_linear(encoded: np.ndarray) -> np.ndarray:
    """Linear light of sRGB-encoded values in [0, 1] (the sRGB decoding curve), same shape."""
    return np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """sRGB-encoded values of linear light in [0, 1] (the sRGB encoding curve), same shape."""
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def scene_linear(pixels: np.ndarray) -> np.ndarray:
    """``float32`` linear light of pixels, same shape: ``uint8``/``uint16`` are taken as
    sRGB-encoded in [0, 1] of their range and decoded (through a table of every code value);
    ``float32`` (EXR) is already linear and returned as it is (values above 1 kept)."""
    if pixels.dtype in INTEGER_PEAK:
        return _decoding_table(pixels.dtype)[pixels]
    return pixels.astype(np.float32)


def _decoding_table(dtype: np.dtype) -> np.ndarray:
    """``float32 (peak + 1,)``: the linear light of every code value of an integer dtype."""
    peak = INTEGER_PEAK[np.dtype(dtype)]
    codes = np.arange(int(peak) + 1, dtype=np.float64) / peak
    return srgb_to_linear(codes).astype(np.float32)


#: Rec.709 / sRGB primaries and D65 white, as ``(rx, ry, gx, gy, bx, by, wx, wy)``: what an
#: EXR without a ``chromaticities`` attribute means, and the space facecast composites in.
REC709_CHROMATICITIES = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)
#: Bradford cone response matrix, for moving between white points.
_BRADFORD = np.array(
    [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]]
)


def rgb_to_xyz(chromaticities: tuple[float, ...]) -> np.ndarray:
    """``float64 (3, 3)`` linear RGB -> CIE XYZ of the primaries and white point
    ``(rx, ry, gx, gy, bx, by, wx, wy)`` (white maps to Y = 1)."""
    xy = np.asarray(chromaticities, np.float64).reshape(4, 2)
    xyz = np.stack([xy[:, 0] / xy[:, 1], np.ones(4), (1 - xy[:, 0] - xy[:, 1]) / xy[:, 1]], 1)
    primaries, white = xyz[:3].T, xyz[3]
    return primaries * np.linalg.solve(primaries, white)[None, :]


def to_rec709(chromaticities: tuple[float, ...] | None) -> np.ndarray | None:
    """``float64 (3, 3)`` taking linear RGB of `chromaticities` to linear Rec.709 (D65), the
    white adapted with Bradford; ``None`` when they are Rec.709's already (or not given)."""
    if chromaticities is None or np.allclose(chromaticities, REC709_CHROMATICITIES, atol=1e-4):
        return None
    source, target = rgb_to_xyz(chromaticities), rgb_to_xyz(REC709_CHROMATICITIES)
    white_in = _BRADFORD @ source.sum(axis=1)
    white_out = _BRADFORD @ target.sum(axis=1)
    adapt = np.linalg.solve(_BRADFORD, np.diag(white_out / white_in) @ _BRADFORD)
    return np.linalg.solve(target, adapt @ source)


def rec709_round_trip(
    chromaticities: tuple[float, ...] | None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """``(into, back)``: `to_rec709` of `chromaticities` and its inverse, worked out once per
    shot; ``None`` when they are Rec.709's already (or not given)."""
    into = to_rec709(chromaticities)
    return None if into is None else (into, np.linalg.inv(into))


def apply_matrix(pixels: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``float32 (h, w, 3)``: each pixel's RGB multiplied by ``matrix (3, 3)``."""
    return np.ascontiguousarray(pixels.reshape(-1, 3) @ matrix.T.astype(np.float32)).reshape(
        pixels.shape
    )
