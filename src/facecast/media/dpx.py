"""DPX (SMPTE 268M) frames: the header read and written with `struct`, pixels with numpy.

A DPX file is a binary header (generic: file, image and orientation sections, 1664 bytes;
industry: film and television sections, 384 bytes) in big- or little-endian order (the magic
``SDPX`` or ``XPDS`` says which), then the pixels of its image elements. facecast reads image
element 0 holding RGB, RGBA or ABGR at 8, 10, 12 or 16 bits; alpha is dropped.

A frame whose transfer characteristic is printing density or logarithmic (a film scan, Cineon
style) is read as scene-linear ``float32`` with the standard Cineon conversion (`log_to_linear`)
and written back to the same codes (`linear_to_log`); any other is read as code values,
``uint8`` (8-bit) or ``uint16`` scaled to the full 16-bit range, like a 16-bit PNG.

References
----------
SMPTE ST 268:2014, File Format for Digital Moving-Picture Exchange (DPX).
Kodak, Conversion of 10-bit Log Film Data To 8-bit Linear or Video Data for the Cineon
Digital Film System (black 95, white 685, 0.002 density a code, negative gamma 0.6).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from facecast.errors import MediaError
from facecast.media.limits import check_frame_size

#: Bytes of the header facecast writes: generic (1664) and industry (384) sections.
HEADER_SIZE = 2048
_GENERIC_SIZE, _INDUSTRY_SIZE = 1664, 384
#: Offset of image element 0 and the size of each of the 8 element records.
_ELEMENT, _ELEMENT_SIZE = 780, 72
_UNDEFINED = 0xFFFFFFFF
#: Largest user-defined data section the DPX standard allows (SMPTE 268M: up to 1 MB).
MAX_USER_DATA = 1 << 20

#: Names of the transfer characteristic codes (image element byte 21).
TRANSFER_NAMES = {
    0: "user-defined",
    1: "printing density",
    2: "linear",
    3: "logarithmic",
    4: "unspecified video",
    5: "SMPTE 274M",
    6: "ITU-R 709",
    7: "ITU-R 601 (625 lines)",
    8: "ITU-R 601 (525 lines)",
    9: "NTSC composite video",
    10: "PAL composite video",
    11: "Z linear",
    12: "Z homogeneous",
    13: "ADX",
}
#: Transfer codes whose frames are log (Cineon) and are read as scene-linear float.
LOG_TRANSFERS = frozenset({1, 3})
#: Their names (`TRANSFER_NAMES`), as `facecast.media.ShotInfo.transfer` holds them.
LOG_TRANSFER_NAMES = frozenset(TRANSFER_NAMES[code] for code in LOG_TRANSFERS)
#: Transfer and colorimetric codes of a frame facecast writes without a plate frame's header.
_FRESH_LOG, _FRESH_VIDEO = 1, 6
#: Image descriptors facecast reads: components stored per pixel, and the R, G, B positions.
_LAYOUTS = {50: (3, (0, 1, 2)), 51: (4, (0, 1, 2)), 52: (4, (3, 2, 1))}
_DESCRIPTOR_NAMES = {
    1: "red",
    2: "green",
    3: "blue",
    4: "alpha",
    6: "luma (Y)",
    7: "colour difference",
    8: "depth",
    9: "composite video",
    100: "CbYCrY 4:2:2",
    101: "CbYACrYA 4:2:2:4",
    102: "CbYCr 4:4:4",
    103: "CbYCrA 4:4:4:4",
}
#: ASCII fields of the header (offset, length): NUL when undefined, where numbers are all 1s.
_TEXT_FIELDS = (
    (8, 8), (36, 100), (136, 24), (160, 100), (260, 200), (460, 200), (664, 104),
    *((_ELEMENT + 40 + _ELEMENT_SIZE * i, 32) for i in range(8)), (1356, 52),
    (1432, 100), (1532, 24), (1556, 32), (1588, 32), (1644, 20),
    (1664, 2), (1666, 2), (1668, 2), (1670, 6), (1676, 4), (1680, 32), (1732, 32),
    (1764, 100), (1864, 56), (1972, 76),
)  # fmt: skip

#: The Cineon conversion: code values of reference black and white (10-bit), density per
#: code value, and the film's negative gamma.
CINEON_BLACK, CINEON_WHITE = 95.0, 685.0
_DENSITY_PER_CODE, _NEGATIVE_GAMMA = 0.002, 0.6


@dataclass(frozen=True)
class DpxHeader:
    """What facecast reads from a DPX header.

    Attributes
    ----------
    endian
        ``">"`` (``SDPX``, big-endian) or ``"<"`` (``XPDS``).
    width, height
        Frame size in pixels.
    descriptor, bit_depth, packing, encoding, transfer, colorimetric
        Image element 0's codes (descriptor 50 is RGB; packing 1 and 2 are filled methods A
        and B; encoding 1 is run-length).
    orientation
        Image orientation code (0: left to right, top to bottom).
    data_offset, line_padding
        Byte offset of element 0's pixels, and extra bytes at the end of each line.
    timecode
        SMPTE timecode ``HH:MM:SS:FF`` of the television section, ``None`` if undefined.
    frame_rate
        Frames per second (television section, else film section), ``None`` if undefined.
    pixel_aspect
        ``(horizontal, vertical)`` of the orientation section, ``None`` if undefined.
    user_data_size
        Bytes of the user-defined data section after the header (a facility's or scanner's
        own metadata, starting with a 32-byte user id; `read_user_data`), 0 when none.
    raw
        The file's header bytes (generic and, where present, industry sections), as they are.
    """

    endian: str
    width: int
    height: int
    descriptor: int
    bit_depth: int
    packing: int
    encoding: int
    transfer: int
    colorimetric: int
    orientation: int
    data_offset: int
    line_padding: int
    timecode: str | None
    frame_rate: float | None
    pixel_aspect: tuple[int, int] | None
    user_data_size: int
    raw: bytes

    @property
    def log(self) -> bool:
        """Whether the codes are log (printing density or logarithmic: read as scene-linear)."""
        return self.transfer in LOG_TRANSFERS

    @property
    def creator(self) -> str:
        """The generic header's creator field (what made the file), ``""`` when undefined."""
        return self.raw[160:260].split(b"\0", 1)[0].decode("ascii", "replace").strip()

    @property
    def transfer_name(self) -> str:
        return TRANSFER_NAMES.get(self.transfer, f"transfer {self.transfer}")


def read_header(path: str | Path) -> DpxHeader:
    """Parse a DPX file's header (no pixels are read).

    Raises
    ------
    MediaError
        If the file is shorter than a DPX header or does not start with a DPX magic number.
    """
    path = Path(path)
    with open(path, "rb") as file:
        raw = file.read(HEADER_SIZE)
    if len(raw) >= 4 and raw[:4] not in (b"SDPX", b"XPDS"):
        raise MediaError(f"is not a DPX file (magic {raw[:4]!r})", path)
    if len(raw) < _GENERIC_SIZE:
        raise MediaError(
            f"is truncated: {len(raw)} bytes, shorter than a DPX header ({_GENERIC_SIZE})", path
        )
    endian = ">" if raw[:4] == b"SDPX" else "<"

    def number(kind: str, offset: int):
        return struct.unpack_from(endian + kind, raw, offset)[0]

    generic, industry = number("I", 24), number("I", 28)
    has_industry = len(raw) >= HEADER_SIZE and _sized(generic) + _sized(industry) >= HEADER_SIZE
    element_offset = number("I", _ELEMENT + 28)
    padding = number("I", _ELEMENT + 32)
    aspect = (number("I", 1628), number("I", 1632))
    user_size = number("I", 32)
    return DpxHeader(
        endian=endian,
        width=number("I", 772),
        height=number("I", 776),
        descriptor=raw[_ELEMENT + 20],
        bit_depth=raw[_ELEMENT + 23],
        packing=number("H", _ELEMENT + 24),
        encoding=number("H", _ELEMENT + 26),
        transfer=raw[_ELEMENT + 21],
        colorimetric=raw[_ELEMENT + 22],
        orientation=number("H", 768),
        data_offset=element_offset if 0 < element_offset < _UNDEFINED else number("I", 4),
        line_padding=0 if padding == _UNDEFINED else padding,
        timecode=_bcd_timecode(number("I", 1920)) if has_industry else None,
        frame_rate=_rate(number("f", 1940), number("f", 1724)) if has_industry else None,
        pixel_aspect=aspect if min(aspect) > 0 and max(aspect) < _UNDEFINED else None,
        user_data_size=user_size if has_industry and 0 < user_size < _UNDEFINED else 0,
        raw=raw if has_industry else raw[:_GENERIC_SIZE],
    )


def read_user_data(path: str | Path, header: DpxHeader) -> bytes:
    """The user-defined data section of a DPX frame (``b""`` when it has none).

    Raises
    ------
    MediaError
        If the section is larger than `MAX_USER_DATA`, overlaps the pixels, or is cut short.
    """
    size = header.user_data_size
    if size == 0:
        return b""
    if size > MAX_USER_DATA or HEADER_SIZE + size > header.data_offset:
        raise MediaError(
            f"has a DPX user data section of {size} bytes that does not fit between the header "
            f"and the pixels (offset {header.data_offset})",
            path,
        )
    with open(path, "rb") as file:
        file.seek(HEADER_SIZE)
        data = file.read(size)
    if len(data) < size:
        raise MediaError(f"is truncated inside its DPX user data ({len(data)} of {size})", path)
    return data


def _sized(value: int) -> int:
    """A header size field, 0 where undefined."""
    return 0 if value == _UNDEFINED else value


def _bcd_timecode(word: int) -> str | None:
    """``HH:MM:SS:FF`` of a SMPTE timecode word (binary-coded decimal, flag bits ignored)."""
    if word == _UNDEFINED:
        return None
    fields = [(word >> shift) & mask for shift, mask in ((24, 0x3F), (16, 0x7F), (8, 0x7F))]
    fields.append(word & 0x3F)
    if any(value >> 4 > 9 or value & 0xF > 9 for value in fields):
        return None
    hours, minutes, seconds, frames = ((value >> 4) * 10 + (value & 0xF) for value in fields)
    if hours > 23 or minutes > 59 or seconds > 59:
        return None
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}"


def bcd_word(timecode: str) -> int:
    """The SMPTE timecode word (binary-coded decimal) of ``HH:MM:SS:FF``."""
    parts = [int(part) for part in timecode.replace(";", ":").replace(".", ":").split(":")]
    word = 0
    for value in parts:
        word = (word << 8) | ((value // 10) << 4) | (value % 10)
    return word


def _rate(*candidates: float) -> float | None:
    """The first defined, plausible frame rate (undefined is NaN or all bits set)."""
    for rate in candidates:
        if np.isfinite(rate) and 0 < rate < 1000:
            return float(rate)
    return None


def check_header(header: DpxHeader, path: str | Path, file_size: int) -> None:
    """Refuse a DPX facecast cannot read, before decoding: frame size (`check_frame_size`),
    image descriptor, bit depth, run-length encoding, orientation, and a file shorter than
    its pixels.

    Raises
    ------
    MediaError
        One line naming `path` and what is unsupported or wrong.
    """
    check_frame_size(header.width, header.height, path)
    if header.descriptor not in _LAYOUTS:
        name = _DESCRIPTOR_NAMES.get(header.descriptor, "user-defined or unknown")
        raise MediaError(
            f"has DPX image descriptor {header.descriptor} ({name}); facecast reads RGB and "
            "RGBA DPX",
            path,
        )
    if header.bit_depth not in (8, 10, 12, 16):
        raise MediaError(
            f"has {header.bit_depth}-bit DPX samples; facecast reads 8-, 10-, 12- and 16-bit",
            path,
        )
    if header.encoding != 0:
        raise MediaError("is run-length encoded DPX, which facecast does not read", path)
    if header.orientation > 3:
        raise MediaError(
            f"has DPX orientation {header.orientation} (rows and columns swapped); facecast "
            "reads orientations 0-3",
            path,
        )
    needed = header.data_offset + _line_bytes(header) * header.height
    if file_size < needed:
        raise MediaError(f"is truncated: {file_size} bytes, its DPX header promises {needed}", path)


def _line_bytes(header: DpxHeader) -> int:
    """Bytes from one line's start to the next: samples padded to 32 bits, plus padding."""
    samples = header.width * _LAYOUTS[header.descriptor][0]
    if header.bit_depth == 10 and header.packing in (1, 2):
        data = -(-samples // 3) * 4  # three 10-bit samples to a 32-bit word
    elif header.bit_depth in (10, 12) and header.packing == 0:
        data = -(-samples * header.bit_depth // 32) * 4  # bits packed end to end
    else:  # 8 bits a byte; 12 filled, and 16, two bytes a sample
        data = samples * (1 if header.bit_depth == 8 else 2)
    return -(-data // 4) * 4 + header.line_padding


def read_dpx(path: str | Path, header: DpxHeader | None = None) -> np.ndarray:
    """Read one DPX frame as RGB ``(H, W, 3)`` (`header`: its `read_header`, when the caller
    has it already).

    Returns ``float32`` scene-linear for a log frame (`log_to_linear`; values below 0 under
    Cineon black and above 1 over white), else ``uint8`` for 8 bits and ``uint16`` in the full
    16-bit range for 10, 12 and 16 bits (`codes_to_uint16`). Alpha is dropped.

    Raises
    ------
    MediaError
        Naming the file: not DPX, truncated, or unsupported (`check_header`).
    """
    path = Path(path)
    header = header or read_header(path)
    codes = read_codes(path, header)
    if header.log:
        return log_to_linear(codes, header.bit_depth)
    if header.bit_depth == 8:
        return codes.astype(np.uint8)
    return codes_to_uint16(codes, header.bit_depth)


def read_codes(path: str | Path, header: DpxHeader) -> np.ndarray:
    """The code values of a DPX frame as stored, ``uint16 (H, W, 3)`` in ``[0, 2**bits)``,
    upright (orientations 1-3 flipped back). Checked first (`check_header`)."""
    path = Path(path)
    check_header(header, path, path.stat().st_size)
    if header.bit_depth in (10, 12) and header.packing == 0:
        codes = _decoded_by_ffmpeg(path, header)
    else:
        codes = _unpacked(path, header)
    if header.orientation & 1:
        codes = codes[:, ::-1]
    if header.orientation & 2:
        codes = codes[::-1]
    return np.ascontiguousarray(codes)


def _unpacked(path: Path, header: DpxHeader) -> np.ndarray:
    """``uint16 (H, W, 3)`` codes of the filled layouts (8 and 16 bits, 10 and 12 filled in
    words by method A or B), unpacked with numpy."""
    count, order = _LAYOUTS[header.descriptor]
    samples = header.width * count
    bits = header.bit_depth
    item = np.dtype(header.endian + ("u4" if bits == 10 else "u1" if bits == 8 else "u2"))
    stride = _line_bytes(header)
    with open(path, "rb") as file:
        file.seek(header.data_offset)
        data = file.read(stride * header.height)
    per_line = -(-samples // 3) if bits == 10 else samples
    stored = np.ndarray((header.height, per_line), item, data, strides=(stride, item.itemsize))
    if bits == 10:
        shifts = (22, 12, 2) if header.packing == 1 else (20, 10, 0)
        words = stored.astype(np.uint32)
        unpacked = np.stack([(words >> s) & 0x3FF for s in shifts], axis=-1)
        stored = unpacked.reshape(header.height, -1)[:, :samples]
    elif bits == 12:
        stored = stored >> 4 if header.packing == 1 else stored & 0xFFF
    pixels = stored.astype(np.uint16).reshape(header.height, header.width, count)
    return pixels if count == 3 else pixels[..., list(order)]


def _decoded_by_ffmpeg(path: Path, header: DpxHeader) -> np.ndarray:
    """``uint16 (H, W, 3)`` codes of a bit-packed 10- or 12-bit DPX, decoded by FFmpeg."""
    import av

    try:
        with av.open(str(path), format="image2") as container:
            frame = next(container.decode(video=0))
            planar = "gbrp" if frame.format.name.startswith("gbrp") else "gbrap"
            wanted = f"{planar}{header.bit_depth}le"
            codes = frame.reformat(format=wanted).to_ndarray()
    except Exception as error:
        raise MediaError(f"cannot be decoded as DPX ({error})", path) from None
    return codes[..., :3].astype(np.uint16)


def codes_to_uint16(codes: np.ndarray, bit_depth: int) -> np.ndarray:
    """``uint16`` in the full 16-bit range of `bit_depth`-bit codes, same shape (each code
    times ``65535 / (2**bit_depth - 1)``, rounded); `uint16_to_codes` inverts it exactly."""
    return _scale_table(bit_depth)[codes]


def uint16_to_codes(pixels: np.ndarray, bit_depth: int) -> np.ndarray:
    """``uint16`` `bit_depth`-bit codes of full-range ``uint16`` pixels, rounded, same shape."""
    peak = (1 << bit_depth) - 1
    wide = pixels.astype(np.uint32) * peak + 32767
    return (wide // 65535).astype(np.uint16)


def _scale_table(bit_depth: int) -> np.ndarray:
    """``uint16 (2**bits,)``: every code in the full 16-bit range."""
    peak = (1 << bit_depth) - 1
    return np.round(np.arange(peak + 1) * (65535.0 / peak)).astype(np.uint16)


def log_to_linear(codes: np.ndarray, bit_depth: int = 10) -> np.ndarray:
    """Scene-linear ``float32`` of Cineon log codes, same shape (standard Cineon conversion).

    A code (scaled to 10 bits) becomes ``gain * 10 ** ((code - 685) * 0.002 / 0.6) - offset``
    with ``offset = gain - 1`` chosen so code 95 (black) is 0.0 and 685 (white) is 1.0; codes
    below black are negative and above white exceed 1 (1023 is 13.5), nothing is clipped, so
    `linear_to_log` gives every code back.
    """
    return _log_table(bit_depth)[codes]


def linear_to_log(linear: np.ndarray, bit_depth: int = 10) -> np.ndarray:
    """``uint16`` Cineon log codes of scene-linear values, same shape: the code whose
    `log_to_linear` is nearest in log terms (rounding in code space), clipped to the code
    range only where the light is beyond it.

    The code is estimated with the inverse formula in ``float32`` and settled against the
    light half-way between codes (`_log_edges`), so `log_to_linear`'s values come back as
    their codes exactly (5x faster than a binary search of the edges).
    """
    peak = (1 << bit_depth) - 1
    per_code = _DENSITY_PER_CODE / _NEGATIVE_GAMMA
    gain = 1.0 / (1.0 - 10.0 ** ((CINEON_BLACK - CINEON_WHITE) * per_code))
    scale = peak / 1023.0
    light = np.maximum(linear + np.float32(gain - 1.0), np.float32(1e-9))
    estimate = np.log10(light, dtype=np.float32)
    estimate *= np.float32(scale / per_code)
    estimate += np.float32((CINEON_WHITE - np.log10(gain) / per_code) * scale)
    codes = np.clip(np.rint(estimate), 0, peak).astype(np.intp)
    edges = _log_edges(bit_depth)  # the estimate is within a code; the edges settle it
    codes -= linear < np.take(edges, np.maximum(codes - 1, 0))
    codes += linear >= np.take(edges, np.minimum(codes, peak - 1))
    return np.clip(codes, 0, peak).astype(np.uint16)


def _log_table(bit_depth: int) -> np.ndarray:
    """``float32 (2**bits,)``: the linear light of every code."""
    return _cineon(np.arange(1 << bit_depth, dtype=np.float64), bit_depth).astype(np.float32)


def _log_edges(bit_depth: int) -> np.ndarray:
    """``float32 (2**bits - 1,)``: the linear light half-way (in code space) between
    consecutive codes: code ``c`` holds light in ``[edges[c - 1], edges[c])``."""
    halves = np.arange(1 << bit_depth, dtype=np.float64)[:-1] + 0.5
    return _cineon(halves, bit_depth).astype(np.float32)


def _cineon(codes: np.ndarray, bit_depth: int) -> np.ndarray:
    """``float64`` linear light of (possibly fractional) `bit_depth`-bit Cineon codes."""
    scaled = codes * (1023.0 / ((1 << bit_depth) - 1))
    per_code = _DENSITY_PER_CODE / _NEGATIVE_GAMMA
    gain = 1.0 / (1.0 - 10.0 ** ((CINEON_BLACK - CINEON_WHITE) * per_code))
    return gain * 10.0 ** ((scaled - CINEON_WHITE) * per_code) - (gain - 1.0)


def write_dpx(
    path: str | Path,
    image: np.ndarray,
    *,
    bit_depth: int = 10,
    template: str | Path | None = None,
    timecode: str | None = None,
    frame_rate: float | None = None,
    creator: str | None = None,
    pixel_aspect: float = 1.0,
) -> None:
    """Write RGB ``(H, W, 3)`` as one DPX frame (element 0, RGB, filled method A).

    Parameters
    ----------
    image
        ``float32`` scene-linear (written as Cineon log codes, `linear_to_log`), or
        ``uint8`` / ``uint16`` full-range code values (scaled to `bit_depth`).
    bit_depth
        8, 10, 12 or 16.
    template
        A DPX frame (the plate's) whose header is carried over: byte order, source section
        (offsets, original size, pixel aspect), film and television sections (keycode,
        format, timecode, frame rate), transfer and colorimetric codes (when the frame is as
        log as the template's), project and copyright, and its user-defined data section as it
        is. The layout fields are facecast's own: one image element, orientation 0 (the
        pixels as read, upright), no creation time.
    timecode, frame_rate
        ``HH:MM:SS:FF`` and frames per second, for a header whose template gives none.
    creator
        The generic header's creator (100 characters at most).
    pixel_aspect
        Width over height of a pixel, written where the template gives none.
    """
    path = Path(path)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB (H, W, 3) frame, got {image.shape}")
    header = read_header(template) if template is not None else None
    endian = header.endian if header is not None else ">"
    codes = _codes_of(image, bit_depth)
    pixels = _packed(codes, bit_depth, endian)
    user_data = b"" if header is None else read_user_data(template, header)
    raw = _header_bytes(header, codes.shape, bit_depth, image.dtype == np.float32)
    fields = _Fields(raw, endian)
    fields.text(36, 100, path.name)
    fields.text(160, 100, creator or "")
    data_offset = HEADER_SIZE + len(user_data)  # the pixels right after the user data
    fields.put("I", 16, data_offset + len(pixels))
    fields.put("I", 32, len(user_data))
    fields.put("I", 4, data_offset)
    fields.put("I", _ELEMENT + 28, data_offset)
    if header is None or header.pixel_aspect is None:
        ratio = Fraction(pixel_aspect).limit_denominator(1000)
        fields.put("I", 1628, ratio.numerator)
        fields.put("I", 1632, ratio.denominator)
    if timecode and (header is None or header.timecode is None):
        fields.put("I", 1920, bcd_word(timecode))
    if frame_rate and (header is None or header.frame_rate is None):
        fields.put("f", 1724, frame_rate)
        fields.put("f", 1940, frame_rate)
    with open(path, "wb") as file:
        file.write(bytes(raw))
        file.write(user_data)
        file.write(pixels)


def _codes_of(image: np.ndarray, bit_depth: int) -> np.ndarray:
    """``uint16 (H, W, 3)`` `bit_depth`-bit codes of a frame (see `write_dpx`)."""
    if bit_depth not in (8, 10, 12, 16):
        raise ValueError(f"DPX bit depth must be 8, 10, 12 or 16, got {bit_depth}")
    if image.dtype == np.float32:
        return linear_to_log(image, bit_depth)
    if image.dtype == np.uint8:
        wide = image.astype(np.uint16)
        return wide if bit_depth == 8 else uint16_to_codes(wide * 257, bit_depth)
    if image.dtype == np.uint16:
        return image if bit_depth == 16 else uint16_to_codes(image, bit_depth)
    raise ValueError(f"expected uint8, uint16 or float32 pixels, got {image.dtype}")


def _packed(codes: np.ndarray, bit_depth: int, endian: str) -> bytes:
    """The pixel bytes of ``uint16 (H, W, 3)`` codes: 8 and 16 bits as samples, 10 bits three
    to a 32-bit word and 12 bits in the high bits of 16 (filled method A), each line padded to
    32 bits."""
    height = codes.shape[0]
    if bit_depth == 10:
        words = (codes[..., 0].astype(np.uint32) << 22) | (codes[..., 1].astype(np.uint32) << 12)
        words |= codes[..., 2].astype(np.uint32) << 2
        return words.astype(endian + "u4").tobytes()
    if bit_depth == 8:
        lines = codes.astype(np.uint8).reshape(height, -1)
    else:
        shifted = codes << 4 if bit_depth == 12 else codes
        lines = shifted.astype(endian + "u2").reshape(height, -1).view(np.uint8)
    padding = -lines.shape[1] % 4
    if padding:
        lines = np.pad(lines, ((0, 0), (0, padding)))
    return np.ascontiguousarray(lines).tobytes()


def _header_bytes(
    header: DpxHeader | None, shape: tuple[int, ...], bit_depth: int, log: bool
) -> bytearray:
    """The 2048 header bytes of a frame of `shape` at `bit_depth`: the template's where
    given (its layout fields rewritten), else all undefined, with image element 0 set."""
    raw = bytearray(b"\xff" * HEADER_SIZE)
    for offset, length in _TEXT_FIELDS:
        raw[offset : offset + length] = bytes(length)
    if header is not None:
        raw[: len(header.raw)] = header.raw
    endian = header.endian if header is not None else ">"
    fields = _Fields(raw, endian)
    raw[:4] = b"SDPX" if endian == ">" else b"XPDS"
    if header is None:
        fields.text(8, 8, "V2.0")
    fields.put("I", 4, HEADER_SIZE)
    fields.put("I", 20, 1)  # a new image, not a copy of the previous frame's
    fields.put("I", 24, _GENERIC_SIZE)
    fields.put("I", 28, _INDUSTRY_SIZE)
    fields.put("I", 32, 0)  # no user data (`write_dpx` adds the template's)
    fields.text(136, 24, "")  # creation time: the render manifest has it
    fields.put("I", 660, _UNDEFINED)  # not encrypted
    fields.put("H", 768, 0)  # stored upright (a flipped plate was read upright)
    fields.put("H", 770, 1)
    fields.put("I", 772, shape[1])
    fields.put("I", 776, shape[0])
    for index in range(1, 8):  # one element: the plate's others (alpha, ...) are not written
        start = _ELEMENT + _ELEMENT_SIZE * index
        raw[start : start + _ELEMENT_SIZE] = b"\xff" * 40 + bytes(32)
    _element_zero(fields, header, bit_depth, log)
    return raw


def _element_zero(fields: _Fields, header: DpxHeader | None, bit_depth: int, log: bool) -> None:
    """Image element 0: RGB at `bit_depth`, filled method A, pixels right after the header;
    transfer and colorimetric codes kept from the template when it is as log as the frame."""
    start = _ELEMENT
    same_kind = header is not None and header.log == log
    fields.put("I", start, 0)  # unsigned
    if header is None or header.bit_depth != bit_depth:
        fields.put("I", start + 4, 0)
        fields.put("I", start + 12, (1 << bit_depth) - 1)
    fresh = _FRESH_LOG if log else _FRESH_VIDEO
    fields.raw[start + 20] = 50
    fields.raw[start + 21] = header.transfer if same_kind else fresh
    fields.raw[start + 22] = header.colorimetric if same_kind else fresh
    fields.raw[start + 23] = bit_depth
    fields.put("H", start + 24, 1 if bit_depth in (10, 12) else 0)
    fields.put("H", start + 26, 0)
    fields.put("I", start + 28, HEADER_SIZE)
    fields.put("I", start + 32, 0)
    fields.put("I", start + 36, 0)
    fields.text(start + 40, 32, "facecast AI-altered frame")


@dataclass(frozen=True)
class _Fields:
    """Writes numbers and text into header bytes `raw` in byte order `endian`."""

    raw: bytearray
    endian: str

    def put(self, kind: str, offset: int, value: float) -> None:
        struct.pack_into(self.endian + kind, self.raw, offset, value)

    def text(self, offset: int, length: int, value: str) -> None:
        encoded = value.encode("ascii", "replace")[: length - 1]
        self.raw[offset : offset + length] = encoded + bytes(length - len(encoded))
