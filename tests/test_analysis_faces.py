"""Face analysis on real photos: landmarks, contours, head pose, masks, hands.

Every check runs the real mediapipe models on the shipped photos and plates and compares with
independent evidence: hand-placed pupil landmarks (Face Research Lab London Set ``.tem``
files), image geometry (mirroring, rotation) and pixel counts.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facecast.analysis import (
    FaceAnalyzer,
    HandDetector,
    face_region_mask,
    hand_mask,
    head_pose,
    topology,
)
from facecast.analysis.pose import head_axes
from facecast.media import open_plate, read_image

LONDON = ["004", "012"]


def read_tem(path: Path) -> np.ndarray:
    """WebMorph template: first line the point count, then ``x y`` per line."""
    lines = path.read_text().split("\n")
    count = int(lines[0])
    return np.asarray([[float(v) for v in line.split()] for line in lines[1 : count + 1]])


@pytest.fixture(scope="module")
def still_analyzer():
    with FaceAnalyzer(static_images=True) as analyzer:
        yield analyzer


@pytest.fixture(scope="module")
def portraits(still_analyzer):
    """``{id: (image, face)}`` for the shipped London portraits (``"004-smiling"`` etc.)."""
    from conftest import find_data

    result = {}
    for person in LONDON:
        for expression in ("neutral", "smiling"):
            image = read_image(find_data(f"faces/london/{person}/{expression}.jpg"))
            (face,) = still_analyzer.detect(image)
            key = person if expression == "neutral" else f"{person}-{expression}"
            result[key] = (image, face)
    return result


def iris_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    right = landmarks[topology.RIGHT_IRIS, :2].mean(axis=0)
    left = landmarks[topology.LEFT_IRIS, :2].mean(axis=0)
    return right, left


# -- landmarks --------------------------------------------------------------------------------
@pytest.mark.parametrize("person", LONDON)
def test_iris_landmarks_land_on_hand_placed_pupils(portraits, data, person):
    _, face = portraits[person]
    tem = read_tem(data(f"faces/london/{person}/neutral.tem"))
    assert face.landmarks.shape == (478, 3) and face.landmarks.dtype == np.float32
    right, left = iris_centres(face.landmarks)
    # .tem point 0 is the pupil on the image's left (subject's right), point 1 the other one.
    interocular = np.linalg.norm(tem[1] - tem[0])
    assert np.linalg.norm(right - tem[0]) < 0.05 * interocular
    assert np.linalg.norm(left - tem[1]) < 0.05 * interocular


def test_face_box_encloses_landmarks_inside_the_image(portraits):
    image, face = portraits["004"]
    x0, y0, x1, y1 = face.bbox
    points = face.points2d
    assert 0 <= x0 < x1 <= image.shape[1] and 0 <= y0 < y1 <= image.shape[0]
    assert points[:, 0].min() >= x0 - 0.5 and points[:, 0].max() <= x1 + 0.5
    assert 200 < face.size < image.shape[0]


def test_face_too_small_is_reported_skipped_not_returned(portraits):
    image, _ = portraits["012"]
    tiny = cv2.resize(image, (40, 40), interpolation=cv2.INTER_AREA)
    frame = np.full((360, 640, 3), 128, np.uint8)
    frame[160:200, 300:340] = tiny
    with FaceAnalyzer(static_images=True, min_face_size=30, detect_tiles=2) as analyzer:
        faces = analyzer.detect(frame)
        skipped = analyzer.last_skipped
    assert faces == []
    assert skipped and all(s["reason"] == "too small" for s in skipped)
    x0, y0, x1, y1 = skipped[0]["bbox"]
    assert 290 < (x0 + x1) / 2 < 350 and 150 < (y0 + y1) / 2 < 210


def test_frame_of_wrong_type_is_refused(still_analyzer):
    with pytest.raises(ValueError, match="uint8"):
        still_analyzer.detect(np.zeros((64, 64, 3), np.float32))


# -- contours ---------------------------------------------------------------------------------
CLOSED = {
    "FACE_OVAL": 36,
    "LEFT_EYE": 16,
    "RIGHT_EYE": 16,
    "LEFT_IRIS": 4,
    "RIGHT_IRIS": 4,
    "LIPS_OUTER": 20,
    "LIPS_INNER": 20,
    "LEFT_EYEBROW": 10,
    "RIGHT_EYEBROW": 10,
    "NOSE_OUTLINE": 16,
}


@pytest.mark.parametrize("name", sorted(CLOSED))
def test_contours_are_simple_polygons_on_a_real_face(portraits, name):
    """A self-crossing outline fills more pixels than its shoelace area; ours match it.

    The smiling photo is used so the mouth is open and the inner-lip outline has an area.
    """
    contour = getattr(topology, name)
    assert len(contour) == CLOSED[name] and len(set(contour.tolist())) == len(contour)
    _, face = portraits["012-smiling"]
    points = face.points2d[contour].astype(np.float32) * 8  # 8x supersampling for small ones
    points -= points.min(axis=0) - 4
    canvas = np.zeros((int(points[:, 1].max()) + 8, int(points[:, 0].max()) + 8), np.uint8)
    cv2.fillPoly(canvas, [np.round(points).astype(np.int32)], 1)
    shoelace = abs(cv2.contourArea(points))
    boundary = cv2.arcLength(points, True)  # fillPoly also counts the outline's own pixels
    assert shoelace > 4 * boundary
    assert abs(int(canvas.sum()) - shoelace) < 0.02 * shoelace + boundary


def test_inner_lips_lie_inside_outer_lips_and_iris_inside_eye(portraits):
    _, face = portraits["004"]
    points = face.points2d

    def inside(outline, point):
        polygon = points[outline].astype(np.float32)
        return cv2.pointPolygonTest(polygon, tuple(map(float, point)), False) >= 0

    assert all(inside(topology.LIPS_OUTER, p) for p in points[topology.LIPS_INNER])
    right, left = iris_centres(face.landmarks)
    assert inside(topology.RIGHT_EYE, right) and inside(topology.LEFT_EYE, left)
    assert points[topology.RIGHT_EYE, 0].mean() < points[topology.LEFT_EYE, 0].mean()


def test_mirror_pairs_straddle_the_face_midline(portraits):
    """In the head's own frame (3-D, so a slight turn does not matter) pairs are mirror twins."""
    _, face = portraits["012"]
    pairs = topology.mirror_pairs()
    across = face.landmarks.astype(np.float64) @ head_axes(face.landmarks)[:, 0]
    midline = across[topology.NOSE_RIDGE].mean()
    centres = (across[pairs[:, 0]] + across[pairs[:, 1]]) / 2
    assert np.abs(centres - midline).max() < 0.03 * face.size
    assert (across[pairs[:, 0]] < across[pairs[:, 1]]).all()  # subject's right = image left


# -- head pose --------------------------------------------------------------------------------
@pytest.mark.parametrize("person", LONDON)
def test_frontal_portrait_has_near_zero_pose_and_roll_of_the_pupils(portraits, data, person):
    _, face = portraits[person]
    yaw, pitch, roll = face.pose
    tem = read_tem(data(f"faces/london/{person}/neutral.tem"))
    pupil_roll = np.degrees(np.arctan2(tem[1, 1] - tem[0, 1], tem[1, 0] - tem[0, 0]))
    assert abs(yaw) < 8 and abs(pitch) < 8
    assert abs(roll - pupil_roll) < 2.0


def test_mirroring_negates_yaw_and_roll(portraits, still_analyzer):
    image, face = portraits["004"]
    (mirrored,) = still_analyzer.detect(np.ascontiguousarray(image[:, ::-1]))
    assert abs(mirrored.pose[0] + face.pose[0]) < 3.0
    assert abs(mirrored.pose[2] + face.pose[2]) < 1.5
    assert abs(mirrored.pose[1] - face.pose[1]) < 3.0


def test_rotating_the_image_clockwise_adds_that_roll(portraits, still_analyzer):
    image, face = portraits["012"]
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), -25, 1.0)  # negative = clockwise
    (turned,) = still_analyzer.detect(cv2.warpAffine(image, matrix, (width, height)))
    assert abs((turned.pose[2] - face.pose[2]) - 25) < 2.5
    assert abs(turned.pose[0] - face.pose[0]) < 4


def test_head_pose_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"\(478, 3\)"):
        head_pose(np.zeros((68, 2), np.float32))


# -- masks ------------------------------------------------------------------------------------
def test_face_region_mask_covers_the_face_oval_with_a_soft_edge(portraits):
    image, face = portraits["004"]
    shape = image.shape[:2]
    mask = face_region_mask(face.landmarks, shape, feather_px=12)
    assert mask.shape == shape and mask.dtype == np.float32
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    nose = face.points2d[1].round().astype(int)
    assert mask[nose[1], nose[0]] == pytest.approx(1.0, abs=1e-3)
    assert mask[5, 5] == 0.0
    oval_area = cv2.contourArea(face.points2d[topology.FACE_OVAL].astype(np.float32))
    assert abs(float(mask.sum()) - oval_area) < 0.03 * oval_area
    soft = np.count_nonzero((mask > 0.05) & (mask < 0.95))
    perimeter = cv2.arcLength(face.points2d[topology.FACE_OVAL].astype(np.float32), True)
    assert soft > 0.5 * perimeter * 12  # a band about `feather_px` wide all around


def test_hands_found_on_a_real_plate_and_masked(data):
    plate = open_plate(data("plates/street_group_3s.mp4"))
    frame = next(f for i, f in enumerate(plate.frames()) if i == 60)
    with HandDetector(max_hands=4, static_images=True) as detector:
        hands = detector.detect(frame)
    assert hands, "the two raised hands holding a phone should be found"
    assert all(h.shape == (21, 2) and h.dtype == np.float32 for h in hands)
    mask = hand_mask(hands, frame.shape[:2], dilate_px=6, feather_px=2)
    assert mask.dtype == np.float32 and mask.shape == frame.shape[:2]
    for hand in hands:
        x, y = np.clip(hand.round().astype(int), 0, [frame.shape[1] - 1, frame.shape[0] - 1]).T
        assert mask[y, x].min() > 0.9
    assert 0 < mask.mean() < 0.15
    assert hand_mask([], frame.shape[:2]).max() == 0.0
