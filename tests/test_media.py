"""Footage I/O: round trips keep timing, size and audio; bad input gets one clear error."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from facecast.errors import MediaError
from facecast.media import (
    SequenceWriter,
    VideoWriter,
    open_plate,
    open_writer,
    read_image,
    to_uint8,
    write_image,
)
from facecast.media.limits import MAX_SIDE

NTSC = Fraction(30000, 1001)


def make_plate_with_audio(path: Path, source: Path, frames: int, fps: Fraction) -> Path:
    """Re-time the first `frames` frames of a real plate to `fps` and add a stereo AAC tone."""
    with av.open(str(source)) as src, av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        stream = src.streams.video[0]
        video.width, video.height, video.pix_fmt = stream.width, stream.height, "yuv420p"
        audio = out.add_stream("aac", rate=48000, layout="stereo")
        for index, frame in enumerate(src.decode(stream)):
            if index == frames:
                break
            new = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
            new.pts = index
            out.mux(video.encode(new))
        out.mux(video.encode(None))
        seconds = frames / fps
        samples = int(48000 * seconds)
        t = np.arange(samples) / 48000.0
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for start in range(0, samples, 1024):
            chunk = np.stack([tone[start : start + 1024]] * 2)
            block = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            block.sample_rate, block.pts = 48000, start
            out.mux(audio.encode(block))
        out.mux(audio.encode(None))
    return path


@pytest.fixture
def ntsc_plate(tmp_path, data):
    return make_plate_with_audio(
        tmp_path / "ntsc.mp4", data("plates/street_group_3s.mp4"), frames=30, fps=NTSC
    )


def test_round_trip_keeps_count_rate_size_and_audio(ntsc_plate, tmp_path):
    plate = open_plate(ntsc_plate)
    assert plate.info.fps == NTSC and plate.info.audio_streams == 1
    output = tmp_path / "copy.mov"
    with open_writer(output, plate.info) as writer:
        for frame in plate.frames():
            writer.write(frame)
    copy = open_plate(output).info
    assert copy.frame_count == plate.info.frame_count == 30
    assert copy.fps == NTSC  # exact rational, not 29.97
    assert (copy.width, copy.height) == (plate.info.width, plate.info.height)
    with av.open(str(ntsc_plate)) as a, av.open(str(output)) as b:
        source = [bytes(p) for p in a.demux(a.streams.audio[0]) if p.size]
        copied = [bytes(p) for p in b.demux(b.streams.audio[0]) if p.size]
        assert b.streams.audio[0].codec_context.name == "aac"
    assert copied == source


def test_round_trip_pixels_stay_close_through_h264(ntsc_plate, tmp_path):
    plate = open_plate(ntsc_plate)
    output = tmp_path / "copy.mp4"
    with open_writer(output, plate.info) as writer:
        originals = []
        for frame in plate.frames():
            writer.write(frame)
            originals.append(frame)
    decoded = list(open_plate(output).frames())
    mse = np.mean([(a.astype(float) - b) ** 2 for a, b in zip(originals, decoded, strict=True)])
    assert 10 * np.log10(255**2 / mse) > 38


def test_writer_leaves_no_file_when_interrupted(tmp_path):
    output = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError), VideoWriter(output, 64, 64, Fraction(24)) as writer:
        writer.write(np.zeros((64, 64, 3), np.uint8))
        raise RuntimeError("render failed")
    assert list(tmp_path.iterdir()) == []


def test_prores_4444_output(tmp_path, data):
    plate = open_plate(data("plates/tears_of_steel_10s.mp4"))
    output = tmp_path / "prores.mov"
    with open_writer(output, plate.info, codec="prores4444") as writer:
        for index, frame in enumerate(plate.frames()):
            if index == 5:
                break
            writer.write(frame)
    with av.open(str(output)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "prores"
        assert stream.codec_context.pix_fmt.startswith("yuv444p")


def test_sixteen_bit_png_sequence_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 65535, (48, 64, 3), dtype=np.uint16) for _ in range(3)]
    with SequenceWriter(tmp_path / "seq", extension="png") as writer:
        for frame in frames:
            writer.write(frame)
    plate = open_plate(tmp_path / "seq", fps=Fraction(24000, 1001))
    assert plate.info.dtype == "uint16" and plate.info.frame_count == 3
    assert plate.info.fps == Fraction(24000, 1001)
    for original, loaded in zip(frames, plate.frames(), strict=True):
        np.testing.assert_array_equal(original, loaded)


def test_exr_sequence_round_trip_keeps_float(tmp_path):
    frame = np.linspace(0, 4, 32 * 16 * 3, dtype=np.float32).reshape(16, 32, 3)
    with SequenceWriter(tmp_path / "exr", extension="exr") as writer:
        writer.write(frame)
    (loaded,) = list(open_plate(tmp_path / "exr").frames())
    assert loaded.dtype == np.float32
    np.testing.assert_allclose(loaded, frame, rtol=1e-3)
    assert to_uint8(loaded).dtype == np.uint8


def test_an_exr_is_read_in_its_display_window(tmp_path):
    """A compositor's EXR often stores a bounding box (data window inside the display window)
    or overscan (beyond it): the frame is the display window, the data at its place."""
    import OpenEXR

    data = np.arange(3 * 4 * 3, dtype=np.float32).reshape(3, 4, 3)
    windows = {"bbox": ((5, 2), (8, 4)), "overscan": ((-2, -1), (1, 1))}
    for name, (start, end) in windows.items():
        header = {
            "compression": OpenEXR.ZIP_COMPRESSION,
            "type": OpenEXR.scanlineimage,
            "displayWindow": (np.int32([0, 0]), np.int32([15, 7])),
            "dataWindow": (np.int32(start), np.int32(end)),
        }
        with OpenEXR.File(header, {"RGBA": np.dstack([data, np.ones((3, 4), np.float32)])}) as exr:
            exr.write(str(tmp_path / f"{name}.exr"))
    bbox = read_image(tmp_path / "bbox.exr")
    assert bbox.shape == (8, 16, 3)
    np.testing.assert_array_equal(bbox[2:5, 5:9], data)
    assert bbox.sum() == data.sum()
    overscan = read_image(tmp_path / "overscan.exr")  # x -2..1, y -1..1: the part on screen
    assert overscan.shape == (8, 16, 3)
    np.testing.assert_array_equal(overscan[0:2, 0:2], data[1:3, 2:4])
    assert overscan.sum() == data[1:3, 2:4].sum()


def test_a_windowed_frame_is_stored_as_its_exr_data_window(tmp_path):
    from facecast.media.sequence import Windowed

    window = Windowed(np.full((2, 4, 4), 0.5, np.float16), (6, 3), (16, 8))
    layer = window.full()
    assert layer.shape == (8, 16, 4) and layer.sum() == window.pixels.sum()
    write_image(tmp_path / "layer.exr", window, attributes={"comments": "x"})
    import OpenEXR

    with OpenEXR.File(str(tmp_path / "layer.exr")) as exr:  # its header lives with the file
        header, pixels = exr.header(), exr.channels()["RGBA"].pixels
        assert [list(c) for c in header["dataWindow"]] == [[6, 3], [9, 4]]
        assert [list(c) for c in header["displayWindow"]] == [[0, 0], [15, 7]]
        assert header["comments"] == "x"
    assert pixels.dtype == np.float16 and pixels.shape == (2, 4, 4)
    np.testing.assert_array_equal(read_image(tmp_path / "layer.exr"), layer[..., :3])


def test_sequence_formats_follow_the_plates_pixels(tmp_path):
    """A float EXR plate to a folder with no format went to PNG, which OpenCV cut to 0 and 1
    (a black frame); now it goes to EXR, PNG/JPEG are refused for it in one line, and an 8-bit
    frame written as EXR is linear light, not 0-255."""
    from facecast.media import check_sequence_output, default_sequence_format
    from facecast.media.transfer import srgb_to_linear

    frame = np.linspace(0, 1, 8 * 8 * 3, dtype=np.float32).reshape(8, 8, 3)
    with SequenceWriter(tmp_path / "exr_plate", extension="exr") as writer:
        writer.write(frame)
    exr_plate = open_plate(tmp_path / "exr_plate").info
    assert default_sequence_format(exr_plate) == "exr"
    for name in ("png", "jpg"):
        with pytest.raises(MediaError, match=rf"out: {name.upper()} holds .* float32: use"):
            check_sequence_output(tmp_path / "out", exr_plate, name)
    with pytest.raises(MediaError, match="unknown image format 'webp'"):
        check_sequence_output(tmp_path / "out", exr_plate, "webp")
    with pytest.raises(MediaError, match="cannot hold float32 pixels"):
        write_image(tmp_path / "cut.png", frame)
    with open_writer(tmp_path / "out", exr_plate) as writer:
        writer.write(frame)
    (written,) = list((tmp_path / "out").iterdir())
    assert written.suffix == ".exr"
    np.testing.assert_array_equal(read_image(written), frame)
    codes = (np.arange(64 * 3) % 256).astype(np.uint8).reshape(8, 8, 3)
    write_image(tmp_path / "eight_bit.exr", codes)
    expected = srgb_to_linear(codes / 255.0).astype(np.float32)
    np.testing.assert_allclose(read_image(tmp_path / "eight_bit.exr"), expected, rtol=1e-6)


def test_acescg_to_rec709_is_the_published_bradford_matrix():
    from facecast.media.transfer import REC709_CHROMATICITIES, rgb_to_xyz, to_rec709

    acescg = (0.713, 0.293, 0.165, 0.830, 0.128, 0.044, 0.32168, 0.33767)
    published = [  # ACEScg -> linear sRGB, Bradford D60 -> D65 (colour-science, OCIO configs)
        [1.70505, -0.62179, -0.08326],
        [-0.13026, 1.14080, -0.01055],
        [-0.02400, -0.12897, 1.15297],
    ]
    np.testing.assert_allclose(to_rec709(acescg), published, atol=2e-5)
    np.testing.assert_allclose(to_rec709(acescg).sum(axis=1), 1.0, atol=1e-4)  # white stays
    assert to_rec709(None) is None and to_rec709(REC709_CHROMATICITIES) is None
    srgb_to_xyz = [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
    np.testing.assert_allclose(rgb_to_xyz(REC709_CHROMATICITIES), srgb_to_xyz, atol=2e-4)


def test_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(MediaError, match="does not exist"):
        open_plate(tmp_path / "nope.mp4")


def test_not_a_video_is_one_clear_error(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 100)
    with pytest.raises(MediaError, match="cannot be opened as video") as error:
        open_plate(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_truncated_video_is_reported(tmp_path, data):
    source = data("plates/weekly_address_clip1.mp4").read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(source[: len(source) // 3])
    with pytest.raises(MediaError) as error:
        plate = open_plate(path)
        for _ in plate.frames():
            pass
    assert str(path) in str(error.value)


def test_empty_folder_is_reported(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(MediaError, match="holds no image frames"):
        open_plate(tmp_path / "empty")


def test_sequence_with_mixed_sizes_names_the_odd_frame(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_image(folder / "f_001.png", np.zeros((32, 32, 3), np.uint8))
    write_image(folder / "f_002.png", np.zeros((32, 32, 3), np.uint8))
    write_image(folder / "f_003.png", np.zeros((40, 32, 3), np.uint8))
    with pytest.raises(MediaError, match=r"f_003\.png"):
        list(open_plate(folder).frames())


def test_huge_image_is_refused_before_decoding(tmp_path):
    path = tmp_path / "huge.png"
    # a valid PNG header claiming an enormous size; decoding it would need gigabytes
    small = cv2.imencode(".png", np.zeros((1, 1, 3), np.uint8))[1].tobytes()
    huge = bytearray(small)
    huge[16:24] = (MAX_SIDE * 2).to_bytes(4, "big") + (MAX_SIDE * 2).to_bytes(4, "big")
    huge[29:33] = zlib.crc32(bytes(huge[12:29])).to_bytes(4, "big")  # IHDR checksum
    path.write_bytes(bytes(huge))
    with pytest.raises(MediaError, match="larger than facecast accepts"):
        read_image(path)


def test_background_writer_gives_the_same_bytes(tmp_path, data):
    from facecast.media.background import BackgroundWriter

    plate = open_plate(data("plates/weekly_address_clip1.mp4"))
    frames = [f for _, f in zip(range(12), plate.frames(), strict=False)]
    with open_writer(tmp_path / "plain.mp4", plate.info) as writer:
        for frame in frames:
            writer.write(frame)
    with BackgroundWriter(open_writer(tmp_path / "threaded.mp4", plate.info)) as encoder:
        for frame in frames:
            encoder.write(frame)
    assert (tmp_path / "plain.mp4").read_bytes() == (tmp_path / "threaded.mp4").read_bytes()


def test_background_writer_reports_errors_and_leaves_nothing(tmp_path):
    from facecast.media.background import BackgroundWriter

    output = tmp_path / "bad.mp4"
    writer = VideoWriter(output, 64, 64, Fraction(24))
    with pytest.raises(ValueError, match="expected uint8"), BackgroundWriter(writer) as encoder:
        for _ in range(10):
            encoder.write(np.zeros((32, 32, 3), np.uint8))  # wrong size
    assert list(tmp_path.iterdir()) == []


def test_read_ahead_yields_the_same_frames_in_order(data):
    from facecast.media.background import read_ahead

    plate = open_plate(data("plates/weekly_address_clip1.mp4"))
    plain = list(plate.frames())
    ahead = list(read_ahead(plate.frames(), depth=3))
    assert len(ahead) == len(plain) == plate.info.frame_count
    assert all(np.array_equal(a, b) for a, b in zip(ahead, plain, strict=True))


def test_read_ahead_raises_the_sources_error_where_it_happened():
    """A decoder failing mid-shot (see test_analysis_cli's truncated plate for the real file)
    reaches the consumer after the frames decoded before it, not earlier and not lost."""
    from facecast.media.background import read_ahead

    def frames():
        yield from range(7)
        raise MediaError("decoding failed after frame 7", "cut.mp4")

    seen = []
    with pytest.raises(MediaError, match="after frame 7"):
        for value in read_ahead(frames(), depth=2):
            seen.append(value)
    assert seen == list(range(7))


def test_read_ahead_stops_and_closes_its_source_when_left_early():
    import threading

    from facecast.media.background import read_ahead

    closed = threading.Event()

    def numbers():
        try:
            yield from range(1000)
        finally:
            closed.set()

    for value in read_ahead(numbers(), depth=2):
        if value == 5:
            break
    assert closed.wait(timeout=5)
    assert not any(t.name == "facecast-read" for t in threading.enumerate())


_ENCODE_ON_CPUS = """
import hashlib, os, sys
from fractions import Fraction
from facecast.media import VideoWriter, open_plate
cpus, codec, plate, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:cpus]))
frames = [f for _, f in zip(range(12), open_plate(plate).frames())]
with VideoWriter(out, frames[0].shape[1], frames[0].shape[0], Fraction(25), codec=codec) as w:
    for frame in frames:
        w.write(frame)
print(hashlib.sha256(open(out, "rb").read()).hexdigest())
"""


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs two CPUs to hold a process to one of them",
)
@pytest.mark.parametrize(("codec", "suffix"), [("h264", ".mp4"), ("ffv1", ".mkv")])
def test_encoded_bytes_do_not_depend_on_the_machines_cores(tmp_path, data, codec, suffix):
    """x264 and FFV1 change their output with their thread count, which defaults to one per
    core, and Matroska writes a random segment id: the writer pins both, so the same frames
    give the same file on one CPU and on two (and from one run to the next)."""
    plate = str(data("plates/weekly_address_clip1.mp4"))
    digests = set()
    for run, cpus in enumerate((1, 2, 2)):
        out = tmp_path / f"run{run}{suffix}"
        done = subprocess.run(
            [sys.executable, "-c", _ENCODE_ON_CPUS, str(cpus), codec, plate, str(out)],
            capture_output=True,
            text=True,
            check=True,
        )
        digests.add(done.stdout.strip().splitlines()[-1])
    assert len(digests) == 1, digests


def _ten_bit_frames(data, count: int) -> list[np.ndarray]:
    """Real plate frames as 16-bit RGB with detail below the 8-bit step (as 10-bit video has)."""
    plate = open_plate(data("plates/weekly_address_clip1.mp4"))
    ramp = ((np.arange(plate.info.width) % 7) * 37)[None, :, None]
    frames = []
    for index, frame in enumerate(plate.frames()):
        if index == count:
            break
        frames.append(np.clip(frame * 239.0 + 500 + ramp, 0, 65535).astype(np.uint16))
    return frames


@pytest.mark.parametrize(
    ("suffix", "codec", "stored"),
    # the ProRes decoder hands out 12-bit samples (ProRes 4444 holds up to 12 bits)
    [(".mkv", "ffv1", "yuv444p10le"), (".mov", "prores4444", "yuv444p12le")],
)
def test_a_ten_bit_video_is_read_and_written_in_sixteen_bits(tmp_path, data, suffix, codec, stored):
    frames = _ten_bit_frames(data, 3)
    height, width = frames[0].shape[:2]
    source = tmp_path / f"ten_bit{suffix}"
    with VideoWriter(source, width, height, Fraction(25), codec=codec, bit_depth=10) as writer:
        for frame in frames:
            writer.write(frame)
    with av.open(str(source)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == stored
    plate = open_plate(source)
    assert plate.info.dtype == "uint16" and plate.info.bit_depth >= 10
    assert f"{plate.info.bit_depth}-bit" in plate.info.describe()
    decoded = list(plate.frames())
    assert decoded[0].dtype == np.uint16
    assert np.mean(decoded[0] % 257 != 0) > 0.9  # not 8-bit values scaled up
    # the writer picks the plate's depth and, with no codec asked for, a deep codec
    copy = tmp_path / f"copy{suffix}"
    with open_writer(copy, plate.info) as writer:
        for frame in decoded:
            writer.write(frame)
    again = list(open_plate(copy).frames())
    error = np.sqrt(
        np.mean([(a.astype(float) - b) ** 2 for a, b in zip(decoded, again, strict=True)])
    )
    eight_bit_cut = np.sqrt(np.mean([(f // 257 * 257.0 - f) ** 2 for f in decoded]))
    if codec == "ffv1":
        assert error == 0.0  # lossless at 10 bits
    else:
        assert error < 0.5 * eight_bit_cut  # ProRes keeps more than 8 bits


def test_default_video_codec_follows_the_plates_depth(tmp_path):
    from facecast.media import ShotInfo, default_video_codec

    def info(depth: int) -> ShotInfo:
        dtype = "uint8" if depth == 8 else "uint16"
        return ShotInfo(tmp_path, "video", 64, 48, Fraction(24), 1, dtype, "x", bit_depth=depth)

    assert [default_video_codec(Path(f"o{s}"), info(8)) for s in (".mp4", ".mov", ".mkv")] == [
        "h264"
    ] * 3
    assert [default_video_codec(Path(f"o{s}"), info(10)) for s in (".mp4", ".mov", ".mkv")] == [
        "h264",
        "prores4444",
        "ffv1",
    ]


def test_a_float_exr_plate_cannot_go_to_video(tmp_path):
    with SequenceWriter(tmp_path / "exr", extension="exr") as writer:
        writer.write(np.full((16, 32, 3), 0.5, np.float32))
    plate = open_plate(tmp_path / "exr")
    with pytest.raises(MediaError, match=r"scene-linear.*folder") as caught:
        open_writer(tmp_path / "out.mp4", plate.info)
    assert "out.mp4" in str(caught.value)
    assert not (tmp_path / "out.mp4").exists()


def _exact_bt601(frame: av.VideoFrame) -> np.ndarray:
    """``float64 (H, W, 3)`` RGB of a limited-range 4:2:0 BT.601 frame by the textbook formulas
    (chroma repeated 2 x 2: the mean over the frame does not depend on the interpolation)."""
    height, width = frame.height, frame.width
    planes = frame.to_ndarray().astype(np.float64)
    luma = (planes[:height] - 16) * 255 / 219
    quarter = height // 4

    def chroma(rows: np.ndarray) -> np.ndarray:
        plane = rows.reshape(height // 2, width // 2)
        return (np.repeat(np.repeat(plane, 2, 0), 2, 1) - 128) * 255 / 224

    u, v = chroma(planes[height : height + quarter]), chroma(planes[height + quarter :])
    rgb = np.stack([luma + 1.402 * v, luma - 0.344136 * u - 0.714136 * v, luma + 1.772 * u], -1)
    return np.clip(rgb, 0, 255)


def test_frames_decode_at_their_own_level_and_survive_a_round_trip(tmp_path, data):
    path = data("plates/weekly_address_clip1.mp4")
    with av.open(str(path)) as container:
        first = next(container.decode(video=0))
        assert first.format.name == "yuv420p"
        exact = _exact_bt601(first)
    plate = open_plate(path)
    frames = [frame for _, frame in zip(range(8), plate.frames(), strict=False)]
    # FFmpeg's default 4:2:0 -> RGB path read this plate 1.0-1.4 levels dark
    assert np.abs((frames[0] - exact).mean(axis=(0, 1))).max() < 0.1
    copy = tmp_path / "copy.mp4"
    with open_writer(copy, plate.info) as writer:
        for frame in frames:
            writer.write(frame)
    again = list(open_plate(copy).frames())
    signed = np.mean([(b.astype(float) - a).mean() for a, b in zip(frames, again, strict=True)])
    mse = np.mean([(b.astype(float) - a) ** 2 for a, b in zip(frames, again, strict=True)])
    assert abs(signed) < 0.2  # was -1.2: every output darker than its plate
    assert 10 * np.log10(255**2 / mse) > 46  # was 43.8 dB


def test_a_bt709_plate_comes_back_tagged_and_converted_as_bt709(tmp_path, data):
    from facecast.media import ColourTags

    source = open_plate(data("plates/weekly_address_clip1.mp4"))
    frames = [frame for _, frame in zip(range(4), source.frames(), strict=False)]
    plate = tmp_path / "hd709.mkv"
    with av.open(str(plate), "w") as container:  # how a camera or an NLE tags HD video
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv444p"
        context = stream.codec_context
        context.colorspace = context.color_primaries = context.color_trc = 1
        context.color_range = 1
        for index, frame in enumerate(frames):
            yuv = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(
                format="yuv444p", dst_colorspace=1, dst_color_range=1
            )
            yuv.pts = index
            container.mux(stream.encode(yuv))
        container.mux(stream.encode(None))
    opened = open_plate(plate)
    assert opened.info.colour == ColourTags(matrix=1, range=1, primaries=1, transfer=1)
    assert opened.info.describe() == "1280x720, BT.709, limited range"
    decoded = list(opened.frames())
    copy = tmp_path / "copy.mkv"
    with open_writer(copy, opened.info, codec="ffv1") as writer:
        for frame in decoded:
            writer.write(frame)
    assert open_plate(copy).info.colour == opened.info.colour
    with av.open(str(copy)) as container:
        first = next(container.decode(video=0))
        # read the output's samples as BT.709, as a tag-honouring player does
        as_709 = first.reformat(format="rgb24", src_colorspace=1, src_color_range=1)
        difference = as_709.to_ndarray().astype(float) - decoded[0]
    assert np.abs(difference.mean(axis=(0, 1))).max() < 0.2
    assert np.abs(difference).mean() < 0.5  # BT.601 untagged, read as BT.709: 2.3 (p99 9)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_images_are_turned_as_their_exif_orientation_says(tmp_path, orientation):
    from PIL import Image, ImageOps

    rng = np.random.default_rng(orientation)
    stored = rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "photo.png"
    Image.fromarray(stored).save(path, exif=exif)
    with Image.open(path) as image:
        shown = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    np.testing.assert_array_equal(read_image(path), shown)


def test_a_sequence_keeps_its_frame_numbers_and_a_gap_is_refused(tmp_path):
    frame = np.zeros((16, 24, 3), np.uint8)
    plate = tmp_path / "plate"
    plate.mkdir()
    for number in (1001, 1002, 1003):  # a versioned name: the frame number is the changing run
        write_image(plate / f"shot010_v2.{number:04d}.png", frame)
    info = open_plate(plate).info
    assert (info.first_frame, info.frame_digits, info.frame_count) == (1001, 4, 3)
    with open_writer(tmp_path / "out", info) as writer:
        for _ in range(3):
            writer.write(frame)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "frame.1001.png",
        "frame.1002.png",
        "frame.1003.png",
    ]
    (plate / "shot010_v2.1002.png").unlink()  # a frame missing from a render
    with pytest.raises(MediaError, match=r"plate: frame\(s\) 1002 missing from the sequence"):
        open_plate(plate)


def test_an_anamorphic_exr_sequence_keeps_its_pixel_aspect(tmp_path):
    import OpenEXR

    frame = np.full((16, 12, 3), 0.18, np.float32)
    with SequenceWriter(tmp_path / "plate", extension="exr", pixel_aspect=2.0) as writer:
        writer.write(frame)
    info = open_plate(tmp_path / "plate").info
    assert info.pixel_aspect == 2
    with open_writer(tmp_path / "out", info, codec="exr") as writer:
        writer.write(frame)
    (written,) = (tmp_path / "out").iterdir()
    with OpenEXR.File(str(written)) as exr:
        assert exr.header()["pixelAspectRatio"] == 2.0


def test_exr_frames_of_a_video_plate_count_its_timecode(tmp_path, data):
    """A video plate starting at 01:00:59:28 (29.97, counted 30 a second) written as EXR:
    each frame's header has its own timeCode, rolling over the minute."""
    import OpenEXR

    shot = open_plate(_timecoded(tmp_path / "tc.mov", data, "prores4444", "01:00:59:28", 3))
    assert shot.info.timecode == "01:00:59:28"
    with open_writer(tmp_path / "exr", shot.info, codec="exr") as writer:
        for frame in shot.frames():
            writer.write(frame)
    codes = []
    for path in sorted((tmp_path / "exr").iterdir()):
        with OpenEXR.File(str(path), header_only=True) as exr:
            code = exr.header()["timeCode"]
            codes.append((code.hours, code.minutes, code.seconds, code.frame))
    assert codes == [(1, 0, 59, 28), (1, 0, 59, 29), (1, 1, 0, 0)]


def test_a_matroska_plates_timecode_is_read(tmp_path, data):
    """Matroska stores the start timecode as an upper-case TIMECODE tag, which probing missed,
    so an .mkv plate (or an .mkv swap output read back) had no timecode."""
    plate = _timecoded(tmp_path / "tc.mkv", data, "ffv1", "10:00:00:12", 2)
    assert open_plate(plate).info.timecode == "10:00:00:12"


def _timecoded(path: Path, data, codec: str, start: str, frames: int) -> Path:
    """The first `frames` frames of weekly_address_clip1 as `codec` video starting at the
    timecode `start`."""
    source = open_plate(data("plates/weekly_address_clip1.mp4"))
    info = source.info
    with VideoWriter(
        path, info.width, info.height, info.fps, codec=codec, metadata={"timecode": start}
    ) as writer:
        for _, frame in zip(range(frames), source.frames(), strict=False):
            writer.write(frame)
    return path
