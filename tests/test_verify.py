"""`verify_file` and `facecast verify`: watermark and C2PA judged together on real footage."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from conftest import assert_one_line_error, find_data, run_facecast, trimmed_plate
from facecast.character.asset import create_character
from facecast.media.labels import read_label
from facecast.media.sequence import read_image, write_image
from facecast.provenance.commands import register
from facecast.provenance.credentials import SigningIdentity, sign_media
from facecast.provenance.verify import verify_file
from facecast.provenance.watermark import WatermarkEmbedder, WatermarkKey
from facecast.render import RenderSettings, render_shot
from test_c2pa import CONSENT, flip_byte, make_ca, make_leaf
from test_watermark import first_frames, write_video

RENDER_ID = "5eed0fface0ca5e1"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("verify")


@pytest.fixture(scope="module")
def identity(workdir) -> SigningIdentity:
    ca = make_ca()
    (workdir / "ca.pem").write_bytes(ca[0].public_bytes(serialization.Encoding.PEM))
    return SigningIdentity.from_files(*make_leaf(workdir, ca))


def watermarked_clip(plate: Path, dest: Path, render_id: str, frames: int = 12) -> Path:
    source = first_frames(plate, frames)
    embedder = WatermarkEmbedder(bytes.fromhex(render_id), WatermarkKey(), source[0].shape[:2])
    return write_video([embedder.apply(frame) for frame in source], dest, crf=18)


@pytest.fixture(scope="module")
def unsigned(workdir) -> Path:
    plate = find_data("plates/weekly_address_clip1.mp4")
    return watermarked_clip(plate, workdir / "out.mp4", RENDER_ID)


@pytest.fixture(scope="module")
def signed(unsigned, workdir, identity) -> Path:
    dest = workdir / "signed.mp4"
    sign_media(
        unsigned,
        dest,
        render_id=RENDER_ID,
        consent_summary=CONSENT,
        identity=identity,
        title="shot 012",
    )
    return dest


def test_signed_watermarked_render_verifies(signed, workdir):
    report = verify_file(signed, trust_anchors=workdir / "ca.pem")
    assert report.ok and report.claims_provenance
    assert report.verdict == "verified" and report.exit_status == 0
    assert report.watermark.found and report.watermark.render_id == RENDER_ID
    assert report.credentials.valid and report.credentials.trusted
    assert report.credentials.render_id == RENDER_ID and report.credentials.consent == CONSENT
    assert report.problems == [] and report.notes == []


def test_untrusted_signer_is_a_note_not_a_failure(signed):
    report = verify_file(signed)
    assert report.ok and report.verdict == "verified"
    assert any("not trusted" in note for note in report.notes)


def test_watermark_alone_marks_stripped_credentials(unsigned):
    report = verify_file(unsigned)
    assert report.ok and not report.claims_provenance
    assert report.verdict == "watermark-only" and report.exit_status == 0
    assert report.watermark.render_id == RENDER_ID


def test_plain_plate_has_no_provenance(data):
    report = verify_file(data("plates/weekly_address_clip1.mp4"), max_frames=12)
    assert report.ok and not report.claims_provenance
    assert report.verdict == "none" and report.exit_status == 3


def test_tampered_signed_file_fails(signed):
    report = verify_file(flip_byte(signed, len(signed.read_bytes()) // 2))
    assert not report.ok and report.claims_provenance
    assert report.verdict == "tampered" and report.exit_status == 2
    assert any("does not verify" in problem for problem in report.problems)


def test_credentials_moved_onto_other_footage_fail(data, workdir, identity):
    other = watermarked_clip(
        data("plates/weekly_address_clip1.mp4"), workdir / "other.mp4", "0000000000000bad", 8
    )
    dest = workdir / "relabelled.mp4"
    sign_media(
        other, dest, render_id=RENDER_ID, consent_summary=CONSENT, identity=identity, title="x"
    )
    report = verify_file(dest)
    assert report.credentials.valid
    assert not report.ok and report.verdict == "tampered"
    assert any("differs from the C2PA render id" in p for p in report.problems)


def test_wrong_key_does_not_read_the_watermark(unsigned):
    report = verify_file(unsigned, WatermarkKey(seed=99), max_frames=6)
    assert not report.watermark.found and report.verdict == "none"


def _cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_cli_verify_prints_and_exits(signed, unsigned, data):
    runner = CliRunner()
    ok = runner.invoke(_cli(), ["verify", str(signed)])
    assert ok.exit_code == 0, ok.output
    assert f"render id {RENDER_ID}" in ok.output
    assert "compositeWithTrainedAlgorithmicMedia" in ok.output
    assert "verdict: verified" in ok.output
    tampered = runner.invoke(_cli(), ["verify", str(flip_byte(signed, 4096 * 3))])
    assert tampered.exit_code == 2 and "verdict: tampered" in tampered.output
    plain = runner.invoke(_cli(), ["verify", "--json", "--frames", "6", str(unsigned)])
    assert plain.exit_code == 0
    assert json.loads(plain.output)["verdict"] == "watermark-only"


@pytest.fixture(scope="module")
def signed_sequence(workdir, identity) -> Path:
    """A real 6-frame swap written as a PNG sequence and signed frame by frame."""
    plate = trimmed_plate(find_data("plates/weekly_address_clip1.mp4"), range(6), workdir / "p.mkv")
    consent = Path(__file__).resolve().parents[1] / "examples" / "consent_london_004.toml"
    faces = [find_data("faces/london/004/neutral.jpg")]
    character = create_character(workdir / "london004", faces, consent).path
    output = workdir / "shot_png"
    settings = RenderSettings(codec="png", hands=False)
    result = render_shot(
        plate, character, output, progress=False, settings=settings, signing=identity
    )
    assert result.credentials == "signed"
    return output


def _altered_copy(folder: Path, name: str, change) -> Path:
    """A copy of the sequence `folder` with `change(frames)` applied to its frame paths."""
    copy = folder.with_name(name)
    shutil.copytree(folder, copy)
    change(sorted(copy.iterdir()))
    return copy


def test_a_signed_image_sequence_verifies_frame_by_frame(signed_sequence, workdir):
    report = verify_file(signed_sequence, trust_anchors=workdir / "ca.pem")
    assert report.verdict == "verified" and report.credentials.trusted
    assert report.credentials.sequence == {"frames": 6, "signed": 6}
    assert report.watermark.found and report.watermark.render_id == report.credentials.render_id
    assert report.credentials.ai_generated
    assert f"render id {report.credentials.render_id}" in report.label
    assert "compositeWithTrainedAlgorithmicMedia" in report.label  # each PNG's XMP
    for frame in signed_sequence.iterdir():  # every frame says it on its own
        assert read_label(frame).ai_altered


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda frames: frames[3].unlink(), "signed as one of 6 frames, the folder holds 5"),
        (lambda frames: _swap_names(frames[1], frames[4]), "signed as frame 4 of the shot"),
        (lambda frames: _repaint(frames[2]), "no C2PA manifest"),
        (lambda frames: _flip_in_place(frames[5]), "frame.000005.png"),
    ],
    ids=["frame removed", "frames reordered", "frame repainted", "frame altered"],
)
def test_a_changed_frame_of_a_signed_sequence_is_named(signed_sequence, change, problem, request):
    altered = _altered_copy(signed_sequence, request.node.callspec.id.replace(" ", "_"), change)
    report = verify_file(altered)
    assert report.verdict == "tampered" and report.exit_status == 2
    assert any(problem in line for line in report.problems), report.problems


def _swap_names(a: Path, b: Path) -> None:
    temporary = a.with_name("swap.tmp")
    a.rename(temporary)
    b.rename(a)
    temporary.rename(b)


def _repaint(frame: Path) -> None:
    """Decode the frame, touch one pixel and write it back (its manifest does not survive)."""
    pixels = read_image(frame)
    pixels[0, 0] ^= 1
    write_image(frame, pixels)


def _flip_in_place(frame: Path) -> None:
    data = bytearray(frame.read_bytes())
    data[len(data) // 2] ^= 0x01
    frame.write_bytes(bytes(data))


def test_cli_signs_and_verifies_a_tiff_sequence(signed_sequence, workdir):
    """`facecast swap --codec tiff --sign-cert --sign-key` to a folder, then `facecast verify`."""
    plate = workdir / "p.mkv"  # made by the signed_sequence fixture
    output = workdir / "shot_tiff"
    done = run_facecast(
        "swap",
        plate,
        "--character",
        workdir / "london004",
        "-o",
        output,
        "--codec",
        "tiff",
        "--no-hands",
        "--sign-cert",
        workdir / "leaf.pem",
        "--sign-key",
        workdir / "leaf.key",
    )
    assert done.returncode == 0, done.stderr
    manifest = json.loads((workdir / "shot_tiff.facecast.json").read_text())
    assert manifest["credentials"] == "signed"
    assert sorted(p.suffix for p in output.iterdir()) == [".tiff"] * 6
    runner = CliRunner()
    shown = runner.invoke(_cli(), ["verify", "--trust", str(workdir / "ca.pem"), str(output)])
    assert shown.exit_code == 0, shown.output
    assert "C2PA: manifest present in 6 of 6 frames, valid, trusted" in shown.output
    assert "verdict: verified" in shown.output
    one = runner.invoke(_cli(), ["verify", str(sorted(output.iterdir())[2])])  # a frame alone
    assert one.exit_code == 0, one.output
    assert "C2PA: manifest present (frame 2 of a 6-frame sequence), valid" in one.output


@pytest.mark.parametrize(
    ("name", "codec", "refused"),
    [("shot.mkv", None, ".mkv video"), ("shot_exr", "exr", ".exr frames")],
)
def test_an_output_c2pa_cannot_carry_is_refused_before_any_work(
    signed_sequence, workdir, name, codec, refused
):
    """Signing an MKV video or an EXR sequence is refused up front, in one line; nothing is
    written (before, MKV failed after the whole render and left no output)."""
    output = workdir / name
    done = run_facecast(
        "swap", workdir / "p.mkv", "--character", workdir / "london004", "-o", output,
        *(["--codec", codec] if codec else []),
        "--sign-cert", workdir / "leaf.pem", "--sign-key", workdir / "leaf.key",
    )  # fmt: skip
    assert_one_line_error(done, refused, "cannot be signed", name)
    assert not output.exists()
    assert not list(workdir.glob(f".{Path(name).stem}*"))
