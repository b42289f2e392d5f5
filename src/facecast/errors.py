"""Errors a user can cause. The CLI prints their message on one line and exits non-zero.

Programming errors are not wrapped: they stay ordinary tracebacks.
"""

from __future__ import annotations

from pathlib import Path


class FacecastError(Exception):
    """Base class: a problem with the user's input, stated in one line."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        text = f"{self.path}: {message}" if self.path is not None else message
        super().__init__(text.replace("\n", " "))


class MediaError(FacecastError):
    """A plate or output could not be read or written (missing, truncated, unsupported)."""


class FaceNotFoundError(FacecastError):
    """A reference photo or plate holds no usable face, or several where one is required."""


class ConsentError(FacecastError):
    """The consent record is missing, invalid or expired."""


class CharacterError(FacecastError):
    """A character asset is incomplete, tampered with or of an unknown version."""


class ModelError(FacecastError):
    """A model file is unsafe, of another architecture or otherwise unusable."""


class ProvenanceError(FacecastError):
    """A watermark, C2PA manifest, certificate or ledger does not verify."""
