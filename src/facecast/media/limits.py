"""Size bounds for anything facecast decodes, so a hostile or broken file cannot exhaust memory."""

from __future__ import annotations

from pathlib import Path

from facecast.errors import MediaError

#: Largest accepted side of an image or video frame, in pixels (above 8K DCI with margin).
MAX_SIDE = 16384
#: Largest accepted frame area, in pixels (about 134 megapixels).
MAX_PIXELS = 1 << 27


def check_frame_size(width: int, height: int, path: str | Path) -> None:
    """Raise `MediaError` naming `path` if a `width` x `height` frame is empty or too large."""
    if width <= 0 or height <= 0:
        raise MediaError(f"frame size {width}x{height} is empty", path)
    if max(width, height) > MAX_SIDE or width * height > MAX_PIXELS:
        raise MediaError(
            f"frame size {width}x{height} is larger than facecast accepts "
            f"({MAX_SIDE} px a side, {MAX_PIXELS // 1_000_000} MP)",
            path,
        )
