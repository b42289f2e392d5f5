"""``facecast analyze``: faces, landmarks and tracks of a shot, with a debug video."""

from __future__ import annotations

from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer

from facecast.errors import MediaError

if TYPE_CHECKING:  # mediapipe loads in a second: import it only when the command runs
    from facecast.analysis.detector import FaceAnalyzer
    from facecast.analysis.hands import HandSearch
    from facecast.analysis.shot import ShotTracks
    from facecast.media import Plate

TRACKS_NAME = "tracks.json"
DEBUG_NAME = "debug.mp4"


def register(app: typer.Typer) -> None:
    """Attach the ``analyze`` command to the facecast app."""
    app.command(
        "analyze", short_help="Track every face of PLATE; write tracks.json and debug.mp4."
    )(analyze_command)


def analyze_command(
    plate: Annotated[
        Path, typer.Argument(help="Video file or image-sequence folder.", metavar="PLATE")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the results.")],
    debug_video: Annotated[
        bool, typer.Option("--debug-video/--no-debug-video", help="Also write debug.mp4.")
    ] = True,
    hands: Annotated[
        bool,
        typer.Option(
            "--hands/--no-hands", help="Also record hands (the occluders a swap keeps in front)."
        ),
    ] = True,
    max_faces: Annotated[int, typer.Option(help="Most faces per frame.")] = 8,
    min_face_size: Annotated[int, typer.Option(help="Smaller faces are skipped (px).")] = 24,
    fps: Annotated[
        str | None, typer.Option(help="Frame rate of an image sequence, e.g. 24 or 24000/1001.")
    ] = None,
    pixel_aspect: Annotated[
        float | None,
        typer.Option(
            help="Width over height of a stored pixel (2 for a 2x anamorphic squeeze; default: "
            "the plate's). Faces are analysed in square pixels, as a swap does."
        ),
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show progress bars on stderr.")
    ] = True,
) -> None:
    """Find, landmark and track every face of PLATE; write OUTPUT/tracks.json and debug.mp4."""
    from facecast.analysis.detector import FaceAnalyzer
    from facecast.analysis.eyewear import wears_glasses
    from facecast.analysis.hands import OCCLUDING_HANDS, HandSearch
    from facecast.media import open_plate
    from facecast.media.aspect import chosen_pixel_aspect, square_view

    shot = open_plate(plate, fps=_parse_fps(fps, plate))
    shot = square_view(shot, chosen_pixel_aspect(shot.info, pixel_aspect))
    if output.exists() and not output.is_dir():
        raise MediaError("exists and is not a folder", output)
    created = not output.exists()
    output.mkdir(parents=True, exist_ok=True)
    try:
        with ExitStack() as stack:
            analyzer = stack.enter_context(
                FaceAnalyzer(max_faces=max_faces, min_face_size=min_face_size)
            )
            detector = stack.enter_context(HandSearch(max_hands=OCCLUDING_HANDS)) if hands else None
            debug_path = output / DEBUG_NAME if debug_video else None
            tracks = _run(shot, analyzer, detector, debug_path, progress)
        tracks.save(output / TRACKS_NAME)
    except BaseException:
        if created and not any(output.iterdir()):
            output.rmdir()  # leave no trace of a failed run
        raise
    main = tracks.main_track()
    summary = f"{len(tracks.frames)} frames, {len(tracks.track_ids())} track(s)"
    if main is not None:
        summary += f", main track #{main} in {tracks.coverage(main):.0%} of frames"
    wearers = [track for track, value in tracks.eyewear.items() if wears_glasses(value)]
    if wearers:
        summary += f", glasses on track(s) {wearers}"
    typer.echo(f"{summary}; cuts at {tracks.cuts or 'none'}; {len(tracks.skipped)} skipped face(s)")
    typer.echo(
        f"wrote {output / TRACKS_NAME}" + (f" and {output / DEBUG_NAME}" if debug_video else "")
    )


def _parse_fps(text: str | None, plate: Path) -> Fraction | None:
    if text is None:
        return None
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise MediaError(f"--fps {text!r} is not a frame rate", plate) from None
    if value <= 0:
        raise MediaError(f"--fps {text!r} must be positive", plate)
    return value


def _run(
    shot: Plate,
    analyzer: FaceAnalyzer,
    hands: HandSearch | None,
    debug_path: Path | None,
    progress: bool,
) -> ShotTracks:
    """Analyse the shot as a swap does (`analyze_plate`, so `swap --tracks` renders the same
    frames), writing the debug video in the same pass (one frame in memory)."""
    from facecast.analysis.draw import draw_faces
    from facecast.analysis.shot import analyze_plate
    from facecast.media import VideoWriter

    if debug_path is None:
        return analyze_plate(shot, analyzer, progress=progress, hands=hands)
    info = shot.info
    # H.264 needs even sides: the debug video drops a last odd row/column.
    width, height = info.width - info.width % 2, info.height - info.height % 2
    audio = info.path if info.kind == "video" and info.audio_streams else None
    writer = VideoWriter(debug_path, width, height, info.fps, audio_from=audio, crf=23)

    def draw(result) -> None:
        drawn = draw_faces(result.frame, result.faces, result.skipped)
        writer.write(np.ascontiguousarray(drawn[:height, :width]))

    try:
        tracks = analyze_plate(shot, analyzer, progress=progress, hands=hands, each_frame=draw)
    except BaseException:
        writer.abort()
        raise
    writer.close()
    return tracks
