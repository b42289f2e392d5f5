"""Shot-cut detection from colour-histogram jumps between consecutive frames."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["CutDetector"]

_THUMB = (96, 54)
_BINS = [16, 8, 8]
_RANGES = [0, 180, 0, 256, 0, 256]


class CutDetector:
    """Flag frames that start a new shot.

    A frame is a cut when the Bhattacharyya distance between its hue-saturation-value histogram
    and the previous frame's exceeds `threshold`. Camera moves, talking and lighting drift change
    the histogram a little from one frame to the next; a cut to another shot changes it a lot.

    Parameters
    ----------
    threshold
        Bhattacharyya distance in [0, 1] above which a frame starts a new shot.
    """

    def __init__(self, threshold: float = 0.45) -> None:
        self.threshold = threshold
        self._previous: np.ndarray | None = None
        #: Distance measured at the last `is_cut` call (0 for the first frame).
        self.last_distance = 0.0

    def is_cut(self, frame: np.ndarray) -> bool:
        """Whether `frame` (``uint8`` RGB ``(H, W, 3)``) starts a new shot (never the first)."""
        thumb = cv2.resize(frame, _THUMB, interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(thumb, cv2.COLOR_RGB2HSV)
        hist = cv2.calcHist([hsv], [0, 1, 2], None, _BINS, _RANGES)
        cv2.normalize(hist, hist, 1.0, 0.0, cv2.NORM_L1)
        previous, self._previous = self._previous, hist
        if previous is None:
            self.last_distance = 0.0
            return False
        self.last_distance = float(cv2.compareHist(previous, hist, cv2.HISTCMP_BHATTACHARYYA))
        return self.last_distance > self.threshold
