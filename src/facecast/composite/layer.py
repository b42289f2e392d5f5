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

import cv2
import numpy as np

from facecast.media.sequence import Windowed
from facecast.media.transfer import scene_linear


def face_layer(
    output: np.ndarray, plate: np.ndarray, matte: np.ndarray, changed: np.ndarray
) -> Windowed:
    """The premultiplied scene-linear RGBA face layer of one frame (see the module notes).

    Parameters
    ----------
    output, plate
        ``(H, W, 3)`` frames of one dtype (``uint8``, ``uint16`` or ``float32`` linear): the
        swap's output and the plate it was made from.
    matte
        ``float32 (H, W)`` in [0, 1]: the swap's alpha.
    changed
        ``bool (H, W)``: the pixels the swap changed (`changed_pixels`; the layer is 0
        elsewhere).

    Returns
    -------
    Windowed
        ``float16 (h, w, 4)`` pixels of the bounding box of `changed` and the matte (one
        transparent pixel when both are empty) in the ``(W, H)`` frame: R, G, B premultiplied
        by A, linear light; A at least the matte where `changed`.
    """
    height, width = matte.shape
    region = (changed | (matte > 0)).astype(np.uint8)
    x, y, w, h = cv2.boundingRect(region)
    if w == 0 or h == 0:
        return Windowed(np.zeros((1, 1, 4), np.float16), (0, 0), (width, height))
    box = (slice(y, y + h), slice(x, x + w))
    light, behind = scene_linear(output[box]), scene_linear(plate[box])
    peak = max(1.0, float(light.max()))
    alpha = np.maximum(matte[box], _least_alpha(light, behind, peak)) * region[box]
    premultiplied = np.empty((h, w, 4), np.float32)
    colour, premultiplied[..., 3] = premultiplied[..., :3], alpha
    np.subtract(light, (1.0 - alpha)[..., None] * behind, out=colour)
    np.minimum(colour, alpha[..., None] * peak, out=colour)
    np.maximum(colour, 0.0, out=colour)
    return Windowed(premultiplied.astype(np.float16), (x, y), (width, height))


def changed_pixels(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """``bool (H, W)``: where two ``(H, W, 3)`` frames of one dtype differ in any channel
    (OpenCV's per-channel maximum: a tenth of the time of NumPy's ``any(axis=2)``)."""
    red, green, blue = cv2.split(cv2.absdiff(before, after))
    return cv2.max(cv2.max(red, green), blue) > 0


def _least_alpha(light: np.ndarray, behind: np.ndarray, peak: float) -> np.ndarray:
    """``float32 (h, w)``: the smallest alpha whose premultiplied colour
    ``light - (1 - alpha) * behind`` (both ``float32 (h, w, 3)`` linear) lies in
    ``[0, alpha * peak]`` in every channel: ``1 - light / behind`` where the swap darkened a
    channel, ``(light - behind) / (peak - behind)`` where it brightened one (each is negative
    in the other case, so the maximum with 0 picks the right one)."""
    darker = 1.0 - light / np.maximum(behind, 1e-12)
    brighter = (light - behind) / np.maximum(peak - behind, 1e-12)
    least = np.maximum(darker, brighter, out=darker).max(axis=2)
    return np.minimum(np.maximum(least, 0.0, out=least), 1.0, out=least)


def layer_over(layer: Windowed | np.ndarray, plate: np.ndarray) -> np.ndarray:
    """``float32 (H, W, 3)`` linear light of `layer` (`face_layer`'s, or a whole ``(H, W, 4)``
    frame of it as read back) merged over `plate` (its pixels, any dtype `scene_linear`
    takes): what a compositor's *over* gives."""
    full = layer.full() if isinstance(layer, Windowed) else layer
    colour, alpha = full[..., :3].astype(np.float32), full[..., 3:].astype(np.float32)
    return colour + (1.0 - alpha) * scene_linear(plate)
