"""Footage in and out: video files (PyAV) and image sequences (PNG/JPEG/TIFF/EXR/DPX).

`open_plate` is the front door: it probes a path and returns a `Plate` that streams frames.
`open_writer` picks a video or sequence writer from the output path.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import numpy as np

from facecast.errors import MediaError
from facecast.media.sequence import (
    DEFAULT_STEM,
    IMAGE_SUFFIXES,
    SequenceWriter,
    check_sequence_target,
    iter_sequence_frames,
    list_sequence,
    probe_sequence,
    read_image,
    write_image,
)
from facecast.media.transfer import apply_matrix, linear_to_srgb
from facecast.media.types import ColourTags, ShotInfo
from facecast.media.video import (
    VIDEO_CODECS,
    VideoWriter,
    iter_video_frames,
    probe_video,
    variable_frame_times,
)

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_CODECS",
    "ColourTags",
    "Plate",
    "SequenceWriter",
    "ShotInfo",
    "VideoWriter",
    "check_sequence_output",
    "check_sequence_target",
    "check_video_output",
    "default_sequence_format",
    "default_video_codec",
    "dpx_bit_depth",
    "open_plate",
    "open_writer",
    "plate_frame_times",
    "read_image",
    "sequence_writer",
    "to_uint8",
    "write_image",
]


@dataclass(frozen=True)
class Plate:
    """A shot on disk: its description and a way to stream its frames."""

    info: ShotInfo

    def frames(self, exact: bool = True) -> Iterator[np.ndarray]:
        """Yield RGB ``(H, W, 3)`` frames in the plate's own dtype (see `ShotInfo.dtype`).

        ``exact=False`` decodes video with FFmpeg's fast YUV-to-RGB conversion, for the face
        analysis (`facecast.media.video.iter_video_frames`); sequences are read as they are.
        """
        if self.info.kind == "video":
            info = self.info
            return iter_video_frames(
                info.path, info.frame_count, info.dtype, info.rotation, exact=exact
            )
        return iter_sequence_frames(self.info.path)


def open_plate(path: str | Path, fps: Fraction | None = None) -> Plate:
    """Probe a video file or an image-sequence folder.

    Parameters
    ----------
    path
        A video file (any container/codec FFmpeg reads) or a folder of numbered images.
    fps
        Frame rate of an image sequence (default: a DPX header's, else 24); ignored for video
        files.

    Raises
    ------
    MediaError
        One line naming the path and the problem: missing, empty, not a video, truncated, ...
    """
    path = Path(path)
    if not path.exists():
        raise MediaError("does not exist", path)
    if path.is_dir():
        return Plate(probe_sequence(path, fps))
    if path.suffix.lower() in IMAGE_SUFFIXES:
        raise MediaError("is a single image; pass the folder of an image sequence", path)
    return Plate(probe_video(path))


def open_writer(
    path: str | Path,
    info: ShotInfo,
    *,
    codec: str | None = None,
    copy_audio: bool = True,
    crf: int | None = None,
    threads: int | None = None,
    frame_times: Sequence[Fraction] | Literal["plate"] | None = "plate",
    label: str | None = None,
) -> VideoWriter | SequenceWriter:
    """Open a writer matching `info` (size, rate, timecode; audio copied from ``info.path``).

    `threads` sets a video encoder's thread count (default `ENCODER_THREADS`). `frame_times`:
    the frame times of a variable-frame-rate plate (`variable_frame_times`), read from the plate
    by default (``"plate"``); ``None`` writes at the plate's mean rate.

    A path with a video extension gives a `VideoWriter` at the plate's bit depth (codec: `codec`,
    else `default_video_codec`); any other path is a folder for an image sequence, whose format
    is `codec` (else `default_sequence_format`: ``png``, ``exr`` or ``dpx``; ``tiff``, ``jpg``).
    `label` is what the output says made it (which render, AI-altered): a video's container
    ``comment``, each EXR frame's ``comments``, each DPX frame's creator field, each PNG, JPEG
    or TIFF frame's description and XMP (`facecast.media.labels`).

    Raises
    ------
    MediaError
        For a video path when the plate is scene-linear float (EXR), which video cannot hold.
    """
    path = Path(path)
    if path.suffix.lower() in {".mp4", ".mov", ".mkv", ".m4v"}:
        check_video_output(path, info, codec)
        audio = info.path if copy_audio and info.kind == "video" and info.audio_streams else None
        metadata = {"timecode": info.timecode} if info.timecode else {}
        if label:
            metadata["comment"] = label
        return VideoWriter(
            path,
            info.width,
            info.height,
            info.fps,
            codec=codec or default_video_codec(path, info),
            bit_depth=info.bit_depth,
            colour=info.colour,
            rotation=info.rotation,
            pixel_aspect=info.pixel_aspect,
            frame_times=plate_frame_times(info) if frame_times == "plate" else frame_times,
            audio_from=audio,
            crf=crf,
            metadata=metadata,
            **({} if threads is None else {"threads": threads}),
        )
    if path.suffix:
        raise MediaError(f"unsupported output extension {path.suffix!r}", path)
    check_sequence_output(path, info, codec)
    extension = codec or default_sequence_format(info)
    return sequence_writer(path, info, extension, label=label or None)


def sequence_writer(
    path: str | Path,
    info: ShotInfo,
    extension: str,
    stem: str = DEFAULT_STEM,
    attributes: dict[str, object] | None = None,
    label: str | None = None,
) -> SequenceWriter:
    """A `SequenceWriter` into the folder `path` for frames of the plate `info` describes:
    numbered as the plate's frames, with its pixel aspect, and, in EXR or DPX, each plate
    frame's header (an EXR plate to EXR, a DPX plate to DPX) or its own timecode counted from
    the plate's (a video or DPX plate), then `attributes`. DPX frames are written at
    `dpx_bit_depth` and the plate's rate; every frame carries `label`."""
    if extension == "dpx":
        fields = {"bit_depth": dpx_bit_depth(info), "frame_rate": float(info.fps)}
        attributes = {**fields, **(attributes or {})}
    return SequenceWriter(
        path,
        extension=extension,
        stem=stem,
        first_index=info.first_frame,
        digits=info.frame_digits,
        pixel_aspect=float(info.pixel_aspect),
        attributes=attributes,
        attributes_from=plate_files(info, extension),
        start_timecode=info.timecode,
        fps=info.fps,
        label=label,
    )


def dpx_bit_depth(info: ShotInfo) -> int:
    """Bits per sample of a DPX output of the plate `info` describes: a DPX plate's own; 8 for
    an 8-bit plate, 10 for a float (EXR) one (Cineon log), else the smallest of 10, 12 and 16
    that holds the plate's depth."""
    if info.dpx_sequence:
        return info.bit_depth
    if info.dtype == "uint8":
        return 8
    if info.dtype == "float32":
        return 10
    return next(depth for depth in (10, 12, 16) if depth >= min(info.bit_depth, 16))


def plate_files(info: ShotInfo, extension: str) -> list[Path] | None:
    """The frame files of a sequence plate whose format is `extension` (``"exr"``, ``"dpx"``),
    in order (their headers go to outputs of that format made from them); ``None`` for any
    other plate."""
    if info.kind != "sequence" or info.codec != extension:
        return None
    return list_sequence(Path(info.path))


def plate_frame_times(info: ShotInfo) -> list[Fraction] | None:
    """The frame times of a variable-frame-rate video plate, else ``None`` (`VideoWriter`)."""
    return variable_frame_times(info.path) if info.kind == "video" else None


def check_video_output(path: Path, info: ShotInfo, codec: str | None = None) -> None:
    """Refuse, before any work, a video output that cannot hold the plate: a scene-linear float
    plate (EXR, log DPX), or an odd frame size in H.264 (`codec`, else `default_video_codec`).

    Raises
    ------
    MediaError
        Naming `path` and what to use instead.
    """
    if info.log:
        raise MediaError(
            f"a log DPX plate ({info.transfer}) is swapped in scene-linear light and written as "
            "an image sequence (DPX by default): give a folder without an extension as the output",
            path,
        )
    if info.dtype == "float32":
        raise MediaError(
            "a scene-linear (float EXR) plate is written as an image sequence: "
            "give a folder without an extension as the output",
            path,
        )
    upright = (info.width, info.height)
    if (codec or default_video_codec(path, info)) == "h264" and (upright[0] % 2 or upright[1] % 2):
        raise MediaError(
            f"H.264 needs an even frame size and the plate is {upright[0]}x{upright[1]}: "
            "use --codec prores4444 (.mov), --codec ffv1 (.mkv) or an image-sequence folder",
            path,
        )


#: Image formats of a sequence output, with the pixel types each can hold.
SEQUENCE_FORMATS = {
    "png": ("uint8", "uint16"),
    "tiff": ("uint8", "uint16", "float32"),
    "exr": ("uint8", "uint16", "float32"),
    "dpx": ("uint8", "uint16", "float32"),
    "jpg": ("uint8",),
}


def default_sequence_format(info: ShotInfo) -> str:
    """The image format a sequence output gets when none is asked for: DPX for a DPX plate
    (at its depth and transfer), OpenEXR for a scene-linear float plate, PNG (8 or 16 bits,
    as the plate) otherwise."""
    if info.dpx_sequence:
        return "dpx"
    return "exr" if info.dtype == "float32" else "png"


def check_sequence_output(path: Path, info: ShotInfo, codec: str | None = None) -> None:
    """Refuse, before any work, an image-sequence output whose format (`codec`, else
    `default_sequence_format`) is unknown or cannot hold the plate's pixels: a float EXR plate
    as PNG or JPEG (OpenCV would cut linear light to 0 and 1), a 16-bit plate as JPEG.
    An integer plate written as EXR is converted to linear light (`write_image`); a float
    plate written as DPX to 10-bit Cineon log codes.

    Raises
    ------
    MediaError
        Naming `path` and what to use instead.
    """
    name = codec or default_sequence_format(info)
    if name not in SEQUENCE_FORMATS:
        raise MediaError(
            f"unknown image format {name!r} for a sequence (use {', '.join(SEQUENCE_FORMATS)})",
            path,
        )
    if info.dtype not in SEQUENCE_FORMATS[name]:
        holds = "8-bit" if name == "jpg" else "8- and 16-bit"
        raise MediaError(
            f"{name.upper()} holds {holds} pixels and the plate is {info.dtype}: "
            f"use --codec {'exr, dpx or tiff' if info.dtype == 'float32' else 'png, tiff or exr'}",
            path,
        )


def default_video_codec(path: Path, info: ShotInfo) -> str:
    """The codec a video output gets when none is asked for: H.264 for an 8-bit plate; for a
    deeper one (10-bit ProRes, 16-bit PNG, ...) ProRes 4444 in ``.mov``, FFV1 in ``.mkv`` and
    10-bit H.264 otherwise, so the plate's precision is not cut to 8 bits."""
    if info.bit_depth <= 8:
        return "h264"
    return {".mov": "prores4444", ".mkv": "ffv1"}.get(path.suffix.lower(), "h264")


def to_uint8(frame: np.ndarray, into_rec709: np.ndarray | None = None) -> np.ndarray:
    """Convert an RGB frame of any supported dtype to ``uint8`` for analysis (display-referred).

    ``uint16`` is scaled by 1/257; ``float32`` EXR is taken into Rec.709 primaries by the
    ``(3, 3)`` `into_rec709` when its own differ (`facecast.media.transfer.to_rec709` of
    `ShotInfo.chromaticities`), clipped to [0, 1] and encoded with the sRGB transfer curve.
    """
    if frame.dtype == np.uint8:
        return frame
    if frame.dtype == np.uint16:
        return (frame // 257).astype(np.uint8)
    if into_rec709 is not None:
        frame = apply_matrix(frame, into_rec709)
    srgb = linear_to_srgb(np.clip(frame, 0.0, 1.0))
    return np.round(srgb * 255.0).astype(np.uint8)
