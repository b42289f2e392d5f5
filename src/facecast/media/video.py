"""Video files through PyAV: probe, stream frames, write with the source's audio copied through.

Frames are ``uint8`` RGB arrays of shape ``(H, W, 3)``. Nothing here holds more than one decoded
frame at a time, so memory stays flat however long the shot is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation

from facecast.errors import MediaError
from facecast.media.limits import check_frame_size
from facecast.media.types import ColourTags, FrameDtype, ShotInfo

#: Threads an encoder runs on unless told otherwise, whatever the machine: x264's and FFV1's
#: output bytes change with their thread count (by default one per core), so a fixed count
#: makes a render give the same file on a laptop and on a farm node (tested with the process
#: held to one CPU and to two). On two cores, 2 is as fast as FFmpeg's default for a transcode
#: and cheaper than 4 inside a swap, where the frames are swapped on the same cores (render
#: pass of weekly_address_clip1, three A/B pairs: 9.3/10.5/9.5 CPU s at 2, 10.7/10.7/9.7 at 4).
#: A render farm raises it per render (`RenderSettings.encoder_threads`, in the manifest).
ENCODER_THREADS = 2
#: How frames are converted between the codec's YUV and RGB, both ways: bilinear chroma, full
#: chroma interpolation and accurate rounding, on one thread (the same bytes on any machine).
#: FFmpeg's default fast path from 4:2:0 to RGB is biased: it decoded weekly_address_clip1
#: 1.0 / 1.4 / 1.1 levels (R / G / B) darker than the exact BT.601 conversion, so every H.264
#: output was about 1.2 levels darker than its plate over the whole frame (a plate-minus-output
#: difference lit up everywhere). With these flags the bias is below 0.02 levels, at 6.7
#: instead of 2.8 ms per 720p frame to RGB and 4.4 instead of 3.2 ms back.
_CONVERSION = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
#: Time base of a variable-frame-rate output's timestamps.
_VARIABLE_TIME_BASE = Fraction(1, 90000)
#: A plate whose frame durations differ from their median by more than this share is written
#: with its own timestamps (`variable_frame_times`).
_RATE_TOLERANCE = 0.02
#: Packed RGB pixel formats of the frame dtypes a video is read and written in.
_RGB_FORMATS = {"uint8": "rgb24", "uint16": "rgb48le"}
#: Output codecs by name: (PyAV codec, pixel format, options).
VIDEO_CODECS: dict[str, tuple[str, str, dict[str, str]]] = {
    "h264": ("libx264", "yuv420p", {"crf": "12", "preset": "medium"}),
    "prores4444": ("prores_ks", "yuv444p10le", {"profile": "4", "vendor": "apl0"}),
    "ffv1": ("ffv1", "yuv444p", {}),
}
#: Pixel formats for frames of more than 8 bits per sample, by codec: the deepest each encoder
#: takes (H.264 High 10, ProRes 4444 at 10 bits) and, for FFV1, the plate's own depth rounded
#: up to 10, 12 or 16 bits (keys: the deepest bit depth each format holds).
DEEP_PIXEL_FORMATS: dict[str, dict[int, str]] = {
    "h264": {16: "yuv420p10le"},
    "prores4444": {16: "yuv444p10le"},
    "ffv1": {10: "yuv444p10le", 12: "yuv444p12le", 16: "yuv444p16le"},
}


def _open_input(path: Path) -> av.container.InputContainer:
    """Open a media file for reading, turning every failure into a one-line `MediaError`."""
    if not path.exists():
        raise MediaError("file does not exist", path)
    if path.is_dir():
        raise MediaError("is a folder, not a video file", path)
    try:
        return av.open(str(path), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as error:
        raise MediaError(f"cannot be opened as video ({_ffmpeg_reason(error)})", path) from None


def _ffmpeg_reason(error: Exception) -> str:
    """The short reason from an FFmpeg error, without the path PyAV appends."""
    reason = getattr(error, "strerror", None) or str(error)
    return reason.split(":")[0].strip() or type(error).__name__


def probe_video(path: Path) -> ShotInfo:
    """Read a video file's geometry, rate, frame count and audio without decoding all frames.

    Raises
    ------
    MediaError
        If the file is missing, not a video, has no video stream or an oversized frame.
    """
    with _open_input(path) as container:
        if not container.streams.video:
            raise MediaError("holds no video stream", path)
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        check_frame_size(width, height, path)
        fps = stream.average_rate or stream.guessed_rate or Fraction(24)
        frame_count = stream.frames or _count_frames(container, stream)
        timecode = _tag(stream.metadata, "timecode") or _tag(container.metadata, "timecode")
        bit_depth = _bit_depth(stream)
        rotation = _display_rotation(container, path)
        if rotation % 180:
            width, height = height, width
        return ShotInfo(
            path=path,
            kind="video",
            width=width,
            height=height,
            fps=Fraction(fps),
            frame_count=int(frame_count),
            dtype="uint8" if bit_depth <= 8 else "uint16",
            codec=stream.codec_context.name,
            audio_streams=len(container.streams.audio),
            timecode=timecode,
            bit_depth=bit_depth,
            colour=_colour_tags(stream.codec_context),
            rotation=rotation,
            pixel_aspect=_pixel_aspect(stream, rotation),
        )


def _colour_tags(context: av.video.codeccontext.VideoCodecContext) -> ColourTags:
    """The matrix, range, primaries and transfer a video stream is tagged with."""
    return ColourTags(
        int(context.colorspace),
        int(context.color_range),
        int(context.color_primaries),
        int(context.color_trc),
    )


def _pixel_aspect(stream: av.video.VideoStream, rotation: int) -> Fraction:
    """Width over height of an upright frame's pixel (the stream's sample aspect ratio, turned
    with the frame by `rotation`); 1 when the file does not say."""
    context = stream.codec_context
    stored = Fraction(stream.sample_aspect_ratio or context.sample_aspect_ratio or 1)
    return 1 / stored if rotation % 180 else stored


def _display_rotation(container: av.container.InputContainer, path: Path) -> int:
    """Counter-clockwise quarter turn (0, 90, 180, 270 degrees) of a video's display matrix,
    read from its first frame (the container is rewound afterwards).

    Raises
    ------
    MediaError
        If the matrix turns the picture by an angle that is not a multiple of 90 degrees.
    """
    try:
        first = next(container.decode(video=0), None)
    except av.error.FFmpegError:
        first = None  # the decode itself reports the damage, with the frame number
    container.seek(0)
    degrees = 0.0 if first is None else float(first.rotation)
    if abs(degrees / 90 - round(degrees / 90)) > 1e-3:
        raise MediaError(f"display matrix turns the picture by {degrees:g} degrees", path)
    return round(degrees / 90) % 4 * 90


def _tag(metadata: dict[str, str], name: str) -> str | None:
    """A container or stream tag by name in any case (Matroska writes ``TIMECODE``, QuickTime
    and MP4 ``timecode``)."""
    return next((value for key, value in metadata.items() if key.lower() == name), None)


def _bit_depth(stream: av.video.VideoStream) -> int:
    """Bits per sample of a video stream's pixel format (8 when the header does not say)."""
    pixel_format = stream.codec_context.format
    if pixel_format is None or not pixel_format.components:
        return 8
    return max(component.bits for component in pixel_format.components)


def variable_frame_times(path: Path) -> list[Fraction] | None:
    """Start time of every frame of a variable-frame-rate video (seconds from the first), read
    from its packets without decoding; ``None`` when the frames are evenly spaced (within
    `_RATE_TOLERANCE` of their median duration), as almost every camera and editor writes."""
    with _open_input(path) as container:
        stream = container.streams.video[0]
        packets = container.demux(stream)
        stamps = sorted(packet.pts for packet in packets if packet.size and packet.pts is not None)
        time_base = stream.time_base
    if len(stamps) < 3:
        return None
    times = [(stamp - stamps[0]) * time_base for stamp in stamps]
    durations = np.diff(np.array(times, dtype=np.float64))
    median = float(np.median(durations))
    if median <= 0 or np.max(np.abs(durations - median)) <= _RATE_TOLERANCE * median:
        return None
    return times


def _count_frames(container: av.container.InputContainer, stream: av.video.VideoStream) -> int:
    """Count frames by demuxing packets (no decode) when the header does not say."""
    count = sum(1 for packet in container.demux(stream) if packet.size)
    container.seek(0)
    return count


def iter_video_frames(
    path: Path,
    expected_frames: int | None = None,
    dtype: FrameDtype = "uint8",
    rotation: int = 0,
    exact: bool = True,
) -> Iterator[np.ndarray]:
    """Yield every frame of a video file as RGB ``(H, W, 3)``.

    Parameters
    ----------
    path
        The video file.
    expected_frames
        Frame count promised by the header. When decoding yields fewer than 95% of them the
        file is reported as truncated rather than silently producing a short shot.
    dtype
        ``"uint8"``, or ``"uint16"`` (full 16-bit range) for a plate of more than 8 bits per
        sample (`ShotInfo.dtype`), so none of its precision is lost.
    rotation
        `ShotInfo.rotation`: each frame is turned upright by that many degrees
        counter-clockwise.
    exact
        Convert YUV to RGB with `_CONVERSION` (the pixels a swap writes back). ``False`` takes
        FFmpeg's fast default, up to 1.4 levels dark and 4 ms less per 720p frame: what the
        face analysis has always read, so its tracks are those of earlier versions (changing
        only that conversion moved the demo's tracked landmarks enough to turn its "closer to
        the character than the actor" reading from 82-84% of frames to 70-71%).

    Raises
    ------
    MediaError
        If the file cannot be opened, a packet cannot be decoded, or the file ends early.
    """
    if dtype not in _RGB_FORMATS:
        raise ValueError(f"video frames are uint8 or uint16, not {dtype}")
    rgb_format = _RGB_FORMATS[dtype]
    turns = rotation // 90 % 4
    decoded = 0
    with _open_input(path) as container:
        if not container.streams.video:
            raise MediaError("holds no video stream", path)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                decoded += 1
                rgb = (
                    frame.reformat(format=rgb_format, interpolation=_CONVERSION, threads=1)
                    if exact
                    else frame.reformat(format=rgb_format)
                ).to_ndarray()
                yield np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb
        except av.error.FFmpegError as error:
            raise MediaError(
                f"decoding failed after frame {decoded} ({_ffmpeg_reason(error)})", path
            ) from None
    if decoded == 0:
        raise MediaError("holds no decodable frame (empty or truncated file)", path)
    if expected_frames and decoded < 0.95 * expected_frames:
        raise MediaError(
            f"is truncated: the header promises {expected_frames} frames, {decoded} decoded", path
        )


class VideoWriter:
    """Write RGB frames (``uint8`` or ``uint16``) to a video file, copying audio from a source.

    The file is written under a temporary name beside `path` and renamed only by a successful
    `close`; if the writer is left through an exception the temporary file is removed, so a
    half-written output never looks complete.

    Parameters
    ----------
    path
        Output file; its extension picks the container (``.mp4``, ``.mov``, ``.mkv``).
    width, height
        Frame size in pixels; H.264 needs both even.
    fps
        Frame rate as an exact rational (``Fraction(30000, 1001)`` for 29.97).
    codec
        A key of `VIDEO_CODECS`: ``"h264"`` (default), ``"prores4444"`` or ``"ffv1"``.
    audio_from
        A media file whose audio streams are copied packet for packet (no re-encode).
    crf
        Constant rate factor for H.264 (lower is better). The default, 12, keeps the untouched
        pixels of a watermarked swap at 41.9-43.6 dB PSNR against the plate on the weekly
        address clips (a plain decode + encode of weekly_address_clip1: 48.1 dB).
    metadata
        Container metadata to write, e.g. ``{"comment": ...}``; a source timecode is passed here.
    threads
        Encoder threads (`ENCODER_THREADS` by default). The output bytes depend on it, not on
        the machine.
    colour
        The plate's colour tags (`ShotInfo.colour`). When any is specified, frames are converted
        to YUV with the plate's matrix and range and the stream carries all four tags, so the
        output reads as the plate does wherever tags are honoured (an HD BT.709 plate written
        with the encoder's default BT.601 matrix and no tags shifts colours by up to several
        levels in such a reader); unspecified tags leave the encoder's defaults.
    rotation
        The plate's `ShotInfo.rotation`. Frames are given upright (`width` x `height`) and
        stored turned back, under the same display matrix, as the plate's are.
    frame_times
        Start time (seconds from the first frame) of each frame of a variable-frame-rate plate
        (`variable_frame_times`): frame ``i`` is written at ``frame_times[i]`` instead of
        ``i / fps``, so the output keeps the plate's timing and its sync with the audio.
    pixel_aspect
        The plate's `ShotInfo.pixel_aspect` (of upright frames), written as the stream's sample
        aspect ratio so an anamorphic output is displayed as its plate is.
    bit_depth
        Bits per sample of the plate. Above 8 the stream is encoded deeper
        (`DEEP_PIXEL_FORMATS`: H.264 High 10, ProRes 4444 10-bit, FFV1 at 10, 12 or 16 bits),
        so a 10-bit plate's off-face pixels keep their 10 bits; 8 gives the codec's 8-bit format
        (ProRes 4444 is always 10-bit).
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: Fraction,
        *,
        codec: str = "h264",
        audio_from: str | Path | None = None,
        crf: int | None = None,
        metadata: dict[str, str] | None = None,
        threads: int = ENCODER_THREADS,
        bit_depth: int = 8,
        colour: ColourTags | None = None,
        rotation: int = 0,
        pixel_aspect: Fraction = Fraction(1),
        frame_times: Sequence[Fraction] | None = None,
    ) -> None:
        if codec not in VIDEO_CODECS:
            raise MediaError(f"unknown codec {codec!r}; choose from {sorted(VIDEO_CODECS)}", path)
        self.path = Path(path)
        self.temp_path = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.frames_written = 0
        codec_name, pix_fmt, options = VIDEO_CODECS[codec]
        pix_fmt = pixel_format(codec, bit_depth)
        options = dict(options)
        if crf is not None and codec == "h264":
            options["crf"] = str(crf)
        self.bit_depth = bit_depth
        self._turns = rotation // 90 % 4
        self.width, self.height = width, height
        if self._turns % 2:
            width, height = height, width
        if codec == "h264" and (width % 2 or height % 2):
            raise MediaError(f"H.264 needs an even frame size, got {width}x{height}", path)
        try:
            self._container = av.open(
                str(self.temp_path),
                mode="w",
                format=_format_for(self.path),
                container_options={"fflags": "+bitexact"},
            )
        except av.error.FFmpegError as error:
            raise MediaError(f"cannot be written ({_ffmpeg_reason(error)})", path) from None
        for key, value in (metadata or {}).items():
            self._container.metadata[key] = value
        self._video = self._container.add_stream(codec_name, rate=fps, options=options)
        self._video.width, self._video.height, self._video.pix_fmt = width, height, pix_fmt
        if self._turns:
            self._video.set_display_rotation(self._turns * 90)
        if pixel_aspect != 1:
            stored_aspect = (
                1 / Fraction(pixel_aspect) if self._turns % 2 else Fraction(pixel_aspect)
            )
            self._video.codec_context.sample_aspect_ratio = stored_aspect
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self._video.codec_context.thread_count = threads
        self._colour = colour if colour is not None and colour.specified else None
        if self._colour is not None:
            context = self._video.codec_context
            context.colorspace, context.color_range = self._colour.matrix, self._colour.range
            context.color_primaries = self._colour.primaries
            context.color_trc = self._colour.transfer
        self._frame_seconds = 1 / Fraction(fps)
        self._times = None if frame_times is None else list(frame_times)
        if self._times is not None:  # timestamps finer than a frame: 1/90000 s, as MPEG uses
            self._video.codec_context.time_base = _VARIABLE_TIME_BASE
            self._video.time_base = _VARIABLE_TIME_BASE
        if metadata and "timecode" in metadata:
            self._video.metadata["timecode"] = metadata["timecode"]
        self._audio = _AudioCopier(Path(audio_from), self._container) if audio_from else None

    def write(self, frame: np.ndarray) -> None:
        """Encode one RGB ``(H, W, 3)`` frame, ``uint8`` or ``uint16`` (full 16-bit range)."""
        shape = (self.height, self.width, 3)
        if frame.dtype.name not in _RGB_FORMATS or frame.shape != shape:
            raise ValueError(f"expected uint8 or uint16 {shape}, got {frame.dtype} {frame.shape}")
        stored = np.rot90(frame, -self._turns) if self._turns else frame
        video_frame = av.VideoFrame.from_ndarray(
            np.ascontiguousarray(stored), format=_RGB_FORMATS[frame.dtype.name]
        )
        video_frame = self._to_stream_format(video_frame)
        video_frame.pts = self._pts(self.frames_written)
        self._container.mux(self._video.encode(video_frame))
        self.frames_written += 1
        if self._audio is not None:
            self._audio.copy_until(float(self._start(self.frames_written)))

    def _start(self, index: int) -> Fraction:
        """Seconds at which frame `index` starts (past the last plate time: at the mean rate)."""
        if self._times is None:
            return index * self._frame_seconds
        if index < len(self._times):
            return self._times[index]
        return self._times[-1] + (index - len(self._times) + 1) * self._frame_seconds

    def _pts(self, index: int) -> int:
        """Presentation timestamp of frame `index` in the stream's time base."""
        if self._times is None:
            return index
        return round(self._start(index) / _VARIABLE_TIME_BASE)

    def _to_stream_format(self, frame: av.VideoFrame) -> av.VideoFrame:
        """`frame` (RGB) in the stream's pixel format (`_CONVERSION`), by the plate's matrix and
        range and tagged with its colour tags when it has any."""
        if self._colour is None:
            return frame.reformat(format=self._video.pix_fmt, interpolation=_CONVERSION, threads=1)
        colour = self._colour
        return frame.reformat(
            format=self._video.pix_fmt,
            dst_colorspace=colour.matrix if colour.matrix != 2 else None,
            interpolation=_CONVERSION,
            dst_color_range=colour.range or None,
            dst_color_trc=colour.transfer,
            dst_color_primaries=colour.primaries,
            threads=1,
        )

    def close(self) -> Path:
        """Flush the encoder, copy the remaining audio, and rename the file into place."""
        self._container.mux(self._video.encode(None))
        if self._audio is not None:
            self._audio.copy_until(float("inf"))
            self._audio.close()
        self._container.close()
        self.temp_path.replace(self.path)
        return self.path

    def abort(self) -> None:
        """Stop writing and delete the temporary file."""
        if self._audio is not None:
            self._audio.close()
        with contextlib.suppress(Exception):
            self._container.close()
        self.temp_path.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def pixel_format(codec: str, bit_depth: int = 8) -> str:
    """The pixel format `VideoWriter` encodes `codec` in for a plate of `bit_depth` bits."""
    if bit_depth <= 8:
        return VIDEO_CODECS[codec][1]
    deep = DEEP_PIXEL_FORMATS[codec]
    return deep[min((depth for depth in deep if depth >= bit_depth), default=max(deep))]


def _format_for(path: Path) -> str | None:
    """Container format name for an output path (the temp name hides the extension from FFmpeg)."""
    return {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}.get(
        path.suffix.lower()
    )


class _AudioCopier:
    """Copy a source file's audio packets into an output container, interleaved by time."""

    def __init__(self, source: Path, output: av.container.OutputContainer) -> None:
        self._input = _open_input(source)
        self._output = output
        self._pairs = {}
        for in_stream in self._input.streams.audio:
            try:
                out_stream = output.add_stream_from_template(in_stream)
            except (av.error.FFmpegError, ValueError) as error:
                raise MediaError(
                    f"audio codec {in_stream.codec_context.name} cannot be copied "
                    f"({_ffmpeg_reason(error)})",
                    source,
                ) from None
            self._pairs[in_stream.index] = out_stream
        streams = list(self._input.streams.audio)
        self._packets = self._input.demux(*streams) if streams else iter(())
        self._pending: av.Packet | None = None

    def copy_until(self, seconds: float) -> None:
        """Mux every source audio packet that starts before `seconds`."""
        while True:
            packet = self._pending or next(self._packets, None)
            self._pending = None
            if packet is None:
                return
            if packet.dts is None or packet.size == 0:
                continue
            if packet.pts is not None and float(packet.pts * packet.time_base) >= seconds:
                self._pending = packet
                return
            packet.stream = self._pairs[packet.stream.index]
            self._output.mux(packet)

    def close(self) -> None:
        self._input.close()
