"""Image-sequence folders: PNG/JPEG/TIFF (8 and 16 bit), OpenEXR and DPX, frame by frame.

Readers yield RGB ``(H, W, 3)`` frames as ``uint8`` (8-bit files), ``uint16`` (16-bit PNG/TIFF,
10- to 16-bit DPX) or ``float32`` scene-linear (EXR, log DPX: `facecast.media.dpx`). Writers
accept the same dtypes.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np

from facecast.errors import MediaError
from facecast.media import dpx
from facecast.media.labels import write_picture
from facecast.media.limits import check_frame_size
from facecast.media.timecode import exr_timecode, timecode
from facecast.media.transfer import INTEGER_PEAK, scene_linear
from facecast.media.types import ShotInfo

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".dpx"}
#: File-name prefix of a sequence output's frames (``frame.000000.png``).
DEFAULT_STEM = "frame"


@dataclass(frozen=True)
class Windowed:
    """A frame held as the window of it that has content (an OpenEXR data window): the rest
    of the frame is 0.

    Attributes
    ----------
    pixels
        ``(h, w, C)`` the window's pixels, any dtype.
    origin
        ``(x, y)`` of the window's top-left pixel in the frame.
    size
        ``(width, height)`` of the whole frame.
    """

    pixels: np.ndarray
    origin: tuple[int, int]
    size: tuple[int, int]

    def full(self) -> np.ndarray:
        """``(height, width, C)``: the whole frame, 0 outside the window."""
        (x, y), (width, height) = self.origin, self.size
        frame = np.zeros((height, width, *self.pixels.shape[2:]), self.pixels.dtype)
        h, w = self.pixels.shape[:2]
        frame[y : y + h, x : x + w] = self.pixels
        return frame


#: Pixel types OpenCV writes faithfully into each format (it would cut float to 0 and 1).
_WRITABLE = {
    ".png": (np.uint8, np.uint16),
    ".jpg": (np.uint8,),
    ".jpeg": (np.uint8,),
}
_DTYPE_OF_DEPTH = {np.dtype(np.uint8): "uint8", np.dtype(np.uint16): "uint16"}


def _natural_key(path: Path) -> list:
    """Sort key that puts ``frame_9`` before ``frame_10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def list_sequence(folder: Path) -> list[Path]:
    """The image files of a sequence folder, in frame order.

    Raises
    ------
    MediaError
        If the folder is missing, empty, or mixes image formats.
    """
    if not folder.is_dir():
        raise MediaError("is not a folder", folder)
    files = sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
        key=_natural_key,
    )
    if not files:
        raise MediaError(f"holds no image frames ({', '.join(sorted(IMAGE_SUFFIXES))})", folder)
    suffixes = {_canonical_suffix(p) for p in files}
    if len(suffixes) > 1:
        raise MediaError(f"mixes image formats {sorted(suffixes)}", folder)
    return files


def _canonical_suffix(path: Path) -> str:
    return {".jpeg": ".jpg", ".tif": ".tiff"}.get(path.suffix.lower(), path.suffix.lower())


def read_image(path: str | Path) -> np.ndarray:
    """Read one image as RGB ``(H, W, 3)``: ``uint8``, ``uint16``, or ``float32`` for EXR and
    log DPX (`facecast.media.dpx.read_dpx`).

    The image is turned as its EXIF orientation says (as every photo viewer shows it); an alpha
    channel is dropped.

    Raises
    ------
    MediaError
        If the file is missing, unreadable, or too large.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError("file does not exist", path)
    if path.suffix.lower() == ".exr":
        return _read_exr(path)
    if path.suffix.lower() == ".dpx":
        return dpx.read_dpx(path)
    _check_header_size(path)
    # any depth and colour type, turned upright by the EXIF orientation (a phone photo taken
    # upright is stored sideways with orientation 6 or 8; IMREAD_UNCHANGED would ignore it)
    image = cv2.imread(str(path), cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH)
    if image is None:
        raise MediaError("cannot be decoded as an image", path)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    else:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.dtype not in _DTYPE_OF_DEPTH:
        raise MediaError(f"has unsupported sample type {image.dtype}", path)
    return image


def _check_header_size(path: Path) -> None:
    """Refuse huge images before decoding them, using the header alone."""
    from PIL import Image  # matplotlib's dependency; reads only the header here

    try:
        with Image.open(path) as header:
            width, height = header.size
    except Image.DecompressionBombError:
        raise MediaError("image is larger than facecast accepts (pixel count)", path) from None
    except Exception:  # unreadable header: OpenCV reports the decode failure with the file name
        return
    check_frame_size(width, height, path)


def _read_exr(path: Path) -> np.ndarray:
    """An EXR's RGB in its display window (``float32 (H, W, 3)``): pixels of a data window
    smaller than the display window (a compositor's bounding box) sit at their place on black,
    pixels beyond it (overscan) are cut off. Sizes are checked from the header first."""
    import OpenEXR

    try:
        with OpenEXR.File(str(path), header_only=True) as exr:
            header = exr.header()
            data, display = _window(header["dataWindow"]), _window(header["displayWindow"])
        for x0, y0, x1, y1 in (data, display):
            check_frame_size(x1 - x0, y1 - y0, path)
        with OpenEXR.File(str(path)) as exr:
            channels = exr.channels()
            if "RGB" in channels or "RGBA" in channels:  # interleaved (alpha dropped)
                rgb = channels["RGB" if "RGB" in channels else "RGBA"].pixels
            else:
                rgb = np.stack([channels[c].pixels for c in "RGB"], axis=-1)
    except MediaError:
        raise
    except Exception as error:
        raise MediaError(f"cannot be read as OpenEXR ({error})", path) from None
    rgb = np.asarray(rgb[..., :3], dtype=np.float32)
    if data == display:
        return np.ascontiguousarray(rgb)
    return _placed(rgb, data, display)


#: EXR header attributes that describe a file's layout, not its picture: never copied.
_EXR_LAYOUT = frozenset(
    {"channels", "compression", "dataWindow", "displayWindow", "lineOrder", "type", "tiles"}
    | {"chunkCount", "version", "name", "pixelAspectRatio"}
)


def exr_attributes(path: str | Path) -> dict:
    """The picture's attributes in an EXR header (timecode, chromaticities, frame rate, camera
    and the compositing application's own keys), without those of the file's layout
    (`_EXR_LAYOUT`): what an output made from this frame should say too."""
    import OpenEXR

    try:
        with OpenEXR.File(str(path), header_only=True) as exr:  # values die with the file
            header = exr.header()
            return {key: header[key] for key in header if key not in _EXR_LAYOUT}
    except Exception as error:
        raise MediaError(f"cannot be read as OpenEXR ({error})", path) from None


def _window(corners) -> tuple[int, int, int, int]:
    """An EXR window's ``(x0, y0, x1, y1)``, ends exclusive, from its inclusive corners."""
    (x0, y0), (x1, y1) = corners
    return int(x0), int(y0), int(x1) + 1, int(y1) + 1


def _placed(
    pixels: np.ndarray, data: tuple[int, int, int, int], display: tuple[int, int, int, int]
) -> np.ndarray:
    """``float32 (H, W, 3)`` display-window frame holding `pixels` (the data window's)."""
    frame = np.zeros((display[3] - display[1], display[2] - display[0], 3), np.float32)
    left, top = max(data[0], display[0]), max(data[1], display[1])
    right, bottom = min(data[2], display[2]), min(data[3], display[3])
    if right > left and bottom > top:
        frame[top - display[1] : bottom - display[1], left - display[0] : right - display[0]] = (
            pixels[top - data[1] : bottom - data[1], left - data[0] : right - data[0]]
        )
    return frame


def write_image(
    path: str | Path,
    image: np.ndarray | Windowed,
    pixel_aspect: float = 1.0,
    attributes: dict[str, object] | None = None,
    label: str | None = None,
) -> None:
    """Write RGB or RGBA ``(H, W, 3|4)`` (``uint8``/``uint16`` to PNG/TIFF/JPEG, ``float16`` or
    ``float32`` to EXR as half or full float channels; 8/16-bit frames become linear light;
    RGB ``uint8``/``uint16``/``float32`` to DPX, float as Cineon log codes).

    An EXR records `pixel_aspect` (width over height of a pixel) and `attributes` (strings,
    numbers, ``OpenEXR.TimeCode``, chromaticities, ...) in its header; a DPX records
    `pixel_aspect` and takes `attributes` as the keywords of `facecast.media.dpx.write_dpx`
    (``bit_depth``, ``template``, ``timecode``, ``frame_rate``, ``creator``); the other formats
    have no such fields. `label` says what made the picture: an EXR's ``comments``, a DPX's
    creator, a PNG/JPEG/TIFF's description and XMP (`facecast.media.labels`). A `Windowed`
    frame is stored as its window (the EXR data window; the display window is the frame) or,
    in other formats, whole.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".exr":
        fields = {} if label is None else {"comments": label}
        _write_exr(path, image, pixel_aspect, {**fields, **(attributes or {})})
        return
    if isinstance(image, Windowed):
        image = image.full()
    if suffix == ".dpx":
        fields = {} if label is None else {"creator": label}
        dpx.write_dpx(path, image, pixel_aspect=pixel_aspect, **{**fields, **(attributes or {})})
        return
    if image.dtype not in _WRITABLE.get(suffix, (image.dtype,)):
        raise MediaError(f"cannot hold {image.dtype} pixels (use .exr or .tiff)", path)
    if image.ndim == 3 and image.shape[2] == 4:
        bgr = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    elif image.ndim == 3:
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    else:
        bgr = image
    write_picture(path, bgr, label)


def _write_exr(
    path: Path, image: np.ndarray | Windowed, pixel_aspect: float, attributes: dict
) -> None:
    """`write_image` for OpenEXR: ZIP-compressed scanlines, RGB or RGBA."""
    import OpenEXR

    header = {
        "compression": OpenEXR.ZIP_COMPRESSION,
        "type": OpenEXR.scanlineimage,
        "pixelAspectRatio": float(pixel_aspect),
        **attributes,
    }
    if isinstance(image, Windowed):
        (x, y), (width, height) = image.origin, image.size
        h, w = image.pixels.shape[:2]
        header["displayWindow"] = (np.int32([0, 0]), np.int32([width - 1, height - 1]))
        header["dataWindow"] = (np.int32([x, y]), np.int32([x + w - 1, y + h - 1]))
        image = image.pixels
    if image.dtype in INTEGER_PEAK:  # display-referred code values: to linear light
        image = scene_linear(image)
    kind = np.float16 if image.dtype == np.float16 else np.float32
    channels = "RGBA" if image.ndim == 3 and image.shape[2] == 4 else "RGB"
    pixels = np.ascontiguousarray(image.astype(kind))
    with OpenEXR.File(header, {channels: pixels}) as exr:
        exr.write(str(path))


def probe_sequence(folder: Path, fps: Fraction | None = None) -> ShotInfo:
    """Describe an image-sequence folder from its first frame and file count.

    The frame rate is `fps`, else the one a DPX header gives, else 24.

    Raises
    ------
    MediaError
        If the frame numbers in the file names have a gap or a repeat (a missing frame would
        shift every later one by a frame).
    """
    files = list_sequence(folder)
    first = read_image(files[0])
    first_frame, digits = _numbering(files, folder)
    picture = {"fps": Fraction(24), "bit_depth": first.dtype.itemsize * 8, **_picture(files[0])}
    if fps is not None:
        picture["fps"] = Fraction(fps)
    return ShotInfo(
        path=folder,
        kind="sequence",
        width=first.shape[1],
        height=first.shape[0],
        frame_count=len(files),
        dtype=str(first.dtype),
        codec=_canonical_suffix(files[0]).lstrip("."),
        first_frame=first_frame,
        frame_digits=digits,
        **picture,
    )


def _numbering(files: list[Path], folder: Path) -> tuple[int, int]:
    """``(first number, digits)`` of the frame numbers in the file names: the last run of digits
    that changes from file to file (``shot010_v2.1001.exr``: 1001, 4 digits); ``(0, 6)`` when
    the names do not share one numbering.

    Raises
    ------
    MediaError
        If the numbers are not consecutive, naming the first missing or repeated frame.
    """
    runs = [re.findall(r"\d+", path.stem) for path in files]
    if not runs[0] or any(len(found) != len(runs[0]) for found in runs):
        return 0, 6
    columns = list(zip(*runs, strict=True))
    changing = [i for i, column in enumerate(columns) if len(set(column)) > 1]
    column = columns[changing[-1] if changing else -1]
    numbers = [int(text) for text in column]
    for index, (previous, number) in enumerate(pairwise(numbers)):
        if number == previous:
            raise MediaError(f"frame {number} appears twice ({files[index + 1].name})", folder)
        if number != previous + 1:
            gap = f"{previous + 1}" if number == previous + 2 else f"{previous + 1}-{number - 1}"
            raise MediaError(f"frame(s) {gap} missing from the sequence", folder)
    return numbers[0], len(column[0])


def _picture(path: Path) -> dict:
    """What a `ShotInfo` takes from a frame's header: an EXR's ``pixel_aspect`` and
    ``chromaticities`` (`_exr_picture`), a DPX's (`_dpx_picture`); square pixels and no
    chromaticities for other formats."""
    if path.suffix.lower() == ".dpx":
        return _dpx_picture(path)
    if path.suffix.lower() != ".exr":
        return {"pixel_aspect": Fraction(1), "chromaticities": None}
    return _exr_picture(path)


def _dpx_picture(path: Path) -> dict:
    """``bit_depth``, ``transfer``, ``timecode``, ``fps`` (where given) and ``pixel_aspect``
    of a `ShotInfo` from a DPX header."""
    header = dpx.read_header(path)
    picture = {
        "bit_depth": header.bit_depth,
        "transfer": header.transfer_name,
        "timecode": header.timecode,
        "pixel_aspect": Fraction(1),
    }
    if header.frame_rate is not None:
        picture["fps"] = _nominal_rate(header.frame_rate)
    if header.pixel_aspect is not None:
        picture["pixel_aspect"] = Fraction(*header.pixel_aspect).limit_denominator(1000)
    return picture


def _nominal_rate(rate: float) -> Fraction:
    """The exact rate a header's float means: ``24000/1001`` for 23.976, else to 1/1000."""
    for base in (24, 30, 48, 60, 120):
        if abs(rate - base * 1000 / 1001) < 1e-3:
            return Fraction(base * 1000, 1001)
    return Fraction(round(rate * 1000), 1000)


def _exr_picture(path: Path) -> dict:
    """``pixel_aspect`` and ``chromaticities`` of a `ShotInfo` from an EXR's header (one
    read), square pixels and no chromaticities when the header has none."""
    import OpenEXR

    with OpenEXR.File(str(path), header_only=True) as exr:  # values die with the file
        header = exr.header()
        ratio = float(header.get("pixelAspectRatio", 1.0))
        chromaticities = header.get("chromaticities")
        chromaticities = None if chromaticities is None else tuple(map(float, chromaticities))
    return {
        "pixel_aspect": Fraction(ratio).limit_denominator(1000) if ratio > 0 else Fraction(1),
        "chromaticities": chromaticities,
    }


def iter_sequence_frames(folder: Path) -> Iterator[np.ndarray]:
    """Yield the frames of a sequence folder in order, one at a time.

    Raises
    ------
    MediaError
        If a frame differs in size or sample type from the first (a DPX frame also in bit
        depth or transfer, which the output is written with), naming that file.
    """
    files = list_sequence(folder)
    reference: str | None = None
    for path in files:
        header = dpx.read_header(path) if path.suffix.lower() == ".dpx" else None
        image = read_image(path) if header is None else dpx.read_dpx(path, header)
        signature = _frame_signature(image, header)
        if reference is None:
            reference = signature
        elif signature != reference:
            raise MediaError(f"is {signature}, but the sequence started {reference}", path)
        yield image


def _frame_signature(image: np.ndarray, header: dpx.DpxHeader | None) -> str:
    """``"1280x720 uint16"`` (a DPX frame, with its `header`: ``"1280x720 uint16, 10-bit DPX
    (ITU-R 709)"``): what every frame of a sequence shares with the first."""
    signature = f"{image.shape[1]}x{image.shape[0]} {image.dtype}"
    if header is None:
        return signature
    return f"{signature}, {header.bit_depth}-bit DPX ({header.transfer_name})"


def check_sequence_target(folder: str | Path, stem: str = DEFAULT_STEM) -> None:
    """Refuse, before any work, to write an image sequence into `folder` unless it is new,
    empty, or holds only a sequence a facecast writer of the same `stem` wrote
    (``<stem>.<number>.<image extension>`` files: a previous render, which is replaced).

    Raises
    ------
    MediaError
        When `folder` is a file or holds anything else (the user's own frames, other files).
    """
    folder = Path(folder)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise MediaError("exists and is not a folder; refusing to overwrite", folder)
    pattern = re.compile(rf"{re.escape(stem)}\.\d+\.[A-Za-z]+")
    others = [
        p.name
        for p in folder.iterdir()
        if not (p.is_file() and pattern.fullmatch(p.name) and p.suffix.lower() in IMAGE_SUFFIXES)
    ]
    if others:
        raise MediaError(
            f"exists and holds files facecast did not write ({others[0]}, ...): refusing to "
            f"overwrite; give a new or empty folder (a previous {stem}.N sequence is replaced)",
            folder,
        )


class SequenceWriter:
    """Write frames as ``<stem>.<index>.<ext>`` files into a folder, atomically.

    Frames go into a hidden temporary folder beside `folder`, which is renamed into place by a
    successful `close` and removed if the writer is left through an exception.

    Parameters
    ----------
    folder
        Destination folder (must not exist yet, or be an empty folder).
    extension
        ``"png"``, ``"tiff"``, ``"jpg"``, ``"exr"`` or ``"dpx"``.
    stem
        File-name prefix; frames are numbered from `first_index` with `digits` digits (at least).
    pixel_aspect
        Written into the header of EXR and DPX frames (`write_image`).
    attributes
        Attributes written into the header of EXR frames, or a DPX's header fields
        (`write_image`).
    attributes_from
        EXR or DPX files of the writer's format, one per frame in order (the plate's): each
        EXR frame written carries its picture attributes (`exr_attributes`: timecode,
        chromaticities, ...), `attributes` winning where both name one; each DPX frame its
        header (`facecast.media.dpx.write_dpx`'s template: timecode, film and transfer fields).
    start_timecode, fps
        The plate's start timecode (``HH:MM:SS:FF``) and rate: each EXR or DPX frame gets its
        own timecode (`facecast.media.timecode.timecode`), unless its plate frame gives one.
    label
        What made the frames, written into each (`write_image`: EXR comments, DPX creator,
        PNG/JPEG/TIFF description and XMP).
    """

    def __init__(
        self,
        folder: str | Path,
        extension: str = "png",
        stem: str = DEFAULT_STEM,
        first_index: int = 0,
        digits: int = 6,
        pixel_aspect: float = 1.0,
        attributes: dict[str, object] | None = None,
        attributes_from: list[Path] | None = None,
        start_timecode: str | None = None,
        fps: Fraction = Fraction(24),
        label: str | None = None,
    ) -> None:
        self.folder = Path(folder)
        check_sequence_target(self.folder, stem)
        self.temp_folder = self.folder.with_name(f".{self.folder.name}.partial")
        shutil.rmtree(self.temp_folder, ignore_errors=True)
        self.temp_folder.mkdir(parents=True)
        self.extension = extension.lstrip(".")
        self.stem = stem
        self.frames_written = 0
        self.first_index = first_index
        self.digits = digits
        self.pixel_aspect = pixel_aspect
        self.attributes = dict(attributes or {})
        headed = self.extension in ("exr", "dpx")  # formats with a timecode in the header
        self.attributes_from = attributes_from if headed else None
        self.start_timecode = start_timecode if headed else None
        self.fps = fps
        self.label = label

    def write(self, frame: np.ndarray | Windowed) -> None:
        """Write the next frame (RGB/RGBA ``uint8``/``uint16``/``float16``/``float32``, or a
        single channel; a `Windowed` one as its window in EXR)."""
        index = self.first_index + self.frames_written
        name = f"{self.stem}.{index:0{self.digits}d}.{self.extension}"
        path = self.temp_folder / name
        write_image(path, frame, self.pixel_aspect, self._attributes_of_next(), self.label)
        self.frames_written += 1

    def _attributes_of_next(self) -> dict:
        """Header attributes of the next EXR or DPX frame: its plate frame's, a timecode
        counted from `start_timecode`, then this writer's own `attributes`."""
        attributes: dict = {}
        code = self.start_timecode and timecode(self.frames_written, self.fps, self.start_timecode)
        plate_frame = None
        if self.attributes_from is not None and self.frames_written < len(self.attributes_from):
            plate_frame = self.attributes_from[self.frames_written]
        if self.extension == "dpx":  # the plate frame's header wins over the counted timecode
            attributes = {"timecode": code or None, "template": plate_frame}
        elif self.extension == "exr":
            if code:
                attributes["timeCode"] = exr_timecode(code)
            if plate_frame is not None:
                attributes.update(exr_attributes(plate_frame))
        return {**attributes, **self.attributes}

    def close(self) -> Path:
        """Put the finished frames in place of the folder (empty, or a previous sequence of
        this writer's: `check_sequence_target`)."""
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.temp_folder.rename(self.folder)
        return self.folder

    def abort(self) -> None:
        shutil.rmtree(self.temp_folder, ignore_errors=True)

    def __enter__(self) -> SequenceWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
