"""The Character asset: a folder built once from reference photos and a consent record.

Layout of a character folder::

    character.json        manifest: format version, id, name, consent, refs, file hashes
    consent.toml          the consent file exactly as given
    refs/ref_00.png ...   the reference photos (downscaled to at most 2048 px a side)
    texture.png           16-bit RGB face texture on the mesh's frontal layout
    texture_weight.png    16-bit coverage of each texel by the references
    geometry.safetensors  uv (478, 2), per-reference landmarks (R, 478, 3), neutral shape
    thumbs/ref_00.jpg ... small previews

Loading checks the format version, that every listed file exists with the recorded SHA-256, and
the consent record; a tampered or incomplete asset is refused with one line naming the problem.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from safetensors.numpy import load_file, save_file

from facecast.character.consent import ConsentRecord, load_consent
from facecast.character.skin import hands_over_face, polygon_mask
from facecast.character.texture import FaceTexture, build_texture
from facecast.errors import CharacterError, FaceNotFoundError
from facecast.media import read_image, write_image
from facecast.mesh.frontal import interocular, normalized_shape
from facecast.mesh.regions import contour
from facecast.provenance.manifest import sha256_file

FORMAT_NAME = "facecast.character"
FORMAT_VERSION = 1
MAX_REFS = 20
#: Hands looked for in each reference photo (a chin on two hands, a third person's hand).
MAX_REF_HANDS = 4
MAX_REF_SIDE = 2048
THUMB_SIDE = 160
#: A face this small (inter-ocular distance, pixels) carries too little detail to build from.
MIN_REF_INTEROCULAR = 24.0
#: A user's mask (`create_character`'s ``leave_out``) may leave out at most this share of a
#: reference's face: a photo masked all over gives the texture nothing (leave it out instead).
MAX_LEFT_OUT = 0.9
#: How far a mask's width/height ratio may differ from its photo's and still be stretched
#: onto it (a mask exported at another size).
MASK_ASPECT_TOLERANCE = 0.01


@dataclass
class ReferencePhoto:
    """One reference photo as stored in the asset.

    Attributes
    ----------
    file
        Path relative to the character folder (``refs/ref_00.png``).
    source_name
        File name the user passed (for messages; the full path is not stored).
    sha256
        Hash of the original file the user passed.
    pose
        ``(yaw, pitch, roll)`` degrees of the face in the photo.
    monochrome
        A black-and-white photo: it gave the texture tone and detail, not colour
        (`facecast.character.texture.MONOCHROME_CHROMA`).
    glasses
        The face wears glasses: the region of the glasses gave the texture nothing
        (`facecast.character.skin.shows_glasses`).
    hands
        How many hands are in front of the face; their region gave the texture nothing
        (`facecast.character.skin.hands_over_face`).
    left_out
        Share of the face (its oval, 0 to 1) that the user's mask marked not to be used (a
        hard shadow, a blemish on a print); it gave the texture nothing.
    mask_sha256
        Hash of that mask file (``""`` without one).
    """

    file: str
    source_name: str
    sha256: str
    pose: tuple[float, float, float]
    monochrome: bool = False
    glasses: bool = False
    hands: int = 0
    left_out: float = 0.0
    mask_sha256: str = ""


@dataclass
class Character:
    """A character: the face texture, its shape, the refs, and the consent behind it.

    Attributes
    ----------
    character_id
        Stable id: the folder name, lower-case letters, digits, ``-`` and ``_``.
    name
        Display name.
    consent
        The consent record the asset was built under.
    texture
        The unwrapped face (`FaceTexture`).
    ref_landmarks
        ``float32 (R, 478, 3)`` mesh points of each reference in its own pixels.
    neutral_shape
        ``float32 (478, 3)`` pose- and scale-free shape of the first (most neutral) reference
        (`facecast.mesh.frontal.normalized_shape`).
    refs
        Stored reference photos, the first one the most frontal.
    path
        The folder the asset lives in.
    """

    character_id: str
    name: str
    consent: ConsentRecord
    texture: FaceTexture
    ref_landmarks: np.ndarray
    neutral_shape: np.ndarray
    refs: list[ReferencePhoto]
    path: Path
    created: str = ""
    file_hashes: dict[str, str] = field(default_factory=dict)

    def reference_images(self) -> list[np.ndarray]:
        """The stored reference photos, ``uint8 RGB (H, W, 3)`` each."""
        return [read_image(self.path / ref.file) for ref in self.refs]

    def digest(self) -> str:
        """SHA-256 of ``character.json``: identifies this exact asset in render manifests."""
        return sha256_file(self.path / "character.json")


def _valid_id(name: str) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")
    if not slug:
        raise CharacterError(f"cannot make a character id from folder name {name!r}")
    return slug


def _bounded(image: np.ndarray) -> np.ndarray:
    """Downscale so the longer side is at most `MAX_REF_SIDE`; ``uint8 RGB`` in and out."""
    longest = max(image.shape[:2])
    if longest <= MAX_REF_SIDE:
        return image
    scale = MAX_REF_SIDE / longest
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class _Reference:
    """A reference photo as read: ``uint8 RGB (H, W, 3)`` image (bounded size), its face's
    ``float32 (478, 3)`` landmarks and ``(3,)`` pose, the ``float32 (21, 2)`` keypoints of
    each hand in front of the face, and the user's mask of what not to use, ``float32 (H, W)``
    in {0, 1}, if any, with the share of the face it marks."""

    image: np.ndarray
    landmarks: np.ndarray
    pose: np.ndarray
    hands: list[np.ndarray]
    left_out: np.ndarray | None = None
    left_out_share: float = 0.0


def _load_reference(
    path: Path, analyzer, hand_detector, mask_path: Path | None = None
) -> _Reference:
    """Read a reference photo, find exactly one usable face in it and the hands in front of it
    (`hand_detector`: a `facecast.analysis.HandDetector` in still-image mode), and read the
    user's mask of what not to use (`mask_path`), if given."""
    from facecast.media import to_uint8

    photo = to_uint8(read_image(path))
    image = _bounded(photo)
    left_out = None
    if mask_path is not None:
        left_out = _read_mask(mask_path, path, photo.shape[:2], image.shape[:2])
    faces = analyzer.detect(image)
    if not faces:
        height, width = photo.shape[:2]
        raise FaceNotFoundError(
            f"no face found in this reference photo ({width}x{height} px)", path
        )
    if len(faces) > 1:
        sizes = sorted((f.size for f in faces), reverse=True)
        if sizes[1] > 0.4 * sizes[0]:
            raise FaceNotFoundError(
                f"{len(faces)} faces found in this reference photo; a reference must show one "
                "person (crop it)",
                path,
            )
    face = max(faces, key=lambda f: f.size)
    if interocular(face.landmarks) < MIN_REF_INTEROCULAR:
        raise FaceNotFoundError(
            f"the face is too small ({interocular(face.landmarks):.0f} px between the eyes, "
            f"need {MIN_REF_INTEROCULAR:.0f})",
            path,
        )
    points = face.landmarks.astype(np.float32)
    hands = hands_over_face(hand_detector.detect(image), points, image.shape[:2])
    share = 0.0 if left_out is None else _face_share(left_out, points)
    if share > MAX_LEFT_OUT:
        raise CharacterError(
            f"the mask {mask_path.name} covers {share:.0%} of the face: nothing is left to "
            "build from (leave this photo out instead)",
            path,
        )
    return _Reference(image, points, face.pose.astype(np.float32), hands, left_out, share)


def _read_mask(
    mask_path: Path, photo_path: Path, photo_shape: tuple[int, int], shape: tuple[int, int]
) -> np.ndarray:
    """A user's mask of what not to use in a reference photo: white (above half its range)
    marks it, or, in a mask with transparency (a paint layer exported as PNG), opaque paint.
    Read from any image file of the photo's size or aspect, scaled to ``shape (H, W)`` (the
    photo as bounded). Returns ``float32 (H, W)`` in {0, 1}."""
    mask = _painted(mask_path, read_image(mask_path))
    (height, width), (photo_height, photo_width) = mask.shape[:2], photo_shape
    if abs(width / height - photo_width / photo_height) > MASK_ASPECT_TOLERANCE * (
        photo_width / photo_height
    ):
        raise CharacterError(
            f"is {width}x{height} but its photo {photo_path.name} is {photo_width}x"
            f"{photo_height}: a mask must have the photo's size or aspect",
            mask_path,
        )
    peak = 1.0 if mask.dtype.kind == "f" else float(np.iinfo(mask.dtype).max)
    grey = mask.astype(np.float32).reshape(height, width, -1).mean(axis=2) / peak
    grey = cv2.resize(grey, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return (grey > 0.5).astype(np.float32)


def _painted(mask_path: Path, rgb: np.ndarray) -> np.ndarray:
    """The channel of a mask file that carries the marks: its alpha where it has transparent
    pixels (``(H, W, 1)``), else its colour ``rgb (H, W, 3)`` as read."""
    stored = cv2.imread(str(mask_path), cv2.IMREAD_UNCHANGED)
    if stored is None or stored.ndim != 3 or stored.shape[2] != 4:
        return rgb
    alpha = stored[..., 3:]
    return alpha if alpha.min() < np.iinfo(alpha.dtype).max else rgb


def _face_share(mask: np.ndarray, landmarks: np.ndarray) -> float:
    """Share of the face oval of ``landmarks (478, 3)`` that ``mask (H, W)`` marks."""
    face = polygon_mask(landmarks[contour("face_oval")], mask.shape[:2])
    return float(mask[face].mean()) if face.any() else 0.0


def _hashes_of_distinct_photos(paths: list[Path]) -> list[str]:
    """SHA-256 of each reference file, refusing a photo given twice (same bytes, under any
    name): it would weigh twice in the texture merge and the neutral shape. A missing file
    gets ``""`` and is left to `read_image` to name."""
    first_seen: dict[str, Path] = {}
    hashes = []
    for path in paths:
        digest = sha256_file(path) if path.is_file() else ""
        hashes.append(digest)
        if not digest:
            continue
        if digest in first_seen:
            earlier = first_seen[digest]
            same_file = earlier.resolve() == path.resolve()
            problem = "given twice" if same_file else f"the same photo as {earlier}"
            raise CharacterError(f"{problem} (give each reference once)", path)
        first_seen[digest] = path
    return hashes


def _masks_by_reference(
    ref_paths: list[Path], leave_out: Mapping[str | Path, str | Path]
) -> list[Path | None]:
    """The mask file of each reference in `ref_paths` (``None`` for most), from `leave_out`
    (``{photo: mask}``, a photo named by any path to the same file); a mask for a photo that
    is not a reference, or a mask file that does not exist, is a `CharacterError`."""
    resolved = [path.resolve() for path in ref_paths]
    masks: list[Path | None] = [None] * len(ref_paths)
    for photo, mask in leave_out.items():
        photo, mask = Path(photo), Path(mask)
        if photo.resolve() not in resolved:
            raise CharacterError("has a mask but is not one of the --ref photos", photo)
        if not mask.is_file():
            raise CharacterError("mask file not found", mask)
        masks[resolved.index(photo.resolve())] = mask
    return masks


def _mask_record(reference: _Reference, mask: Path | None) -> tuple[float, str]:
    """``(left_out, mask_sha256)`` of a `ReferencePhoto`: the share of the face its mask
    marks, rounded to 0.001, and the mask file's hash; ``(0.0, "")`` without one."""
    if mask is None:
        return 0.0, ""
    return round(reference.left_out_share, 3), sha256_file(mask)


def _neutrality_cost(landmarks: np.ndarray, pose: np.ndarray) -> float:
    """How far a reference is from frontal and neutral: degrees of yaw and pitch, plus 100 x the
    mouth opening over the inter-ocular distance. The cheapest one anchors the texture."""
    mouth = float(np.linalg.norm(landmarks[13, :2] - landmarks[14, :2])) / interocular(landmarks)
    return float(np.abs(pose[:2]).sum()) + 100.0 * mouth


def create_character(
    folder: str | Path,
    ref_paths: list[str | Path],
    consent_path: str | Path,
    *,
    name: str | None = None,
    texture_size: int = 512,
    analyzer=None,
    overwrite: bool = False,
    leave_out: Mapping[str | Path, str | Path] | None = None,
) -> Character:
    """Build a character asset from reference photos and a consent file.

    Parameters
    ----------
    folder
        Destination folder; its name becomes the character id.
    ref_paths
        1 to 20 photos of the person, any size; each must show exactly one face.
    consent_path
        Consent TOML (see `facecast.character.consent`); refused when missing, invalid or expired.
    name
        Display name (default: the folder name).
    texture_size
        Side of the face texture in texels (512 for HD, 1024 or more for 4K close-ups).
    analyzer
        A `facecast.analysis.FaceAnalyzer` in still-image mode; created if not given.
    overwrite
        Replace an existing character folder.
    leave_out
        Masks of what not to use, by reference photo (``{photo: mask}``): an image of the
        photo's size or aspect, white where the photo must give the texture nothing (a hard
        shadow across the face, a scar, a scratch on a print; hair, glasses and hands are
        found without one). Such a region is taken from the other references where they show
        it, else the actor's own skin shows there, relit.

    Raises
    ------
    ConsentError, FaceNotFoundError, MediaError, CharacterError
        One line naming the file at fault.
    """
    folder = Path(folder)
    consent = load_consent(consent_path)
    if not ref_paths:
        raise CharacterError("at least one --ref photo is needed", folder)
    if len(ref_paths) > MAX_REFS:
        raise CharacterError(f"{len(ref_paths)} reference photos given, at most {MAX_REFS}")
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise CharacterError("folder exists and is not empty (use --overwrite)", folder)
    character_id = _valid_id(folder.name)
    ref_hashes = _hashes_of_distinct_photos([Path(p) for p in ref_paths])
    masks = _masks_by_reference([Path(p) for p in ref_paths], leave_out or {})

    from facecast.analysis import FaceAnalyzer, HandDetector

    owned = analyzer is None
    analyzer = analyzer or FaceAnalyzer(max_faces=4, static_images=True)
    try:
        with HandDetector(max_hands=MAX_REF_HANDS, static_images=True) as hand_detector:
            loaded = [
                _load_reference(Path(p), analyzer, hand_detector, mask)
                for p, mask in zip(ref_paths, masks, strict=True)
            ]
    finally:
        if owned:
            analyzer.close()
    costs = [_neutrality_cost(ref.landmarks, ref.pose) for ref in loaded]
    order = sorted(range(len(loaded)), key=costs.__getitem__)
    images = [loaded[i].image for i in order]
    landmarks = [loaded[i].landmarks for i in order]
    texture = build_texture(
        images,
        landmarks,
        texture_size,
        [loaded[i].hands for i in order],
        [loaded[i].left_out for i in order],
    )
    frontal = normalized_shape(landmarks[0])

    temp = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(temp, ignore_errors=True)
    (temp / "refs").mkdir(parents=True)
    (temp / "thumbs").mkdir()
    shutil.copyfile(consent_path, temp / "consent.toml")
    refs = []
    for rank, index in enumerate(order):
        source = Path(ref_paths[index])
        file = f"refs/ref_{rank:02d}.png"
        write_image(temp / file, images[rank])
        write_image(temp / f"thumbs/ref_{rank:02d}.jpg", _thumbnail(images[rank], landmarks[rank]))
        pose = tuple(round(float(v), 2) for v in loaded[index].pose)
        refs.append(
            ReferencePhoto(
                file,
                source.name,
                ref_hashes[index],
                pose,
                texture.monochrome[rank],
                texture.glasses[rank],
                texture.hands[rank],
                *_mask_record(loaded[index], masks[index]),
            )
        )
    _write_arrays(temp, texture, np.stack(landmarks), frontal.astype(np.float32))
    manifest = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "id": character_id,
        "name": name or folder.name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "consent": consent.to_dict(),
        "texture_size": texture_size,
        "refs": [vars(r) for r in refs],
    }
    manifest["files"] = {
        str(p.relative_to(temp)): sha256_file(p) for p in sorted(temp.rglob("*")) if p.is_file()
    }
    (temp / "character.json").write_text(json.dumps(manifest, indent=2))
    if folder.exists():
        shutil.rmtree(folder)
    temp.rename(folder)
    return load_character(folder)


def _thumbnail(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """A square crop around the face, `THUMB_SIDE` pixels a side, ``uint8 RGB``."""
    low, high = landmarks[:, :2].min(axis=0), landmarks[:, :2].max(axis=0)
    centre, half = (low + high) / 2, 0.65 * float(np.max(high - low))
    x0, y0 = np.maximum(np.round(centre - half).astype(int), 0)
    x1, y1 = np.round(centre + half).astype(int)
    crop = image[y0:y1, x0:x1]
    return cv2.resize(crop, (THUMB_SIDE, THUMB_SIDE), interpolation=cv2.INTER_AREA)


def _write_arrays(
    folder: Path, texture: FaceTexture, landmarks: np.ndarray, neutral: np.ndarray
) -> None:
    to16 = lambda x: np.round(np.clip(x, 0, 1) * 65535).astype(np.uint16)  # noqa: E731
    write_image(folder / "texture.png", to16(texture.image))
    cv2.imwrite(str(folder / "texture_weight.png"), to16(texture.weight))
    save_file(
        {"uv": texture.uv, "ref_landmarks": landmarks, "neutral_shape": neutral},
        str(folder / "geometry.safetensors"),
        metadata={"format": FORMAT_NAME, "version": str(FORMAT_VERSION)},
    )


def load_character(folder: str | Path) -> Character:
    """Load and validate a character folder.

    Raises
    ------
    CharacterError
        If the folder or its manifest is missing, of another format or version, a listed file is
        missing or its hash differs (tampered), or the arrays have unexpected shapes.
    ConsentError
        If the stored consent record is invalid.
    """
    folder = Path(folder)
    manifest_path = folder / "character.json"
    if not manifest_path.is_file():
        raise CharacterError("is not a character folder (no character.json)", folder)
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CharacterError("character.json is not valid JSON", folder) from None
    if manifest.get("format") != FORMAT_NAME:
        raise CharacterError("character.json is not a facecast character manifest", folder)
    if manifest.get("version") != FORMAT_VERSION:
        raise CharacterError(
            f"character format version {manifest.get('version')} is not supported "
            f"(this facecast reads version {FORMAT_VERSION})",
            folder,
        )
    _check_files(folder, manifest.get("files", {}))
    consent = ConsentRecord.from_dict(manifest["consent"], manifest_path)
    arrays = load_file(str(folder / "geometry.safetensors"))
    texture_image = read_image(folder / "texture.png").astype(np.float32) / 65535.0
    weight = cv2.imread(str(folder / "texture_weight.png"), cv2.IMREAD_UNCHANGED)
    refs = _reference_photos(folder, manifest.get("refs"))
    texture = FaceTexture(
        texture_image,
        weight.astype(np.float32) / 65535.0,
        arrays["uv"],
        tuple(r.monochrome for r in refs),
        tuple(r.glasses for r in refs),
        tuple(r.hands for r in refs),
    )
    _check_shapes(folder, texture, arrays, len(refs))
    return Character(
        character_id=manifest["id"],
        name=manifest["name"],
        consent=consent,
        texture=texture,
        ref_landmarks=arrays["ref_landmarks"],
        neutral_shape=arrays["neutral_shape"],
        refs=refs,
        path=folder,
        created=manifest.get("created", ""),
        file_hashes=manifest["files"],
    )


def _reference_photos(folder: Path, entries) -> list[ReferencePhoto]:
    """The manifest's ``refs`` list as `ReferencePhoto` records; a malformed entry (missing or
    unknown keys, a pose that is not three numbers) is a `CharacterError`."""
    try:
        refs = [ReferencePhoto(**{**r, "pose": tuple(map(float, r["pose"]))}) for r in entries]
    except (TypeError, KeyError, ValueError):
        raise CharacterError("character.json has a malformed 'refs' list", folder) from None
    if not refs or any(len(r.pose) != 3 for r in refs):
        raise CharacterError("character.json has a malformed 'refs' list", folder)
    return refs


def _check_files(folder: Path, files: dict[str, str]) -> None:
    required = {"consent.toml", "texture.png", "texture_weight.png", "geometry.safetensors"}
    if missing := required - set(files):
        raise CharacterError(f"character.json does not list {sorted(missing)}", folder)
    for relative, expected in files.items():
        path = folder / relative
        if ".." in Path(relative).parts or not path.is_file():
            raise CharacterError(f"{relative} is missing (incomplete asset)", folder)
        if sha256_file(path) != expected:
            raise CharacterError(f"{relative} does not match its recorded hash (tampered)", folder)


def _check_shapes(folder: Path, texture: FaceTexture, arrays: dict, ref_count: int) -> None:
    size = texture.image.shape[0]
    expected = {
        "uv": (478, 2),
        "ref_landmarks": (ref_count, 478, 3),
        "neutral_shape": (478, 3),
    }
    for key, shape in expected.items():
        if key not in arrays or arrays[key].shape != shape:
            got = arrays[key].shape if key in arrays else "nothing"
            raise CharacterError(f"geometry {key} has shape {got}, expected {shape}", folder)
    if texture.image.shape != (size, size, 3) or texture.weight.shape != (size, size):
        raise CharacterError("texture images have mismatched sizes", folder)
