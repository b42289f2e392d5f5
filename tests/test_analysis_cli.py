"""``facecast analyze`` as a user runs it: a real process, real plates, real bad inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from conftest import assert_one_line_error
from conftest import run_facecast as facecast
from facecast.analysis import ShotTracks, TracksFileError
from facecast.media import open_plate


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """One real run on the group plate (90 frames, several small faces)."""
    from conftest import find_data

    plate = find_data("plates/street_group_3s.mp4")
    output = tmp_path_factory.mktemp("analyze") / "out"
    result = facecast("analyze", plate, "-o", output)
    return plate, output, result


def test_analyze_writes_tracks_and_debug_video(analysed):
    plate, output, result = analysed
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in output.iterdir()) == ["debug.mp4", "tracks.json"]
    assert "90 frames" in result.stdout and "track" in result.stdout

    tracks = ShotTracks.load(output / "tracks.json")
    assert len(tracks.frames) == 90 and len(tracks.track_ids()) >= 3
    source = open_plate(plate)
    fps = source.info.fps
    assert (
        tracks.info["width"] == 640 and tracks.info["fps"] == f"{fps.numerator}/{fps.denominator}"
    )
    face = tracks.frames[0][0]
    assert face.landmarks.shape == (478, 3) and face.frame_index == 0

    debug = open_plate(output / "debug.mp4")
    assert (debug.info.width, debug.info.height) == (source.info.width, source.info.height)
    assert debug.info.frame_count == 90 and debug.info.fps == source.info.fps


def test_saved_tracks_are_the_ones_a_swap_analyses(analysed):
    """`swap --tracks` must render what a swap's own analysis would: the CLI's tracks carry
    the same de-lagged lips as `analyze_plate` (same landmarks to the file's rounding)."""
    from facecast.analysis import FaceAnalyzer, analyze_plate

    plate, output, _ = analysed
    saved = ShotTracks.load(output / "tracks.json")
    with FaceAnalyzer() as analyzer:
        direct = analyze_plate(open_plate(plate), analyzer, progress=False)
    main = direct.main_track()
    assert saved.main_track() == main
    for index, face in list(direct.faces_of(main).items())[::15]:
        kept = saved.faces_of(main)[index]
        assert np.abs(kept.landmarks - face.landmarks).max() <= 0.006


def test_debug_video_shows_the_mesh_over_each_face(analysed):
    """Where a tracked face is, the debug frame differs from the plate (mesh lines drawn);
    far from every face and label it matches the plate up to the codec."""
    plate, output, _ = analysed
    tracks = ShotTracks.load(output / "tracks.json")
    index = 45
    plate_frame = next(f for i, f in enumerate(open_plate(plate).frames()) if i == index)
    debug_frame = next(
        f for i, f in enumerate(open_plate(output / "debug.mp4").frames()) if i == index
    )
    difference = np.abs(plate_frame.astype(int) - debug_frame.astype(int)).max(axis=2)
    drawn = np.zeros(difference.shape, bool)
    for face in tracks.frames[index]:
        x0, y0, x1, y1 = face.bbox.round().astype(int)
        inside = difference[y0:y1, x0:x1]
        assert (inside > 60).mean() > 0.05  # mesh lines across the face
        drawn[max(0, y0 - 30) : y1 + 10, max(0, x0 - 10) : x1 + 120] = True
    for skip in tracks.skipped:
        if skip["frame_index"] == index:
            x0, y0, x1, y1 = np.round(skip["bbox"]).astype(int)
            drawn[max(0, y0 - 20) : y1 + 10, max(0, x0 - 10) : x1 + 120] = True
    assert np.median(difference[~drawn]) <= 3


def test_tracks_json_is_versioned_plain_json(analysed):
    _, output, _ = analysed
    data = json.loads((output / "tracks.json").read_text())
    assert data["format"] == "facecast.tracks" and data["version"] == 2
    face = data["frames"][0][0]
    assert set(face) >= {"track_id", "bbox", "landmarks", "pose"}
    assert len(face["landmarks"]) == 478 and len(face["pose"]) == 3
    # hands in front of faces are recorded for the swap; the group holds a phone up at ~60
    assert len(data["hands"]) == 90
    assert any(len(hand) == 21 for frame in data["hands"][50:70] for hand in frame)


def test_tracks_of_another_version_or_garbage_are_refused(analysed, tmp_path):
    _, output, _ = analysed
    data = json.loads((output / "tracks.json").read_text())
    data["version"] = 99
    future = tmp_path / "future.json"
    future.write_text(json.dumps(data))
    with pytest.raises(TracksFileError, match="version 99"):
        ShotTracks.load(future)
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    with pytest.raises(TracksFileError, match=r"garbage\.json"):
        ShotTracks.load(garbage)


# -- bad input: one line, non-zero exit, nothing written -------------------------------------
def test_missing_plate(tmp_path):
    result = facecast("analyze", tmp_path / "nope.mp4", "-o", tmp_path / "out")
    assert_one_line_error(result, "nope.mp4", "does not exist")
    assert not (tmp_path / "out").exists()


def test_not_a_video(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("these are my notes, not a video\n")
    result = facecast("analyze", fake, "-o", tmp_path / "out")
    assert_one_line_error(result, "notes.mp4")
    assert not (tmp_path / "out").exists()


def test_truncated_video_fails_midway_and_leaves_nothing(data, tmp_path):
    """The moov atom is moved to the front (as streaming encoders write it), so decoding starts
    and the analysis runs until the data ends half-way."""
    whole = tmp_path / "whole.mp4"
    with (
        av.open(str(data("plates/weekly_address_clip1.mp4"))) as source,
        av.open(str(whole), "w", options={"movflags": "faststart"}) as target,
    ):
        streams = {s.index: target.add_stream_from_template(s) for s in source.streams}
        for packet in source.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                target.mux(packet)
    payload = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(payload[: len(payload) // 2])
    result = facecast("analyze", cut, "-o", tmp_path / "out")
    assert_one_line_error(result, "cut.mp4", "truncated")
    assert not (tmp_path / "out").exists()


def test_empty_folder(tmp_path):
    empty = tmp_path / "frames"
    empty.mkdir()
    result = facecast("analyze", empty, "-o", tmp_path / "out")
    assert_one_line_error(result, "frames", "no image frames")


def test_sequence_with_mixed_sizes(data, tmp_path):
    folder = tmp_path / "seq"
    folder.mkdir()
    frame = next(open_plate(data("plates/street_group_3s.mp4")).frames())
    bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(folder / "shot.0001.png"), bgr)
    cv2.imwrite(str(folder / "shot.0002.png"), bgr)
    cv2.imwrite(str(folder / "shot.0003.png"), cv2.resize(bgr, (320, 240)))
    result = facecast("analyze", folder, "-o", tmp_path / "out", "--fps", "24")
    assert_one_line_error(result, "shot.0003.png", "320x240")
    assert not (tmp_path / "out").exists()


def test_bad_frame_rate_option(data, tmp_path):
    result = facecast("analyze", data("plates/street_group_3s.mp4"), "-o", tmp_path, "--fps", "x")
    assert_one_line_error(result, "--fps")


def test_output_that_is_a_file(data, tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("keep me")
    result = facecast("analyze", data("plates/street_group_3s.mp4"), "-o", taken)
    assert_one_line_error(result, "taken", "not a folder")
    assert taken.read_text() == "keep me"


def test_module_entry_point_matches_console_script():
    script = Path(sys.executable).with_name("facecast")
    if not script.exists():
        pytest.skip("console script not installed next to this interpreter")
    result = subprocess.run([str(script), "analyze", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "tracks.json" in result.stdout
