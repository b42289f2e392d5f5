"""Non-square pixels (anamorphic plates): frames in square pixels for the face work, and back.

A 2x anamorphic plate stores each frame squeezed to half its width (pixel aspect 2): faces in
it are half as wide as they are, which the face models were never shown, and a character's
proportions measured on it would be twice too narrow. The swap therefore analyses and renders
every frame stretched to square pixels and squeezes the result back, pasting it into the stored
frame only where the swap changed it: off the face the stored pixels are the plate's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction

import cv2
import numpy as np

from facecast.errors import MediaError
from facecast.media.types import ShotInfo


def chosen_pixel_aspect(info: ShotInfo, override: float | None = None) -> Fraction:
    """The pixel aspect to work at: `override` when given, else the plate's own.

    Raises
    ------
    MediaError
        If `override` is not above 0 (naming the plate).
    """
    if override is None:
        return info.pixel_aspect
    if not override > 0:
        raise MediaError(f"pixel aspect must be above 0, got {override}", info.path)
    return Fraction(override).limit_denominator(1000)


def square_width(width: int, pixel_aspect: Fraction) -> int:
    """Width in square pixels of `width` stored pixels of aspect `pixel_aspect` (>= 1 px)."""
    return max(1, round(width * pixel_aspect))


def to_square(frame: np.ndarray, pixel_aspect: Fraction) -> np.ndarray:
    """A stored ``(H, W, ...)`` frame (any dtype) resized to square pixels ``(H, W')``:
    stretched with bicubic interpolation, or shrunk by pixel area where the aspect is below 1."""
    height, width = frame.shape[:2]
    interpolation = cv2.INTER_CUBIC if pixel_aspect > 1 else cv2.INTER_AREA
    return cv2.resize(
        frame, (square_width(width, pixel_aspect), height), interpolation=interpolation
    )


def to_stored(square: np.ndarray, width: int) -> np.ndarray:
    """Inverse of `to_square`: a square-pixel ``(H, W', ...)`` image back to `width` columns
    (pixel-area average when squeezing, bicubic when stretching)."""
    interpolation = cv2.INTER_AREA if square.shape[1] > width else cv2.INTER_CUBIC
    return cv2.resize(square, (width, square.shape[0]), interpolation=interpolation)


def square_view(plate, pixel_aspect: Fraction):
    """`plate` (anything with ``info`` and ``frames()``) seen in square pixels of
    `pixel_aspect`: the plate itself when that is 1, else a `SquarePixelPlate`."""
    return plate if pixel_aspect == 1 else SquarePixelPlate(plate, pixel_aspect)


@dataclass(frozen=True)
class SquarePixelPlate:
    """A plate seen in square pixels: what the face analysis reads when pixels are not square.

    Attributes
    ----------
    plate
        The stored plate (anything with ``info`` and ``frames()``, e.g. `facecast.media.Plate`).
    pixel_aspect
        Width over height of one stored pixel.
    """

    plate: object
    pixel_aspect: Fraction

    @property
    def info(self) -> ShotInfo:
        """The plate's description with the square-pixel width and a pixel aspect of 1."""
        stored = self.plate.info
        width = square_width(stored.width, self.pixel_aspect)
        return replace(stored, width=width, pixel_aspect=Fraction(1))

    def frames(self, exact: bool = True) -> Iterator[np.ndarray]:
        """The plate's frames in square pixels, in the plate's dtype (`exact`: as
        `facecast.media.Plate.frames`)."""
        for frame in self.plate.frames(exact=exact):
            yield to_square(frame, self.pixel_aspect)
