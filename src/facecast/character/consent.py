"""The consent record: who allowed this likeness to be used, for what, until when.

A character cannot be built without one, a render cannot start with an expired one, and every
render manifest carries a copy. The record is read from a small TOML file::

    subject = "Jane Doe"            # whose likeness
    granted_by = "Jane Doe"         # who grants it (the person, an estate, an agency)
    basis = "self"                  # self | estate | licensed | legal (+ basis_detail) | text
    production = "The Long Night"   # which production may use it
    expires = 2027-12-31            # optional ISO date; absent: no end date
    scope = "feature film, trailers"  # optional
    contact = "legal@example.com"     # optional
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

from facecast.errors import ConsentError

#: Bases of consent facecast recognises by name; anything else must be a declared legal basis
#: written out in at least `MIN_DECLARED_BASIS` characters.
KNOWN_BASES = ("self", "estate", "licensed", "legal")
MIN_DECLARED_BASIS = 12
REQUIRED_FIELDS = ("subject", "granted_by", "basis", "production")
MAX_CONSENT_BYTES = 64 * 1024


@dataclass(frozen=True)
class ConsentRecord:
    """A validated consent record (see the module docstring for the file format)."""

    subject: str
    granted_by: str
    basis: str
    production: str
    expires: dt.date | None = None
    basis_detail: str = ""
    scope: str = ""
    contact: str = ""

    def is_expired(self, today: dt.date | None = None) -> bool:
        """True when `expires` is set and lies before `today` (default: the local date)."""
        return self.expires is not None and self.expires < (today or dt.date.today())

    def to_dict(self) -> dict:
        """JSON-ready form, dates as ISO strings."""
        data = asdict(self)
        data["expires"] = self.expires.isoformat() if self.expires else None
        return data

    def summary(self) -> dict:
        """The fields a render manifest and C2PA assertion carry."""
        return {
            "subject": self.subject,
            "granted_by": self.granted_by,
            "basis": self.basis,
            "production": self.production,
            "expires": self.expires.isoformat() if self.expires else None,
            "record_sha256": self.digest(),
        }

    def digest(self) -> str:
        """SHA-256 of the canonical JSON form: identifies this exact record."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def require_valid(self, source: str | Path | None = None, today: dt.date | None = None) -> None:
        """Raise `ConsentError` if the record has expired."""
        if self.is_expired(today):
            raise ConsentError(
                f"consent for {self.subject!r} expired on {self.expires.isoformat()}", source
            )

    @classmethod
    def from_dict(cls, data: dict, source: str | Path | None = None) -> ConsentRecord:
        """Validate a mapping (from TOML or a character manifest) into a record.

        Raises
        ------
        ConsentError
            Naming `source` and the first missing or malformed field.
        """
        missing = [name for name in REQUIRED_FIELDS if not str(data.get(name, "")).strip()]
        if missing:
            raise ConsentError(f"consent record lacks {', '.join(missing)}", source)
        unknown = set(data) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise ConsentError(f"consent record has unknown fields {sorted(unknown)}", source)
        basis = str(data["basis"]).strip()
        detail = str(data.get("basis_detail", "")).strip()
        if basis == "legal" and len(detail) < MIN_DECLARED_BASIS:
            raise ConsentError("basis 'legal' needs a basis_detail naming the legal basis", source)
        if basis not in KNOWN_BASES and len(basis) < MIN_DECLARED_BASIS:
            raise ConsentError(
                f"basis {basis!r} is neither one of {', '.join(KNOWN_BASES)} nor a declared "
                f"legal basis written out (at least {MIN_DECLARED_BASIS} characters)",
                source,
            )
        return cls(
            subject=str(data["subject"]).strip(),
            granted_by=str(data["granted_by"]).strip(),
            basis=basis,
            production=str(data["production"]).strip(),
            expires=_parse_date(data.get("expires"), source),
            basis_detail=detail,
            scope=str(data.get("scope", "")).strip(),
            contact=str(data.get("contact", "")).strip(),
        )


def _parse_date(value: object, source: str | Path | None) -> dt.date | None:
    """Accept a TOML date, an ISO date string, or nothing."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConsentError(f"expires {value!r} is not an ISO date (YYYY-MM-DD)", source) from None


def load_consent(path: str | Path, today: dt.date | None = None) -> ConsentRecord:
    """Read and validate a consent TOML file; refuse an expired one.

    Raises
    ------
    ConsentError
        If the file is missing, too large, not TOML, incomplete or expired.
    """
    path = Path(path)
    if not path.is_file():
        raise ConsentError("consent file does not exist", path)
    if path.stat().st_size > MAX_CONSENT_BYTES:
        raise ConsentError("consent file is too large to be a consent record", path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConsentError(f"consent file is not valid TOML ({error})", path) from None
    record = ConsentRecord.from_dict(data, path)
    record.require_valid(path, today)
    return record
