"""The independent face measurer: dlib's HOG detector, 68-point landmarks and ResNet descriptor.

The quality report deliberately does not use the engine's own face analysis (mediapipe): a
metric computed with the landmarks the engine followed would grade the engine against itself.
The dlib descriptor is used for measurement only, never inside a swap engine.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facecast.errors import ModelError

#: Longest side, in pixels, of the image the detector scans for faces across the whole frame.
DETECT_SIDE = 640
#: Side, in pixels, that a known face box is scaled to before the detector looks near it.
NEAR_FACE_SIDE = 160
#: Cell size of dlib's HOG features, in pixels of the scanned image.
HOG_CELL = 8
#: Smallest overlap (IoU) between a detection near a known box and that box to be the same face.
MIN_IOU = 0.3
#: The 68-point predictor places whole pixels of the image it is given; it runs on the face cut
#: out and enlarged this many times (up to `LANDMARK_MAX_SIDE`), so its points are half pixels.
LANDMARK_UPSCALE = 2
LANDMARK_MAX_SIDE = 1024
#: The predictor starts from the detector box and from that box shifted by this share of its
#: size left, right, up and down; the five shapes are averaged. A single run's points move by
#: a pixel or two with an imperceptible change of the image (a different watermark payload
#: moved one swap's mouth error by up to 0.005 inter-ocular distances over 60 frames,
#: `benchmarks/measurer_noise.py`): the plate and the output then differ by noise, not by what
#: they show.
LANDMARK_JITTER = 0.03

_MODEL_FILES = {
    "shape68": "shape_predictor_68_face_landmarks.dat",
    "recognizer": "dlib_face_recognition_resnet_model_v1.dat",
}


@dataclass(frozen=True)
class QualityModels:
    """dlib models, loaded once and passed to every measuring function.

    Attributes
    ----------
    detector
        ``dlib.fhog_object_detector``: the frontal face detector.
    shape68
        ``dlib.shape_predictor`` for the 68-point iBUG layout.
    recognizer
        ``dlib.face_recognition_model_v1``: 128-D ResNet face descriptor.
    """

    detector: Any
    shape68: Any
    recognizer: Any


@dataclass(frozen=True)
class DlibFace:
    """One face found by dlib.

    Attributes
    ----------
    box
        ``float32 (4,)``: detector box ``x0, y0, x1, y1`` in pixels of the full image.
    points
        ``float32 (68, 2)``: iBUG 68 landmarks ``x, y`` in pixels of the full image.
    """

    box: np.ndarray
    points: np.ndarray


def models_folder() -> Path:
    """Folder of the model files shipped in the ``face-recognition-models`` package.

    The package's ``__init__`` needs ``pkg_resources``; only its location is looked up here.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the face-recognition-models package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def load_quality_models(folder: Path | None = None) -> QualityModels:
    """Load the dlib detector, 68-point predictor and descriptor network (about 0.5 s).

    Raises
    ------
    ModelError
        If a model file is missing from `folder` (default: `models_folder`).
    """
    import dlib

    folder = folder or models_folder()
    paths = {key: folder / name for key, name in _MODEL_FILES.items()}
    for path in paths.values():
        if not path.is_file():
            raise ModelError("dlib model file is missing", path)
    return QualityModels(
        detector=dlib.get_frontal_face_detector(),
        shape68=dlib.shape_predictor(str(paths["shape68"])),
        recognizer=dlib.face_recognition_model_v1(str(paths["recognizer"])),
    )


def detect_faces(models: QualityModels, image: np.ndarray) -> np.ndarray:
    """Find frontal faces anywhere in an image.

    The image is scanned at `DETECT_SIDE` pixels on its longest side, then once more at twice
    that if nothing was found (small faces).

    Parameters
    ----------
    image
        ``uint8 RGB (H, W, 3)``.

    Returns
    -------
    numpy.ndarray
        ``float32 (N, 4)`` boxes ``x0, y0, x1, y1`` in image pixels, largest first.
    """
    scale = min(1.0, DETECT_SIDE / max(image.shape[:2]))
    boxes = _detect_scaled(models, image, scale)
    return boxes[np.argsort(-_areas(boxes), kind="stable")]


def near_scale(box: np.ndarray) -> float:
    """Scale at which `detect_near` looks for a face of `box`'s size (-> `NEAR_FACE_SIDE` px)."""
    side = max(float(box[2] - box[0]), float(box[3] - box[1]), 1.0)
    return min(1.5, NEAR_FACE_SIDE / side)


def detect_near(
    models: QualityModels, image: np.ndarray, box: np.ndarray, scale: float | None = None
) -> np.ndarray | None:
    """Find the face that overlaps a known box (the same face in the next frame or the output).

    Parameters
    ----------
    image
        ``uint8 RGB (H, W, 3)``.
    box
        ``float (4,)`` ``x0, y0, x1, y1`` where the face is expected.
    scale
        Image scale for the detector (default `near_scale` of `box`). A tracker keeps one scale
        for a whole track, so the box size does not feed back into the next detection.

    Returns
    -------
    numpy.ndarray or None
        ``float32 (4,)`` the detection with the highest IoU to `box` (at least `MIN_IOU`).
    """
    scale = near_scale(box) if scale is None else scale
    side = max(box[2] - box[0], box[3] - box[1])
    x0, y0, x1, y1 = _clip_box(_grow(box, 0.6 * side), image.shape)
    step = max(1, round(HOG_CELL / scale))  # crop on the detector's cell grid: no phase jitter
    x0, y0 = x0 - x0 % step, y0 - y0 % step
    crop = image[y0:y1, x0:x1]
    if crop.size == 0:
        return None
    boxes = _detect_scaled(models, crop, scale)
    if len(boxes) == 0:
        return None
    boxes = boxes + np.float32([x0, y0, x0, y0])
    overlaps = np.array([box_iou(candidate, box) for candidate in boxes])
    best = int(np.argmax(overlaps))
    return boxes[best] if overlaps[best] >= MIN_IOU else None


def _detect_scaled(models: QualityModels, image: np.ndarray, scale: float) -> np.ndarray:
    """Run the detector on `image` resized by `scale`; upsample once if nothing is found."""
    small = image
    if scale != 1.0:
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation)
    small = np.ascontiguousarray(small)
    rects = models.detector(small, 0) or models.detector(small, 1)
    boxes = np.float32([[r.left(), r.top(), r.right(), r.bottom()] for r in rects])
    return boxes.reshape(-1, 4) / np.float32(scale)


def landmarks(models: QualityModels, image: np.ndarray, box: np.ndarray) -> DlibFace:
    """Place the 68 iBUG landmarks in a face box, to a fraction of a pixel.

    The face (the box grown by half its size) is enlarged `LANDMARK_UPSCALE` times and the
    predictor's shapes from the box and from four shifted copies (`LANDMARK_JITTER`) are
    averaged.

    Parameters
    ----------
    image
        ``uint8 RGB (H, W, 3)`` at full resolution.
    box
        ``float (4,)`` detector box ``x0, y0, x1, y1``.
    """
    import dlib

    box = np.asarray(box, np.float32)
    size = float(max(box[2] - box[0], box[3] - box[1], 1.0))
    x0, y0, x1, y1 = _clip_box(_grow(box, size / 2), image.shape)
    if x1 - x0 < 2 or y1 - y0 < 2:  # a box off the image: the predictor extrapolates from all
        x0, y0, x1, y1 = 0, 0, image.shape[1], image.shape[0]
    scale = max(1.0, min(LANDMARK_UPSCALE, LANDMARK_MAX_SIDE / max(x1 - x0, y1 - y0, 1)))
    crop = cv2.resize(
        np.ascontiguousarray(image[y0:y1, x0:x1]),
        (round((x1 - x0) * scale), round((y1 - y0) * scale)),
        interpolation=cv2.INTER_CUBIC,
    )
    local = (box - np.float32([x0, y0, x0, y0]) + 0.5) * scale - 0.5
    step = LANDMARK_JITTER * size * scale
    shapes = []
    for dx, dy in ((0, 0), (step, 0), (-step, 0), (0, step), (0, -step)):
        rect = dlib.rectangle(*(round(float(v)) for v in local + np.float32([dx, dy, dx, dy])))
        shapes.append([[p.x, p.y] for p in models.shape68(crop, rect).parts()])
    points = (np.mean(np.float32(shapes), axis=0) + 0.5) / scale - 0.5 + np.float32([x0, y0])
    return DlibFace(box=box, points=points.astype(np.float32))


def descriptor(models: QualityModels, image: np.ndarray, face: DlibFace) -> np.ndarray:
    """dlib ResNet descriptor of one face (deterministic: no jitter).

    Parameters
    ----------
    image
        ``uint8 RGB (H, W, 3)`` the face was found in.
    face
        Its box and 68 landmarks.

    Returns
    -------
    numpy.ndarray
        ``float32 (128,)``; faces of one person lie within about 0.6 of each other (euclidean).
    """
    import dlib

    rect = dlib.rectangle(*(round(float(v)) for v in face.box))
    parts = dlib.points([dlib.point(round(float(x)), round(float(y))) for x, y in face.points])
    shape = dlib.full_object_detection(rect, parts)
    vector = models.recognizer.compute_face_descriptor(np.ascontiguousarray(image), shape)
    return np.float32(vector)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two ``x0, y0, x1, y1`` boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, float(w)) * max(0.0, float(h))
    union = float(_areas(np.stack([a, b])).sum()) - inter
    return inter / union if union > 0 else 0.0


def _areas(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _grow(box: np.ndarray, margin: float) -> np.ndarray:
    return np.float32(box) + np.float32([-margin, -margin, margin, margin])


def _clip_box(box: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Integer box inside an image of `shape` ``(H, W, ...)``."""
    x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x1, y1 = min(shape[1], int(np.ceil(box[2]))), min(shape[0], int(np.ceil(box[3])))
    return x0, y0, x1, y1
