"""Plain descriptions of footage, shared by readers and writers."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

from facecast.media.dpx import LOG_TRANSFER_NAMES

#: Frame dtypes a reader may yield: 8-bit sources give ``uint8``; 16-bit PNG/TIFF and video
#: of more than 8 bits per sample (10-bit ProRes, DNxHR HQX, 12-bit FFV1, 10-bit DPX, ...) give
#: ``uint16`` (full 16-bit range); EXR and log DPX give ``float32`` (scene-linear); all as RGB
#: ``(H, W, 3)``.
FrameDtype = Literal["uint8", "uint16", "float32"]


#: Names of FFmpeg's ``AVColorSpace`` and ``AVColorRange`` codes that plates carry.
_MATRIX_NAMES = {1: "BT.709", 5: "BT.601", 6: "BT.601", 9: "BT.2020", 10: "BT.2020"}
_RANGE_NAMES = {1: "limited range", 2: "full range"}


@dataclass(frozen=True)
class ColourTags:
    """How a video's samples map to colour, as FFmpeg's codes (``AVColorSpace``,
    ``AVColorRange``, ``AVColorPrimaries``, ``AVColorTransferCharacteristic``).

    The defaults (2, 0, 2, 2) say "unspecified". A writer given a plate's tags converts RGB to
    YUV with the plate's matrix and range and tags the stream with all four, so a player or
    compositing package that honours the tags reads the output as it reads the plate.

    Attributes
    ----------
    matrix
        YUV matrix: 1 BT.709, 5 BT.470BG / 6 SMPTE 170M (BT.601), 9 BT.2020, 2 unspecified.
    range
        1 limited ("TV", 16-235), 2 full ("PC", 0-255), 0 unspecified.
    primaries, transfer
        Colour primaries and transfer curve (1 BT.709, 2 unspecified, ...); tagged only.
    """

    matrix: int = 2
    range: int = 0
    primaries: int = 2
    transfer: int = 2

    @property
    def specified(self) -> bool:
        """Whether any of the four is set."""
        return (self.matrix, self.range, self.primaries, self.transfer) != (2, 0, 2, 2)

    def describe(self) -> str:
        """``"BT.709, limited range"``: the matrix and range by name, where known."""
        matrix = _MATRIX_NAMES.get(self.matrix, f"matrix {self.matrix}")
        names = [] if self.matrix == 2 else [matrix]
        if self.range:
            names.append(_RANGE_NAMES.get(self.range, f"range {self.range}"))
        return ", ".join(names) or f"primaries {self.primaries}, transfer {self.transfer}"

    def to_dict(self) -> dict:
        return {
            "matrix": self.matrix,
            "range": self.range,
            "primaries": self.primaries,
            "transfer": self.transfer,
        }


@dataclass(frozen=True)
class ShotInfo:
    """What a plate is: geometry, timing, sample type and audio.

    Attributes
    ----------
    path
        The video file or image-sequence folder.
    kind
        ``"video"`` or ``"sequence"``.
    width, height
        Frame size in pixels.
    fps
        Exact frame rate (``Fraction(30000, 1001)`` for 29.97).
    frame_count
        Number of frames promised by the header or found in the folder.
    dtype
        Sample type of the frames the reader yields (see `FrameDtype`).
    codec
        Video codec name, or the image format (``"png"``, ``"tiff"``, ``"exr"``, ``"dpx"``) of
        a sequence.
    audio_streams
        Number of audio streams (always 0 for a sequence).
    timecode
        Start timecode ``HH:MM:SS:FF`` when the source has one (a video's, a DPX sequence's
        first frame's).
    bit_depth
        Bits per sample of the source (8 for 8-bit video and images, 10 for 10-bit ProRes or
        DPX, 16 for 16-bit PNG/TIFF, 32 for float EXR); a video writer keeps at least this many.
    colour
        The video's colour tags (matrix, range, primaries, transfer); unspecified for a
        sequence.
    pixel_aspect
        Width over height of one stored pixel: 1 for square pixels, 2 for a 2x anamorphic
        squeeze (from the video's sample aspect ratio or the EXR header).
    first_frame, frame_digits
        Number of a sequence's first frame file and the digits it is written with
        (``shot010.1001.exr``: 1001 and 4), so an output sequence is numbered as its plate is;
        0 and 6 for a video.
    rotation
        Quarter turns, in degrees counter-clockwise (0, 90, 180, 270), by which the file's
        display matrix turns its stored frames upright (a phone video shot upright). Frames are
        read upright and `width`, `height` are the upright frame's; a video writer given it
        stores the frames as the plate does, with the same display matrix.
    chromaticities
        An EXR plate's primaries and white point ``(rx, ry, gx, gy, bx, by, wx, wy)`` from its
        header (ACEScg's, say); ``None`` when it gives none (Rec.709 / D65) or for video.
    transfer
        A DPX sequence's transfer characteristic (``"printing density"``, ``"logarithmic"``,
        ``"linear"``, ``"ITU-R 709"``, ...: `facecast.media.dpx.TRANSFER_NAMES`); ``None`` for
        other plates. A log one is read as scene-linear ``float32`` (`log`).
    """

    path: Path
    kind: Literal["video", "sequence"]
    width: int
    height: int
    fps: Fraction
    frame_count: int
    dtype: FrameDtype
    codec: str
    audio_streams: int = 0
    timecode: str | None = None
    bit_depth: int = 8
    colour: ColourTags = ColourTags()
    rotation: int = 0
    pixel_aspect: Fraction = Fraction(1)
    first_frame: int = 0
    frame_digits: int = 6
    chromaticities: tuple[float, ...] | None = None
    transfer: str | None = None

    @property
    def dpx_sequence(self) -> bool:
        """Whether the plate is a DPX image sequence."""
        return self.kind == "sequence" and self.codec == "dpx"

    @property
    def log(self) -> bool:
        """Whether the plate is log DPX (printing density or logarithmic), read as linear."""
        return self.transfer in LOG_TRANSFER_NAMES

    def describe(self) -> str:
        """One line for a user: size, and whatever is not plain 8-bit square upright video
        (``"1280x720, 10-bit, tagged BT.709, pixel aspect 2, turned 90 degrees"``; a DPX plate:
        ``"2048x1556, 10-bit log DPX (printing density, read as scene-linear), timecode
        01:00:10:00"``)."""
        parts = [f"{self.width}x{self.height}"]
        if self.dpx_sequence:
            parts.append(self._dpx_depth())
        elif self.bit_depth != 8:
            parts.append("float" if self.dtype == "float32" else f"{self.bit_depth}-bit")
        if self.colour.specified:
            parts.append(self.colour.describe())
        if self.pixel_aspect != 1:
            parts.append(f"pixel aspect {self.pixel_aspect}")
        if self.rotation:
            parts.append(f"turned {self.rotation} degrees")
        if self.chromaticities is not None:
            parts.append(_primaries_name(self.chromaticities))
        if self.timecode and self.kind == "sequence":
            parts.append(f"timecode {self.timecode}")
        return ", ".join(parts)

    def _dpx_depth(self) -> str:
        """``"10-bit log DPX (printing density, read as scene-linear)"``, ``"16-bit DPX
        (linear)"``."""
        if self.log:
            return f"{self.bit_depth}-bit log DPX ({self.transfer}, read as scene-linear)"
        return f"{self.bit_depth}-bit DPX ({self.transfer})"

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return float(self.frame_count / self.fps)

    def to_dict(self) -> dict:
        """JSON-ready form (fps as ``"num/den"``)."""
        return {
            "path": str(self.path),
            "kind": self.kind,
            "width": self.width,
            "height": self.height,
            "fps": f"{self.fps.numerator}/{self.fps.denominator}",
            "frame_count": self.frame_count,
            "dtype": self.dtype,
            "codec": self.codec,
            "audio_streams": self.audio_streams,
            "timecode": self.timecode,
            "bit_depth": self.bit_depth,
            "colour": self.colour.to_dict(),
            "rotation": self.rotation,
            "pixel_aspect": f"{self.pixel_aspect.numerator}/{self.pixel_aspect.denominator}",
            "first_frame": self.first_frame,
            "chromaticities": None if self.chromaticities is None else list(self.chromaticities),
            "transfer": self.transfer,
        }


#: Named primaries and white points an EXR header may give.
_NAMED_CHROMATICITIES = {
    "Rec.709 primaries": (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290),
    "ACES AP1 primaries (ACEScg)": (0.713, 0.293, 0.165, 0.830, 0.128, 0.044, 0.32168, 0.33767),
    "ACES AP0 primaries": (0.7347, 0.2653, 0.0, 1.0, 0.0001, -0.077, 0.32168, 0.33767),
    "Rec.2020 primaries": (0.708, 0.292, 0.170, 0.797, 0.131, 0.046, 0.3127, 0.3290),
}


def _primaries_name(chromaticities: tuple[float, ...]) -> str:
    """``"ACES AP1 primaries (ACEScg)"`` for known chromaticities, else the numbers."""
    for name, known in _NAMED_CHROMATICITIES.items():
        if all(abs(a - b) < 1e-3 for a, b in zip(chromaticities, known, strict=True)):
            return name
    return "primaries " + " ".join(f"{v:.4g}" for v in chromaticities)
