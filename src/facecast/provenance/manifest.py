"""The render manifest: everything needed to know what a render was and to make it again.

Written as JSON beside each output (``OUT.facecast.json``): input hashes, character id and
digest, the consent record, engine and composite settings, encoder settings, software versions,
seed, output hashes, and the 64-bit render id that the watermark carries. The render id is a
hash of the inputs and settings, so the same inputs and settings give the same id (and, with a
deterministic pipeline, the same bytes).
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path

MANIFEST_FORMAT = "facecast.render-manifest"
MANIFEST_VERSION = 1
_PACKAGES = ("facecast", "numpy", "opencv-contrib-python", "mediapipe", "av", "torch")


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file, or of an image-sequence folder (hash of its sorted file hashes)."""
    path = Path(path)
    if path.is_dir():
        digest = hashlib.sha256()
        for child in sorted(p for p in path.iterdir() if p.is_file()):
            digest.update(f"{child.name}:{sha256_file(child)}\n".encode())
        return digest.hexdigest()
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def software_versions() -> dict[str, str]:
    """Versions of Python, the packages that shape the pixels, and FFmpeg's libraries."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    import av

    versions["ffmpeg"] = " ".join(
        f"{k}={v[0]}.{v[1]}.{v[2]}" for k, v in av.library_versions.items()
    )
    return versions


def canonical_json(data: object) -> str:
    """Sorted-key, whitespace-free JSON: the form that is hashed."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def compute_render_id(inputs: dict, settings: dict, versions: dict) -> str:
    """64-bit render id (16 hex digits) from the input hashes, settings and versions."""
    text = canonical_json({"inputs": inputs, "settings": settings, "versions": versions})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def manifest_path_for(output: str | Path) -> Path:
    """Where the manifest of `output` lives: ``OUT.facecast.json`` beside it."""
    output = Path(output)
    return output.with_name(f"{output.name}.facecast.json")


def write_manifest(path: str | Path, manifest: dict) -> Path:
    """Write a manifest atomically (temp name, then rename)."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.partial")
    temp.write_text(json.dumps(manifest, indent=2, sort_keys=False, default=str))
    temp.replace(path)
    return path


def read_manifest(path: str | Path) -> dict:
    """Read a render manifest; raises ``ValueError`` if it is not one."""
    data = json.loads(Path(path).read_text())
    if data.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{path} is not a facecast render manifest")
    return data
