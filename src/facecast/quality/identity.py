"""Who a face is: dlib descriptors of the character's refs, a gallery of people, and retrieval.

Distances are euclidean between dlib's 128-D descriptors (its documented same-person tolerance
is 0.6). On the London set, two photos of one person lie 0.13–0.29 apart and two different
people at least 0.49 apart.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facecast.errors import CharacterError, FacecastError, MediaError
from facecast.media import IMAGE_SUFFIXES, read_image, to_uint8
from facecast.quality.dlibface import QualityModels, descriptor, detect_faces, landmarks

#: dlib's own tolerance: faces closer than this are taken to be one person.
SAME_PERSON_DISTANCE = 0.6
#: A gallery person this close to the character's refs is the character and is left out.
GALLERY_DUPLICATE_DISTANCE = 0.35
#: Output and plate faces this close (median) mean the identity did not change.
UNCHANGED_DISTANCE = 0.2


@dataclass(frozen=True)
class Person:
    """One identity known from photos.

    Attributes
    ----------
    name
        Label shown in the report (character id, gallery folder or file stem, ``"actor"``).
    descriptors
        ``float32 (K, 128)``: one dlib descriptor per usable photo.
    sources
        The photo files, in the order of `descriptors`.
    """

    name: str
    descriptors: np.ndarray
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class IdentityReferences:
    """Everything a shot's faces are compared with.

    Attributes
    ----------
    character
        The character the output should show.
    gallery
        Other people (retrieval distractors), the character itself excluded.
    skipped
        Photos that were left out, each ``"path: reason"``.
    """

    character: Person
    gallery: tuple[Person, ...] = ()
    skipped: tuple[str, ...] = ()


def photo_descriptor(models: QualityModels, path: Path) -> np.ndarray:
    """Descriptor of the largest face in a photo.

    Returns
    -------
    numpy.ndarray
        ``float32 (128,)``.

    Raises
    ------
    MediaError
        If the file cannot be read or holds no face dlib can find.
    """
    image = to_uint8(read_image(path))
    boxes = detect_faces(models, image)
    if len(boxes) == 0:
        raise MediaError("no face found by the quality detector (dlib)", path)
    return descriptor(models, image, landmarks(models, image, boxes[0]))


def character_name(character_dir: Path) -> str:
    """The character's id from ``character.json`` (``id`` or ``name``), else the folder name."""
    manifest = character_dir / "character.json"
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise CharacterError(f"cannot be read as JSON ({error})", manifest) from None
        if isinstance(data, dict):
            for key in ("id", "name"):
                if isinstance(data.get(key), str) and data[key]:
                    return data[key]
    return character_dir.name


def source_hashes(character_dir: Path) -> list[str]:
    """SHA-256 of the original photos a character asset's refs were made from, if recorded."""
    try:
        data = json.loads((character_dir / "character.json").read_text(encoding="utf-8"))
        refs = data.get("refs", []) if isinstance(data, dict) else []
    except (OSError, ValueError):
        return []
    return [r["sha256"] for r in refs if isinstance(r, dict) and isinstance(r.get("sha256"), str)]


def reference_photos(character_dir: Path) -> list[Path]:
    """Reference photos of a character asset: ``refs/*`` images, else images in the folder.

    Raises
    ------
    CharacterError
        If the folder is missing or holds no image.
    """
    if not character_dir.is_dir():
        raise CharacterError("is not a character folder", character_dir)
    refs = character_dir / "refs"
    photos = _images_in(refs) if refs.is_dir() else _images_in(character_dir)
    if not photos:
        raise CharacterError("holds no reference photos (refs/*.jpg|png|...)", character_dir)
    return photos


def load_character(models: QualityModels, character_dir: Path) -> tuple[Person, list[str]]:
    """Descriptors of a character's reference photos.

    Returns
    -------
    tuple
        The `Person` and the list of skipped photos (``"path: reason"``).

    Raises
    ------
    CharacterError
        If no reference photo holds a face the quality detector can find.
    """
    person, skipped = _person_from(
        models, character_name(character_dir), reference_photos(character_dir)
    )
    if person is None:
        raise CharacterError("no reference photo holds a face dlib can find", character_dir)
    return person, skipped


def load_gallery(
    models: QualityModels,
    gallery_dir: Path,
    character: Person,
    source_hashes: Iterable[str] = (),
) -> tuple[tuple[Person, ...], list[str]]:
    """People of a gallery folder, minus the character.

    A subfolder is one person (all images inside); an image at the top level is one person
    named by its file stem. A person with a photo byte-identical to a character ref (or to one
    of `source_hashes`, the SHA-256 of the photos the refs were made from), or whose
    descriptors come within `GALLERY_DUPLICATE_DISTANCE` of the character's, is the character
    and is left out (noted in the skipped list).

    Raises
    ------
    FacecastError
        If `gallery_dir` is not a folder.
    """
    people, skipped = load_people(models, gallery_dir)
    kept, left_out = exclude_character(people, character, source_hashes)
    return kept, skipped + left_out


def exclude_character(
    people: Iterable[Person], character: Person, source_hashes: Iterable[str] = ()
) -> tuple[tuple[Person, ...], list[str]]:
    """Drop the gallery people who are the character (see `load_gallery`).

    Returns
    -------
    tuple
        The remaining people and one ``"name: reason"`` line per person left out.
    """
    ref_hashes = {_sha256(Path(s)) for s in character.sources} | set(source_hashes)
    kept, left_out = [], []
    for person in people:
        if any(_sha256(Path(p)) in ref_hashes for p in person.sources):
            left_out.append(f"{person.name}: same photo as a character ref; left out")
        elif distance_to(character, person.descriptors).min() < GALLERY_DUPLICATE_DISTANCE:
            left_out.append(f"{person.name}: the character's own face; left out")
        else:
            kept.append(person)
    return tuple(kept), left_out


def load_people(models: QualityModels, gallery_dir: Path) -> tuple[list[Person], list[str]]:
    """Every person of a gallery folder: a subfolder of photos, or one top-level image, each.

    Returns
    -------
    tuple
        The people (with at least one usable photo) and the skipped photos (``"path: reason"``).

    Raises
    ------
    FacecastError
        If `gallery_dir` is not a folder.
    """
    if not gallery_dir.is_dir():
        raise FacecastError("gallery is not a folder", gallery_dir)
    groups = [(p.name, _images_in(p)) for p in sorted(gallery_dir.iterdir()) if p.is_dir()]
    groups += [(p.stem, [p]) for p in _images_in(gallery_dir)]
    people, skipped = [], []
    for name, photos in groups:
        person, bad = _person_from(models, name, photos)
        skipped += bad
        if person is not None:
            people.append(person)
    return people, skipped


def load_references(
    models: QualityModels, character_dir: Path, gallery_dir: Path | None = None
) -> IdentityReferences:
    """The character and, when given, the gallery, ready for `measure_shot`."""
    character, skipped = load_character(models, character_dir)
    gallery: tuple[Person, ...] = ()
    if gallery_dir is not None:
        hashes = source_hashes(character_dir)
        gallery, more = load_gallery(models, gallery_dir, character, hashes)
        skipped += more
    return IdentityReferences(character, gallery, tuple(skipped))


def distance_to(person: Person, descriptors: np.ndarray) -> np.ndarray:
    """Distance of each of ``(N, 128)`` (or one ``(128,)``) descriptors to a person's nearest photo.

    Returns
    -------
    numpy.ndarray
        ``float64 (N,)`` euclidean distances.
    """
    queries = np.atleast_2d(np.asarray(descriptors, np.float64))
    pairwise = np.linalg.norm(queries[:, None, :] - person.descriptors[None, :, :], axis=2)
    return pairwise.min(axis=1)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity in [-1, 1] of two ``(128,)`` descriptors."""
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def nearest(descriptors: np.ndarray, candidates: Iterable[Person]) -> list[str]:
    """Name of the nearest candidate for each of ``(N, 128)`` descriptors."""
    people = list(candidates)
    table = np.stack([distance_to(p, descriptors) for p in people], axis=1)
    return [people[i].name for i in np.argmin(table, axis=1)]


def _person_from(
    models: QualityModels, name: str, photos: list[Path]
) -> tuple[Person | None, list[str]]:
    """Descriptors of the photos that hold a face; the others listed as skipped."""
    vectors, sources, skipped = [], [], []
    for photo in photos:
        try:
            vectors.append(photo_descriptor(models, photo))
            sources.append(str(photo))
        except MediaError as error:
            skipped.append(str(error))
    if not vectors:
        return None, skipped
    return Person(name, np.stack(vectors), tuple(sources)), skipped


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
