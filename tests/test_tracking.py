"""Tracking through real shots: one id per person, smoothing, cuts, re-identification.

Each plate is analysed once per module (``analyze_plate``, the same call the swap uses); the
edited clips (a cut between two plates, a face hidden for a second, a fast pan) are built from
real frames and written as real video files, then analysed the same way.
"""

from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np
import pytest

from conftest import find_data
from facecast.analysis import FaceAnalyzer, FaceTracker, ShotTracks, analyze_plate, iter_analysis
from facecast.analysis.topology import LIPS_OUTER
from facecast.media import VideoWriter, open_plate

SIZE = (640, 360)


def analyse(path, **tracker_settings) -> ShotTracks:
    plate = open_plate(path)
    tracker = FaceTracker(plate.info.fps, **tracker_settings) if tracker_settings else None
    with FaceAnalyzer() as analyzer:
        return analyze_plate(plate, analyzer, progress=False, tracker=tracker)


def frames_of(relative: str, count: int, size=SIZE, start: int = 0) -> list[np.ndarray]:
    frames = []
    for index, frame in enumerate(open_plate(find_data(relative)).frames()):
        if index >= start:
            frames.append(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
        if len(frames) == count:
            break
    return frames


def write_clip(path, frames, fps=Fraction(30000, 1001)):
    height, width = frames[0].shape[:2]
    with VideoWriter(path, width, height, fps, crf=12) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def jitter(points: np.ndarray, frames: np.ndarray) -> float:
    """Mean size of the second difference of landmark positions (px/frame^2) over `frames`."""
    second = points[2:, :, :2] - 2 * points[1:-1, :, :2] + points[:-2, :, :2]
    per_frame = np.linalg.norm(second, axis=2).mean(axis=1)
    return float(per_frame[frames[1:-1]].mean())


# -- the talking head -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def address() -> ShotTracks:
    return analyse(find_data("plates/weekly_address_clip1.mp4"))


def test_talking_head_is_one_track_over_the_whole_shot(address):
    assert len(address.frames) == 115
    main = address.main_track()
    assert address.coverage(main) >= 0.95
    others = [t for t in address.track_ids() if t != main]
    assert sum(len(address.faces_of(t)) for t in others) <= 2
    assert address.cuts == []


def test_smoothing_removes_jitter_on_still_stretches(address):
    faces = address.faces_of(address.main_track())
    indices = sorted(faces)
    smooth = np.stack([faces[i].landmarks for i in indices])
    raw = np.stack([faces[i].raw_landmarks for i in indices])
    # Nearly-still stretches: frames where the face centre moves least (5-frame average).
    centre_motion = np.linalg.norm(np.diff(raw[:, :, :2].mean(axis=1), axis=0), axis=1)
    averaged = np.convolve(centre_motion, np.ones(5) / 5, mode="same")
    still = np.zeros(len(indices), bool)
    still[1:] = averaged < np.quantile(averaged, 0.4)
    assert still.sum() >= 30
    assert jitter(smooth, still) < 0.6 * jitter(raw, still)
    # ... and follows the face: on average within 1.5% of the face size of the raw mesh.
    offset = np.linalg.norm(smooth[:, :, :2] - raw[:, :, :2], axis=2).mean()
    assert offset < 0.015 * faces[indices[0]].size


def test_talking_head_pose_is_plausible(address):
    poses = np.stack([f.pose for f in address.faces_of(address.main_track()).values()])
    assert np.all(np.abs(poses) < 35)
    yaw, pitch, roll = np.median(poses, axis=0)
    assert abs(yaw) < 15 and abs(pitch) < 15 and abs(roll) < 10
    assert poses[:, 0].std() > 1.0  # he does move his head


def test_tracks_file_round_trip(address, tmp_path):
    path = address.save(tmp_path / "tracks.json")
    loaded = ShotTracks.load(path)
    assert loaded.track_ids() == address.track_ids() and len(loaded.frames) == 115
    main = address.main_track()
    before, after = address.faces_of(main), loaded.faces_of(main)
    assert sorted(before) == sorted(after)
    assert np.abs(after[50].landmarks - before[50].landmarks).max() <= 0.006
    assert np.abs(after[50].pose - before[50].pose).max() <= 0.001


# -- a fast pan: smoothing must not lag ------------------------------------------------------
def test_smoothing_does_not_lag_a_fast_pan(tmp_path):
    """After 12 still frames the picture slides right by 10 px a frame (the 185 px face moves
    about 1.6 face widths a second): the smoothed mesh must keep up with the raw one."""
    frames = frames_of("plates/weekly_address_clip1.mp4", 40)
    speed = 10.0
    shifted = []
    for index, frame in enumerate(frames):
        offset = speed * max(0, index - 12)
        matrix = np.float32([[1, 0, offset - 150], [0, 1, 0]])
        shifted.append(cv2.warpAffine(frame, matrix, SIZE, borderMode=cv2.BORDER_REFLECT))
    tracks = analyse(write_clip(tmp_path / "pan.mp4", shifted))
    faces = tracks.faces_of(tracks.main_track())
    moving = [i for i in range(16, 40) if i in faces]
    assert len(moving) >= 20
    behind = [
        float((faces[i].raw_landmarks[:, 0] - faces[i].landmarks[:, 0]).mean()) for i in moving
    ]
    assert np.mean(behind) < 0.35 * speed  # less than a third of a frame behind
    # the saved lips and jaw are smoothed forward and backward (zero phase): neither behind
    # nor ahead
    lower_face = [int(i) for i in (*LIPS_OUTER, 152, 148, 377)]
    lips_behind = [
        float((faces[i].raw_landmarks[lower_face, 0] - faces[i].landmarks[lower_face, 0]).mean())
        for i in moving
    ]
    assert abs(np.mean(lips_behind)) < 0.1 * speed, np.mean(lips_behind)


def test_zero_phase_smoothing_has_no_lag_and_keeps_the_jitter_removal():
    """A landmark sliding at constant speed with noise: the tracker's forward One Euro filter
    trails it; the mean with the same filter run backward does not, and stays as smooth."""
    from facecast.analysis.smoothing import OneEuroFilter, zero_phase_one_euro

    rng = np.random.default_rng(3)
    frames, fps, speed = 90, 30.0, 6.0  # px per frame, on a 200 px face
    truth = np.zeros((frames, 1, 2))
    truth[:, 0, 0] = speed * np.arange(frames)
    raw = truth + rng.normal(0.0, 0.8, truth.shape)
    forward_filter = OneEuroFilter(0.5, 10.0)
    forward = np.stack([forward_filter(raw[t], t / fps, scale=200.0) for t in range(frames)])
    both = zero_phase_one_euro(raw, forward, fps, 0.5, 10.0, np.full(frames, 200.0))
    inner = slice(10, -10)
    lag_forward = float((truth - forward)[inner, 0, 0].mean())
    lag_both = float((truth - both)[inner, 0, 0].mean())
    assert lag_forward > 0.3 and abs(lag_both) < 0.25 * lag_forward, (lag_forward, lag_both)
    noise = (raw - truth)[inner].std()
    assert (both - truth)[inner].std() < 0.8 * noise


# -- a film shot with cuts, a robot and a face with glasses ----------------------------------
@pytest.fixture(scope="module")
def tears() -> ShotTracks:
    return analyse(find_data("plates/tears_of_steel_10s.mp4"))


def test_cuts_found_where_the_film_cuts(tears):
    # Robot close-up -> street (21), street -> HUD close-up (65), close-up -> robot (185).
    for cut in (21, 65, 185):
        assert any(abs(c - cut) <= 1 for c in tears.cuts), tears.cuts
    assert len(tears.cuts) <= 5  # the flickering robot shot is not a cut at every frame


def test_face_with_glasses_is_tracked_while_on_screen(tears):
    main = tears.main_track()
    faces = tears.faces_of(main)
    on_screen = range(90, 184)
    assert sum(i in faces for i in on_screen) >= 0.9 * len(on_screen)
    assert np.median([faces[i].size for i in faces]) > 100
    assert np.median([faces[i].pose[0] for i in faces]) < -15  # he looks off to the image's left


def test_no_face_of_normal_size_in_the_robot_frames(tears):
    robot = list(range(0, 20)) + list(range(187, 218))
    found = [(i, f.size) for i in robot for f in tears.frames[i]]
    assert all(size < 60 for _, size in found), found
    assert len(found) <= 3


def test_no_track_spans_a_cut(tears):
    bounds = [0, *tears.cuts, len(tears.frames)]
    for track in tears.track_ids():
        indices = sorted(tears.faces_of(track))
        shot = np.searchsorted(bounds, indices[0], side="right")
        assert indices[-1] < bounds[shot], (track, indices[0], indices[-1], tears.cuts)


def test_profile_face_has_a_strong_yaw(tears):
    """The man on the bridge (frames 21-64) stands in profile, facing the image's right."""
    street = [f for i in range(24, 64) for f in tears.frames[i]]
    assert len(street) >= 30
    assert np.median([f.pose[0] for f in street]) > 30


# -- several small faces --------------------------------------------------------------------
@pytest.fixture(scope="module")
def group() -> ShotTracks:
    return analyse(find_data("plates/street_group_3s.mp4"))


def test_group_gets_one_track_per_visible_person(group):
    long_tracks = [t for t in group.track_ids() if group.coverage(t) >= 0.5]
    assert len(long_tracks) >= 3
    sizes = [np.median([f.size for f in group.faces_of(t).values()]) for t in long_tracks]
    assert min(sizes) < 45  # the small faces are among them
    for index, faces in enumerate(group.frames):
        ids = [f.track_id for f in faces]
        assert len(ids) == len(set(ids)), index
        boxes = [f.bbox for f in faces]
        for a in range(len(boxes)):
            for b in range(a + 1, len(boxes)):
                overlap_x = min(boxes[a][2], boxes[b][2]) - max(boxes[a][0], boxes[b][0])
                overlap_y = min(boxes[a][3], boxes[b][3]) - max(boxes[a][1], boxes[b][1])
                assert overlap_x <= 0 or overlap_y <= 0, (index, ids)


def test_group_small_faces_are_handled_or_reported(group):
    assert all(f.size >= 24 for faces in group.frames for f in faces)
    assert group.skipped
    for skip in group.skipped:
        assert set(skip) >= {"frame_index", "bbox", "score", "reason"}
        assert skip["reason"] in {"too small", "no landmarks", "short track"}
        assert 0 <= skip["frame_index"] < 90


# -- edited clips: a cut between plates, a face that leaves and returns -----------------------
def test_cut_between_two_plates_ends_the_tracks(tmp_path):
    frames = frames_of("plates/weekly_address_clip1.mp4", 20)
    frames += frames_of("plates/tears_of_steel_10s.mp4", 20, start=100)
    tracks = analyse(write_clip(tmp_path / "cut.mp4", frames))
    assert tracks.cuts == [20]
    before = {f.track_id for faces in tracks.frames[:20] for f in faces}
    after = {f.track_id for faces in tracks.frames[20:] for f in faces}
    assert before and after and not before & after


def hide_face(frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Pixelate the face into 3 x 3 blocks: its colours stay (no cut), the face is gone."""
    hidden = frame.copy()
    x0, y0, x1, y1 = box
    grow_x, grow_y = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    x0, y0 = max(0, int(x0 - grow_x)), max(0, int(y0 - grow_y))
    x1, y1 = int(x1 + grow_x), int(y1 + grow_y)
    blocks = cv2.resize(frame[y0:y1, x0:x1], (3, 3), interpolation=cv2.INTER_AREA)
    hidden[y0:y1, x0:x1] = cv2.resize(blocks, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
    return hidden


@pytest.fixture(scope="module")
def leaves_and_returns(tmp_path_factory):
    """60 frames of the talking head; in frames 15-44 (one second) his face is hidden."""
    frames = frames_of("plates/weekly_address_clip1.mp4", 60)
    with FaceAnalyzer(static_images=True) as analyzer:
        (face,) = analyzer.detect(frames[0])
    box = face.bbox
    for index in range(15, 45):
        frames[index] = hide_face(frames[index], box)
    return write_clip(tmp_path_factory.mktemp("reid") / "reid.mp4", frames)


def test_face_that_returns_gets_its_old_id(leaves_and_returns):
    tracks = analyse(leaves_and_returns)
    assert tracks.cuts == []
    # The mesh may cling to the blurred face for a few frames (as mediapipe's own tracking
    # does) before it lets go; after that the face is gone until it returns.
    assert not any(tracks.frames[i] for i in range(19, 44))
    assert len(tracks.frames[5]) == 1 and len(tracks.frames[55]) == 1
    assert tracks.frames[55][0].track_id == tracks.frames[5][0].track_id
    assert tracks.track_ids() == [tracks.frames[5][0].track_id]


def test_without_reidentification_the_returning_face_would_be_new(leaves_and_returns):
    """Control: the gap is longer than position matching bridges, so re-id did the work."""
    tracks = analyse(leaves_and_returns, reid_similarity=1.01)
    assert tracks.frames[55][0].track_id != tracks.frames[5][0].track_id


def test_streaming_results_match_the_collected_shot(address):
    plate = open_plate(find_data("plates/weekly_address_clip1.mp4"))
    with FaceAnalyzer() as analyzer:
        streamed = list(iter_analysis(plate, analyzer))
    assert [r.index for r in streamed] == list(range(115))
    for result in streamed[::23]:
        (face,) = result.faces
        (kept,) = address.frames[result.index]
        assert np.array_equal(face.raw_landmarks, kept.raw_landmarks)  # deterministic
        # the collected shot's landmarks are the streamed (forward) ones, de-lagged
        assert 0 < np.abs(face.landmarks - kept.landmarks).max() < 0.02 * face.size
        assert result.frame.shape == (720, 1280, 3) and result.frame.dtype == np.uint8


# -- hands found in the same pass ---------------------------------------------------------------
def test_hands_searched_beside_the_analysis_match_a_search_of_every_frame():
    """The analysis pass searches hands on a worker thread, every third frame while none is in
    view; it finds hands in the same frames as a search of every frame holding a face (a hand
    entering is found from its first frame), at nearly the same keypoints, and the street
    group's raised hands (around frame 60) are among them."""
    from facecast.analysis import HandDetector, HandSearch
    from facecast.analysis.hands import OCCLUDING_HANDS

    path = find_data("plates/street_group_3s.mp4")
    with FaceAnalyzer() as analyzer, HandSearch(max_hands=OCCLUDING_HANDS) as hands:
        tracks = analyze_plate(open_plate(path), analyzer, progress=False, hands=hands)
    assert tracks.hands is not None and len(tracks.hands) == len(tracks.frames) == 90

    with FaceAnalyzer() as analyzer:
        with_faces = {r.index for r in iter_analysis(open_plate(path), analyzer) if r.faces}
    expected = []
    with HandDetector(max_hands=OCCLUDING_HANDS) as plain:
        for index, frame in enumerate(open_plate(path).frames()):
            expected.append(plain.detect(frame) if index in with_faces else [])
    found = [len(frame) for frame in tracks.hands]
    assert found == [len(frame) for frame in expected]
    assert sum(found[50:70]) >= 10, found
    for ours, theirs in zip(tracks.hands, expected, strict=True):
        for a, b in zip(ours, theirs, strict=True):
            assert a.shape == (21, 2) and np.abs(a - b).max() < 6.0


@pytest.mark.parametrize(("stride", "entering"), [(2, 9), (2, 10), (3, 9), (3, 10), (3, 11)])
def test_hand_search_skips_frames_only_while_no_hand_is_in_view(stride, entering):
    """Talking-head frames (no hand) and then the street group's raised hands: the search
    skips frames before the hands appear, yet reports them from their first frame, whether
    that frame was searched or skipped and searched back."""
    from facecast.analysis import HandSearch

    size = (640, 480)
    head = frames_of("plates/weekly_address_clip1.mp4", entering, size=size)
    group = frames_of("plates/street_group_3s.mp4", 10, size=size, start=50)
    settled = {}
    with HandSearch(stride=stride) as search:
        for index, frame in enumerate(head + group):
            settled.update(search.feed(index, frame))
        settled.update(search.finish())
    assert sorted(settled) == list(range(entering + 10))
    assert [bool(settled[i]) for i in range(entering + 10)] == [False] * entering + [True] * 10
    # every stride-th head frame, the ones held before the hands (searched back), the hands
    assert search.searched <= entering // stride + (stride - 1) + 10, search.searched


def test_tracks_without_hands_are_saved_as_such_and_version_1_files_load(tmp_path, address):
    assert address.hands is None
    path = address.save(tmp_path / "tracks.json")
    assert ShotTracks.load(path).hands is None
    import json

    data = json.loads(path.read_text())
    data["version"] = 1
    del data["hands"]
    old = tmp_path / "v1.json"
    old.write_text(json.dumps(data))
    loaded = ShotTracks.load(old)
    assert loaded.hands is None and len(loaded.frames) == 115


def test_tracks_digest_survives_the_file_and_sees_a_moved_landmark(tmp_path, address):
    """The render id hashes the tracks: the same for the analysis and its saved file, and
    different when one landmark of one frame moves by a tenth of a pixel."""
    loaded = ShotTracks.load(address.save(tmp_path / "tracks.json"))
    assert loaded.digest() == address.digest()
    loaded.frames[40][0].landmarks[1, 0] += 0.1
    assert loaded.digest() != address.digest()


# -- steady head motion (offline, zero phase) ---------------------------------------------------
def test_steady_heads_remove_tremor_keep_expression_and_leave_the_tracks_alone(address):
    """On the talking head: the rigid frame-to-frame tremor (second difference of the mean
    landmark position) drops, the mouth opening relative to the eye distance (the expression)
    is kept to 0.1%, no landmark moves by more than the cap, and the analysed tracks are not
    modified."""
    from facecast.analysis.smoothing import steady_head_motion

    track = address.main_track()
    indices = sorted(address.faces_of(track))
    before = np.stack([address.frames[i][0].landmarks for i in indices])
    steady = address.with_steady_heads(2.5)
    after = np.stack([steady.frames[i][0].landmarks for i in indices])
    assert np.array_equal(before, np.stack([address.frames[i][0].landmarks for i in indices]))

    def tremor(points):
        centre = points[:, :, :2].mean(axis=1)
        return float(np.linalg.norm(centre[2:] - 2 * centre[1:-1] + centre[:-2], axis=1).mean())

    assert tremor(after) < 0.7 * tremor(before), (tremor(before), tremor(after))

    def opening(points):
        gap = np.linalg.norm(points[:, 13, :2] - points[:, 14, :2], axis=1)
        return gap / np.linalg.norm(points[:, 33, :2] - points[:, 263, :2], axis=1)

    assert np.abs(opening(after) - opening(before)).max() < 1e-3
    size = float(np.ptp(before[:, :, :2].mean(axis=0), axis=0).max())
    assert np.abs(after - before)[:, :, :2].max() <= 0.01 * size * 1.5 + 1e-3
    assert np.array_equal(steady_head_motion(before, 0.0), before)


def test_steady_heads_keep_a_steady_motion_and_stop_at_cuts():
    """A head sliding and turning at constant speed comes back unchanged (zero phase, no lag);
    runs split at a cut are steadied on their own."""
    from facecast.analysis.face import Face
    from facecast.analysis.smoothing import steady_head_motion

    rng = np.random.default_rng(7)
    shape = np.column_stack([rng.random((478, 2)) * 200, rng.random(478) * 10])
    centre = shape[:, :2].mean(axis=0)
    moving = []
    for t in range(30):  # turning about the face's centre while sliding and growing
        angle, scale = 0.01 * t, 1.0 + 0.005 * t
        c, s = np.cos(angle), np.sin(angle)
        points = shape.copy()
        turned = (shape[:, :2] - centre) @ np.array([[c, s], [-s, c]]) * scale
        points[:, :2] = turned + centre + (3.0 * t, 1.0 * t)
        moving.append(points)
    moving = np.asarray(moving, np.float32)
    assert np.abs(steady_head_motion(moving, 2.5) - moving).max() < 0.01

    moving[:, :, :2] += rng.normal(0.0, 0.5, (30, 1, 2)).astype(np.float32)  # head tremor
    frames = [
        [Face(np.zeros(4, np.float32), m, np.zeros(3, np.float32), track_id=1)] for m in moving
    ]
    tracks = ShotTracks(frames=frames, cuts=[15])
    steady = tracks.with_steady_heads(2.5)
    whole = steady_head_motion(moving, 2.5)
    halves = np.concatenate(
        [steady_head_motion(moving[:15], 2.5), steady_head_motion(moving[15:], 2.5)]
    )
    got = np.stack([f[0].landmarks for f in steady.frames])
    assert np.allclose(got, halves, atol=1e-4) and not np.allclose(got, whole, atol=1e-4)
