"""`facecast character create` and `facecast swap` from a shell: bad input gets one line, exit 1."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from conftest import assert_one_line_error
from conftest import run_facecast as facecast
from facecast.media import VideoWriter, open_plate, open_writer

CONSENT = Path(__file__).resolve().parents[1] / "examples" / "consent_london_004.toml"


@pytest.fixture(scope="module")
def character_dir(tmp_path_factory) -> Path:
    from conftest import find_data

    folder = tmp_path_factory.mktemp("cli") / "london-004"
    result = facecast(
        "character",
        "create",
        folder,
        "--ref",
        find_data("faces/london/004/neutral.jpg"),
        "--consent",
        CONSENT,
    )
    assert result.returncode == 0, result.stderr
    assert "london-004" in result.stdout
    return folder


def test_character_create_without_consent_file(tmp_path, data):
    result = facecast(
        "character",
        "create",
        tmp_path / "c",
        "--ref",
        data("faces/london/004/neutral.jpg"),
        "--consent",
        tmp_path / "missing.toml",
    )
    assert_one_line_error(result, "missing.toml", "consent file does not exist")


def test_swap_of_unreadable_plate(tmp_path, character_dir):
    plate = tmp_path / "plate.mp4"
    plate.write_bytes(b"\x00" * 4096)
    result = facecast("swap", plate, "--character", character_dir, "-o", tmp_path / "out.mp4")
    assert_one_line_error(result, "plate.mp4", "cannot be opened as video")
    assert not (tmp_path / "out.mp4").exists()


def test_swap_of_plate_without_faces_writes_nothing(tmp_path, character_dir, data):
    source = open_plate(data("plates/tears_of_steel_10s.mp4"))
    plate = tmp_path / "street.mp4"
    with open_writer(plate, source.info) as writer:
        for index, frame in enumerate(source.frames()):
            if index == 20:  # the robot close-up: no human face
                break
            writer.write(frame)
    output = tmp_path / "out.mp4"
    result = facecast("swap", plate, "--character", character_dir, "-o", output, "--no-progress")
    assert_one_line_error(result, "street.mp4", "no face was found in any frame")
    assert [p.name for p in tmp_path.iterdir()] == ["street.mp4"]


def test_swap_of_a_float_exr_plate_to_video_is_refused_before_any_work(tmp_path, character_dir):
    import numpy as np

    from facecast.media import SequenceWriter

    plate = tmp_path / "linear"
    with SequenceWriter(plate, extension="exr") as writer:
        writer.write(np.full((64, 96, 3), 0.18, np.float32))
    output = tmp_path / "out.mov"
    result = facecast("swap", plate, "--character", character_dir, "-o", output, "--no-progress")
    assert_one_line_error(result, "out.mov", "scene-linear (float EXR) plate")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["linear"]


def test_swap_refuses_a_character_whose_consent_expired(tmp_path, character_dir, data):
    import shutil

    old = tmp_path / "old-character"
    shutil.copytree(character_dir, old)
    _backdate_consent(old, expires=dt.date(2021, 1, 1))
    result = facecast(
        "swap",
        data("plates/weekly_address_clip1.mp4"),
        "--character",
        old,
        "-o",
        tmp_path / "out.mp4",
    )
    assert_one_line_error(result, "expired on 2021-01-01")
    assert not (tmp_path / "out.mp4").exists()


def test_swap_refuses_to_overwrite_its_plate(tmp_path, character_dir, data):
    import shutil

    plate = tmp_path / "plate.mp4"
    shutil.copyfile(data("plates/weekly_address_clip1.mp4"), plate)
    before = plate.read_bytes()
    result = facecast("swap", plate, "--character", character_dir, "-o", plate)
    assert_one_line_error(result, "would overwrite the plate")
    assert plate.read_bytes() == before


@pytest.mark.parametrize("option", ["-o", "--matte"])
def test_swap_refuses_an_output_or_matte_that_is_neither_video_nor_folder(
    tmp_path, character_dir, data, option
):
    """A `--matte matte.png` was written as a folder named matte.png; now it is refused
    before any work, as an `-o out.avi` was."""
    paths = {"-o": tmp_path / "out.mp4", "--matte": tmp_path / "matte.mkv"}
    paths[option] = tmp_path / "alpha.png"
    args = [a for pair in paths.items() for a in pair]
    result = facecast(
        "swap",
        data("plates/weekly_address_clip1.mp4"),
        "--character",
        character_dir,
        *args,
        "--no-progress",
    )
    assert_one_line_error(result, "alpha.png", "unsupported", "extension '.png'")
    assert not any(tmp_path.iterdir())


def test_swap_with_unknown_track(tmp_path, character_dir, data):
    result = facecast(
        "swap",
        data("plates/weekly_address_clip1.mp4"),
        "--character",
        character_dir,
        "-o",
        tmp_path / "out.mp4",
        "--track",
        "42",
        "--no-progress",
    )
    assert_one_line_error(result, "track 42 does not exist")


def _backdate_consent(folder: Path, expires: dt.date) -> None:
    """Make `folder` look like an asset built under consent that has since expired."""
    toml = folder / "consent.toml"
    toml.write_text(toml.read_text() + f"expires = {expires.isoformat()}\n")
    manifest = json.loads((folder / "character.json").read_text())
    manifest["consent"]["expires"] = expires.isoformat()
    manifest["files"]["consent.toml"] = hashlib.sha256(toml.read_bytes()).hexdigest()
    (folder / "character.json").write_text(json.dumps(manifest))


def test_swap_refuses_tracks_made_on_frames_of_another_size(tmp_path, character_dir, data):
    import cv2

    source = open_plate(data("plates/weekly_address_clip1.mp4"))
    frames = [frame for _, frame in zip(range(6), source.frames(), strict=False)]
    full, small = tmp_path / "full.mp4", tmp_path / "small.mp4"
    with open_writer(full, source.info) as writer:
        for frame in frames:
            writer.write(frame)
    with VideoWriter(small, 640, 360, source.info.fps) as writer:
        for frame in frames:
            writer.write(cv2.resize(frame, (640, 360), interpolation=cv2.INTER_AREA))
    analysed = facecast("analyze", full, "-o", tmp_path / "analysis", "--no-progress")
    assert analysed.returncode == 0, analysed.stderr
    tracks = tmp_path / "analysis" / "tracks.json"
    output = tmp_path / "out.mp4"
    result = facecast("swap", small, "--character", character_dir, "-o", output, "--tracks", tracks)
    assert_one_line_error(result, "tracks.json", "1280x720 frames but the plate's are 640x360")
    assert not output.exists()


def test_swap_of_an_odd_sized_plate_to_h264_is_refused_before_any_work(tmp_path, character_dir):
    import numpy as np

    from facecast.media import SequenceWriter

    plate = tmp_path / "odd"
    with SequenceWriter(plate, extension="png") as writer:
        writer.write(np.zeros((361, 641, 3), np.uint8))
    output = tmp_path / "out.mp4"
    result = facecast("swap", plate, "--character", character_dir, "-o", output, "--no-progress")
    assert_one_line_error(result, "out.mp4", "641x361", "--codec prores4444")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd"]


def test_swap_writes_the_face_layer_and_names_it(tmp_path, character_dir, data):
    plate = _short_plate(tmp_path, data)
    layer = tmp_path / "layer"
    result = facecast(
        "swap", plate, "--character", character_dir, "-o", tmp_path / "out.mp4",
        "--layer", layer, "--no-progress",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"layer:    {layer} (RGBA OpenEXR" in result.stdout
    assert sorted(p.name for p in layer.iterdir()) == [f"layer.{i:06d}.exr" for i in range(3)]


def test_swap_refuses_a_layer_that_is_not_a_folder(tmp_path, character_dir, data):
    result = facecast(
        "swap", data("plates/weekly_address_clip1.mp4"), "--character", character_dir,
        "-o", tmp_path / "out.mp4", "--layer", tmp_path / "layer.exr", "--no-progress",
    )  # fmt: skip
    assert_one_line_error(result, "layer.exr", "OpenEXR sequence: give a folder")
    assert not any(tmp_path.iterdir())


def test_swap_replaces_its_own_sequences_but_never_a_folder_of_other_files(
    tmp_path, character_dir, data
):
    """An output folder holding the user's files was deleted (replaced by the render); now it
    is refused before any work and left as it was. A folder holding a previous render's frames
    (`frame.N`, `matte.N`) is replaced, so a shot can be rendered again to the same place."""
    plate = _short_plate(tmp_path, data)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the director's notes")
    (mine / "frame.000007.png").write_bytes(b"not ours")
    result = facecast("swap", plate, "--character", character_dir, "-o", mine, "--no-progress")
    assert_one_line_error(result, "mine", "holds files facecast did not write", "notes.txt")
    assert sorted(p.name for p in mine.iterdir()) == ["frame.000007.png", "notes.txt"]
    assert (mine / "notes.txt").read_text() == "the director's notes"
    output, matte = tmp_path / "out", tmp_path / "matte"
    for _ in range(2):  # the second run replaces the first one's frames
        args = ("-o", output, "--matte", matte, "--no-progress")
        result = facecast("swap", plate, "--character", character_dir, *args)
        assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in output.iterdir()) == [f"frame.00000{i}.png" for i in range(3)]
    assert sorted(p.name for p in matte.iterdir()) == [f"matte.00000{i}.png" for i in range(3)]


def _short_plate(tmp_path: Path, data, frames: int = 3) -> Path:
    """The first `frames` frames of weekly_address_clip1, lossless (a swap of a few seconds)."""
    from conftest import trimmed_plate

    return trimmed_plate(
        data("plates/weekly_address_clip1.mp4"), range(frames), tmp_path / "plate.mkv"
    )


def test_listing_the_commands_loads_no_face_models():
    """`facecast --help` (and every command's start) lists the commands without importing
    mediapipe, dlib, SciPy's optimiser or matplotlib: they load when a command needs them."""
    import subprocess
    import sys

    probe = (
        "import sys, facecast.cli as cli; cli._register_commands(); "
        "print(sorted(m for m in ('mediapipe', 'dlib', 'scipy.optimize', 'matplotlib', 'c2pa') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
    shown = facecast("--help")
    assert shown.returncode == 0 and "swap" in shown.stdout and "verify" in shown.stdout


def test_help_and_usage_errors_read_in_an_80_column_terminal():
    """Every option of `facecast swap` is named in full in its help at 80 columns (Typer's Rich
    panels printed ``--shape-streng…``), each command's summary fits the listing, and a usage
    error is one plain ``Error:`` line after the usage, exit status 2 (it was a boxed panel)."""
    import os
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "facecast", *args],
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "80"},
        )

    shown = run("swap", "--help").stdout
    for option in ("--shape-strength", "--encoder-threads", "--steady-frames", "--pixel-aspect"):
        assert f"  {option} " in shown, option
    assert "…" not in shown and max(len(line) for line in shown.splitlines()) <= 80
    listing = run("--help").stdout
    assert "..." not in listing.split("Commands:")[1], listing
    missing = run("swap", "plate.mp4")
    errors = [line for line in missing.stderr.splitlines() if line.startswith("Error:")]
    assert missing.returncode == 2 and errors == ["Error: Missing option '--character'."]
    assert "╭" not in missing.stderr
    # arguments are named as the summaries name them (PLATE), not as Python does (plate)
    assert "Usage: facecast swap [OPTIONS] {PLATE}" in run("swap", "--help").stdout.replace(
        "python -m facecast", "facecast"
    )
    assert "Error: Missing argument 'PLATE'." in run("swap").stderr
