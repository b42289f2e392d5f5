"""DPX plates: the header read in both byte orders, broken and unsupported files refused in one
line, 10-bit Cineon log swapped in scene-linear light and written back to the plate's exact
codes off the face, with each frame's timecode and an AI-altered creator in its header."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_one_line_error, bare_swap, find_data, outside_the_blend
from conftest import run_facecast as facecast
from facecast.errors import MediaError
from facecast.media import dpx, open_plate
from facecast.media.transfer import srgb_to_linear
from facecast.provenance.verify import read_label
from facecast.provenance.watermark import WatermarkEmbedder, WatermarkKey

CONSENT = Path(__file__).resolve().parents[1] / "examples" / "consent_london_004.toml"
FRAMES = 4


@pytest.fixture(scope="module")
def character(tmp_path_factory) -> Path:
    """London 004's character folder, made once for the module."""
    from facecast.character.asset import create_character

    photo = find_data("faces/london/004/neutral.jpg")
    return create_character(tmp_path_factory.mktemp("dpx") / "c", [photo], CONSENT).path


@pytest.fixture(scope="module")
def clip_frames() -> list[np.ndarray]:
    """The first `FRAMES` frames of weekly_address_clip1, ``uint8 RGB (720, 1280, 3)``."""
    source = open_plate(find_data("plates/weekly_address_clip1.mp4"))
    return [frame for _, frame in zip(range(FRAMES), source.frames(), strict=False)]


def _log_plate(folder: Path, frames: list[np.ndarray]) -> Path:
    """A 10-bit Cineon log DPX sequence (``scan.1001.dpx`` ...) of 8-bit frames decoded to
    linear light, with codes beyond the video's range beside the face (above white: a lamp;
    below black), timecode from 01:00:10:00 at 23.976 fps, a film format and a project name in
    the header; the transfer says printing density."""
    folder.mkdir()
    for index, frame in enumerate(frames):
        codes = dpx.linear_to_log(srgb_to_linear(frame / 255.0).astype(np.float32))
        codes[140:150, 480:500] = 900  # over white, inside the face's box
        codes[300:310, 335:345] = 40  # under black (negative light), beside the cheek
        path = folder / f"scan.{1001 + index}.dpx"
        timecode = f"01:00:10:{index:02d}"
        dpx.write_dpx(
            path, dpx.log_to_linear(codes), bit_depth=10, timecode=timecode, frame_rate=23.976
        )
        _patched(path, path, 1680, b"Full Aperture 4-perf")  # film section: format
        _patched(path, path, 260, b"Weekly Address")  # generic section: project
        _with_user_data(path, _scanner_data(index))
    return folder


def _scanner_data(index: int) -> bytes:
    """A user-defined data section as a scanner writes one: a 32-byte user id, then its own
    bytes (45 in all: the pixels after it start off a 32-bit word)."""
    return b"FACILITY-SCANNER-V1".ljust(32, b"\0") + f"roll A012 f{index:04d}".encode()[:13]


def _with_user_data(path: Path, data: bytes) -> None:
    """Insert `data` as the user-defined section of a big-endian DPX written by `write_dpx`:
    the size field set, the pixels moved after it and their offsets with them."""
    raw = bytearray(path.read_bytes())
    header, pixels = raw[:2048], raw[2048:]
    offset = 2048 + len(data)
    for field, value in ((4, offset), (16, offset + len(pixels)), (32, len(data)), (808, offset)):
        struct.pack_into(">I", header, field, value)
    path.write_bytes(bytes(header) + data + bytes(pixels))


def _codes(path: Path) -> np.ndarray:
    return dpx.read_codes(path, dpx.read_header(path))


def test_the_header_is_read_in_both_byte_orders(tmp_path):
    import av

    codes = (np.arange(6 * 8 * 3).reshape(6, 8, 3) * 37 % 1024).astype(np.uint16)
    big = tmp_path / "big.dpx"
    dpx.write_dpx(big, dpx.codes_to_uint16(codes, 10), timecode="01:02:03:04", frame_rate=25)
    little = tmp_path / "little.dpx"  # FFmpeg writes little-endian (XPDS) from gbrp10le
    context = av.CodecContext.create("dpx", "w")
    context.width, context.height, context.pix_fmt = 8, 6, "gbrp10le"
    (packet,) = context.encode(av.VideoFrame.from_ndarray(codes, format="gbrp10le"))
    little.write_bytes(bytes(packet))
    for path, endian in ((big, ">"), (little, "<")):
        header = dpx.read_header(path)
        assert (header.endian, header.width, header.height, header.bit_depth) == (endian, 8, 6, 10)
        assert header.descriptor == 50 and header.packing == 1
        np.testing.assert_array_equal(_codes(path), codes)
    assert big.read_bytes()[:4] == b"SDPX" and little.read_bytes()[:4] == b"XPDS"
    ours = dpx.read_header(big)
    assert (ours.timecode, ours.frame_rate, ours.transfer_name) == (
        "01:02:03:04",
        25.0,
        "ITU-R 709",
    )
    assert dpx.read_header(little).timecode is None  # FFmpeg's header has no television section
    # a frame written with a little-endian plate frame's header stays little-endian
    dpx.write_dpx(tmp_path / "out.dpx", dpx.codes_to_uint16(codes, 10), template=little)
    assert dpx.read_header(tmp_path / "out.dpx").endian == "<"
    np.testing.assert_array_equal(_codes(tmp_path / "out.dpx"), codes)


@pytest.mark.parametrize(("bits", "pix_fmt"), [(8, "rgb24"), (10, "gbrp10le"), (12, "gbrp12le"),
                                               (16, "rgb48le")])  # fmt: skip
def test_ffmpeg_reads_the_codes_facecast_writes(tmp_path, bits, pix_fmt):
    import av

    rng = np.random.default_rng(bits)
    codes = rng.integers(0, 1 << bits, (5, 7, 3)).astype(np.uint8 if bits == 8 else np.uint16)
    pixels = codes if bits in (8, 16) else dpx.codes_to_uint16(codes, bits)
    path = tmp_path / "odd_width.dpx"  # 7 pixels: lines padded to 32 bits
    dpx.write_dpx(path, pixels, bit_depth=bits)
    with av.open(str(path)) as container:
        decoded = next(container.decode(video=0)).reformat(format=pix_fmt).to_ndarray()
    np.testing.assert_array_equal(decoded, codes)
    np.testing.assert_array_equal(_codes(path), codes)


def test_a_plate_frames_user_data_is_carried_and_ffmpeg_reads_past_it(tmp_path):
    """A frame written from a template with a user-defined data section carries the section
    byte for byte, its pixels right after it, where FFmpeg finds them too; a section that
    would overlap the pixels is refused naming the file."""
    import av

    codes = (np.arange(6 * 8 * 3).reshape(6, 8, 3) * 41 % 1024).astype(np.uint16)
    plate = tmp_path / "plate.dpx"
    dpx.write_dpx(plate, dpx.codes_to_uint16(codes, 10))
    _with_user_data(plate, _scanner_data(7))
    out = tmp_path / "out.dpx"
    dpx.write_dpx(out, dpx.read_dpx(plate), template=plate)
    header = dpx.read_header(out)
    assert header.user_data_size == 45 and header.data_offset == 2048 + 45
    assert dpx.read_user_data(out, header) == _scanner_data(7)
    np.testing.assert_array_equal(_codes(out), codes)
    with av.open(str(out)) as container:
        decoded = next(container.decode(video=0)).reformat(format="gbrp10le").to_ndarray()
    np.testing.assert_array_equal(decoded, codes)
    overlapping = _patched(out, tmp_path / "overlapping.dpx", 32, struct.pack(">I", 4000))
    with pytest.raises(MediaError, match=r"overlapping\.dpx.*user data"):
        dpx.write_dpx(tmp_path / "x.dpx", dpx.read_dpx(out), template=overlapping)


def test_cineon_log_gives_every_code_back():
    for bits in (10, 12, 16):
        codes = np.arange(1 << bits, dtype=np.uint32).astype(np.uint16)
        linear = dpx.log_to_linear(codes, bits)
        assert linear.dtype == np.float32 and np.all(np.diff(linear) > 0)
        np.testing.assert_array_equal(dpx.linear_to_log(linear, bits), codes)
    ten = dpx.log_to_linear(np.array([0, 95, 685, 1023], np.uint16))
    assert ten[0] < 0 and abs(ten[1]) < 1e-6 and ten[2] == pytest.approx(1.0)
    assert ten[3] == pytest.approx(13.52, abs=0.01)  # no clamp: 1023 is 13.5x white


def test_a_sequence_whose_frames_change_dpx_depth_is_refused_at_that_frame(tmp_path):
    plate = tmp_path / "plate"
    plate.mkdir()
    pixels = np.full((4, 6, 3), 4000, np.uint16)
    dpx.write_dpx(plate / "f.0001.dpx", pixels, bit_depth=10)
    dpx.write_dpx(plate / "f.0002.dpx", pixels, bit_depth=16)  # both read as uint16
    frames = open_plate(plate).frames()
    next(frames)
    with pytest.raises(MediaError, match=r"f.0002.dpx: is 6x4 uint16, 16-bit DPX \(ITU-R 709\), "
                       r"but the sequence started 6x4 uint16, 10-bit DPX"):  # fmt: skip
        next(frames)


def test_alpha_is_dropped_and_a_flipped_frame_is_read_upright(tmp_path):
    import av

    rgba = (np.arange(4 * 6 * 4).reshape(4, 6, 4) * 1601 % 65536).astype(np.uint16)
    context = av.CodecContext.create("dpx", "w")
    context.width, context.height, context.pix_fmt = 6, 4, "rgba64le"
    (packet,) = context.encode(av.VideoFrame.from_ndarray(rgba, format="rgba64le"))
    path = tmp_path / "rgba.dpx"
    path.write_bytes(bytes(packet))
    assert dpx.read_header(path).descriptor == 51  # RGBA
    np.testing.assert_array_equal(dpx.read_dpx(path), rgba[..., :3])
    bottom_up = _patched(path, tmp_path / "bottom_up.dpx", 768, struct.pack("<H", 2))
    np.testing.assert_array_equal(dpx.read_dpx(bottom_up), rgba[::-1, :, :3])


def _patched(source: Path, target: Path, offset: int, value: bytes) -> Path:
    data = bytearray(source.read_bytes())
    data[offset : offset + len(value)] = value
    target.write_bytes(bytes(data))
    return target


def test_broken_and_unsupported_dpx_are_refused_naming_the_file(tmp_path):
    good = tmp_path / "good.dpx"
    dpx.write_dpx(good, np.zeros((4, 6, 3), np.uint16), bit_depth=10)
    cases = [
        (_patched(good, tmp_path / "ycbcr.dpx", 800, b"\x64"), "descriptor 100 (CbYCrY 4:2:2)"),
        (_patched(good, tmp_path / "luma.dpx", 800, b"\x06"), "descriptor 6 (luma (Y))"),
        (_patched(good, tmp_path / "float.dpx", 803, b"\x20"), "32-bit DPX samples"),
        (_patched(good, tmp_path / "one.dpx", 803, b"\x01"), "1-bit DPX samples"),
        (_patched(good, tmp_path / "huge.dpx", 772, struct.pack(">I", 100_000)), "larger than"),
        (_patched(good, tmp_path / "rle.dpx", 806, b"\x00\x01"), "run-length encoded"),
        (_patched(good, tmp_path / "magic.dpx", 0, b"DPX?"), "is not a DPX file"),
    ]
    truncated = tmp_path / "truncated.dpx"
    truncated.write_bytes(good.read_bytes()[:-10])
    cases += [(truncated, "is truncated: 2134 bytes, its DPX header promises 2144")]
    header_only = tmp_path / "cut.dpx"
    header_only.write_bytes(good.read_bytes()[:900])
    cases += [(header_only, "is truncated: 900 bytes, shorter than a DPX header")]
    for path, message in cases:
        with pytest.raises(MediaError) as error:
            dpx.read_dpx(path)
        assert path.name in str(error.value) and message in str(error.value), str(error.value)
        assert "\n" not in str(error.value)


def test_a_ten_bit_log_plate_keeps_its_codes_off_the_face(tmp_path, character, clip_frames):
    """10-bit Cineon log frames of clip1 (plus codes over white and under black beside the
    face), swapped without watermark: the output is 10-bit printing-density DPX numbered as the
    plate, every code beyond the blend's reach is the plate's to the bit, the over-white and
    under-black patches off the face too, and each header carries its frame's timecode, the
    plate's rate and the AI-altered creator with the render id."""
    plate = _log_plate(tmp_path / "scan", clip_frames)
    first = plate / "scan.1001.dpx"  # read and written back without a swap: the same pixels
    dpx.write_dpx(tmp_path / "again.dpx", dpx.read_dpx(first), bit_depth=10, template=first)
    assert (tmp_path / "again.dpx").read_bytes()[2048:] == first.read_bytes()[2048:]
    info = open_plate(plate).info
    assert (info.dtype, info.bit_depth, info.codec, info.timecode) == (
        "float32", 10, "dpx", "01:00:10:00"
    )  # fmt: skip
    assert info.fps.numerator == 24000 and info.fps.denominator == 1001
    assert info.describe() == (
        "1280x720, 10-bit log DPX (printing density, read as scene-linear), timecode 01:00:10:00"
    )
    output, matte = tmp_path / "out", tmp_path / "matte"
    result = bare_swap(
        plate,
        character,
        output,
        matte=matte,
    )  # no codec: DPX, as the plate
    assert result.swapped_frames == FRAMES
    assert result.encoding == {
        "codec": "dpx",
        "dtype": "float32",
        "bit_depth": 10,
        "transfer": "log",
    }
    manifest = json.loads(result.manifest.read_text())
    assert manifest["plate"]["transfer"] == "printing density"
    assert manifest["plate"]["codec"] == "dpx" and manifest["plate"]["bit_depth"] == 10
    written = sorted(output.iterdir())
    assert [p.name for p in written] == [f"frame.{1001 + i}.dpx" for i in range(FRAMES)]
    mattes = list(open_plate(matte).frames())
    for index, (path, alpha) in enumerate(zip(written, mattes, strict=True)):
        before, after = _codes(plate / f"scan.{1001 + index}.dpx"), _codes(path)
        face = alpha[..., 0] > 60000
        assert np.abs(after.astype(int) - before)[face].mean() > 10  # the face was replaced
        outside = outside_the_blend(alpha[..., 0])
        np.testing.assert_array_equal(after[outside], before[outside])  # bit-identical
        off_face = alpha[..., 0] == 0
        for rows, cols in ((slice(140, 150), slice(480, 500)), (slice(300, 310), slice(335, 345))):
            kept = off_face[rows, cols]
            assert kept.any()
            np.testing.assert_array_equal(after[rows, cols][kept], before[rows, cols][kept])
        header = dpx.read_header(path)
        assert header.timecode == f"01:00:10:{index:02d}"
        assert header.frame_rate == pytest.approx(23.976, abs=1e-3)
        assert (header.transfer_name, header.bit_depth, header.endian) == (
            "printing density", 10, ">"
        )  # fmt: skip
        assert "AI-altered" in header.creator and result.render_id in header.creator
        assert header.raw[1680:1700] == b"Full Aperture 4-perf"  # the plate frame's header
        assert header.raw[260:274] == b"Weekly Address"
        assert dpx.read_user_data(path, header) == _scanner_data(index)  # its user data too
    assert read_label(output) == dpx.read_header(sorted(output.iterdir())[0]).creator


def test_a_little_endian_linear_dpx_plate_swaps_from_the_command_line(
    tmp_path, character, clip_frames
):
    """A 10-bit video-transfer DPX sequence as FFmpeg writes it (little-endian, no television
    section) is read as 16-bit code values, swapped by `facecast swap` (watermark on) into a
    10-bit DPX sequence that keeps the byte order; the plate line says what was read; a log
    plate to a video file is refused in one line before any work."""
    import av

    plate = tmp_path / "video_dpx"
    plate.mkdir()
    for index, frame in enumerate(clip_frames):
        codes = dpx.uint16_to_codes(frame.astype(np.uint16) * 257, 10)
        context = av.CodecContext.create("dpx", "w")
        context.width, context.height, context.pix_fmt = 1280, 720, "gbrp10le"
        (packet,) = context.encode(av.VideoFrame.from_ndarray(codes, format="gbrp10le"))
        (plate / f"plate_{index + 7:03d}.dpx").write_bytes(bytes(packet))
    output, matte, report = tmp_path / "out", tmp_path / "matte", tmp_path / "report"
    result = facecast(
        "swap", plate, "--character", character, "-o", output, "--matte", matte,
        "--report", report, "--no-progress", "--no-hands",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads((report / "report.json").read_text())["summary"]
    assert summary["identity"]["verdict"] == "character"  # the report reads DPX plates too
    assert "(1280x720, 10-bit DPX (unspecified video))" in result.stdout
    assert "(dpx, uint16, 10-bit, code values)" in result.stdout
    written = sorted(output.iterdir())
    assert [p.name for p in written] == [f"frame.{7 + i:03d}.dpx" for i in range(FRAMES)]
    mattes = list(open_plate(matte).frames())
    render_id = json.loads((tmp_path / "out.facecast.json").read_text())["render_id"]
    mark = WatermarkEmbedder(bytes.fromhex(render_id), WatermarkKey(), (720, 1280)).delta
    # off the face only the watermark: its 8-bit levels in 10-bit codes, give or take rounding
    allowed = np.abs(mark.astype(np.float64)) * 1023 / 255 + 1
    for index, (path, alpha) in enumerate(zip(written, mattes, strict=True)):
        header = dpx.read_header(path)
        assert (header.endian, header.bit_depth, header.transfer_name) == (
            "<", 10, "unspecified video"
        )  # fmt: skip
        before, after = _codes(plate / f"plate_{index + 7:03d}.dpx"), _codes(path)
        change = np.abs(after.astype(int) - before).max(axis=2)
        assert (change > 16).sum() > 5000  # the face was replaced
        outside = outside_the_blend(alpha[..., 0])
        assert np.all(change[outside] <= allowed[outside])
        assert change[outside].mean() > 1  # and the watermark is there
    log_plate = _log_plate(tmp_path / "scan", clip_frames[:1])
    refused = facecast("swap", log_plate, "--character", character, "-o", tmp_path / "out.mov")
    assert_one_line_error(refused, "out.mov", "log DPX plate (printing density)")
    assert not (tmp_path / "out.mov").exists()
