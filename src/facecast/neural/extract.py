"""Faceset extraction: find faces in plates, photos or a character, align, prune, sort, augment.

The stages a user sees as ``facecast faceset extract``:

1. **find** faces: plates are analysed with tracking and the shot's main track is kept (or every
   track); photos are analysed one by one and their largest face is kept; a character folder
   gives its reference photos with the landmarks stored in the asset;
2. **align** each face into a square crop (`facecast.neural.align`) with its landmarks and a
   soft face mask;
3. **prune** by head pose, by blur (sharpness far below the source's median) and near-duplicates
   (consecutive frames of a still face);
4. **sort** by source, sharpness or pose;
5. **augment** tiny sets (a few archival photos): mirrored, recoloured, warped copies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facecast.analysis import FaceAnalyzer, face_region_mask, iter_analysis
from facecast.analysis.face import Face
from facecast.errors import FaceNotFoundError, MediaError
from facecast.media import IMAGE_SUFFIXES, open_plate, read_image, to_uint8
from facecast.neural import augment
from facecast.neural.align import (
    DEFAULT_COVERAGE,
    alignment_matrix,
    matrix_scale,
    transform_points,
    warp_to_crop,
)
from facecast.neural.config import MAX_RESOLUTION, MIN_RESOLUTION
from facecast.neural.faceset import FaceRecord, Faceset, empty_faceset

#: Ways `sort_faceset` can order faces.
SORT_KEYS = ("source", "sharpness", "yaw", "pitch")
#: Side of the grey thumbnail compared for near-duplicates.
_DEDUPE_SIDE = 24


@dataclass(frozen=True)
class ExtractSettings:
    """How faces are cut and pruned.

    Attributes
    ----------
    size
        Crop side in pixels, 64 to 1024.
    coverage
        Crop width relative to the five-point template (larger shows more hair and background).
    every
        Keep every n-th frame of a plate (analysis still sees every frame, for tracking).
    all_faces
        Keep every tracked face of a plate, not only the main track.
    max_yaw, max_pitch
        Faces turned further than this (degrees) are dropped.
    min_sharpness
        Faces whose sharpness is below this fraction of their source's median are dropped.
    dedupe
        Faces whose thumbnail differs from an already kept face's by less than this (mean
        absolute difference of standardised grey levels) are dropped; 0 keeps all.
    max_faces
        Most faces kept from one source (evenly spaced), bounding memory.
    """

    size: int = 256
    coverage: float = DEFAULT_COVERAGE
    every: int = 1
    all_faces: bool = False
    max_yaw: float = 75.0
    max_pitch: float = 50.0
    min_sharpness: float = 0.2
    dedupe: float = 0.0
    max_faces: int = 5000

    def __post_init__(self) -> None:
        size = self.size
        if not MIN_RESOLUTION <= size <= MAX_RESOLUTION:
            raise MediaError(f"crop size {size} is outside [{MIN_RESOLUTION}, {MAX_RESOLUTION}]")
        if self.every < 1 or self.max_faces < 1:
            raise MediaError("every and max_faces must be at least 1")


@dataclass
class ExtractReport:
    """How many faces each stage found, kept and dropped (for the CLI and logs)."""

    found: int = 0
    dropped_pose: int = 0
    dropped_blur: int = 0
    dropped_duplicate: int = 0
    augmented: int = 0
    kept: int = 0

    def to_dict(self) -> dict:
        return dict(vars(self))


def crop_face(
    image: np.ndarray, face: Face, settings: ExtractSettings, source: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, FaceRecord]:
    """Align one face into a crop.

    Parameters
    ----------
    image
        ``uint8 RGB (H, W, 3)`` frame or photo.
    face
        The face, landmarks ``(478, 3)`` in `image` pixels.
    settings
        Crop size and coverage.
    source
        Name recorded as the face's source.

    Returns
    -------
    rgb
        ``uint8 (S, S, 3)`` aligned crop.
    mask
        ``uint8 (S, S)`` soft face mask (255 inside).
    landmarks
        ``float32 (478, 3)`` in crop pixels (``z`` scaled like ``x, y``).
    matrix
        ``float64 (2, 3)`` frame-to-crop transform.
    record
        Its `FaceRecord`.
    """
    size = settings.size
    matrix = alignment_matrix(face.landmarks, size, settings.coverage)
    rgb = warp_to_crop(image, matrix, size)
    points = np.empty((face.landmarks.shape[0], 3), np.float32)
    points[:, :2] = transform_points(face.landmarks, matrix)
    points[:, 2] = face.landmarks[:, 2] * matrix_scale(matrix)
    mask = face_region_mask(points, (size, size))
    record = FaceRecord(
        source=source,
        frame=int(face.frame_index),
        pose=tuple(round(float(v), 2) for v in face.pose),
        sharpness=round(sharpness(rgb, mask), 3),
    )
    return rgb, np.round(mask * 255).astype(np.uint8), points, matrix, record


def sharpness(rgb: np.ndarray, mask: np.ndarray) -> float:
    """Variance of the Laplacian of the grey crop inside `mask` (``float32`` in [0, 1]).

    Computed at the crop's size; larger is sharper.
    """
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    laplacian = cv2.Laplacian(grey, cv2.CV_32F, ksize=3)
    inside = mask > 0.5
    return float(laplacian[inside].var()) if inside.any() else 0.0


def _faceset_from(crops: list[tuple], size: int, coverage: float) -> Faceset:
    """Stack `crop_face` results into a `Faceset`."""
    if not crops:
        return empty_faceset(size, coverage)
    rgb, mask, points, matrices, records = zip(*crops, strict=True)
    return Faceset(
        size,
        coverage,
        np.stack(rgb),
        np.stack(mask),
        np.stack(points).astype(np.float32),
        np.stack(matrices),
        list(records),
    )


def faces_from_plate(
    path: Path, settings: ExtractSettings, analyzer: FaceAnalyzer | None = None
) -> Faceset:
    """Aligned faces of a plate's main track (or every track with ``settings.all_faces``).

    Parameters
    ----------
    path
        Video file or image-sequence folder.
    settings
        Crop and selection settings.
    analyzer
        A video-mode `FaceAnalyzer` to reuse; made and closed here when ``None``.
    """
    plate = open_plate(path)
    owned = analyzer is None
    analyzer = analyzer or FaceAnalyzer()
    by_track: dict[int, list[tuple]] = {}
    sizes: dict[int, float] = {}
    try:
        for result in iter_analysis(plate, analyzer):
            for face in result.faces:
                sizes[face.track_id] = sizes.get(face.track_id, 0.0) + face.size
                if result.index % settings.every == 0:
                    crop = crop_face(result.frame, face, settings, path.name)
                    by_track.setdefault(face.track_id, []).append(crop)
    finally:
        if owned:
            analyzer.close()
    if not sizes:
        raise FaceNotFoundError("no face found in this plate", path)
    if settings.all_faces:
        crops = [crop for track in sorted(by_track) for crop in by_track[track]]
    else:
        main = max(sorted(sizes), key=lambda tid: sizes[tid])
        crops = by_track.get(main, [])
    return _faceset_from(_evenly(crops, settings.max_faces), settings.size, settings.coverage)


def _evenly(items: list, most: int) -> list:
    if len(items) <= most:
        return items
    keep = np.linspace(0, len(items) - 1, most).round().astype(int)
    return [items[i] for i in keep]


def faces_from_photos(
    paths: Iterable[Path], settings: ExtractSettings, analyzer: FaceAnalyzer | None = None
) -> Faceset:
    """Aligned largest face of each photo; photos without a face are skipped.

    Raises
    ------
    FaceNotFoundError
        If no photo holds a face.
    """
    paths = list(paths)
    owned = analyzer is None
    analyzer = analyzer or FaceAnalyzer(max_faces=4, static_images=True)
    crops = []
    try:
        for path in paths:
            image = to_uint8(read_image(path))
            faces = analyzer.detect(image)
            if faces:
                crops.append(
                    crop_face(image, max(faces, key=lambda f: f.size), settings, path.name)
                )
    finally:
        if owned:
            analyzer.close()
    if not crops:
        raise FaceNotFoundError(
            f"none of {len(paths)} photos holds a face", paths[0] if paths else None
        )
    return _faceset_from(_evenly(crops, settings.max_faces), settings.size, settings.coverage)


def faces_from_character(character, settings: ExtractSettings) -> Faceset:
    """Aligned faces of a character's reference photos, using the landmarks stored in the asset.

    Parameters
    ----------
    character
        A loaded `facecast.character.asset.Character`.
    """
    crops = []
    images = character.reference_images()
    for ref, image, landmarks in zip(character.refs, images, character.ref_landmarks, strict=True):
        face = Face(
            bbox=np.zeros(4, np.float32),
            landmarks=np.asarray(landmarks, np.float32),
            pose=np.asarray(ref.pose, np.float32),
        )
        crops.append(crop_face(to_uint8(image), face, settings, ref.file))
    return _faceset_from(crops, settings.size, settings.coverage)


def prune(faceset: Faceset, settings: ExtractSettings, report: ExtractReport) -> Faceset:
    """Drop turned, blurred and near-duplicate faces (counts go into `report`)."""
    poses = np.array([r.pose for r in faceset.records], np.float64).reshape(-1, 3)
    ok_pose = (np.abs(poses[:, 0]) <= settings.max_yaw) & (
        np.abs(poses[:, 1]) <= settings.max_pitch
    )
    report.dropped_pose += int((~ok_pose).sum())
    faceset = faceset.select(np.flatnonzero(ok_pose))
    ok_sharp = _sharp_enough(faceset, settings.min_sharpness)
    report.dropped_blur += int((~ok_sharp).sum())
    faceset = faceset.select(np.flatnonzero(ok_sharp))
    if settings.dedupe > 0:
        keep = _distinct(faceset, settings.dedupe)
        report.dropped_duplicate += len(faceset) - len(keep)
        faceset = faceset.select(keep)
    return faceset


def _sharp_enough(faceset: Faceset, fraction: float) -> np.ndarray:
    """``bool (N,)``: sharpness at least `fraction` of the median of the face's source."""
    values = np.array([r.sharpness for r in faceset.records])
    sources = np.array([r.source for r in faceset.records])
    keep = np.ones(len(values), bool)
    for source in np.unique(sources):
        here = sources == source
        keep[here] = values[here] >= fraction * np.median(values[here])
    return keep


def _thumbnails(faceset: Faceset) -> np.ndarray:
    """``float32 (N, D)`` standardised grey thumbnails of the masked faces."""
    thumbs = []
    for rgb, mask in zip(faceset.rgb, faceset.mask, strict=True):
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) * (mask / 255.0)
        small = cv2.resize(grey, (_DEDUPE_SIDE, _DEDUPE_SIDE), interpolation=cv2.INTER_AREA)
        thumbs.append(((small - small.mean()) / (small.std() + 1e-6)).ravel())
    return np.asarray(thumbs, np.float32).reshape(len(faceset), -1)


def _distinct(faceset: Faceset, threshold: float) -> list[int]:
    """Greedy, in order: keep a face unless it is within `threshold` of a kept face."""
    thumbs = _thumbnails(faceset)
    kept: list[int] = []
    for index, thumb in enumerate(thumbs):
        if not kept or np.abs(thumbs[kept] - thumb).mean(axis=1).min() >= threshold:
            kept.append(index)
    return kept


def sort_faceset(faceset: Faceset, key: str = "source") -> Faceset:
    """Order faces by ``"source"`` (then frame), ``"sharpness"`` (sharpest first), ``"yaw"`` or
    ``"pitch"`` (ascending).

    Raises
    ------
    ValueError
        For an unknown key.
    """
    records = faceset.records
    if key == "source":
        order = sorted(range(len(records)), key=lambda i: (records[i].source, records[i].frame))
    elif key == "sharpness":
        order = sorted(range(len(records)), key=lambda i: -records[i].sharpness)
    elif key in ("yaw", "pitch"):
        axis = 0 if key == "yaw" else 1
        order = sorted(range(len(records)), key=lambda i: records[i].pose[axis])
    else:
        raise ValueError(f"unknown sort key {key!r}; choose from {SORT_KEYS}")
    return faceset.select(order)


def augment_faceset(faceset: Faceset, copies: int, seed: int = 0) -> Faceset:
    """Add `copies` synthetic variants of every original face (for tiny reference sets).

    Each copy is mirrored with probability 1/2, rotated, scaled and shifted a little, recoloured
    and smoothly warped; mask and landmarks follow the same geometry. Copies are marked in
    their record's ``augmented`` field.
    """
    originals = [i for i, r in enumerate(faceset.records) if not r.augmented]
    crops = []
    rng = np.random.default_rng(seed)
    for _ in range(copies):
        for index in originals:
            crops.append(_augmented_copy(faceset, index, rng))
    if not crops:
        return faceset
    return faceset.concat(_faceset_from(crops, faceset.size, faceset.coverage))


def _augmented_copy(faceset: Faceset, index: int, rng: np.random.Generator) -> tuple:
    size = faceset.size
    matrix = augment.random_similarity(rng, size, rotation=8.0, scale=0.06, shift=0.04)
    flipped = np.linalg.det(matrix[:, :2]) < 0
    stack = np.dstack([faceset.rgb[index], faceset.mask[index]])
    stack = augment.apply_similarity(stack, matrix)
    rgb = augment.random_colour(rng, stack[..., :3].astype(np.float32) / 255.0)
    maps = augment.random_warp_maps(rng, size, amount=0.015)
    rgb = augment.apply_warp(rgb, maps)
    mask = augment.apply_warp(stack[..., 3], maps)
    points = faceset.landmarks[index].copy()
    points[:, :2] = transform_points(points, matrix)
    points[:, :2] = _warp_points(points[:, :2], maps)
    points[:, 2] *= np.sqrt(abs(np.linalg.det(matrix[:, :2])))
    source = faceset.records[index]
    steps = ["flip"] if flipped else []
    record = FaceRecord(
        source=source.source,
        frame=source.frame,
        pose=(-source.pose[0], source.pose[1], -source.pose[2]) if flipped else source.pose,
        sharpness=source.sharpness,
        augmented="+".join([*steps, "similarity", "colour", "warp"]),
    )
    composed = np.vstack([matrix, [0, 0, 1]]) @ np.vstack([faceset.matrices[index], [0, 0, 1]])
    rgb8 = np.round(rgb * 255).astype(np.uint8)
    return rgb8, mask, points.astype(np.float32), composed[:2], record


def _warp_points(points: np.ndarray, maps: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Move points through a `cv2.remap` warp (the map says where each output pixel reads from,
    so a point moves by minus the local displacement; exact enough for smooth, small warps)."""
    size = maps[0].shape[0]
    grid = np.mgrid[0:size, 0:size].astype(np.float32)
    dx, dy = maps[0] - grid[1], maps[1] - grid[0]
    xy = np.clip(np.round(points).astype(int), 0, size - 1)
    shift = np.stack([dx[xy[:, 1], xy[:, 0]], dy[xy[:, 1], xy[:, 0]]], axis=1)
    return points - shift


def source_kind(path: Path) -> str:
    """``"character"``, ``"faceset"``, ``"photos"`` (image file or folder) or ``"plate"``."""
    if path.is_dir():
        if (path / "character.json").is_file():
            return "character"
        if (path / "faceset.json").is_file():
            return "faceset"
        return "photos"
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return "photos"
    return "plate"


def photo_files(path: Path) -> list[Path]:
    """The image files of a photo folder (sorted), or `path` itself if it is one image."""
    if path.is_file():
        return [path]
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise MediaError(f"holds no photos ({', '.join(sorted(IMAGE_SUFFIXES))})", path)
    return files


def extract_faceset(
    sources: list[Path],
    settings: ExtractSettings,
    *,
    sort: str = "source",
    augment_copies: int = 0,
    seed: int = 0,
    sequences: bool = False,
) -> tuple[Faceset, ExtractReport]:
    """Run all extraction stages over `sources` and return the faceset and a report.

    Parameters
    ----------
    sources
        Video files, image-sequence folders (with ``sequences=True``), photo files or folders,
        or character folders, in any mix.
    settings
        Crop, pruning and selection settings.
    sort
        One of `SORT_KEYS`.
    augment_copies
        Synthetic variants added per kept face (0 for none).
    seed
        Seed of the augmentation.
    sequences
        Treat folders of images as image sequences of one shot (tracked) instead of photos.

    Raises
    ------
    FaceNotFoundError
        If no face survives.
    MediaError
        For unreadable sources.
    """
    from facecast.character.asset import load_character

    if sort not in SORT_KEYS:
        raise ValueError(f"unknown sort key {sort!r}; choose from {SORT_KEYS}")
    report = ExtractReport()
    faceset = empty_faceset(settings.size, settings.coverage)
    for source in map(Path, sources):
        if not source.exists():
            raise MediaError("does not exist", source)
        kind = source_kind(source)
        if kind == "character":
            found = faces_from_character(load_character(source), settings)
        elif kind == "faceset":
            raise MediaError("is already a faceset; pass the plates or photos it came from", source)
        elif kind == "photos" and not (sequences and source.is_dir()):
            found = faces_from_photos(photo_files(source), settings)
        else:
            found = faces_from_plate(source, settings)
        report.found += len(found)
        faceset = faceset.concat(prune(found, settings, report))
    if len(faceset) == 0:
        raise FaceNotFoundError(
            f"no face survived pruning (found {report.found}: {report.dropped_pose} turned, "
            f"{report.dropped_blur} blurred, {report.dropped_duplicate} duplicates)",
            sources[0] if sources else None,
        )
    faceset = sort_faceset(faceset, sort)
    if augment_copies > 0:
        before = len(faceset)
        faceset = augment_faceset(faceset, augment_copies, seed)
        report.augmented = len(faceset) - before
    report.kept = len(faceset)
    return faceset, report
