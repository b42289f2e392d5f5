"""The mesh engine keeps the actor's expression: what the independent measurer (dlib) reads.

Short real swaps (London 012, the character whose mouth read most closed before, and 004, on
the first frames of the weekly-address plate, which include wide-open vowels and a blink) are
measured with the project's quality code; and the engine's layer itself is checked where the
cause was:
the plate's mouth and eyes must move with the moved lips and lids, and the openings must be
covered so the compositor does not erode the face matte around them.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facecast.media import VideoWriter, open_plate, to_uint8

render = pytest.importorskip("facecast.render", reason="the render pipeline is not in this tree")
asset = pytest.importorskip("facecast.character.asset", reason="character assets not in this tree")

#: Frames 0-35 hold closed, half-open and wide-open mouths (to 0.26 inter-ocular) and a blink.
FRAMES = 36
CONSENT = """
subject = "Face Research Lab London Set, person {person}"
granted_by = "DeBruine & Jones (2017), released under CC BY 4.0"
basis = "licensed"
production = "facecast tests"
"""


@pytest.fixture(scope="module")
def plate(tmp_path_factory):
    from conftest import find_data

    path = tmp_path_factory.mktemp("expression") / "plate.mkv"
    source = open_plate(find_data("plates/weekly_address_clip1.mp4"))
    info = source.info
    with VideoWriter(path, info.width, info.height, info.fps, codec="ffv1") as writer:
        for _, frame in zip(range(FRAMES), source.frames(), strict=False):
            writer.write(frame)
    return path


def _character(person: str, folder):
    """Build London `person`'s character in `folder`; returns the character folder."""
    from conftest import find_data

    (folder / "consent.toml").write_text(CONSENT.format(person=person))
    photos = [find_data(f"faces/london/{person}/{name}.jpg") for name in ("neutral", "smiling")]
    asset.create_character(folder / f"london{person}", photos, folder / "consent.toml")
    return folder / f"london{person}"


@pytest.fixture(scope="module", params=["012", "004"])
def measured(request, plate, tmp_path_factory):
    """``(person, metrics)`` of a default swap of `plate`, measured by the quality report."""
    folder = tmp_path_factory.mktemp(f"swap{request.param}")
    result = render.render_shot(
        plate,
        _character(request.param, folder),
        folder / "out.mp4",
        matte=folder / "matte.mkv",
        report_dir=folder / "report",
        progress=False,
    )
    return request.param, {m["key"]: m["value"] for m in result.report["metrics"]}


def test_mouth_opening_reads_as_the_actors(measured):
    # 012 measured 0.020-0.022 (0.029 before the plate's mouth moved with the lips and the
    # lower face kept the actor's geometry); 004: 0.018 (0.019)
    _, metrics = measured
    assert metrics["mouth_error"] <= 0.025


def test_eye_opening_reads_as_the_actors(measured):
    # 004 measured 0.0067-0.0082 as the compositor changed (0.0073 before); 012 measured 0.015
    # (0.0135 before: its light lashes and brows give dlib little to read; benchmarks/quality.py
    # has the 60-frame table). With the texture prefilter and the wider kept lids 004 read
    # 0.0090-0.0105 in fresh clones: the watermark carries a random character id, which moves
    # dlib's reading of these 36 frames by about 0.001 from run to run. The bounds leave room
    # for that spread, not for a regression.
    person, metrics = measured
    assert metrics["eye_error"] <= (0.0115 if person == "004" else 0.018)


def test_face_is_as_stable_as_the_plate(measured):
    _, metrics = measured
    assert metrics["stability_ratio"] <= 1.1


@pytest.fixture(scope="module")
def moved_layer(plate, tmp_path_factory):
    """The engine's layer for one wide-open frame, with the inner face moved (strength 1)."""
    from facecast.analysis import FaceAnalyzer, analyze_plate
    from facecast.character.asset import load_character
    from facecast.engines.mesh import MeshEngine

    character = _character("012", tmp_path_factory.mktemp("layer"))
    with FaceAnalyzer() as analyzer:
        tracks = analyze_plate(open_plate(plate), analyzer, progress=False)
    track = tracks.main_track()
    faces = tracks.faces_of(track)
    engine = MeshEngine(shape_strength=1.0)
    engine.prepare(load_character(character))
    engine.prepare_track(track, list(faces.values()))
    index = max(
        faces, key=lambda i: np.linalg.norm(faces[i].landmarks[13] - faces[i].landmarks[14])
    )
    frame = to_uint8(next(f for i, f in enumerate(open_plate(plate).frames()) if i == index))
    face = faces[index]
    return engine.render(frame, face), engine.target_landmarks(face), face.landmarks


def test_plate_inside_the_eyes_moves_with_the_lids(moved_layer):
    layer, moved, original = moved_layer
    x0, y0 = layer.box[:2]
    map_x, map_y = layer.plate_warp
    for upper, lower in ((159, 145), (386, 374)):  # right eye, left eye: lid midpoints
        centre = (moved[upper, :2] + moved[lower, :2]) / 2
        x, y = np.round(centre - (x0, y0)).astype(int)
        source = np.array([map_x[y, x] + x0, map_y[y, x] + y0])
        pixel = np.array([x + x0, y + y0], np.float64)
        lids_moved = (moved[[upper, lower], :2] - original[[upper, lower], :2]).mean(axis=0)
        assert np.linalg.norm(lids_moved) > 1.0  # the eye did move (else this says nothing)
        # the eye's centre is fetched from where the lids came from (to within the eye's change
        # of width), not from where it is now
        assert np.linalg.norm(source - (pixel - lids_moved)) < 1.0


def test_openings_are_covered_and_kept_from_the_plate(moved_layer):
    layer, moved, _ = moved_layer
    x0, y0 = layer.box[:2]
    for upper, lower in ((13, 14), (159, 145), (386, 374)):  # mouth, right eye, left eye
        x, y = np.round((moved[upper, :2] + moved[lower, :2]) / 2 - (x0, y0)).astype(int)
        assert layer.alpha[y, x] == pytest.approx(1.0)
        assert layer.keep_plate[y, x] == pytest.approx(1.0, abs=1e-3)
    # the whole kept region is covered: no pinholes between an opening's polygon and the lid
    # or lip triangles folded over it, which the compositor's erosion would widen
    assert (layer.alpha >= layer.keep_plate - 1e-6).all()


def test_a_face_drawn_smaller_than_the_texture_is_prefiltered(plate, tmp_path_factory):
    """The same face drawn at 40% of its size: the texture (512 texels) is then minified about
    3x, and without a prefilter its pores alias into noise that shimmers as the head moves.
    The engine's render there must hold less fine detail than an unfiltered sampling, and at
    the plate's own size (minification about 1.2) nearly the same."""
    from dataclasses import replace

    from facecast.analysis import FaceAnalyzer
    from facecast.character.asset import load_character
    from facecast.engines import mesh

    assert mesh.prefilter_sigma(1.0) == 0.0 and mesh.prefilter_sigma(3.0) > 1.5
    frame = to_uint8(next(iter(open_plate(plate).frames())))
    with FaceAnalyzer(static_images=True) as analyzer:
        (face,) = analyzer.detect(frame)
    centre = face.landmarks.mean(axis=0)
    small = replace(face, landmarks=(centre + 0.4 * (face.landmarks - centre)).astype(np.float32))
    character = load_character(_character("004", tmp_path_factory.mktemp("prefilter")))

    def fine_detail(target, prefilter: float) -> float:
        engine = mesh.MeshEngine(shape_strength=0.0)
        engine.prepare(character)
        original, mesh.PREFILTER = mesh.PREFILTER, prefilter
        try:
            layer = engine.render(frame, target)
        finally:
            mesh.PREFILTER = original
        grey = layer.rgb.mean(axis=2)
        inside = cv2.erode((layer.alpha > 0.99).astype(np.uint8), np.ones((5, 5), np.uint8))
        return float(np.abs(cv2.Laplacian(grey, cv2.CV_32F))[inside > 0].mean())

    small_detail = fine_detail(small, mesh.PREFILTER), fine_detail(small, 0.0)
    assert small_detail[0] < 0.8 * small_detail[1], small_detail
    full_detail = fine_detail(face, mesh.PREFILTER), fine_detail(face, 0.0)
    assert full_detail[0] > 0.8 * full_detail[1], full_detail


def test_the_mesh_edge_of_a_small_face_is_not_darkened(plate, tmp_path_factory):
    """A face drawn small samples the texture's most blurred level, whose blur reached into the
    layout's empty (black) outside, and so did bilinear sampling at the plate's own size: the
    render's edge row read 0.71 (face at 40%) and 0.77 (full size) of the skin 3-5 pixels in
    (London 024; a thin dark arc across the forehead of the demo's 150-pixel face). With the
    texture padded beyond its layout: 0.91 and 0.97, the rest being the skin's own shading."""
    from dataclasses import replace

    from facecast.analysis import FaceAnalyzer
    from facecast.character.asset import load_character
    from facecast.engines import mesh

    frame = to_uint8(next(iter(open_plate(plate).frames())))
    with FaceAnalyzer(static_images=True) as analyzer:
        (face,) = analyzer.detect(frame)
    centre = face.landmarks.mean(axis=0)
    character = load_character(_character("024", tmp_path_factory.mktemp("edge")))
    engine = mesh.MeshEngine(shape_strength=0.0)
    engine.prepare(character)

    def edge_over_inside(target) -> float:
        layer = engine.render(frame, target)
        covered = (layer.alpha > 0.99).astype(np.uint8)
        rim = covered - cv2.erode(covered, np.ones((3, 3), np.uint8))
        ring = cv2.erode(covered, np.ones((7, 7), np.uint8)) - cv2.erode(
            covered, np.ones((11, 11), np.uint8)
        )
        grey = layer.rgb.mean(axis=2)
        return float(grey[rim > 0].mean() / grey[ring > 0].mean())

    for scale in (0.4, 1.0):
        target = replace(face, landmarks=(centre + scale * (face.landmarks - centre)))
        ratio = edge_over_inside(target)
        assert ratio > 0.88, (scale, ratio)
