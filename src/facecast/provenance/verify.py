"""Verify a file's provenance: the invisible watermark and the C2PA Content Credentials together.

Verdicts (and the exit status ``facecast verify`` gives them):

``verified`` (0)
    Valid C2PA credentials, and any watermark found carries the same render id.
``watermark-only`` (0)
    No C2PA manifest, but the facecast watermark is there: synthetic media from facecast whose
    credentials were stripped (re-encoding, upload) or never signed.
``tampered`` (2)
    The file claims provenance that does not hold: its C2PA manifest does not verify (the file
    changed after signing) or names a different render id than the watermark.
``none`` (3)
    Neither a C2PA manifest nor a facecast watermark was found. This does not prove the media is
    authentic, only that facecast's labels are absent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import av

from facecast.errors import MediaError
from facecast.media import dpx, labels
from facecast.media.sequence import exr_attributes, list_sequence
from facecast.provenance.credentials import (
    CredentialsResult,
    read_credentials,
    read_sequence_credentials,
)
from facecast.provenance.watermark import WatermarkKey, WatermarkResult, detect_in_video

#: Exit status of ``facecast verify`` for each verdict.
EXIT_STATUS = {"verified": 0, "watermark-only": 0, "tampered": 2, "none": 3}


@dataclass(frozen=True)
class VerifyReport:
    """Everything `verify_file` found about one file.

    Attributes
    ----------
    path
        The file examined.
    watermark
        Watermark detection result (``None`` if no frame could be decoded).
    credentials
        C2PA credentials found.
    ok
        False when the file claims provenance that does not verify.
    claims_provenance
        The file carries a C2PA manifest (valid or not).
    problems
        Why `ok` is False, one line each.
    notes
        Facts worth telling the user that do not fail verification.
    label
        What the file's own metadata says made it (`read_label`), ``None`` when it says
        nothing. Plain text anyone can write: told, never judged.
    """

    path: Path
    watermark: WatermarkResult | None
    credentials: CredentialsResult
    ok: bool
    claims_provenance: bool
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    label: str | None = None

    @property
    def verdict(self) -> str:
        """``verified``, ``watermark-only``, ``tampered`` or ``none`` (see the module doc)."""
        if not self.ok:
            return "tampered"
        if self.credentials.present:
            return "verified"
        if self.watermark is not None and self.watermark.found:
            return "watermark-only"
        return "none"

    @property
    def exit_status(self) -> int:
        return EXIT_STATUS[self.verdict]


def verify_file(
    path: str | Path,
    key: WatermarkKey | None = None,
    *,
    trust_anchors: str | Path | None = None,
    max_frames: int = 96,
) -> VerifyReport:
    """Read a file's C2PA credentials and look for its watermark, and judge them together.

    Parameters
    ----------
    path
        Video file, image, or image-sequence folder (whose every frame's C2PA manifest is read:
        `read_sequence_credentials`).
    key
        Watermark key; default the public facecast key.
    trust_anchors
        PEM file of CA certificates whose signers count as trusted.
    max_frames
        Most video frames to examine for the watermark.

    Raises
    ------
    MediaError
        If `path` does not exist, or holds neither C2PA data nor decodable frames.
    """
    path = Path(path)
    if not path.exists():
        raise MediaError("does not exist", path)
    if path.is_dir():
        credentials = read_sequence_credentials(path, trust_anchors)
    else:
        credentials = read_credentials(path, trust_anchors)
    notes: list[str] = []
    try:
        watermark = detect_in_video(path, key, max_frames=max_frames)
    except MediaError as error:
        if not credentials.present:
            raise
        watermark = None
        notes.append(f"frames could not be decoded for the watermark ({error})")
    problems = _problems(credentials, watermark)
    notes += _notes(credentials, watermark, trust_anchors is not None)
    return VerifyReport(
        path=path,
        watermark=watermark,
        credentials=credentials,
        ok=not problems,
        claims_provenance=credentials.present,
        problems=problems,
        notes=notes,
        label=read_label(path),
    )


def read_label(path: str | Path) -> str | None:
    """What a file or image-sequence folder says made it in its metadata, as facecast labels
    its outputs (`facecast.render.output_label`): a video's container ``comment``, the first
    EXR frame's ``comments``, the first DPX frame's creator field, a PNG, JPEG or TIFF's
    description (`facecast.media.labels`), followed by the IPTC digital source type its XMP
    declares, if any. ``None`` when the field is empty or cannot be read."""
    path = Path(path)
    try:
        first = list_sequence(path)[0] if path.is_dir() else path
        suffix = first.suffix.lower()
        if suffix == ".exr":
            return str(exr_attributes(first).get("comments", "")) or None
        if suffix == ".dpx":
            return dpx.read_header(first).creator or None
        if suffix in labels.LABELLED_SUFFIXES:
            label = labels.read_label(first)
            source = label.source_type and label.source_type.rsplit("/", 1)[-1]
            note = f" [XMP digital source type: {source}]" if source else ""
            return f"{label.text}{note}" if label.text else None
        with av.open(str(path)) as container:
            return container.metadata.get("comment") or None
    except (MediaError, av.error.FFmpegError, OSError):
        return None


def _problems(credentials: CredentialsResult, watermark: WatermarkResult | None) -> list[str]:
    problems = []
    if credentials.present and not credentials.valid:
        failures = [e for e in credentials.errors if "untrusted" not in e] or credentials.errors
        problems.append("C2PA manifest does not verify: " + "; ".join(failures or ["invalid"]))
    if (
        credentials.present
        and watermark is not None
        and watermark.found
        and credentials.render_id is not None
        and watermark.render_id != credentials.render_id.lower()
    ):
        problems.append(
            f"watermark render id {watermark.render_id} differs from the C2PA render id "
            f"{credentials.render_id} (credentials moved onto other media?)"
        )
    return problems


def _notes(
    credentials: CredentialsResult, watermark: WatermarkResult | None, trust_given: bool
) -> list[str]:
    notes = []
    if credentials.present and credentials.valid and not credentials.trusted:
        hint = "not in the given trust anchors" if trust_given else "pass --trust CA.pem to check"
        notes.append(f"signer {credentials.signer} is not trusted ({hint})")
    if credentials.present and credentials.valid and not credentials.ai_generated:
        notes.append("the C2PA manifest does not declare AI-generated content")
    if credentials.present and credentials.render_id is None:
        notes.append("the C2PA manifest was not written by facecast (no render id)")
    if credentials.present and watermark is not None and not watermark.found:
        notes.append("no watermark found (too degraded or too small a picture to read)")
    return notes
