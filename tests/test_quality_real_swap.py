"""The report on a real swap: London 004 put on the weekly-address speaker by facecast itself.

Runs the project's own render (``facecast.render.render_shot``) with ``report_dir``, which calls
`facecast.quality.write_report` with the render's matte, on the first frames of the plate.
"""

from __future__ import annotations

import base64
import json
import re

import pytest

from facecast.media import VideoWriter, open_plate

render = pytest.importorskip("facecast.render", reason="the render pipeline is not in this tree")
asset = pytest.importorskip("facecast.character.asset", reason="character assets not in this tree")

FRAMES = 30
CONSENT = """
subject = "Face Research Lab London Set, person 004"
granted_by = "DeBruine & Jones (2017), released under CC BY 4.0"
basis = "licensed"
production = "facecast tests"
"""


@pytest.fixture(scope="module")
def swapped(tmp_path_factory):
    from conftest import find_data

    folder = tmp_path_factory.mktemp("real_swap")
    source = open_plate(find_data("plates/weekly_address_clip1.mp4"))
    plate = folder / "plate.mkv"
    info = source.info
    with VideoWriter(plate, info.width, info.height, info.fps, codec="ffv1") as writer:
        for _, frame in zip(range(FRAMES), source.frames(), strict=False):
            writer.write(frame)
    (folder / "consent.toml").write_text(CONSENT)
    photos = [find_data(f"faces/london/004/{name}.jpg") for name in ("neutral", "smiling")]
    asset.create_character(folder / "london004", photos, folder / "consent.toml")
    result = render.render_shot(
        plate,
        folder / "london004",
        folder / "out.mp4",
        matte=folder / "matte.mkv",
        report_dir=folder / "report",
        gallery=photos[0].parents[1],
        progress=False,
    )
    return folder, result


def test_swap_moves_identity_towards_the_character(swapped):
    _, result = swapped
    identity = result.report["identity"]
    assert identity["verdict"] == "character"
    assert identity["distance_to_character"] < identity["plate_distance_to_character"] - 0.15
    assert identity["closer_to_character_than_actor"] >= 0.8


def test_swap_keeps_the_actors_head_pose(swapped):
    _, result = swapped
    metrics = {m["key"]: m for m in result.report["metrics"]}
    assert metrics["pose_error"]["status"] in ("pass", "warn")  # < 6 deg, offset included
    assert metrics["pose_tracking_error"]["value"] < 4.0


def test_report_files_are_written_and_describe_the_render(swapped):
    folder, result = swapped
    report = json.loads((folder / "report" / "report.json").read_text())
    assert report["summary"] == result.report
    assert report["inputs"]["matte"] == str(folder / "matte.mkv")
    assert len(report["frames"]) == FRAMES
    assert all(f["status"] == "measured" for f in report["frames"])
    counts = report["summary"]["frames"]
    assert counts["plate"] == counts["output"] == FRAMES
    assert (folder / "report" / "report.html").stat().st_size > 50_000


def test_the_reports_crops_of_the_output_say_they_are_ai_altered(swapped, tmp_path):
    """The contact sheet embeds JPEG crops of the output; one saved from the page is a picture
    of a swapped face, so it carries the same label as the output's frames (text and the IPTC
    digital source type); the plate's crops beside them carry none."""
    from facecast.media.labels import names_ai_media, read_label

    folder, _ = swapped
    page = (folder / "report" / "report.html").read_text()
    pairs = re.findall(
        r'<div class="pair"><img class="" alt="plate" src="data:image/jpeg;base64,([^"]+)">'
        r'<img class="" alt="output" src="data:image/jpeg;base64,([^"]+)">',
        page,
    )
    assert pairs
    for index, (plate, output) in enumerate(pairs):
        for name, encoded in (("plate", plate), ("output", output)):
            path = tmp_path / f"{name}_{index}.jpg"
            path.write_bytes(base64.b64decode(encoded))
            label = read_label(path)
            if name == "plate":
                assert label.text is None and label.source_type is None
            else:
                assert names_ai_media(label.source_type), label
                assert "AI-altered" in label.text and "out.mp4" in label.text
