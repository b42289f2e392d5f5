"""Facesets on disk: aligned face crops with their landmarks, masks and provenance.

Layout of a faceset folder::

    faceset.json          format, crop size, coverage, one record per face (source, frame,
                          pose, sharpness, how it was made)
    arrays.safetensors    landmarks (N, 478, 3) float32 in crop pixels (z scaled alike),
                          matrices (N, 2, 3) float64 frame-to-crop transforms
    faces/000000.png ...  RGBA: the aligned crop, alpha = face mask

A faceset is written under a temporary name and renamed into place when complete.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from safetensors.numpy import load_file, save_file

from facecast.errors import FaceNotFoundError, MediaError
from facecast.neural.config import MAX_RESOLUTION, MIN_RESOLUTION
from facecast.neural.data import IdentityData, emphasis_map

FORMAT_NAME = "facecast.faceset"
FORMAT_VERSION = 1
INDEX_NAME = "faceset.json"
ARRAYS_NAME = "arrays.safetensors"
FACES_DIR = "faces"


@dataclass
class FaceRecord:
    """Facts about one face of a faceset.

    Attributes
    ----------
    source
        File name of the plate or photo it came from.
    frame
        Frame index in the plate, or -1 for a photo.
    pose
        Head ``(yaw, pitch, roll)`` in degrees.
    sharpness
        Variance of the Laplacian inside the face mask (grey levels squared, at crop size).
    augmented
        How the face was synthesised from another (e.g. ``"flip+colour+warp"``), else ``""``.
    """

    source: str
    frame: int
    pose: tuple[float, float, float]
    sharpness: float
    augmented: str = ""


@dataclass
class Faceset:
    """Aligned faces of one identity, in memory.

    Attributes
    ----------
    size
        Crop side in pixels (64-1024).
    coverage
        Crop width relative to the five-point template (see `facecast.neural.align`).
    rgb
        ``uint8 (N, size, size, 3)`` aligned crops.
    mask
        ``uint8 (N, size, size)`` face masks (255 inside).
    landmarks
        ``float32 (N, 478, 3)`` mesh points in crop pixels (``z`` scaled like ``x, y``).
    matrices
        ``float64 (N, 2, 3)`` frame-to-crop transforms.
    records
        One `FaceRecord` per face.
    """

    size: int
    coverage: float
    rgb: np.ndarray
    mask: np.ndarray
    landmarks: np.ndarray
    matrices: np.ndarray
    records: list[FaceRecord] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    def select(self, indices: np.ndarray | list[int]) -> Faceset:
        """A faceset of the faces at `indices`, in that order."""
        idx = np.asarray(indices, np.int64)
        return Faceset(
            self.size,
            self.coverage,
            self.rgb[idx],
            self.mask[idx],
            self.landmarks[idx],
            self.matrices[idx],
            [self.records[i] for i in idx],
        )

    def concat(self, other: Faceset) -> Faceset:
        """This faceset followed by `other` (same size and coverage)."""
        if (other.size, other.coverage) != (self.size, self.coverage):
            raise ValueError("facesets of different size or coverage cannot be joined")
        return Faceset(
            self.size,
            self.coverage,
            np.concatenate([self.rgb, other.rgb]),
            np.concatenate([self.mask, other.mask]),
            np.concatenate([self.landmarks, other.landmarks]),
            np.concatenate([self.matrices, other.matrices]),
            self.records + other.records,
        )

    def identity_data(self, name: str, resolution: int | None = None) -> IdentityData:
        """Training data for identity `name`, resized to `resolution` px if given.

        Raises
        ------
        FaceNotFoundError
            If the faceset is empty.
        """
        if len(self) == 0:
            raise FaceNotFoundError(f"the faceset for {name!r} holds no faces")
        resolution = resolution or self.size
        scale = resolution / self.size
        rgb, mask = self.rgb, self.mask
        if resolution != self.size:
            rgb = np.stack([_resize(image, resolution) for image in rgb])
            mask = np.stack([_resize(image, resolution) for image in mask])
        emphasis = np.stack(
            [emphasis_map(points[:, :2] * scale, resolution) for points in self.landmarks]
        )
        return IdentityData(name, rgb, mask, emphasis)


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    shrink = size < image.shape[0]
    return cv2.resize(
        image, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    )


def empty_faceset(size: int, coverage: float) -> Faceset:
    """A faceset with no faces."""
    return Faceset(
        size,
        coverage,
        np.zeros((0, size, size, 3), np.uint8),
        np.zeros((0, size, size), np.uint8),
        np.zeros((0, 478, 3), np.float32),
        np.zeros((0, 2, 3), np.float64),
        [],
    )


def save_faceset(faceset: Faceset, folder: str | Path) -> Path:
    """Write `faceset` to `folder` (which must not exist or be empty), atomically.

    Raises
    ------
    MediaError
        If `folder` exists and is not empty, or cannot be written.
    """
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise MediaError("exists and is not an empty folder; refusing to overwrite", folder)
    temp = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(temp, ignore_errors=True)
    (temp / FACES_DIR).mkdir(parents=True)
    try:
        files = []
        for index in range(len(faceset)):
            name = f"{FACES_DIR}/{index:06d}.png"
            rgba = np.dstack([faceset.rgb[index], faceset.mask[index]])
            if not cv2.imwrite(str(temp / name), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA)):
                raise MediaError("cannot be written", temp / name)
            files.append(name)
        save_file(
            {
                "landmarks": np.ascontiguousarray(faceset.landmarks, np.float32),
                "matrices": np.ascontiguousarray(faceset.matrices, np.float64),
            },
            str(temp / ARRAYS_NAME),
        )
        index = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "size": faceset.size,
            "coverage": faceset.coverage,
            "faces": [
                {"file": file, **asdict(record)}
                for file, record in zip(files, faceset.records, strict=True)
            ],
        }
        (temp / INDEX_NAME).write_text(json.dumps(index, indent=1))
        if folder.exists():
            folder.rmdir()
        temp.rename(folder)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return folder


def is_faceset(folder: str | Path) -> bool:
    """Whether `folder` looks like a faceset (has ``faceset.json``)."""
    return (Path(folder) / INDEX_NAME).is_file()


def load_faceset(folder: str | Path) -> Faceset:
    """Read a faceset written by `save_faceset`.

    Raises
    ------
    MediaError
        If the folder is not a faceset, of an unknown version, or a listed file is missing,
        unreadable or of the wrong size.
    """
    folder = Path(folder)
    if not is_faceset(folder):
        raise MediaError(f"is not a faceset (no {INDEX_NAME})", folder)
    try:
        index = json.loads((folder / INDEX_NAME).read_text())
        if index.get("format") != FORMAT_NAME or index.get("version") != FORMAT_VERSION:
            raise MediaError(
                f"is format {index.get('format')!r} version {index.get('version')!r}, "
                f"expected {FORMAT_NAME!r} version {FORMAT_VERSION}",
                folder / INDEX_NAME,
            )
        size, coverage, faces = int(index["size"]), float(index["coverage"]), index["faces"]
        if not MIN_RESOLUTION <= size <= MAX_RESOLUTION:
            raise ValueError(f"crop size {size} outside [{MIN_RESOLUTION}, {MAX_RESOLUTION}]")
        records = [_record(face) for face in faces]
    except (ValueError, KeyError, TypeError) as error:
        raise MediaError(f"is malformed ({error})", folder / INDEX_NAME) from None
    arrays = _load_arrays(folder, len(faces))
    rgb = np.zeros((len(faces), size, size, 3), np.uint8)
    mask = np.zeros((len(faces), size, size), np.uint8)
    for i, face in enumerate(faces):
        rgb[i], mask[i] = _read_face(folder, str(face["file"]), size)
    return Faceset(size, coverage, rgb, mask, arrays["landmarks"], arrays["matrices"], records)


def _record(face: dict) -> FaceRecord:
    return FaceRecord(
        source=str(face["source"]),
        frame=int(face["frame"]),
        pose=tuple(float(v) for v in face["pose"]),
        sharpness=float(face["sharpness"]),
        augmented=str(face.get("augmented", "")),
    )


def _load_arrays(folder: Path, count: int) -> dict[str, np.ndarray]:
    path = folder / ARRAYS_NAME
    try:
        arrays = load_file(str(path))
    except Exception as error:
        raise MediaError(f"cannot be read ({error})", path) from None
    expected = {"landmarks": (count, 478, 3), "matrices": (count, 2, 3)}
    for name, shape in expected.items():
        if name not in arrays or arrays[name].shape != shape:
            found = arrays[name].shape if name in arrays else None
            raise MediaError(f"{name} has shape {found}, expected {shape}", path)
    return arrays


def _check_header(path: Path, size: int) -> None:
    """Refuse a face file whose header is not a `size` px square, before decoding it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as header:
            found = header.size
    except (OSError, UnidentifiedImageError):
        raise MediaError("is not a readable PNG face crop", path) from None
    if found != (size, size):
        raise MediaError(f"is {found[0]}x{found[1]}, the faceset says {size}x{size}", path)


def _read_face(folder: Path, file: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    path = folder / file
    if path.resolve().parent != (folder / FACES_DIR).resolve():
        raise MediaError(f"lists {file!r}, which lies outside its {FACES_DIR}/ folder", folder)
    if not path.is_file():
        raise MediaError("is listed in the faceset but missing", path)
    _check_header(path, size)
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.shape != (size, size, 4) or image.dtype != np.uint8:
        found = None if image is None else f"{image.shape} {image.dtype}"
        raise MediaError(f"is not an 8-bit RGBA {size}x{size} face crop (got {found})", path)
    rgba = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    return rgba[..., :3], rgba[..., 3]
