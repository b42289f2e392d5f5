"""Hand keypoints (mediapipe hands), used to keep hands in front of a replaced face."""

from __future__ import annotations

import numpy as np
from mediapipe.python.solutions import hands as mp_hands

from facecast.analysis.face import check_rgb_frame
from facecast.analysis.quiet import QuietGraph

__all__ = ["HAND_POINTS", "OCCLUDING_HANDS", "HandDetector"]

#: Keypoints per hand (wrist and four per finger).
HAND_POINTS = 21
#: Most hands searched per frame as occluders of the faces a swap replaces.
OCCLUDING_HANDS = 2


class HandDetector:
    """Find hands and their 21 keypoints per frame.

    Parameters
    ----------
    max_hands
        Most hands returned per frame.
    static_images
        ``True`` for unrelated photos; ``False`` lets mediapipe track hands between video frames.
    min_detection_confidence
        Palm detector threshold in [0, 1].

    Notes
    -----
    Holds a mediapipe graph: use it as a context manager or call `close`.
    """

    def __init__(
        self, max_hands: int = 4, static_images: bool = False, min_detection_confidence: float = 0.5
    ) -> None:
        self._hands = QuietGraph(
            lambda: mp_hands.Hands(
                static_image_mode=static_images,
                max_num_hands=max_hands,
                model_complexity=1,
                min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=0.5,
            )
        )

    def detect(self, frame: np.ndarray) -> list[np.ndarray]:
        """Hands in one frame.

        Parameters
        ----------
        frame
            ``uint8`` RGB ``(H, W, 3)``.

        Returns
        -------
        list of ndarray
            One ``float32 (21, 2)`` array of keypoints in pixels (``x, y``) per hand.
        """
        check_rgb_frame(frame)
        height, width = frame.shape[:2]
        result = self._hands.process(frame)
        hands = []
        for hand in result.multi_hand_landmarks or []:
            points = np.asarray([(p.x * width, p.y * height) for p in hand.landmark], np.float32)
            hands.append(points)
        return hands

    def close(self) -> None:
        """Release the mediapipe graph."""
        self._hands.close()

    def __enter__(self) -> HandDetector:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
