"""With a matte, the report follows the swapped face, not the largest one in a group shot."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facecast.media import VideoWriter, open_plate
from facecast.quality import load_quality_models, load_references, measure_shot

FRAMES = 20


def _faces(models, frame: np.ndarray) -> np.ndarray:
    """All dlib detections (upsampled once for 50-70 px faces), ``(N, 4)`` boxes."""
    rects = models.detector(frame, 1)
    return np.float32([[r.left(), r.top(), r.right(), r.bottom()] for r in rects]).reshape(-1, 4)


@pytest.fixture(scope="module")
def group_shot(tmp_path_factory):
    """Street group plate; the second-largest face gets a cast and is the only one matted."""
    from conftest import find_data

    models = load_quality_models()
    source = open_plate(find_data("plates/street_group_3s.mp4"))
    frames = [f for _, f in zip(range(FRAMES), source.frames(), strict=False)]
    boxes = _faces(models, frames[0])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    target = boxes[np.argsort(-areas)[1]]
    folder = tmp_path_factory.mktemp("group")
    info = source.info
    with (
        VideoWriter(folder / "plate.mkv", info.width, info.height, info.fps, codec="ffv1") as plate,
        VideoWriter(folder / "out.mkv", info.width, info.height, info.fps, codec="ffv1") as out,
        VideoWriter(folder / "matte.mkv", info.width, info.height, info.fps, codec="ffv1") as matte,
    ):
        for frame in frames:
            found = _faces(models, frame)
            centres = (found[:, :2] + found[:, 2:]) / 2
            target = found[
                np.argmin(np.linalg.norm(centres - (target[:2] + target[2:]) / 2, axis=1))
            ]
            alpha = np.zeros(frame.shape[:2], np.uint8)
            centre = tuple(int(v) for v in (target[:2] + target[2:]) / 2)
            axes = tuple(int(v) for v in (target[2:] - target[:2]) * 0.55)
            cv2.ellipse(alpha, centre, axes, 0, 0, 360, 255, -1)
            cast = frame.astype(np.int16)
            cast[alpha > 0] += np.int16([30, 0, -30])
            plate.write(frame)
            out.write(np.clip(cast, 0, 255).astype(np.uint8))
            matte.write(np.repeat(alpha[..., None], 3, axis=2))
    return folder, models, areas


def test_the_matted_face_is_followed_in_every_frame(group_shot):
    folder, models, areas = group_shot
    assert len(areas) >= 2  # the matted face is not the largest one
    from conftest import find_data

    references = load_references(models, find_data("faces/london/004/neutral.jpg").parent)
    shot = measure_shot(
        folder / "out.mkv",
        folder / "plate.mkv",
        references,
        models,
        matte=folder / "matte.mkv",
        stride=10_000,
    )
    followed = [r for r in shot.frames if r.status != "no_face"]
    assert len(followed) >= 0.8 * FRAMES
    assert all(r.matte_coverage > 0.3 for r in followed)
    assert all(r.edge_de_excess > 3.0 for r in followed if r.edge_de_excess is not None)


def test_frames_the_matte_leaves_empty_are_not_measured_as_the_swap(group_shot, tmp_path):
    """From frame 10 on the renderer swapped nothing (empty matte, output = plate): the faces
    there are not the swap's, so they must not count as an unchanged or un-retrieved face."""
    folder, models, _ = group_shot
    from conftest import find_data

    plate, out, matte = (open_plate(folder / n) for n in ("plate.mkv", "out.mkv", "matte.mkv"))
    info = plate.info
    with (
        VideoWriter(tmp_path / "out.mkv", info.width, info.height, info.fps, codec="ffv1") as o,
        VideoWriter(tmp_path / "matte.mkv", info.width, info.height, info.fps, codec="ffv1") as m,
    ):
        frames = zip(plate.frames(), out.frames(), matte.frames(), strict=True)
        for index, (plate_frame, out_frame, alpha) in enumerate(frames):
            swapped = index < 10
            o.write(out_frame if swapped else plate_frame)
            m.write(alpha if swapped else np.zeros_like(alpha))
    references = load_references(models, find_data("faces/london/004/neutral.jpg").parent)
    shot = measure_shot(
        tmp_path / "out.mkv", folder / "plate.mkv", references, models, matte=tmp_path / "matte.mkv"
    )
    late = shot.frames[10:]
    assert [r.status for r in late] == ["not_swapped"] * len(late)
    assert all(r.retrieved is None and r.mouth_error is None for r in late)
    assert all(r.psnr_outside > 60.0 for r in late)  # re-encoded plate: rounding only
    assert sum(r.status == "measured" for r in shot.frames[:10]) >= 8
