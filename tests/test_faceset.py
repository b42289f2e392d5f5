"""Faceset extraction on real footage and photos: alignment, masks, pruning, augmentation, files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from facecast.errors import MediaError
from facecast.neural.align import five_points, template
from facecast.neural.data import emphasis_map
from facecast.neural.extract import (
    ExtractSettings,
    augment_faceset,
    extract_faceset,
    sort_faceset,
)
from facecast.neural.faceset import load_faceset, save_faceset

PLATE = "plates/weekly_address_clip1.mp4"
SIZE = 64


@pytest.fixture(scope="module")
def clip_faceset():
    from conftest import find_data

    faceset, report = extract_faceset([find_data(PLATE)], ExtractSettings(size=SIZE))
    return faceset, report


@pytest.fixture(scope="module")
def photo_faceset():
    from conftest import find_data

    photos = [find_data("faces/london/004/neutral.jpg"), find_data("faces/london/004/smiling.jpg")]
    return extract_faceset(photos, ExtractSettings(size=SIZE))[0]


def test_plate_gives_one_aligned_face_per_frame(clip_faceset):
    faceset, report = clip_faceset
    assert report.found == 115 and len(faceset) == 115
    assert faceset.rgb.shape == (115, SIZE, SIZE, 3) and faceset.rgb.dtype == np.uint8
    assert [r.frame for r in faceset.records] == list(range(115))
    # The five alignment points land on the template (within 5% of the crop).
    error = [
        np.abs(five_points(p) - template(SIZE, faceset.coverage)).max() for p in faceset.landmarks
    ]
    assert np.median(error) < 0.05 * SIZE


def test_masks_cover_the_face_and_not_the_corners(clip_faceset):
    faceset, _ = clip_faceset
    mask = faceset.mask.astype(np.float32) / 255
    centre = mask[:, SIZE // 2 - 4 : SIZE // 2 + 4, SIZE // 2 - 4 : SIZE // 2 + 4]
    assert centre.min() > 0.99
    assert mask[:, :4, :4].max() == 0 and mask[:, -4:, -4:].max() == 0
    area = mask.mean(axis=(1, 2))
    assert area.min() > 0.25 and area.max() < 0.75
    emphasis = emphasis_map(faceset.landmarks[0, :, :2], SIZE) / 255
    assert 0.02 < emphasis.mean() < 0.25 and (emphasis * (1 - mask[0] > 0.5)).sum() == 0


def test_near_duplicates_are_pruned_but_motion_kept(data):
    faceset, report = extract_faceset([data(PLATE)], ExtractSettings(size=SIZE, dedupe=0.02))
    assert report.found == 115
    assert 10 < report.dropped_duplicate < 100
    assert len(faceset) == 115 - report.dropped_duplicate


def test_pose_limits_drop_turned_faces(clip_faceset, data):
    faceset, _ = clip_faceset
    yaws = np.abs([r.pose[0] for r in faceset.records])
    limit = float(np.median(yaws))
    kept, report = extract_faceset([data(PLATE)], ExtractSettings(size=SIZE, max_yaw=limit))
    assert report.dropped_pose == int((yaws > limit).sum()) > 0
    assert np.abs([r.pose[0] for r in kept.records]).max() <= limit


def test_sorting_by_sharpness_and_yaw(clip_faceset):
    faceset, _ = clip_faceset
    sharp = [r.sharpness for r in sort_faceset(faceset, "sharpness").records]
    assert sharp == sorted(sharp, reverse=True)
    yaw = [r.pose[0] for r in sort_faceset(faceset, "yaw").records]
    assert yaw == sorted(yaw)


def test_augmentation_multiplies_tiny_photo_sets(photo_faceset):
    assert len(photo_faceset) == 2
    augmented = augment_faceset(photo_faceset, copies=5, seed=3)
    assert len(augmented) == 12
    extra = augmented.records[2:]
    assert all(r.augmented for r in extra)
    flipped = [r for r in extra if r.augmented.startswith("flip")]
    assert 0 < len(flipped) < len(extra)
    for record in flipped:
        original = photo_faceset.records[
            [r.source for r in photo_faceset.records].index(record.source)
        ]
        assert record.pose[0] == pytest.approx(-original.pose[0])
    # Copies differ from their original, and the same seed gives the same copies.
    assert np.abs(augmented.rgb[2:].astype(int) - augmented.rgb[[0, 1] * 5].astype(int)).mean() > 5
    again = augment_faceset(photo_faceset, copies=5, seed=3)
    assert np.array_equal(again.rgb, augmented.rgb)
    # Landmarks follow the geometry: the mask still covers the moved eye/mouth region.
    for rgb_mask, points in zip(augmented.mask[2:], augmented.landmarks[2:], strict=True):
        emphasis = emphasis_map(points[:, :2], SIZE) > 0
        assert (rgb_mask[emphasis] > 127).mean() > 0.9


def test_save_load_round_trip(clip_faceset, tmp_path):
    faceset, _ = clip_faceset
    part = faceset.select(range(0, 115, 10))
    folder = save_faceset(part, tmp_path / "faces")
    assert not (tmp_path / ".faces.partial").exists()
    loaded = load_faceset(folder)
    assert np.array_equal(loaded.rgb, part.rgb) and np.array_equal(loaded.mask, part.mask)
    assert np.array_equal(loaded.landmarks, part.landmarks)
    assert loaded.records == part.records
    with pytest.raises(MediaError, match="not an empty folder"):
        save_faceset(part, folder)


def test_faceset_listing_a_file_outside_is_refused(clip_faceset, tmp_path):
    faceset, _ = clip_faceset
    folder = save_faceset(faceset.select([0, 1]), tmp_path / "faces")
    index = json.loads((folder / "faceset.json").read_text())
    index["faces"][1]["file"] = "../../outside.png"
    (folder / "faceset.json").write_text(json.dumps(index))
    with pytest.raises(MediaError, match="outside"):
        load_faceset(folder)


def test_cli_extracts_photos_with_augmentation(data, tmp_path):
    out = tmp_path / "fs"
    photos = data("faces/london/012/neutral.jpg").parent
    command = [sys.executable, "-m", "facecast", "faceset", "extract", str(photos), "-o", str(out)]
    run = subprocess.run(
        [*command, "--size", "64", "--augment", "3"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert len(load_faceset(out)) == 8
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 1
    assert again.stderr.strip().count("\n") == 0 and "not an empty folder" in again.stderr


def test_crop_size_outside_range_is_a_user_error():
    with pytest.raises(MediaError, match="outside"):
        ExtractSettings(size=2048)
