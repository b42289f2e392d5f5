"""Film plates: a 16-bit PNG sequence stays 16-bit through the swap, and a 10-bit video plate
10-bit, with the off-face pixels untouched."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from conftest import bare_swap, outside_the_blend
from facecast.character.asset import create_character
from facecast.media import SequenceWriter, VideoWriter, open_plate, read_image
from facecast.render import RenderSettings, render_shot

CONSENT = Path(__file__).resolve().parents[1] / "examples" / "consent_london_004.toml"
FRAMES = 12


def _london_004(tmp_path: Path, data) -> Path:
    """A character folder from London 004's neutral photo."""
    return create_character(tmp_path / "c", [data("faces/london/004/neutral.jpg")], CONSENT).path


def test_sixteen_bit_sequence_swaps_in_sixteen_bits(tmp_path, data):
    source = open_plate(data("plates/weekly_address_clip1.mp4"))
    plate = tmp_path / "plate16"
    with SequenceWriter(plate, extension="png", first_index=1001, digits=4) as writer:
        for index, frame in enumerate(source.frames()):
            if index == FRAMES:
                break
            # 16-bit plate with detail below the 8-bit step, as a film scan has
            writer.write(frame.astype(np.uint16) * 257 + (index * 37 % 200) + 1)
    character = _london_004(tmp_path, data)
    output, matte = tmp_path / "out16", tmp_path / "matte16"
    result = bare_swap(
        plate,
        character,
        output,
        matte=matte,
    )
    assert result.swapped_frames == FRAMES
    plate_frames = list(open_plate(plate).frames())
    out_frames = list(open_plate(output).frames())
    mattes = list(open_plate(matte).frames())
    assert out_frames[0].dtype == np.uint16 and mattes[0].dtype == np.uint16
    numbers = [f"{n}.png" for n in range(1001, 1001 + FRAMES)]  # the plate's frame numbers
    assert sorted(p.name.split(".", 1)[1] for p in output.iterdir()) == numbers
    assert sorted(p.name.split(".", 1)[1] for p in matte.iterdir()) == numbers
    for before, after, alpha in zip(plate_frames, out_frames, mattes, strict=True):
        changed = np.any(before != after, axis=2)
        assert changed.sum() > 5000  # the face was replaced
        # every changed pixel lies within the blend's reach of the matte (box-local fade)
        outside = outside_the_blend(alpha[..., 0])
        assert not changed[outside].any()  # bit-identical off the face, no watermark here
        # sub-8-bit detail kept: values that are not multiples of 257 survive off the face
        assert np.any(after[outside] % 257 != 0)


def test_a_ten_bit_video_plate_swaps_in_ten_bits_with_its_audio(tmp_path, data):
    source = open_plate(data("plates/weekly_address_clip1.mp4"))
    info = source.info
    plate = tmp_path / "plate10.mkv"
    ramp = ((np.arange(info.width) % 7) * 37)[None, :, None]  # detail below the 8-bit step
    with VideoWriter(
        plate, info.width, info.height, info.fps, codec="ffv1", bit_depth=10, audio_from=info.path
    ) as writer:
        for index, frame in enumerate(source.frames()):
            if index == FRAMES:
                break
            writer.write(np.clip(frame * 239.0 + 500 + ramp, 0, 65535).astype(np.uint16))
    character = _london_004(tmp_path, data)
    output, matte = tmp_path / "out.mkv", tmp_path / "matte.mkv"
    result = bare_swap(
        plate,
        character,
        output,
        matte=matte,
    )
    assert result.swapped_frames == FRAMES
    written = open_plate(output).info
    assert (written.dtype, written.bit_depth, written.codec) == ("uint16", 10, "ffv1")
    assert written.frame_count == FRAMES and written.audio_streams == 1
    manifest = json.loads(result.manifest.read_text())
    assert manifest["outputs"]["video"]["pixel_format"] == "yuv444p10le"
    assert manifest["plate"]["bit_depth"] == 10
    deep_matte = open_plate(matte).info
    assert deep_matte.bit_depth == 16  # a soft edge in 16 bits, not 256 steps
    frames = (open_plate(path).frames() for path in (plate, output, matte))
    for before, after, alpha in zip(*frames, strict=True):
        changed = np.any(before != after, axis=2)
        assert changed.sum() > 5000  # the face was replaced
        outside = outside_the_blend(alpha[..., 0])
        assert not changed[outside].any()  # 10-bit identical off the face (FFV1 is lossless)
        assert np.mean(after[outside] % 257 != 0) > 0.9  # not cut to 8 bits


def test_a_plate_shot_on_its_side_is_swapped_upright_and_stored_as_it_came(tmp_path, data):
    import av

    source = open_plate(data("plates/weekly_address_clip1.mp4"))
    upright = [frame for _, frame in zip(range(FRAMES), source.frames(), strict=False)]
    plate = tmp_path / "phone.mp4"  # stored on its side, with a display matrix, as phones do
    with av.open(str(plate), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"crf": "10"})
        stream.width, stream.height, stream.pix_fmt = 720, 1280, "yuv420p"
        stream.set_display_rotation(90)
        for index, frame in enumerate(upright):
            stored = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.rot90(frame, -1)))
            stored.pts = index
            container.mux(stream.encode(stored))
        container.mux(stream.encode(None))
    opened = open_plate(plate)
    assert (opened.info.rotation, opened.info.width, opened.info.height) == (90, 1280, 720)
    read = list(opened.frames())
    assert np.abs(read[0].astype(float) - upright[0]).mean() < 2  # upright, codec loss only
    character = _london_004(tmp_path, data)
    output, matte = tmp_path / "out.mp4", tmp_path / "matte.mkv"
    result = render_shot(
        plate, character, output, matte=matte, progress=False, settings=RenderSettings(hands=False)
    )
    assert result.swapped_frames == FRAMES  # the face was found: the analysis saw it upright
    for path in (output, matte):
        with av.open(str(path)) as container:
            stored = container.streams.video[0].codec_context
            assert (stored.width, stored.height) == (720, 1280)  # stored as the plate is
        assert open_plate(path).info.rotation == 90
    frames = (open_plate(path).frames() for path in (plate, output, matte))
    for before, after, alpha in zip(*frames, strict=True):
        change = np.abs(after.astype(float) - before).mean(axis=2)
        face = alpha[..., 0] > 128
        assert face.sum() > 5000 and change[face].mean() > 6  # replaced where the matte is
        assert change[outside_the_blend(alpha[..., 0])].mean() < 1.5  # watermark and codec


def _squeezed_plate(path: Path, data, frames: int) -> Path:
    """The first `frames` of weekly_address_clip1 squeezed 2x: stored at half width (640x720),
    pixel aspect 2, lossless H.264 at `path`."""
    import av
    import cv2

    source = open_plate(data("plates/weekly_address_clip1.mp4"))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"qp": "0"})  # lossless
        stream.width, stream.height, stream.pix_fmt = 640, 720, "yuv444p"
        stream.codec_context.sample_aspect_ratio = 2
        for index, frame in zip(range(frames), source.frames(), strict=False):
            squeezed = cv2.resize(frame, (640, 720), interpolation=cv2.INTER_AREA)
            stored = av.VideoFrame.from_ndarray(squeezed)
            stored.pts = index
            container.mux(stream.encode(stored))
        container.mux(stream.encode(None))
    assert open_plate(path).info.pixel_aspect == 2
    return path


def test_an_anamorphic_plate_is_swapped_in_square_pixels_and_stored_squeezed(tmp_path, data):
    from facecast.media.aspect import to_square
    from facecast.quality import load_quality_models
    from facecast.quality.dlibface import descriptor, detect_faces, landmarks

    plate = _squeezed_plate(tmp_path / "anamorphic.mkv", data, FRAMES)
    photo = data("faces/london/004/neutral.jpg")
    character = create_character(tmp_path / "c", [photo], CONSENT).path
    output, matte = tmp_path / "out", tmp_path / "matte.mov"  # lossless PNG frames
    result = bare_swap(
        plate,
        character,
        output,
        matte=matte,
        report_dir=tmp_path / "report",
    )
    assert result.swapped_frames == FRAMES
    # the report reads the faces unsqueezed too (as stored, dlib found none of them)
    assert result.report["frames"]["measured"] >= FRAMES - 1
    assert result.report["identity"]["verdict"] == "character"
    written = open_plate(matte).info
    assert (written.width, written.height, written.pixel_aspect) == (640, 720, 2)
    models = load_quality_models()

    def identity(image: np.ndarray) -> np.ndarray:
        return descriptor(models, image, landmarks(models, image, detect_faces(models, image)[0]))

    wanted = identity(read_image(photo))
    frames = (open_plate(path).frames() for path in (plate, output, matte))
    for index, (before, after, alpha) in enumerate(zip(*frames, strict=True)):
        changed = np.any(before != after, axis=2)
        assert changed.sum() > 2500  # the face was replaced
        assert not changed[outside_the_blend(alpha[..., 0], reach=20)].any()  # plate's pixels
        if index % 4 == 0:  # seen unsqueezed, the face is the character's
            actor, swapped = (identity(to_square(f, written.pixel_aspect)) for f in (before, after))
            assert np.linalg.norm(swapped - wanted) < np.linalg.norm(actor - wanted) - 0.1


def test_a_video_output_that_cannot_keep_the_pixel_aspect_says_so(tmp_path, data):
    """H.264 carries a squeezed plate's pixel aspect in its own bitstream; FFV1 in Matroska
    keeps none (the muxer reads only the stream's aspect, which PyAV cannot set), so a
    compositor would see the squeezed frames as square. The manifest records whether the
    output and the matte say their aspect, and `facecast swap` warns for each that does
    not."""
    from conftest import run_facecast

    plate = _squeezed_plate(tmp_path / "anamorphic.mkv", data, 3)
    character = _london_004(tmp_path, data)
    h264 = bare_swap(plate, character, tmp_path / "out.mp4")
    assert h264.encoding["pixel_aspect"] == "2" and h264.encoding["pixel_aspect_stored"]
    assert open_plate(tmp_path / "out.mp4").info.pixel_aspect == 2
    told = run_facecast(
        "swap", plate, "--character", character, "-o", tmp_path / "out.mkv",
        "--codec", "ffv1", "--matte", tmp_path / "matte.mkv", "--no-progress",
    )  # fmt: skip
    assert told.returncode == 0, told.stderr
    assert "warning: out.mkv and matte.mkv do not store the pixel aspect 2" in told.stderr
    manifest = json.loads((tmp_path / "out.mkv.facecast.json").read_text())
    assert manifest["outputs"]["video"]["pixel_aspect_stored"] is False
    assert manifest["outputs"]["matte"]["pixel_aspect_stored"] is False
    for written in ("out.mkv", "matte.mkv"):
        assert open_plate(tmp_path / written).info.pixel_aspect == 1
    told = run_facecast(
        "swap", plate, "--character", character, "-o", tmp_path / "out2.mp4",
        "--matte", tmp_path / "matte2.mkv", "--no-progress",
    )  # fmt: skip
    assert told.returncode == 0, told.stderr
    assert "warning: matte2.mkv does not store the pixel aspect 2" in told.stderr
    assert "pixel aspect 2)" in told.stdout  # the H.264 output says it


def test_a_variable_frame_rate_plate_keeps_its_frame_times(tmp_path, data):
    from fractions import Fraction

    import av

    source = open_plate(data("plates/weekly_address_clip1.mp4"))
    plate = tmp_path / "phone_vfr.mp4"  # a phone's frame times: 33 ms, with a 66 ms gap in three
    with av.open(str(plate), "w") as container:
        stream = container.add_stream("libx264", rate=30, options={"crf": "10"})
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        milliseconds = 0
        for index, frame in enumerate(source.frames()):
            if index == FRAMES:
                break
            stored = av.VideoFrame.from_ndarray(frame)
            stored.pts, stored.time_base = milliseconds, Fraction(1, 1000)
            container.mux(stream.encode(stored))
            milliseconds += 66 if index % 3 == 0 else 33
        container.mux(stream.encode(None))
    character = _london_004(tmp_path, data)
    output, matte = tmp_path / "out.mp4", tmp_path / "matte.mkv"
    render_shot(plate, character, output, matte=matte, progress=False)

    def times(path: Path) -> list[float]:
        with av.open(str(path)) as container:
            return [round(float(frame.time), 3) for frame in container.decode(video=0)]

    expected = times(plate)
    assert expected[1] == 0.066 and len(expected) == FRAMES
    assert times(output) == expected  # at the mean rate (as before) frame 1 came at 45 ms
    assert times(matte) == expected


def test_a_scene_linear_exr_plate_keeps_its_highlights_off_the_face(tmp_path, data):
    """A float EXR plate (clip1 decoded to linear light) with highlights above 1 (4.0, as a
    practical lamp or a rim light gives) beside the face, within the blend's box: they came
    back clipped to 1.0 because the compositing works on display-referred [0, 1]; now they
    keep their level where the matte is 0 (give or take the blend's reach), the output stays
    float EXR and is the plate's beyond the blend, and every output and layer frame carries its
    plate frame's header attributes (timecode, ACEScg chromaticities, the camera's keys)."""
    import OpenEXR

    from facecast.media import write_image
    from facecast.media.transfer import srgb_to_linear

    source = open_plate(data("plates/weekly_address_clip1.mp4"))
    plate = tmp_path / "plate_exr"
    plate.mkdir()
    acescg = (0.713, 0.293, 0.165, 0.830, 0.128, 0.044, 0.32168, 0.33767)
    for index, frame in zip(range(4), source.frames(), strict=False):
        linear = srgb_to_linear(frame.astype(np.float32) / 255.0).astype(np.float32)
        linear[140:150, 480:500] = 4.0  # above the forehead, inside the face's box
        linear[300:310, 335:345] = 2.5  # beside the cheek
        timecode = OpenEXR.TimeCode()
        timecode.hours, timecode.minutes, timecode.seconds, timecode.frame = 1, 0, 10, index
        attributes = {"timeCode": timecode, "chromaticities": acescg, "camera/lens": "50mm"}
        write_image(plate / f"shot.{1001 + index}.exr", linear, attributes=attributes)
    output, matte, layer = tmp_path / "out_exr", tmp_path / "matte_exr", tmp_path / "layer"
    result = bare_swap(
        plate,
        _london_004(tmp_path, data),
        output,
        matte=matte,
        layer=layer,
    )  # no codec: EXR, as the plate
    assert result.swapped_frames == 4 and result.encoding == {"codec": "exr", "dtype": "float32"}
    assert sorted(p.suffix for p in output.iterdir()) == [".exr"] * 4
    for before, after, alpha in zip(
        open_plate(plate).frames(), open_plate(output).frames(), open_plate(matte).frames(),
        strict=True,
    ):  # fmt: skip
        assert after.dtype == np.float32
        off_face, face = alpha[..., 0] == 0, alpha[..., 0] > 60000
        assert np.abs(after - before)[face].mean() > 0.01  # the face was replaced
        # beyond the blend: the plate's, to float rounding (the composite's [0, 1] round trip)
        outside = outside_the_blend(alpha[..., 0])
        np.testing.assert_allclose(after[outside], before[outside], rtol=1e-5, atol=1e-6)
        for rows, cols, level in (
            (slice(140, 150), slice(480, 500), 4.0),
            (slice(300, 310), slice(335, 345), 2.5),
        ):
            highlight = after[rows, cols][off_face[rows, cols]]
            assert highlight.size and np.abs(highlight - level).max() < 0.25 * (level - 1.0)
    for folder in (output, layer):
        for index, path in enumerate(sorted(folder.iterdir())):
            assert path.name.endswith(f".{1001 + index}.exr")
            with OpenEXR.File(str(path), header_only=True) as exr:
                header = exr.header()
                assert header["timeCode"].seconds == 10 and header["timeCode"].frame == index
                assert np.allclose(header["chromaticities"], acescg)
                assert header["camera/lens"] == "50mm"
                said = "AI-generated face" if folder == layer else "AI-altered frame"
                assert said in header["comments"]


def test_an_acescg_exr_plate_gets_the_same_face_as_its_rec709_twin(tmp_path, data):
    """The same frames as linear Rec.709 EXRs and as ACEScg EXRs (AP1 primaries, D60 white,
    said in their headers), swapped with the same tracks: the ACEScg output taken back to
    Rec.709 is the Rec.709 output (the compositing works in Rec.709 light): mean difference
    in the face under 0.0002 in linear light; composited on the AP1 numbers as if they were
    Rec.709 (before), 0.0034. Off the face, each output is its own plate."""
    from facecast.analysis import analyze_plate
    from facecast.media import write_image
    from facecast.media.transfer import apply_matrix, srgb_to_linear, to_rec709

    acescg = (0.713, 0.293, 0.165, 0.830, 0.128, 0.044, 0.32168, 0.33767)
    into_rec709 = to_rec709(acescg)
    source = open_plate(data("plates/weekly_address_clip1.mp4"))
    rec709, ap1 = tmp_path / "rec709", tmp_path / "ap1"
    rec709.mkdir(), ap1.mkdir()
    for index, frame in zip(range(4), source.frames(), strict=False):
        linear = srgb_to_linear(frame.astype(np.float32) / 255.0).astype(np.float32)
        write_image(rec709 / f"f.{index:04d}.exr", linear)
        in_ap1 = apply_matrix(linear, np.linalg.inv(into_rec709))
        write_image(ap1 / f"f.{index:04d}.exr", in_ap1, attributes={"chromaticities": acescg})
    assert open_plate(ap1).info.describe().endswith("ACES AP1 primaries (ACEScg)")
    tracks = analyze_plate(open_plate(rec709), progress=False).save(tmp_path / "tracks.json")
    character = _london_004(tmp_path, data)
    outputs = {}
    for name, plate in (("rec709", rec709), ("ap1", ap1)):
        outputs[name] = tmp_path / f"out_{name}"
        bare_swap(
            plate,
            character,
            outputs[name],
            matte=tmp_path / f"matte_{name}",
            tracks_file=tracks,
        )
    frames = zip(
        open_plate(outputs["rec709"]).frames(), open_plate(outputs["ap1"]).frames(),
        open_plate(ap1).frames(), open_plate(tmp_path / "matte_ap1").frames(), strict=True,
    )  # fmt: skip
    for out709, out_ap1, plate_ap1, alpha in frames:
        face = alpha[..., 0] > 60000
        assert face.sum() > 10_000
        back = apply_matrix(out_ap1, into_rec709)
        assert np.abs(back - out709)[face].mean() < 2e-4
        assert np.abs(back - out709)[face].max() < 5e-3
        outside = outside_the_blend(alpha[..., 0])
        np.testing.assert_allclose(out_ap1[outside], plate_ap1[outside], rtol=1e-5, atol=1e-6)
