"""Colour difference in CIE L*a*b*: CIEDE2000 and the mismatch across a matte edge."""

from __future__ import annotations

import cv2
import numpy as np

#: Number of angular sectors around the matte's centre in which inside and outside are compared.
EDGE_SECTORS = 16
#: Fewest pixels a ring must have in a sector for that sector to count.
MIN_SECTOR_PIXELS = 12


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """Convert sRGB to CIE L*a*b* (D65).

    Parameters
    ----------
    rgb
        ``uint8 (..., 3)`` sRGB in [0, 255].

    Returns
    -------
    numpy.ndarray
        ``float32 (..., 3)``: L* in [0, 100], a* and b* roughly in [-128, 127].
    """
    if rgb.dtype != np.uint8 or rgb.shape[-1] != 3:
        raise ValueError(f"expected uint8 (..., 3) sRGB, got {rgb.dtype} {rgb.shape}")
    flat = rgb.reshape(-1, 1, 3).astype(np.float32) / 255.0
    return cv2.cvtColor(flat, cv2.COLOR_RGB2Lab).reshape(rgb.shape)


def delta_e_2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference (kL = kC = kH = 1).

    Parameters
    ----------
    lab1, lab2
        ``float (..., 3)`` CIE L*a*b* colours of broadcastable shapes.

    Returns
    -------
    numpy.ndarray
        ``float64 (...)``, >= 0; about 1 is a just-noticeable difference.

    References
    ----------
    G. Sharma, W. Wu, E. N. Dalal, "The CIEDE2000 color-difference formula: implementation
    notes, supplementary test data, and mathematical observations", Color Research and
    Application 30(1), 2005.
    """
    L1, a1, b1 = np.moveaxis(np.asarray(lab1, np.float64), -1, 0)
    L2, a2, b2 = np.moveaxis(np.asarray(lab2, np.float64), -1, 0)
    c_mean7 = ((np.hypot(a1, b1) + np.hypot(a2, b2)) / 2) ** 7
    g = 0.5 * (1 - np.sqrt(c_mean7 / (c_mean7 + 25.0**7)))
    a1p, a2p = a1 * (1 + g), a2 * (1 + g)
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    both = (c1p * c2p) != 0
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(both, dh, 0.0)
    d_big_h = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    h_mean = _mean_hue(h1p, h2p, both)
    t = (
        1
        - 0.17 * np.cos(np.radians(h_mean - 30))
        + 0.24 * np.cos(np.radians(2 * h_mean))
        + 0.32 * np.cos(np.radians(3 * h_mean + 6))
        - 0.20 * np.cos(np.radians(4 * h_mean - 63))
    )
    l_mean50 = ((L1 + L2) / 2 - 50) ** 2
    c_mean_p = (c1p + c2p) / 2
    s_l = 1 + 0.015 * l_mean50 / np.sqrt(20 + l_mean50)
    s_c = 1 + 0.045 * c_mean_p
    s_h = 1 + 0.015 * c_mean_p * t
    r_c = 2 * np.sqrt(c_mean_p**7 / (c_mean_p**7 + 25.0**7))
    r_t = -np.sin(np.radians(60 * np.exp(-(((h_mean - 275) / 25) ** 2)))) * r_c
    dl, dc, dh_term = (L2 - L1) / s_l, (c2p - c1p) / s_c, d_big_h / s_h
    return np.sqrt(dl**2 + dc**2 + dh_term**2 + r_t * dc * dh_term)


def _mean_hue(h1: np.ndarray, h2: np.ndarray, both: np.ndarray) -> np.ndarray:
    """Mean hue angle in degrees, taking the short way round the circle (Sharma eq. 14)."""
    total = h1 + h2
    far = np.abs(h1 - h2) > 180
    mean = np.where(far, np.where(total < 360, (total + 360) / 2, (total - 360) / 2), total / 2)
    return np.where(both, mean, total)


def ring_colours(
    rgb: np.ndarray, inner: np.ndarray, outer: np.ndarray, centre: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean L*a*b* colour of the inner and outer ring in each angular sector around `centre`.

    Comparing sector by sector keeps the natural change of skin tone from forehead to chin
    from counting as a seam.

    Parameters
    ----------
    rgb
        ``uint8 RGB (h, w, 3)`` of the region holding both rings.
    inner, outer
        ``bool (h, w)``: the ring just inside and the ring just outside the edge.
    centre
        ``(x, y)`` centre of the matte in the same pixel coordinates.

    Returns
    -------
    tuple of numpy.ndarray
        ``float64 (EDGE_SECTORS, 3)`` inner and outer mean L*a*b*, and ``bool (EDGE_SECTORS,)``
        marking sectors where both rings have at least `MIN_SECTOR_PIXELS` pixels.
    """
    ys, xs = np.nonzero(inner | outer)
    lab = rgb_to_lab(rgb[ys, xs]).astype(np.float64).reshape(-1, 3)
    angle = np.arctan2(ys - centre[1], xs - centre[0])
    sector = ((angle + np.pi) / (2 * np.pi) * EDGE_SECTORS).astype(int) % EDGE_SECTORS
    key = 2 * sector + inner[ys, xs]
    counts = np.bincount(key, minlength=2 * EDGE_SECTORS).reshape(EDGE_SECTORS, 2)
    sums = np.stack(
        [np.bincount(key, lab[:, c], minlength=2 * EDGE_SECTORS) for c in range(3)], axis=-1
    ).reshape(EDGE_SECTORS, 2, 3)
    means = sums / np.maximum(counts, 1)[..., None]
    return means[:, 1], means[:, 0], (counts >= MIN_SECTOR_PIXELS).all(axis=1)


def seam_delta_e(
    output: tuple[np.ndarray, np.ndarray], plate: tuple[np.ndarray, np.ndarray]
) -> float:
    """How far the output's colour step across an edge departs from the plate's, in ΔE00.

    In each sector the output's inside colour is compared with the colour the plate's own step
    predicts from the output's outside: ``ΔE00(out_in, out_out + plate_in - plate_out)``. It is
    0 when the output keeps the plate's contrast across the edge, and the ΔE00 of the cast for
    a uniform cast inside the edge.

    Parameters
    ----------
    output, plate
        ``(inner, outer)`` ``float (S, 3)`` L*a*b* ring colours of the sectors to compare.

    Returns
    -------
    float
        Mean over the sectors, >= 0.
    """
    (out_in, out_out), (plate_in, plate_out) = output, plate
    return float(delta_e_2000(out_in, out_out + plate_in - plate_out).mean())
