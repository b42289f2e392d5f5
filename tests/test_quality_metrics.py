"""The quality report's building blocks, each checked against published values or real photos."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import cv2
import numpy as np
import pytest

from facecast.media import open_plate, read_image
from facecast.media.timecode import timecode
from facecast.quality import THRESHOLDS, load_quality_models, load_references
from facecast.quality.colour import delta_e_2000, rgb_to_lab, ring_colours, seam_delta_e
from facecast.quality.dlibface import detect_faces, landmarks
from facecast.quality.frames import FrameMetrics
from facecast.quality.geometry import (
    POSE_INDICES,
    POSE_MODEL,
    camera_matrix,
    eye_opening,
    head_pose,
    inter_ocular,
    mouth_opening,
    pose_to_rotation,
)
from facecast.quality.identity import distance_to, nearest, photo_descriptor
from facecast.quality.local import feature_ellipses, local_openings, paste_feature
from facecast.quality.measure import default_stride
from facecast.quality.pixels import PSNR_IDENTICAL, psnr
from facecast.quality.regions import edge_rings
from facecast.quality.summary import remove_opening_offsets

# Sharma, Wu & Dalal (2005), Table 1: pairs 1-4, 7, 17, 24, 25 and the hue-wrap pairs 13-16.
SHARMA = [
    ((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425),
    ((50, 3.1571, -77.2803), (50, 0, -82.7485), 2.8615),
    ((50, 2.8361, -74.0200), (50, 0, -82.7485), 3.4412),
    ((50, -1.3802, -84.2814), (50, 0, -82.7485), 1.0000),
    ((50, 0, 0), (50, -1, 2), 2.3669),
    ((50, 2.5, 0), (73, 25, -18), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),
    ((50, 2.49, -0.001), (50, -2.49, 0.0009), 7.1792),
    ((50, 2.49, -0.001), (50, -2.49, 0.0010), 7.1792),
    ((50, 2.49, -0.001), (50, -2.49, 0.0011), 7.2195),
    ((50, 2.49, -0.001), (50, -2.49, 0.0012), 7.2195),
]


@pytest.fixture(scope="module")
def models():
    return load_quality_models()


def test_ciede2000_matches_sharma_test_data():
    first = np.array([p[0] for p in SHARMA], float)
    second = np.array([p[1] for p in SHARMA], float)
    expected = np.array([p[2] for p in SHARMA])
    np.testing.assert_allclose(delta_e_2000(first, second), expected, atol=1e-4)
    np.testing.assert_allclose(delta_e_2000(second, first), expected, atol=1e-4)


def test_srgb_to_lab_matches_reference_values():
    lab = rgb_to_lab(np.array([[255, 0, 0], [255, 255, 255], [0, 0, 0]], np.uint8))
    np.testing.assert_allclose(lab[0], [53.24, 80.09, 67.20], atol=0.02)
    np.testing.assert_allclose(lab[1], [100, 0, 0], atol=0.01)
    np.testing.assert_allclose(lab[2], [0, 0, 0], atol=0.01)


def _disc_rings(size=200, radius=60):
    alpha = np.zeros((size, size), np.float32)
    cv2.circle(alpha, (size // 2, size // 2), radius, 1.0, -1)
    return alpha, *edge_rings(alpha, 6.0)


def test_edge_rings_lie_on_either_side_of_the_edge():
    alpha, inner, outer = _disc_rings()
    assert inner.any() and outer.any()
    assert alpha[inner].min() == 1.0 and alpha[outer].max() == 0.0
    distance = np.hypot(*np.nonzero(inner | outer) - np.array([[100], [100]]))
    assert distance.min() > 60 - 8 and distance.max() < 60 + 8


def test_seam_is_zero_for_the_plate_and_the_cast_delta_e_for_a_uniform_cast():
    alpha, inner, outer = _disc_rings()
    rng = np.random.default_rng(0)
    plate = rng.integers(90, 170, (200, 200, 3)).astype(np.uint8)
    cast = plate.copy()
    cast[alpha > 0.5] = np.clip(plate[alpha > 0.5].astype(int) + np.array([20, 0, -20]), 0, 255)
    rings_plate = ring_colours(plate, inner, outer, (100, 100))
    rings_cast = ring_colours(cast, inner, outer, (100, 100))
    assert rings_plate[2].all()
    assert seam_delta_e(rings_plate[:2], rings_plate[:2]) == pytest.approx(0.0, abs=1e-9)
    uniform = delta_e_2000(
        rgb_to_lab(np.uint8([130, 130, 130])), rgb_to_lab(np.uint8([150, 130, 110]))
    )
    assert seam_delta_e(rings_cast[:2], rings_plate[:2]) == pytest.approx(float(uniform), rel=0.25)


def test_pose_round_trips_through_a_projected_head_model():
    camera = camera_matrix(1280, 720)
    for pose in [(0, 0, 0), (25, -10, 5), (-35, 15, -12)]:
        rvec = cv2.Rodrigues(pose_to_rotation(np.array(pose)))[0]
        projected, _ = cv2.projectPoints(
            POSE_MODEL.astype(float), rvec, np.float64([0, 0, 60]), camera, None
        )
        points = np.zeros((68, 2))
        points[list(POSE_INDICES)] = projected[:, 0]
        np.testing.assert_allclose(head_pose(points, 1280, 720), pose, atol=0.05)


def test_pose_signs_follow_the_face_convention_on_a_real_photo(models, data):
    photo = read_image(data("faces/london/004/neutral.jpg"))
    height, width = photo.shape[:2]

    def pose(image):
        return head_pose(
            landmarks(models, image, detect_faces(models, image)[0]).points, width, height
        )

    original = pose(photo)
    mirrored = pose(np.ascontiguousarray(photo[:, ::-1]))
    clockwise = cv2.warpAffine(
        photo, cv2.getRotationMatrix2D((width / 2, height / 2), -12, 1), (width, height)
    )
    assert mirrored[0] == pytest.approx(-original[0], abs=2.0)  # yaw flips
    assert mirrored[2] == pytest.approx(-original[2], abs=2.0)  # roll flips
    assert pose(clockwise)[2] - original[2] == pytest.approx(12.0, abs=2.5)


def test_mouth_opening_tells_a_closed_mouth_from_an_open_one(models, data):
    frames = [
        f
        for i, f in zip(
            range(36), open_plate(data("plates/weekly_address_clip1.mp4")).frames(), strict=False
        )
    ]
    openings = [
        mouth_opening(landmarks(models, f, detect_faces(models, f)[0]).points)
        for f in (frames[5], frames[35])
    ]
    assert openings[0] < 0.05 < 0.15 < openings[1]


def _eyes_narrowed(frame: np.ndarray, points: np.ndarray, amount: float) -> np.ndarray:
    """`frame` with both eyes pulled toward their centre line (a smooth vertical squeeze over
    a Gaussian bump the size of the eye: lids closer, nothing else moved)."""
    height, width = frame.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    iod = inter_ocular(points)
    shift = np.zeros((height, width), np.float32)
    for eye in (points[36:42], points[42:48]):
        cx, cy = eye.mean(axis=0)
        bump = np.exp(-(((xs - cx) / (0.25 * iod)) ** 2 + ((ys - cy) / (0.12 * iod)) ** 2))
        shift += amount * (ys - cy) * bump
    return cv2.remap(frame, xs, ys + shift, cv2.INTER_CUBIC)


def test_eyes_read_alone_follow_the_eyes_and_not_the_face_around_them(models, data):
    """The local reading pastes the output's eyes into the plate: narrowed eyes read as
    narrowed, as in the whole-face reading; another person's face around the plate's own eyes
    moves the whole-face reading but not the local one."""
    frame = next(iter(open_plate(data("plates/weekly_address_clip1.mp4")).frames()))
    box = detect_faces(models, frame)[0]
    plate = landmarks(models, frame, box)
    before = eye_opening(plate.points)

    narrowed = _eyes_narrowed(frame, plate.points, 0.3)
    alone, _ = local_openings(models, frame, narrowed, plate)
    whole = eye_opening(landmarks(models, narrowed, box).points)
    assert alone - before < -0.01 and abs(alone - whole) < 0.003

    other = read_image(data("faces/london/012/neutral.jpg"))
    other_points = landmarks(models, other, detect_faces(models, other)[0]).points
    similarity, _ = cv2.estimateAffinePartial2D(other_points, plate.points)
    size = (frame.shape[1], frame.shape[0])
    placed = cv2.warpAffine(other, similarity, size, flags=cv2.INTER_CUBIC)
    face = cv2.fillConvexPoly(
        np.zeros(frame.shape[:2], np.uint8), cv2.convexHull(plate.points.astype(np.int32)), 1
    )
    eyes = np.zeros(frame.shape[:2], np.uint8)
    for centre, axes in feature_ellipses(plate.points, "eyes"):  # beyond the paste's feather
        cv2.ellipse(
            eyes, tuple(map(int, centre)), tuple(int(1.6 * a) for a in axes), 0, 0, 360, 1, -1
        )
    output = np.where(((face > 0) & (eyes == 0))[..., None], placed, frame)
    assert np.array_equal(paste_feature(frame, output, plate.points, "eyes"), frame)
    alone, _ = local_openings(models, frame, output, plate)
    assert alone == before
    assert abs(eye_opening(landmarks(models, output, box).points) - before) > 0.001


def test_landmarks_follow_a_sub_pixel_shift_of_the_face(models, data):
    """A plate-sized face moved by a quarter, a half and three quarters of a pixel: the 68
    points move with it: the typical point to within 0.3 pixels of the shift (one predictor
    run places whole pixels: every point would be off by at least 0.5 for the half pixel)."""
    photo = read_image(data("faces/london/004/neutral.jpg"))
    photo = cv2.resize(photo, (450, 450), interpolation=cv2.INTER_AREA)  # face ~160 px
    box = detect_faces(models, photo)[0]
    start = landmarks(models, photo, box).points
    for shift in (0.25, 0.5, 0.75):
        moved = cv2.warpAffine(
            photo, np.float32([[1, 0, shift], [0, 1, shift]]), (450, 450), flags=cv2.INTER_CUBIC
        )
        moves = landmarks(models, moved, box + shift).points - start
        assert np.median(np.abs(moves - shift)) < 0.3


def test_descriptors_tell_people_apart_and_the_gallery_leaves_out_the_character(models, data):
    character = data("faces/london/004/neutral.jpg").parent
    references = load_references(models, character, character.parent)
    assert references.character.name == "004"
    assert [p.name for p in references.gallery] == ["006", "012"]
    assert any("004" in s and "left out" in s for s in references.skipped)
    other = photo_descriptor(models, data("faces/london/012/smiling.jpg"))
    same = references.character.descriptors[1]  # 004 smiling
    assert distance_to(references.character, other)[0] > 0.6
    assert nearest(np.stack([other, same]), [references.character, *references.gallery]) == [
        "012",
        "004",
    ]


def test_timecodes_count_frames_at_the_nominal_rate():
    ntsc = Fraction(30000, 1001)
    assert timecode(0, ntsc) == "00:00:00:00"
    assert timecode(29, ntsc) == "00:00:00:29"
    assert timecode(30, ntsc) == "00:00:01:00"
    assert timecode(61, Fraction(24)) == "00:00:02:13"
    assert timecode(1, Fraction(25), start="01:00:59:24") == "01:01:00:00"
    assert timecode(26, Fraction(25), start="01:00:59:24") == "01:01:01:00"


def test_psnr_is_capped_for_identical_pixels_and_exact_for_known_noise():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (64, 80, 3)).astype(np.uint8)
    assert psnr(image, image) == PSNR_IDENTICAL
    noisy = np.clip(image.astype(int) + rng.choice([-4, 4], image.shape), 0, 255).astype(np.uint8)
    mse = np.mean((noisy.astype(float) - image) ** 2)
    assert psnr(image, noisy) == pytest.approx(10 * np.log10(255**2 / mse), abs=1e-6)
    where = np.zeros((64, 80), bool)
    where[:10] = True
    assert psnr(image, noisy, where) != psnr(image, noisy)
    assert psnr(image, noisy, np.zeros((64, 80), bool)) is None


def test_thresholds_judge_both_directions():
    judge = {t.key: t.judge for t in THRESHOLDS}
    assert [judge["retrieval_rate"](v) for v in (0.97, 0.9, 0.5, None)] == [
        "pass",
        "warn",
        "fail",
        "n/a",
    ]
    assert [judge["mouth_error"](v) for v in (0.01, 0.03, 0.05)] == ["pass", "warn", "fail"]
    assert judge["psnr_outside"](40.0) == "pass" and judge["psnr_outside"](34.9) == "fail"


def test_long_shots_sample_identity():
    assert default_stride(115) == 1
    assert default_stride(240) == 1
    assert default_stride(1000) == 5


def test_cli_reports_a_missing_output_in_one_line(tmp_path, data):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "facecast",
            "report",
            str(tmp_path / "missing.mp4"),
            "--plate",
            str(data("plates/weekly_address_clip1.mp4")),
            "--character",
            str(data("faces/london/004/neutral.jpg").parent),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("facecast: error")]
    assert len(lines) == 1 and "missing.mp4" in lines[0] and "does not exist" in lines[0]


def test_cli_writes_a_report_and_prints_the_verdict(tmp_path, data):
    plate = data("plates/weekly_address_clip1.mp4")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "facecast",
            "report",
            str(plate),
            "--plate",
            str(plate),
            "--character",
            str(data("faces/london/004/neutral.jpg").parent),
            "--frames",
            "4",
            "-o",
            str(tmp_path / "rep"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "identity did not change" in result.stdout
    assert (tmp_path / "rep" / "report.html").is_file() and (
        tmp_path / "rep" / "report.json"
    ).is_file()


def test_following_errors_leave_out_a_constant_opening_offset():
    """Output eyes read 0.01 more open than the plate's in every frame but one, where the
    output missed a blink: the eye error counts the offset, the following error only the
    missed blink."""
    plate_eyes = [0.30, 0.31, 0.29, 0.05, 0.30]
    output_eyes = [0.31, 0.32, 0.30, 0.31, 0.31]
    frames = []
    for index, (plate, output) in enumerate(zip(plate_eyes, output_eyes, strict=True)):
        record = FrameMetrics(index, status="measured")
        record.eye_plate, record.eye_output = plate, output
        record.eye_error = abs(output - plate)
        frames.append(record)
    frames.append(FrameMetrics(len(frames)))  # no face: left alone
    offsets = remove_opening_offsets(frames)
    assert offsets == {"eye": pytest.approx(0.01)}
    following = [r.eye_following_error for r in frames]
    assert following[:5] == pytest.approx([0.0, 0.0, 0.0, 0.25, 0.0], abs=1e-9)
    assert following[5] is None and frames[0].mouth_following_error is None
