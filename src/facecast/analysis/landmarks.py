"""The face-mesh landmark model on a region of interest we choose ourselves.

mediapipe's ``FaceMesh`` solution bundles the landmark model with its own short-range face
detector; that detector misses small faces and faces looking down or away. Here the landmark
network (``FaceLandmarkCpu``, 478 points with the attention/iris refinement, shipped with
mediapipe 0.10.21) runs in a one-node graph fed with an image and a rotated square region of
interest (`Roi`), exactly what mediapipe's own tracking mode feeds it from the previous frame's
landmarks. The graph has no temporal state, so one instance serves every face of a frame and
results do not depend on call order.

Only a crop around the region is handed to mediapipe, scaled down so the region is at most
`MAX_CROP` pixels a side, so the cost per face does not grow with the frame's resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from google.protobuf import text_format
from mediapipe.framework import calculator_pb2
from mediapipe.framework.formats import rect_pb2
from mediapipe.python.solution_base import SolutionBase

from facecast.analysis.face import NUM_LANDMARKS
from facecast.analysis.quiet import QuietGraph

__all__ = ["MAX_CROP", "LandmarkModel", "Roi", "roi_from_landmarks", "roi_from_points"]

#: Largest side, in pixels, of the face region handed to the landmark network (its input is
#: 192 px; a little headroom keeps its own resampling smooth). Smaller regions are not upscaled.
MAX_CROP = 256
#: Region side as a multiple of the face's box (mediapipe uses 1.5 in its tracking graph).
ROI_SCALE = 1.5
#: Landmarks used for the in-plane rotation: outer eye corners (subject's right, then left).
_EYE_CORNERS = (33, 263)

_GRAPH = """
input_stream: "image"
input_stream: "roi"
output_stream: "face_landmarks"
node {
  calculator: "FaceLandmarkCpu"
  input_stream: "IMAGE:image"
  input_stream: "ROI:roi"
  input_side_packet: "WITH_ATTENTION:with_attention"
  output_stream: "LANDMARKS:face_landmarks"
}
"""


@dataclass(frozen=True)
class Roi:
    """A rotated square around a face, in frame pixels.

    Attributes
    ----------
    centre_x, centre_y
        Centre in pixels.
    size
        Side in pixels.
    rotation
        Radians, mediapipe's convention: the angle by which the square is turned clockwise in
        the image (y down), i.e. the face's roll, so that the face is upright inside it.
    """

    centre_x: float
    centre_y: float
    size: float
    rotation: float = 0.0

    def box(self) -> np.ndarray:
        """``float32 (4,)`` axis-aligned box ``x0, y0, x1, y1`` holding the rotated square."""
        half = 0.5 * self.size * (abs(math.cos(self.rotation)) + abs(math.sin(self.rotation)))
        return np.asarray(
            [
                self.centre_x - half,
                self.centre_y - half,
                self.centre_x + half,
                self.centre_y + half,
            ],
            np.float32,
        )


def _rotation(start: np.ndarray, end: np.ndarray) -> float:
    """mediapipe's rotation for a left-to-right eye vector (image y points down)."""
    angle = -math.atan2(-(float(end[1]) - float(start[1])), float(end[0]) - float(start[0]))
    return (angle + math.pi) % (2 * math.pi) - math.pi


def roi_from_points(box: np.ndarray, right_eye: np.ndarray, left_eye: np.ndarray) -> Roi:
    """Region for a face from a box and its two eye centres (e.g. a detector's keypoints).

    Parameters
    ----------
    box
        ``(4,)`` face box ``x0, y0, x1, y1`` in pixels.
    right_eye, left_eye
        ``(2,)`` pixel positions of the subject's right eye (image left) and left eye.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    side = max(x1 - x0, y1 - y0) * ROI_SCALE
    return Roi((x0 + x1) / 2, (y0 + y1) / 2, side, _rotation(right_eye, left_eye))


def roi_from_landmarks(landmarks: np.ndarray) -> Roi:
    """Region for the next frame from this frame's landmarks (mediapipe's tracking rule).

    Parameters
    ----------
    landmarks
        ``float32 (478, 2 or 3)`` in pixels.
    """
    points = np.asarray(landmarks, np.float32)[:, :2]
    box = np.concatenate([points.min(axis=0), points.max(axis=0)])
    return roi_from_points(box, points[_EYE_CORNERS[0]], points[_EYE_CORNERS[1]])


class LandmarkModel:
    """478 face-mesh landmarks (with iris) for a face inside a given region.

    Notes
    -----
    Holds a mediapipe graph: call `close` (or use as a context manager).
    """

    def __init__(self) -> None:
        config = text_format.Parse(_GRAPH, calculator_pb2.CalculatorGraphConfig())
        self._graph = QuietGraph(
            lambda: SolutionBase(
                graph_config=config,
                side_inputs={"with_attention": True},
                outputs=["face_landmarks"],
            )
        )

    def close(self) -> None:
        """Release the mediapipe graph."""
        self._graph.close()

    def __enter__(self) -> LandmarkModel:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()

    def landmarks(self, frame: np.ndarray, roi: Roi) -> np.ndarray | None:
        """Fit the mesh to the face in `roi`.

        Parameters
        ----------
        frame
            ``uint8`` RGB ``(H, W, 3)``.
        roi
            Where the face is (see `roi_from_points`, `roi_from_landmarks`).

        Returns
        -------
        ndarray or None
            ``float32 (478, 3)``: ``x, y`` in frame pixels, ``z`` relative depth in the same
            scale (smaller is nearer the camera). ``None`` when the network finds no face in
            the region (its face-presence score is below 0.5).
        """
        crop, x0, y0, side = _square_crop(frame, roi)
        if crop is None:
            return None
        local = rect_pb2.NormalizedRect(
            x_center=(roi.centre_x - x0) / side,
            y_center=(roi.centre_y - y0) / side,
            width=roi.size / side,
            height=roi.size / side,
            rotation=roi.rotation,
        )
        result = self._graph.process({"image": crop, "roi": local})
        if result.face_landmarks is None:
            return None
        points = np.asarray([(p.x, p.y, p.z) for p in result.face_landmarks.landmark], np.float32)
        if points.shape[0] != NUM_LANDMARKS:
            return None
        points *= np.float32(side)  # x, y and z are all normalised by the crop's width
        points[:, 0] += x0
        points[:, 1] += y0
        return points


def _square_crop(frame: np.ndarray, roi: Roi) -> tuple[np.ndarray | None, int, int, int]:
    """The square of the frame holding the rotated `roi`, shrunk so the roi is `MAX_CROP` px.

    Shrinking averages whole blocks of pixels (OpenCV's fast exact-factor area path: about
    1 ms for a 1080p face where a fractional area resize takes 4-6 ms), then a bilinear step of
    less than 2x reaches the final size, so nothing aliases. The square is widened to a whole
    number of blocks for that.

    Returns
    -------
    crop, x0, y0, side
        ``uint8 (s, s, 3)`` contiguous crop (black beyond the frame's edges), or ``None`` when
        the region is degenerate; the crop shows the frame square ``[x0, x0 + side)`` x
        ``[y0, y0 + side)`` in pixels.
    """
    box = roi.box()
    x0, y0 = math.floor(box[0]), math.floor(box[1])
    side = math.ceil(float(box[2] - box[0]))
    height, width = frame.shape[:2]
    if side < 4 or x0 >= width or y0 >= height or x0 + side <= 0 or y0 + side <= 0:
        return None, x0, y0, side
    scale = min(1.0, MAX_CROP / roi.size)
    target = max(4, round(side * scale))
    factor = max(1, side // target)
    side = math.ceil(side / factor) * factor
    region = frame[max(y0, 0) : min(y0 + side, height), max(x0, 0) : min(x0 + side, width)]
    padding = (max(-y0, 0), max(y0 + side - height, 0), max(-x0, 0), max(x0 + side - width, 0))
    if any(padding):
        region = cv2.copyMakeBorder(region, *padding, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    if factor > 1:
        blocks = side // factor
        region = cv2.resize(region, (blocks, blocks), interpolation=cv2.INTER_AREA)
    if scale < 1.0:
        region = cv2.resize(region, (target, target), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(region), x0, y0, side
