"""SMPTE-style timecodes ``HH:MM:SS:FF`` for frame indices (non-drop-frame counting)."""

from __future__ import annotations

import re
from fractions import Fraction

_TIMECODE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})[:;.](\d{2})$")


def frames_per_timecode_second(fps: Fraction) -> int:
    """Nominal frame count of one timecode second (30 for 29.97, 24 for 23.976)."""
    return max(1, round(float(fps)))


def parse_timecode(text: str | None, fps: Fraction) -> int:
    """Frame count of a start timecode such as ``01:00:00:00``; 0 for ``None`` or unparsable."""
    match = _TIMECODE.match((text or "").strip())
    if not match:
        return 0
    hours, minutes, seconds, frames = (int(g) for g in match.groups())
    base = frames_per_timecode_second(fps)
    return ((hours * 60 + minutes) * 60 + seconds) * base + frames


def timecode(index: int, fps: Fraction, start: str | None = None) -> str:
    """Timecode of frame `index` of a shot at `fps` whose first frame is at `start`.

    Counting is non-drop-frame at the nominal rate (29.97 fps counts 30 frames a second), as
    most editorial tools show a shot without a drop-frame flag.

    Examples
    --------
    >>> timecode(61, Fraction(24))
    '00:00:02:13'
    """
    base = frames_per_timecode_second(fps)
    total = parse_timecode(start, fps) + index
    frames = total % base
    seconds = total // base
    return f"{seconds // 3600 % 24:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}:{frames:02d}"


def exr_timecode(text: str):
    """An ``OpenEXR.TimeCode`` attribute for a timecode ``HH:MM:SS:FF`` (`timecode`'s)."""
    import OpenEXR

    hours, minutes, seconds, frames = (int(part) for part in re.split(r"[:;.]", text))
    value = OpenEXR.TimeCode()
    value.hours, value.minutes, value.seconds, value.frame = hours, minutes, seconds, frames
    return value
