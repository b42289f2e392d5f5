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
