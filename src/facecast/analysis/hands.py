"""Hand keypoints (mediapipe hands), used to keep hands in front of a replaced face."""

from __future__ import annotations

import numpy as np
from mediapipe.python.solutions import hands as mp_hands

from facecast.analysis.face import check_rgb_frame
from facecast.analysis.quiet import QuietGraph

__all__ = ["HAND_POINTS", "OCCLUDING_HANDS", "HandDetector", "HandSearch"]

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


class HandSearch:
    """The hands of a shot's frames, in order, for a fraction of the cost of searching each one.

    While no hand is in view, only every `stride`-th frame is searched (mediapipe's palm search
    is most of the hand model's cost). When a search finds a hand, the frames skipped just
    before it are searched too, with a still-image detector, so a hand entering the shot is
    found from its first frame; while hands are in view every frame is searched (and mediapipe
    tracks them). A hand visible only in skipped frames and gone by the next search is missed.

    Parameters
    ----------
    max_hands
        Most hands per frame.
    stride
        Search every `stride`-th frame while no hand is in view (1 searches every frame). At
        the default 3, a hand is missed only if it comes and goes within two frames (1/12 s
        at 24 fps). One palm search costs about 12 ms of CPU on a 720p frame; on the 115
        frames of weekly_address_clip1 (no hands) the analysis pass took 1.33, 1.24 and
        1.13 s at strides 2, 3 and 4 (two runs each, quiet 2-core machine).

    Attributes
    ----------
    searched
        Frames searched so far (tracking searches and still-image back-fills).

    Notes
    -----
    `feed` takes the frames in order and returns the frames whose hands are settled, in order
    (a skipped frame is held until the next search). Call `finish` after the last frame. Not
    thread-safe: one thread feeds it. Holds two mediapipe graphs: use it as a context manager.
    """

    def __init__(self, max_hands: int = OCCLUDING_HANDS, stride: int = 3) -> None:
        if stride < 1:
            raise ValueError(f"stride must be at least 1, got {stride}")
        self.stride = stride
        self._tracker = HandDetector(max_hands=max_hands)
        self._finder = HandDetector(max_hands=max_hands, static_images=True)
        self._held: list[tuple[object, np.ndarray]] = []
        self._in_view = False
        self.searched = 0

    def feed(self, key: object, frame: np.ndarray | None) -> list[tuple[object, list[np.ndarray]]]:
        """Take the next frame of the shot.

        Parameters
        ----------
        key
            Anything that names the frame for the caller (returned with its hands).
        frame
            ``uint8`` RGB ``(H, W, 3)``, or ``None`` for a frame not to search (no face in it).

        Returns
        -------
        list of (key, hands)
            Frames whose hands are now settled, in feeding order; ``hands`` holds one
            ``float32 (21, 2)`` keypoint array per hand.
        """
        if frame is None:
            return [*self._release(), (key, [])]
        if not self._in_view and len(self._held) + 1 < self.stride:
            self._held.append((key, frame))
            return []
        hands = self._tracker.detect(frame)
        self.searched += 1
        if hands:
            settled = [(held, self._finder.detect(image)) for held, image in self._held]
            self.searched += len(self._held)
            self._held = []
        else:
            settled = self._release()
        self._in_view = bool(hands)
        return [*settled, (key, hands)]

    def finish(self) -> list[tuple[object, list[np.ndarray]]]:
        """Settle the frames still held after the last one (no hand was found after them)."""
        return self._release()

    def _release(self) -> list[tuple[object, list[np.ndarray]]]:
        settled = [(held, []) for held, _ in self._held]
        self._held = []
        return settled

    def close(self) -> None:
        """Release both mediapipe graphs."""
        self._tracker.close()
        self._finder.close()

    def __enter__(self) -> HandSearch:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
