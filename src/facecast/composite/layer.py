"""The face layer for the compositor: premultiplied scene-linear RGBA that rebuilds the swap.

A compositor finishing a shot in Nuke wants the swapped face on its own, with its alpha, so it
can grade it, fix an edge or re-time it and merge it back over the plate. The layer is chosen so
that the standard *over* (``layer.rgb + (1 - layer.a) * plate``, in scene-linear light) gives
the swap's output back exactly:

    layer.rgb = linear(output) - (1 - layer.a) * linear(plate)

with ``layer.a`` the swap's matte, widened just enough that this colour is a valid
premultiplied one (``0 <= rgb <= a * peak``, ``peak`` the brightest linear value of the output
in the face box, at least 1). The widening covers what the Laplacian blend changes beyond and
at the rim of the matte: its coarse bands reach a few pixels past it and can darken a pixel
below what the plate alone gives (measured on weekly_address_clip1 with London 004: about 4500
pixels a frame outside the matte, by up to 18 levels of 255; with the matte itself as alpha the
over missed the output there). Pixels the swap left alone have alpha 0.

Video and 16-bit plates are display-referred and are linearised with the sRGB curve (set the
plate's Read node to sRGB to match); EXR plates are already linear.
"""

from __future__ import annotations

import numpy as np

from facecast.composite.compositor import INTEGER_PEAK, srgb_to_linear


def scene_linear(pixels: np.ndarray) -> np.ndarray:
    """``float32 (h, w, 3)`` linear light of plate pixels: ``uint8``/``uint16`` are taken as
    sRGB-encoded in [0, 1] of their range and decoded; ``float32`` (EXR) is already linear and
    returned as it is (values above 1 kept)."""
    if pixels.dtype in INTEGER_PEAK:
        encoded = pixels.astype(np.float32) / np.float32(INTEGER_PEAK[pixels.dtype])
        return srgb_to_linear(encoded).astype(np.float32)
    return pixels.astype(np.float32)


def face_layer(
    output: np.ndarray, plate: np.ndarray, matte: np.ndarray, changed: np.ndarray
) -> np.ndarray:
    """The premultiplied scene-linear RGBA face layer of one frame (see the module notes).

    Parameters
    ----------
    output, plate
        ``(H, W, 3)`` frames of one dtype (``uint8``, ``uint16`` or ``float32`` linear): the
        swap's output and the plate it was made from.
    matte
        ``float32 (H, W)`` in [0, 1]: the swap's alpha.
    changed
        ``bool (H, W)``: the pixels the swap changed (the layer is 0 elsewhere).

    Returns
    -------
    numpy.ndarray
        ``float16 (H, W, 4)``: R, G, B premultiplied by A, linear light; A at least the matte
        where `changed`. Worked out only on the bounding box of `changed` and the matte.
    """
    height, width = matte.shape
    layer = np.zeros((height, width, 4), np.float16)
    region = changed | (matte > 0)
    rows, cols = np.nonzero(region)
    if rows.size == 0:
        return layer
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    light, behind = scene_linear(output[box]), scene_linear(plate[box])
    peak = max(1.0, float(light.max()))
    alpha = np.maximum(matte[box], _least_alpha(light, behind, peak)) * region[box]
    alpha = alpha[..., None]
    colour = np.clip(light - (1.0 - alpha) * behind, 0.0, alpha * peak)
    layer[box] = np.concatenate([colour, alpha], axis=2).astype(np.float16)
    return layer


def _least_alpha(light: np.ndarray, behind: np.ndarray, peak: float) -> np.ndarray:
    """``float32 (h, w)``: the smallest alpha whose premultiplied colour
    ``light - (1 - alpha) * behind`` (both ``(h, w, 3)`` linear) lies in ``[0, alpha * peak]``
    in every channel."""
    darker = np.where(light < behind, 1.0 - light / np.maximum(behind, 1e-12), 0.0)
    brighter = np.where(light > behind, (light - behind) / np.maximum(peak - behind, 1e-12), 0.0)
    return np.clip(np.maximum(darker, brighter).max(axis=2), 0.0, 1.0).astype(np.float32)


def layer_over(layer: np.ndarray, plate: np.ndarray) -> np.ndarray:
    """``float32 (H, W, 3)`` linear light of ``layer (H, W, 4)`` merged over `plate` (its
    pixels, any dtype `scene_linear` takes): what a compositor's *over* gives."""
    colour, alpha = layer[..., :3].astype(np.float32), layer[..., 3:].astype(np.float32)
    return colour + (1.0 - alpha) * scene_linear(plate)
