"""One shot, end to end. The only module that knows the whole order of a render:

1. load the character and check its consent;
2. analyse the plate into face tracks and the hands in front of them (or reuse a tracks file)
   and pick the target tracks;
3. stream the plate again: per frame, the engine renders each target face, the compositor
   relights and blends it (hands in front of the face stay in front), the watermark is embedded,
   the frame and its matte are written (on a background thread);
4. write the render manifest, sign Content Credentials when a signing identity is given, append
   to the consent ledger, and optionally write the quality report.

Outputs appear under their final names only when complete.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from functools import partial
from pathlib import Path

import cv2
import numpy as np

import facecast
from facecast.analysis import FaceAnalyzer, HandDetector, ShotTracks, analyze_plate, hand_mask
from facecast.analysis.eyewear import frame_mask, wears_glasses
from facecast.analysis.face import Face
from facecast.analysis.hands import OCCLUDING_HANDS, HandSearch
from facecast.analysis.shot import progress_bar
from facecast.character.asset import Character, load_character
from facecast.composite.compositor import (
    CompositedFace,
    CompositeSettings,
    composite_face,
    from_unit_float,
    to_unit_float,
    with_plate_range,
)
from facecast.composite.layer import changed_pixels, face_layer
from facecast.engines import create_engine
from facecast.errors import FaceNotFoundError, MediaError, ProvenanceError
from facecast.media import (
    Plate,
    SequenceWriter,
    ShotInfo,
    VideoWriter,
    check_sequence_output,
    check_sequence_target,
    check_video_output,
    default_sequence_format,
    default_video_codec,
    dpx_bit_depth,
    open_plate,
    open_writer,
    plate_frame_times,
    sequence_writer,
    to_uint8,
)
from facecast.media.aspect import chosen_pixel_aspect, square_view, to_square, to_stored
from facecast.media.background import BackgroundWriter, read_ahead
from facecast.media.sequence import DEFAULT_STEM
from facecast.media.transfer import apply_matrix, rec709_round_trip
from facecast.media.video import ENCODER_THREADS, pixel_format
from facecast.provenance.manifest import (
    MANIFEST_FORMAT,
    MANIFEST_VERSION,
    compute_render_id,
    manifest_path_for,
    sha256_file,
    software_versions,
    write_manifest,
)

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".m4v"}
#: Most frames swapped at once by default (each holds a few frames' worth of memory).
MAX_SWAP_THREADS = 8
#: File-name prefixes of the matte's and the face layer's frames in their folders.
MATTE_STEM, LAYER_STEM = "matte", "layer"
#: What every face-layer EXR says it is (its header's ``comments``).
LAYER_LABEL = (
    "facecast face layer: AI-generated face, premultiplied RGBA, scene-linear (video plates "
    "decoded with the sRGB curve); merged over the plate it rebuilds the swap's output"
)


def output_label(render_id: str) -> str:
    """What an output says made it (`open_writer`'s label): a video's ``comment``, an EXR's
    ``comments``, a DPX's creator field, a PNG/JPEG/TIFF's description and XMP."""
    version = facecast.__version__
    return f"facecast {version}: AI-altered frame (face replaced), render id {render_id}"


@dataclass
class RenderSettings:
    """Everything that shapes a render's pixels (recorded in the manifest).

    Attributes
    ----------
    engine
        ``"mesh"`` (default) or ``"neural"``.
    model
        Model folder for the neural engine.
    shape_strength
        Mesh engine: pull of the inner face toward the character's proportions, 0 to 1
        (``None``: the engine's default).
    steady_frames
        Temporal scale (Gaussian sigma, frames) over which each track's rigid head tremor is
        removed before rendering, without lag (`ShotTracks.with_steady_heads`); 0 renders the
        tracked landmarks as they are.
    track
        Swap only this track id; ``None`` picks the main track (longest, largest).
    all_faces
        Swap every tracked face.
    hands
        Treat hands in front of the face as occluders.
    glasses
        Keep the eyeglass frames of tracks that wear them (`facecast.analysis.eyewear`) in
        front of the character's face, as occluders; off, the character's skin covers them.
    watermark
        Embed the invisible watermark (always on for the CLI; tests of the raw pipeline may
        switch it off to measure the swap alone).
    codec
        Output codec (``h264``, ``prores4444``, ``ffv1``; image format for sequences).
    crf
        H.264 quality (lower is better).
    encoder_threads
        Threads of the video encoder. The output bytes depend on it (x264 and FFV1 decide
        differently with more threads), not on the machine's core count; a farm node with many
        cores may raise it.
    pixel_aspect
        Width over height of one stored pixel, for a plate whose file does not say (a 2x
        anamorphic scan as PNG: 2); ``None`` takes the plate's (`ShotInfo.pixel_aspect`). Faces
        are analysed and swapped in square pixels (`facecast.media.aspect`).
    composite
        Compositing settings.
    seed
        Seed recorded for engines that use randomness.
    """

    engine: str = "mesh"
    model: str | None = None
    shape_strength: float | None = None
    steady_frames: float = 2.5
    track: int | None = None
    all_faces: bool = False
    hands: bool = True
    glasses: bool = True
    watermark: bool = True
    codec: str | None = None
    crf: int | None = None
    encoder_threads: int = ENCODER_THREADS
    pixel_aspect: float | None = None
    composite: CompositeSettings = field(default_factory=CompositeSettings)
    seed: int = 0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["composite"] = self.composite.to_dict()
        return data


@dataclass
class RenderResult:
    """What a render produced, and how much of the shot it changed."""

    output: Path
    manifest: Path
    render_id: str
    frame_count: int
    swapped_frames: int
    target_tracks: list[int]
    matte: Path | None = None
    #: the face-layer folder (RGBA OpenEXR sequence), when one was asked for
    layer: Path | None = None
    tracks_file: Path | None = None
    credentials: str = "skipped"
    report: dict | None = None
    seconds: dict = field(default_factory=dict)
    #: the target tracks whose eyeglass frames were kept in front of the character
    glasses_tracks: list[int] = field(default_factory=list)
    #: how the output was written (`_encoding`): codec and pixel format, or format and dtype
    encoding: dict = field(default_factory=dict)
    #: the plate as it was read (depth, colour tags, pixel aspect, rotation)
    plate: ShotInfo | None = None
    #: the pixel aspect the output was written with, and the videos (output, matte) that do
    #: not say so when read back (`_stored_aspect`)
    pixel_aspect: Fraction = Fraction(1)
    aspect_unstored: list[Path] = field(default_factory=list)


def choose_tracks(tracks: ShotTracks, track: int | None, all_faces: bool, plate: Path) -> list[int]:
    """Track ids to swap.

    Raises
    ------
    FaceNotFoundError
        If the shot has no face at all, or `track` is not one of its tracks.
    """
    ids = tracks.track_ids()
    if not ids:
        raise FaceNotFoundError(
            "no face was found in any frame; nothing to swap (no output written)", plate
        )
    if all_faces:
        return ids
    if track is not None:
        if track not in ids:
            raise FaceNotFoundError(f"track {track} does not exist; tracks are {ids}", plate)
        return [track]
    return [tracks.main_track()]


def _check_paths(plate: Path, output: Path, matte: Path | None, layer: Path | None = None) -> None:
    """Refuse to overwrite an input, to write a matte or layer over the output or each other,
    an output or matte whose extension is neither a video container nor none (a folder), or a
    layer that is not a folder."""
    resolved = plate.resolve()
    for target in filter(None, (output, matte, layer)):
        if target.resolve() == resolved:
            raise MediaError("output would overwrite the plate; choose another path", target)
    if matte is not None and matte.resolve() == output.resolve():
        raise MediaError("matte and output are the same path", matte)
    if layer is not None and layer.resolve() in {p.resolve() for p in (output, matte) if p}:
        raise MediaError("the face layer needs a path of its own", layer)
    for target, what in ((output, "output"), (matte, "matte")):
        if target is not None and target.suffix and target.suffix.lower() not in VIDEO_SUFFIXES:
            raise MediaError(
                f"unsupported {what} extension {target.suffix!r} "
                "(use .mp4/.mov/.mkv, or a folder without an extension for an image sequence)",
                target,
            )
    if layer is not None and (layer.suffix or layer.is_file()):
        raise MediaError(
            "the face layer is written as an OpenEXR sequence: give a folder (no extension)",
            layer,
        )
    for target, stem in ((output, DEFAULT_STEM), (matte, MATTE_STEM), (layer, LAYER_STEM)):
        if target is not None and not target.suffix:
            check_sequence_target(target, stem)


def _matte_writer(
    path: Path, info: ShotInfo, threads: int, frame_times: list[Fraction] | None
) -> VideoWriter | SequenceWriter:
    """A writer for the per-frame matte of a plate described by `info`: lossless video (16-bit
    for a plate of more than 8 bits, timed as the plate: `frame_times`), or a 16-bit PNG
    sequence folder."""
    if path.suffix.lower() in VIDEO_SUFFIXES:
        codec = "ffv1" if path.suffix.lower() == ".mkv" else "h264"
        crf = 0 if codec == "h264" else None
        return VideoWriter(
            path,
            info.width,
            info.height,
            info.fps,
            codec=codec,
            crf=crf,
            threads=threads,
            rotation=info.rotation,
            pixel_aspect=info.pixel_aspect,
            frame_times=frame_times,
            bit_depth=16 if info.bit_depth > 8 else 8,
        )
    return sequence_writer(path, info, "png", MATTE_STEM)


def _matte_pixels(writer: VideoWriter | SequenceWriter, matte: np.ndarray) -> np.ndarray:
    """A ``float32 (H, W)`` matte in [0, 1] as grey RGB for video (16-bit for a deep writer,
    else 8-bit), a single 16-bit channel for PNG."""
    if isinstance(writer, SequenceWriter):
        return np.round(matte * 65535.0).astype(np.uint16)
    peak, dtype = (65535.0, np.uint16) if writer.bit_depth > 8 else (255.0, np.uint8)
    grey = np.round(matte * peak).astype(dtype)
    return np.repeat(grey[..., None], 3, axis=2)


def _layer_writer(path: Path, info: ShotInfo, render_id: str) -> SequenceWriter:
    """A writer for the face layer: an RGBA half-float OpenEXR sequence numbered as the plate,
    each frame's data window the layer's box (`face_layer`), each header saying what the pixels
    are and which render made them (and carrying an EXR plate frame's own attributes)."""
    label = {
        "comments": LAYER_LABEL,
        "facecast_render_id": render_id,
        "facecast_version": facecast.__version__,
    }
    return sequence_writer(path, info, "exr", LAYER_STEM, label)


def _swap_frame(
    frame: np.ndarray,
    faces: list[Face],
    engine,
    settings: CompositeSettings,
    hands: list[np.ndarray],
    with_matte: bool = True,
    glasses: frozenset[int] = frozenset(),
    rec709: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """Swap the given faces in one frame.

    `hands` holds ``float32 (21, 2)`` keypoints per hand in front of the faces (may be empty);
    the eyeglass frames of faces whose track is in `glasses` stay in front too. A float plate
    in other primaries than Rec.709 gives the ``(3, 3)`` matrices `rec709` into them and
    back (`facecast.media.transfer.rec709_round_trip`, `_composited`).
    Returns the new frame (plate dtype, ``(H, W, 3)``), the matte ``float32 (H, W)`` in
    [0, 1] (``None`` unless `with_matte`) and whether any face was put in (a matte above 0).
    """
    height, width = frame.shape[:2]
    matte = np.zeros((height, width), np.float32) if with_matte else None
    if not faces:
        return frame, matte, False
    preview = to_uint8(frame, None if rec709 is None else rec709[0])
    occluder = _occluders(preview, faces, hands, glasses)
    output = frame.copy()
    swapped = False
    for face in faces:
        layer = engine.render(preview, face)
        if layer is None:
            continue
        x0, y0, x1, y1 = layer.box
        original = output[y0:y1, x0:x1]
        new, result = _composited(original, layer, face, settings, occluder, rec709)
        output[y0:y1, x0:x1] = _pasted(new, original, result.changed)
        swapped = swapped or bool(result.matte.any())
        if matte is not None:
            matte[y0:y1, x0:x1] = np.maximum(matte[y0:y1, x0:x1], result.matte)
    return output, matte, swapped


def _composited(
    original: np.ndarray,
    layer,
    face: Face,
    settings: CompositeSettings,
    occluder: np.ndarray | None,
    rec709: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[np.ndarray, CompositedFace]:
    """One face composited over its box of plate pixels ``original (h, w, 3)``; returns the
    box in the plate's dtype and the compositor's result.

    The compositing works on display-referred values in [0, 1] of Rec.709 light (the
    character's photos are sRGB). A scene-linear float box is first taken into Rec.709
    primaries (`rec709`: into and back, for an ACEScg plate, say) and back after, so the character's
    colours keep their meaning, and what the [0, 1] range clipped (highlights above 1, colours
    outside Rec.709) goes back where the plate shows (`with_plate_range`).
    """
    working = original if rec709 is None else apply_matrix(original, rec709[0])
    result = composite_face(to_unit_float(working), layer, face, settings, occluder)
    new = from_unit_float(result.rgb, original.dtype)
    if original.dtype == np.float32:
        new = with_plate_range(new, working, result.matte)
        if rec709 is not None:
            new = apply_matrix(new, rec709[1])
    return new, result


def _occluders(
    frame: np.ndarray, faces: list[Face], hands: list[np.ndarray], glasses: frozenset[int]
) -> np.ndarray | None:
    """``float32 (H, W)`` in [0, 1]: what is in front of the faces of one ``uint8 RGB`` frame
    (hands, and the glasses of faces whose track wears them); ``None`` when nothing is."""
    height, width = frame.shape[:2]
    masks = [hand_mask(hands, (height, width))] if hands else []
    masks += [frame_mask(frame, face.landmarks) for face in faces if face.track_id in glasses]
    if not masks:
        return None
    return masks[0] if len(masks) == 1 else np.maximum.reduce(masks)


@dataclass(frozen=True)
class _FramePass:
    """What every frame of the swap pass is finished with (the shot's constants).

    `matte_writer` / `layer_writer` are set when a matte / face layer is written; `glasses`
    holds the tracks whose eyeglass frames stay in front; `pixel_aspect` is the plate's (the
    swap works in square pixels, `_squared_swap`); `rec709` takes a float plate's
    primaries into Rec.709 (`_composited`), ``None`` when they are Rec.709's."""

    engine: object
    settings: RenderSettings
    watermark: object | None
    matte_writer: VideoWriter | SequenceWriter | None = None
    layer_writer: SequenceWriter | None = None
    glasses: frozenset[int] = frozenset()
    pixel_aspect: Fraction = Fraction(1)
    rec709: tuple[np.ndarray, np.ndarray] | None = None


def _finished_frame(
    frame: np.ndarray, faces: list[Face], hands: list[np.ndarray], shot: _FramePass
) -> tuple[tuple[np.ndarray, ...], bool]:
    """One frame ready for the writers (run on a swap worker): the swapped frame, watermarked
    when the shot has a watermark, the matte's pixels for its matte writer and the face layer
    for its layer writer (`facecast.composite.layer.face_layer`), each if there is one.
    Returns those pixels, in that order, and whether a face was swapped."""
    swap = partial(
        _swap_frame,
        faces=faces,
        engine=shot.engine,
        settings=shot.settings.composite,
        hands=hands,
        with_matte=shot.matte_writer is not None or shot.layer_writer is not None,
        glasses=shot.glasses,
        rec709=shot.rec709,
    )
    if shot.pixel_aspect == 1:
        swapped_frame, matte, swapped = swap(frame)
    else:
        swapped_frame, matte, swapped = _squared_swap(frame, swap, shot.pixel_aspect)
    output = swapped_frame if shot.watermark is None else shot.watermark.apply(swapped_frame)
    pixels = [output]
    if shot.matte_writer is not None:
        pixels.append(_matte_pixels(shot.matte_writer, matte))
    if shot.layer_writer is not None:
        changed = changed_pixels(frame, swapped_frame)
        pixels.append(face_layer(output, frame, matte, changed))
    return tuple(pixels), swapped


def _squared_swap(
    frame: np.ndarray, swap: Callable, pixel_aspect: Fraction
) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """`swap` (`_swap_frame` of one frame) run on the frame in square pixels, its result
    squeezed back and pasted into the stored ``(H, W, 3)`` frame where the swap changed it;
    the matte is squeezed back too. Returns what `_swap_frame` returns, in stored pixels."""
    width = frame.shape[1]
    square = to_square(frame, pixel_aspect)
    output, matte, swapped = swap(square)
    if matte is not None:
        matte = np.clip(to_stored(matte, width), 0.0, 1.0)
    if not swapped:
        return frame, matte, False
    changed = np.any(output != square, axis=2).astype(np.uint8)
    touched = to_stored(changed, width) > 0  # any stored pixel the change reaches
    return _pasted(to_stored(output, width), frame, touched), matte, True


def _check_signable(output: Path, info: ShotInfo, codec: str | None) -> None:
    """Refuse, before any work, to sign an output C2PA cannot bind here (an MKV video, an
    EXR or DPX sequence): signing fails only after the render otherwise."""
    from facecast.provenance.credentials import MIME_TYPES

    suffix = output.suffix.lower() or f".{codec or default_sequence_format(info)}"
    if suffix not in MIME_TYPES:
        kind = "video" if output.suffix else "frames"
        raise ProvenanceError(
            f"C2PA credentials cannot be signed into {suffix} {kind}; write .mp4/.mov or a "
            "PNG/JPEG/TIFF sequence, or leave out the signing certificate",
            output,
        )


def _encoding(output: Path, info: ShotInfo, codec: str | None) -> dict:
    """How the output was written: ``{"codec", "pixel_format"}`` of a video file, or the image
    format and sample type of a sequence (and a DPX's bit depth and transfer: ``"log"`` for
    Cineon codes of scene-linear frames, else ``"code values"``)."""
    if output.suffix:
        codec = codec or default_video_codec(output, info)
        return {"codec": codec, "pixel_format": pixel_format(codec, info.bit_depth)}
    name = codec or default_sequence_format(info)
    encoding = {"codec": name, "dtype": "float32" if name == "exr" else info.dtype}
    if name == "dpx":
        transfer = "log" if info.dtype == "float32" else "code values"
        encoding |= {"bit_depth": dpx_bit_depth(info), "transfer": transfer}
    return encoding


def _stored_aspect(output: Path, aspect: Fraction) -> dict:
    """For a video output (or matte) of non-square pixels: the pixel aspect it was written with
    and whether the file says so when read back (``{"pixel_aspect": "2", "pixel_aspect_stored":
    True}``); empty otherwise. H.264 carries it in its bitstream and MOV in its ``pasp`` atom,
    but Matroska only takes the stream's own aspect, which PyAV cannot set, so an FFV1 MKV
    comes back square: the user has to be told."""
    if aspect == 1 or not output.suffix:
        return {}
    stored = open_plate(output).info.pixel_aspect
    return {
        "pixel_aspect": str(aspect),
        "pixel_aspect_stored": abs(float(stored) - float(aspect)) < 1e-3,
    }


def _pasted(new: np.ndarray, original: np.ndarray, changed: np.ndarray) -> np.ndarray:
    """``new`` where ``changed (h, w) bool`` is set, ``original`` elsewhere; both ``(h, w, 3)``
    of one dtype. Same as ``np.where(changed[..., None], new, original)``, forty times faster
    (OpenCV's masked copy instead of a broadcast select)."""
    pasted = original.copy()  # contiguous, as OpenCV writes only into contiguous arrays
    cv2.copyTo(new, np.ascontiguousarray(changed).view(np.uint8), pasted)
    return pasted


def render_shot(
    plate_path: str | Path,
    character_dir: str | Path,
    output: str | Path,
    *,
    settings: RenderSettings | None = None,
    matte: str | Path | None = None,
    layer: str | Path | None = None,
    tracks_file: str | Path | None = None,
    report_dir: str | Path | None = None,
    gallery: str | Path | None = None,
    signing=None,
    project_dir: str | Path | None = None,
    progress: bool = True,
    threads: int | None = None,
) -> RenderResult:
    """Replace the actor's face in a shot with a character's.

    Parameters
    ----------
    plate_path
        Video file or image-sequence folder.
    character_dir
        A character folder made by `facecast.character.create_character`.
    output
        Output video (``.mp4``/``.mov``/``.mkv``) or image-sequence folder.
    settings
        Engine, track choice, compositing and encoding settings.
    matte
        Where to write the per-frame alpha: a video file or a folder for 16-bit PNGs.
    layer
        A folder for the face layer: one premultiplied RGBA half-float OpenEXR per frame
        (`facecast.composite.layer`) that, merged over the plate, rebuilds the output.
    tracks_file
        Reuse a tracks JSON from `facecast analyze` instead of analysing again.
    report_dir
        Also write the quality report there.
    gallery
        Gallery folder of other people for the report's identity retrieval.
    signing
        A `facecast.provenance.credentials.SigningIdentity` to sign C2PA Content Credentials;
        without one the signature is skipped (and the manifest says so).
    project_dir
        Folder whose consent ledger records this render (default: the output's folder).
    progress
        Show progress bars on stderr.
    threads
        Frames swapped at once (default: one per CPU core, at most `MAX_SWAP_THREADS`). The
        output does not depend on it; engines that carry state between frames use one.

    Raises
    ------
    FacecastError
        For bad input: expired consent, unreadable plate, no face in the shot, bad paths.
    """
    settings = settings or RenderSettings()
    plate_path, output = Path(plate_path), Path(output)
    matte_path = Path(matte) if matte else None
    if matte_path is None and report_dir is not None:
        # the report measures the swapped region exactly when it has the matte
        Path(report_dir).mkdir(parents=True, exist_ok=True)
        matte_path = Path(report_dir) / "matte.mkv"
    layer_path = Path(layer) if layer else None
    _check_paths(plate_path, output, matte_path, layer_path)
    character, plate = _opened_inputs(plate_path, character_dir, output, settings, signing)
    timings: dict[str, float] = {}

    aspect = chosen_pixel_aspect(plate.info, settings.pixel_aspect)
    started = time.perf_counter()
    square = square_view(plate, aspect)
    tracks = _load_or_analyze(square, tracks_file, progress, settings.hands)
    timings["analyze"] = time.perf_counter() - started
    targets = choose_tracks(tracks, settings.track, settings.all_faces, plate_path)
    tracks_digest = tracks.digest()
    tracks = tracks.with_steady_heads(settings.steady_frames)

    engine = _prepared_engine(settings, character, tracks, targets)
    inputs = {
        "plate": {"path": plate_path.name, "sha256": sha256_file(plate_path)},
        "character": {"id": character.character_id, "sha256": character.digest()},
        "tracks_sha256": tracks_digest,
    }
    glasses = frozenset(
        track for track in targets if settings.glasses and wears_glasses(tracks.eyewear.get(track))
    )
    recorded = {
        **settings.to_dict(),
        "engine_settings": engine.settings(),
        "targets": targets,
        "glasses_kept": sorted(glasses),
    }
    versions = software_versions()
    render_id = compute_render_id(inputs, recorded, versions)

    started = time.perf_counter()
    unsigned = output.with_name(f".{output.stem}-unsigned{output.suffix}")
    threads = _swap_threads(engine, threads)
    swapped = _render_frames(
        plate,
        tracks,
        targets,
        engine,
        settings,
        unsigned,
        matte_path,
        render_id,
        progress,
        threads,
        glasses=glasses,
        pixel_aspect=aspect,
        layer_path=layer_path,
    )
    timings["render"] = time.perf_counter() - started

    credentials = _finish_output(unsigned, output, render_id, character, signing)
    encoding = _encoding(output, plate.info, settings.codec) | _stored_aspect(output, aspect)
    matte_aspect = _stored_aspect(matte_path, aspect) if matte_path else {}
    manifest = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "render_id": render_id,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "inputs": inputs,
        **_character_record(character),
        "settings": recorded,
        "versions": versions,
        "plate": plate.info.to_dict(),
        "outputs": _outputs_record(
            output, encoding, matte=(matte_path, matte_aspect), layer=(layer_path, {})
        ),
        "frames": {"total": plate.info.frame_count, "swapped": swapped},
        "credentials": credentials,
        "watermark": {"payload": render_id, "embedded": settings.watermark},
        "facecast": facecast.__version__,
    }
    manifest_path = write_manifest(manifest_path_for(output), manifest)
    _append_ledger(project_dir or output.parent, manifest)
    result = RenderResult(
        output=output,
        manifest=manifest_path,
        render_id=render_id,
        frame_count=plate.info.frame_count,
        swapped_frames=swapped,
        target_tracks=targets,
        matte=matte_path,
        layer=layer_path,
        credentials=credentials,
        seconds=timings,
        glasses_tracks=sorted(glasses),
        encoding=encoding,
        plate=plate.info,
        pixel_aspect=aspect,
        aspect_unstored=[
            path
            for path, fields in ((output, encoding), (matte_path, matte_aspect))
            if not fields.get("pixel_aspect_stored", True)
        ],
    )
    if report_dir is not None:
        from facecast.quality import write_report

        result.report = write_report(
            output,
            plate_path,
            Path(character_dir),
            Path(report_dir),
            gallery=Path(gallery) if gallery else None,
            matte=matte_path,
            progress=progress,
            pixel_aspect=aspect,
        )
    return result


def _opened_inputs(
    plate_path: Path,
    character_dir: str | Path,
    output: Path,
    settings: RenderSettings,
    signing,
) -> tuple[Character, Plate]:
    """The character (its consent checked) and the plate, once the output's format is known to
    hold the plate's pixels and, when `signing`, to carry C2PA: every refusal before any work."""
    character = load_character(character_dir)
    character.consent.require_valid(Path(character_dir) / "consent.toml")
    plate = open_plate(plate_path)
    if output.suffix:
        check_video_output(output, plate.info, settings.codec)
    else:
        check_sequence_output(output, plate.info, settings.codec)
    if signing is not None:
        _check_signable(output, plate.info, settings.codec)
    return character, plate


def _character_record(character: Character) -> dict:
    """The manifest's account of whose likeness was used, and on what consent."""
    return {
        "character": {"id": character.character_id, "name": character.name},
        "consent": character.consent.to_dict(),
        "consent_summary": character.consent.summary(),
    }


def _prepared_engine(
    settings: RenderSettings, character: Character, tracks: ShotTracks, targets: list[int]
):
    """The settings' engine, prepared for the character and for each target track."""
    engine = create_engine(
        settings.engine, model=settings.model, shape_strength=settings.shape_strength
    )
    engine.prepare(character)
    if hasattr(engine, "prepare_track"):
        for track_id in targets:
            engine.prepare_track(track_id, list(tracks.faces_of(track_id).values()))
    return engine


def _outputs_record(output: Path, encoding: dict, **extras: tuple[Path | None, dict]) -> dict:
    """The manifest's ``outputs``: the video (or sequence) with its hash and encoding, and
    each of `extras` (``name=(path, fields)``: matte, layer) that was written, with its hash
    and `fields` (the matte's pixel aspect)."""
    record = {"video": {"path": output.name, "sha256": sha256_file(output), **encoding}}
    for name, (path, fields) in extras.items():
        if path is not None:
            record[name] = {"path": path.name, "sha256": sha256_file(path), **fields}
    return record


def _load_or_analyze(
    plate: Plate, tracks_file: str | Path | None, progress: bool, hands: bool
) -> ShotTracks:
    """The shot's tracks from `tracks_file`, or from a new analysis (with hands if asked)."""
    if tracks_file is not None:
        tracks = ShotTracks.load(tracks_file)
        if len(tracks.frames) != plate.info.frame_count:
            raise MediaError(
                f"tracks cover {len(tracks.frames)} frames but the plate has "
                f"{plate.info.frame_count}",
                tracks_file,
            )
        analysed = (tracks.info.get("width"), tracks.info.get("height"))
        if None not in analysed and analysed != (plate.info.width, plate.info.height):
            raise MediaError(
                f"tracks were made on {analysed[0]}x{analysed[1]} frames but the plate's are "
                f"{plate.info.width}x{plate.info.height} (analyse this plate again)",
                tracks_file,
            )
        return tracks
    with ExitStack() as stack:
        stack.enter_context(_math_on_one_thread())
        analyzer = stack.enter_context(FaceAnalyzer())
        detector = stack.enter_context(HandSearch(max_hands=OCCLUDING_HANDS)) if hands else None
        return analyze_plate(plate, analyzer, progress=progress, hands=detector)


def _render_frames(
    plate: Plate,
    tracks: ShotTracks,
    targets: list[int],
    engine,
    settings: RenderSettings,
    output: Path,
    matte_path: Path | None,
    render_id: str,
    progress: bool,
    threads: int,
    glasses: frozenset[int] = frozenset(),
    pixel_aspect: Fraction = Fraction(1),
    layer_path: Path | None = None,
) -> int:
    """Second pass over the plate: swap, watermark and write every frame (and the matte and
    face layer when `matte_path` / `layer_path` are given). Returns the number of
    frames in which at least one face was swapped. The tracks in `glasses` keep their eyeglass
    frames in front of the character.

    Frames are swapped by `threads` workers at once when the engine allows it
    (``engine.frame_parallel``: no state carried from frame to frame), and written in order,
    so the output is the same for any number of threads. With a `pixel_aspect` other than 1
    the tracks are in square pixels and each frame is swapped in square pixels
    (`_squared_swap`)."""
    watermark = None
    if settings.watermark:
        from facecast.provenance.watermark import WatermarkEmbedder, WatermarkKey

        shape = (plate.info.height, plate.info.width)
        watermark = WatermarkEmbedder(bytes.fromhex(render_id), WatermarkKey(), shape)
    target_set = set(targets)
    swapped = 0
    written = replace(plate.info, pixel_aspect=pixel_aspect)  # the aspect the swap worked at
    frame_times = plate_frame_times(plate.info)  # read once, for output and matte
    with ExitStack() as stack:
        writers = [
            open_writer(
                output,
                written,
                codec=settings.codec,
                crf=settings.crf,
                threads=settings.encoder_threads,
                frame_times=frame_times,
                label=output_label(render_id),
            )
        ]
        matte_writer = None
        if matte_path:
            matte_writer = _matte_writer(matte_path, written, settings.encoder_threads, frame_times)
        if matte_writer is not None:
            writers.append(matte_writer)
        layer_writer = None
        if layer_path:
            layer_writer = _layer_writer(layer_path, written, render_id)
            writers.append(layer_writer)
        encoder = stack.enter_context(BackgroundWriter(*writers))
        shot = _FramePass(
            engine,
            settings,
            watermark,
            matte_writer,
            layer_writer,
            glasses,
            pixel_aspect,
            rec709_round_trip(plate.info.chromaticities),  # None for Rec.709, video plates
        )
        # a tracks file without hands (version 1, or analysed without them): search them here
        live_hands = None
        if settings.hands and tracks.hands is None:
            live_hands = stack.enter_context(HandDetector(max_hands=OCCLUDING_HANDS))
        bar = stack.enter_context(progress_bar(plate, label="swap", enabled=progress))
        stack.enter_context(_math_on_one_thread())
        workers = stack.enter_context(ThreadPoolExecutor(threads, "facecast-swap"))
        in_flight: deque[Future] = deque()

        def write_oldest() -> None:
            nonlocal swapped
            pixels, face_swapped = in_flight.popleft().result()
            swapped += face_swapped
            encoder.write(*pixels)
            bar.advance()

        for index, frame in enumerate(read_ahead(plate.frames())):
            faces = [f for f in _frame_faces(tracks, index) if f.track_id in target_set]
            square = (
                frame if pixel_aspect == 1 or live_hands is None else to_square(frame, pixel_aspect)
            )
            hands = _frame_hands(tracks, index, faces, square, live_hands, settings.hands)
            in_flight.append(workers.submit(_finished_frame, frame, faces, hands, shot))
            if len(in_flight) > threads:
                write_oldest()
        while in_flight:
            write_oldest()
    return swapped


@contextmanager
def _math_on_one_thread() -> Iterator[None]:
    """Run the block with OpenCV and BLAS (NumPy's linear algebra) on one thread each.

    The passes over a shot already keep every core busy (frames side by side, decoding, hand
    search, encoding); the libraries' own pools only add contention, and OpenBLAS's threads
    spin while they wait for work, which cost 2-3 CPU seconds on the 115-frame 720p plate
    (12.1 against 14.4 s). OpenCV's setting is process-wide and is restored on exit.
    """
    from threadpoolctl import threadpool_limits

    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        cv2.setNumThreads(previous)


def _swap_threads(engine, requested: int | None) -> int:
    """Worker threads for the swap pass: 1 unless the engine renders frames independently."""
    if not getattr(engine, "frame_parallel", False):
        return 1
    if requested is not None:
        if requested < 1:
            raise ValueError(f"threads must be at least 1, got {requested}")
        return requested
    return max(1, min(MAX_SWAP_THREADS, os.cpu_count() or 1))


def _frame_faces(tracks: ShotTracks, index: int) -> list[Face]:
    return tracks.frames[index] if index < len(tracks.frames) else []


def _frame_hands(
    tracks: ShotTracks,
    index: int,
    faces: list[Face],
    frame: np.ndarray,
    live: HandDetector | None,
    wanted: bool,
) -> list[np.ndarray]:
    """Hands in front of this frame's faces: from the analysis, or searched now by `live`."""
    if not wanted or not faces:
        return []
    if live is not None:
        return live.detect(to_uint8(frame))
    return tracks.hands[index] if index < len(tracks.hands) else []


def _finish_output(
    unsigned: Path, output: Path, render_id: str, character: Character, signing
) -> str:
    """Sign the finished file into place (a PNG, JPEG or TIFF sequence frame by frame), or
    move it into place unsigned.

    Returns ``"signed"`` or ``"skipped: <why>"``.
    """
    if signing is None:
        _replace(unsigned, output)
        return "skipped: no signing certificate given"
    from facecast.provenance.credentials import sign_media, sign_sequence

    sign = sign_sequence if unsigned.is_dir() else sign_media  # a format `_check_signable` took
    try:
        sign(
            unsigned,
            output,
            render_id=render_id,
            consent_summary=character.consent.summary(),
            identity=signing,
            title=output.name,
        )
    finally:
        _remove(unsigned)
    return "signed"


def _replace(source: Path, target: Path) -> None:
    if target.is_dir():
        shutil.rmtree(target)
    source.replace(target)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _append_ledger(project_dir: str | Path, manifest: dict) -> None:
    """Record the render in the project's hash-chained consent ledger."""
    from facecast.provenance.ledger import Ledger

    Ledger(Path(project_dir)).append(
        {
            "render_id": manifest["render_id"],
            "character": manifest["character"]["id"],
            "consent": manifest["consent_summary"],
            "inputs": manifest["inputs"],
            "outputs": manifest["outputs"],
        }
    )
