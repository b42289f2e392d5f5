"""C2PA Content Credentials: sign and read back on real video and images, tamper, bad certificates.

Certificates are made at test time with `cryptography` (a throw-away CA and an ES256 leaf with
the key usages C2PA requires); nothing secret is stored in the repository.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import cv2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from facecast.errors import ProvenanceError
from facecast.provenance.credentials import (
    DIGITAL_SOURCE_TYPE,
    SigningIdentity,
    read_credentials,
    sign_media,
)

RENDER_ID = "0123456789abcdef"
CONSENT = {"grantor": "Jane Example", "production": "Test Film", "expires": "2031-01-01"}


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "facecast tests"),
        ]
    )


def _key_usage(*, signing: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signing,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def make_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("facecast test CA"))
        .issuer_name(_name("facecast test CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signing=False, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make_leaf(
    folder: Path,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    *,
    eku: bool = True,
    valid_days: tuple[int, int] = (-1, 30),
    name: str = "leaf",
) -> tuple[Path, Path]:
    """Write ``<name>.pem`` (leaf + CA chain) and ``<name>.key`` into `folder`."""
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("facecast test signer"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + dt.timedelta(days=valid_days[0]))
        .not_valid_after(now + dt.timedelta(days=valid_days[1]))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signing=True, ca=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if eku:
        usages = [ExtendedKeyUsageOID.EMAIL_PROTECTION, x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")]
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    chain, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    pem = serialization.Encoding.PEM
    chain.write_bytes(cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    key_path.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return chain, key_path


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A throw-away CA (``ca.pem``) and a valid signer, made fresh for this test run."""
    folder = tmp_path_factory.mktemp("pki")
    ca = make_ca()
    (folder / "ca.pem").write_bytes(ca[0].public_bytes(serialization.Encoding.PEM))
    chain, key = make_leaf(folder, ca)
    return {"folder": folder, "ca": ca, "chain": chain, "key": key}


@pytest.fixture(scope="module")
def identity(pki) -> SigningIdentity:
    return SigningIdentity.from_files(pki["chain"], pki["key"])


@pytest.fixture
def png(data, tmp_path) -> Path:
    image = cv2.imread(str(data("faces/london/012/smiling.jpg")))
    path = tmp_path / "render.png"
    cv2.imwrite(str(path), cv2.resize(image, (320, 320), interpolation=cv2.INTER_AREA))
    return path


def sign(source: Path, dest: Path, identity: SigningIdentity) -> Path:
    sign_media(
        source,
        dest,
        render_id=RENDER_ID,
        consent_summary=CONSENT,
        identity=identity,
        title=dest.name,
    )
    return dest


def flip_byte(path: Path, position: int) -> Path:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    out = path.with_name("tampered" + path.suffix)
    out.write_bytes(bytes(data))
    return out


def test_sign_and_read_mp4(data, tmp_path, identity):
    source = tmp_path / "render.mp4"
    shutil.copy(data("plates/street_group_3s.mp4"), source)
    before = source.read_bytes()
    signed = sign(source, tmp_path / "signed.mp4", identity)
    assert source.read_bytes() == before  # the input is never modified
    assert not list(tmp_path.glob(".*partial*"))
    result = read_credentials(signed)
    assert result.present and result.valid and not result.trusted
    assert result.render_id == RENDER_ID
    assert result.consent == CONSENT
    assert [a["action"] for a in result.actions] == ["c2pa.created", "c2pa.edited"]
    assert {a["digitalSourceType"] for a in result.actions} == {DIGITAL_SOURCE_TYPE}
    assert result.ai_generated
    assert "facecast test signer" in result.signer


def test_sign_and_read_png_trusted_with_anchor(png, tmp_path, identity, pki):
    signed = sign(png, tmp_path / "signed.png", identity)
    result = read_credentials(signed, trust_anchors=pki["folder"] / "ca.pem")
    assert result.present and result.valid and result.trusted
    assert result.errors == []
    assert cv2.imread(str(signed)).shape == cv2.imread(str(png)).shape


def test_sign_jpeg(data, tmp_path, identity):
    source = tmp_path / "still.jpg"
    shutil.copy(data("faces/london/004/neutral.jpg"), source)
    result = read_credentials(sign(source, tmp_path / "signed.jpg", identity))
    assert result.valid and result.render_id == RENDER_ID


def test_unsigned_file_has_no_credentials(png):
    result = read_credentials(png)
    assert not result.present and not result.valid


def test_flipped_byte_in_png_pixels_fails_verification(png, tmp_path, identity):
    signed = sign(png, tmp_path / "signed.png", identity)
    tampered = flip_byte(signed, len(signed.read_bytes()) - 200)  # inside the last IDAT chunk
    result = read_credentials(tampered)
    assert result.present and not result.valid
    assert any("dataHash.mismatch" in error for error in result.errors)


def test_flipped_byte_in_mp4_fails_verification(data, tmp_path, identity):
    signed = sign(data("plates/street_group_3s.mp4"), tmp_path / "signed.mp4", identity)
    tampered = flip_byte(signed, len(signed.read_bytes()) // 2)
    result = read_credentials(tampered)
    assert result.present and not result.valid
    assert any("Hash.mismatch" in error for error in result.errors)


def _one_line_error(chain: Path, key: Path) -> str:
    with pytest.raises(ProvenanceError) as caught:
        SigningIdentity.from_files(chain, key)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_certificate_without_c2pa_key_usage_is_refused(pki, tmp_path):
    chain, key = make_leaf(tmp_path, pki["ca"], eku=False)
    message = _one_line_error(chain, key)
    assert message.startswith(str(chain)) and "extended key usage" in message


def test_expired_certificate_is_refused(pki, tmp_path):
    chain, key = make_leaf(tmp_path, pki["ca"], valid_days=(-30, -1))
    assert "expired" in _one_line_error(chain, key)


def test_key_not_matching_certificate_is_refused(pki, tmp_path):
    _, other_key = make_leaf(tmp_path, pki["ca"], name="other")
    message = _one_line_error(pki["chain"], other_key)
    assert message.startswith(str(other_key)) and "does not match" in message


def test_garbage_certificate_is_refused(pki, tmp_path):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    assert "no readable PEM certificate" in _one_line_error(garbage, pki["key"])
    assert "does not exist" in _one_line_error(tmp_path / "missing.pem", pki["key"])


def test_unsupported_format_is_refused(tmp_path, identity):
    source = tmp_path / "render.mkv"
    source.write_bytes(b"\x1a\x45\xdf\xa3")
    with pytest.raises(ProvenanceError, match="cannot carry C2PA"):
        sign(source, tmp_path / "signed.mkv", identity)
