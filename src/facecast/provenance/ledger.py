"""Consent ledger: an append-only, hash-chained record of every render in a project.

``<project>/.facecast/ledger.jsonl`` holds one JSON object per line. Each entry carries its
sequence number, the time, the hash of the previous entry and its own hash (SHA-256 of the
canonical JSON of everything else in it), so editing, deleting or reordering any entry breaks
the chain. ``ledger.head`` records the entry count and last hash, so removing entries from the
end is caught as well. Appends hold an exclusive lock on ``ledger.lock`` (POSIX ``flock``), so
concurrent renders on one machine or a shared POSIX file system never interleave.

The chain makes tampering evident, not impossible: someone who rewrites the whole file and the
head consistently is only caught against a copy of the head hash kept elsewhere (print it with
``facecast ledger check`` and archive it, e.g. with the delivery).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from facecast.errors import ProvenanceError

LEDGER_DIR = ".facecast"
LEDGER_FILE = "ledger.jsonl"
HEAD_FILE = "ledger.head"
LOCK_FILE = "ledger.lock"
GENESIS = "0" * 64
RESERVED = ("seq", "time", "prev_hash", "hash")
_TAIL_BYTES = 1 << 16


def canonical_json(value: dict) -> bytes:
    """The bytes an entry is hashed over: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: dict) -> str:
    """SHA-256 (hex) of an entry's canonical JSON without its ``hash`` field."""
    body = {key: value for key, value in entry.items() if key != "hash"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


@dataclass(frozen=True)
class LedgerCheck:
    """Outcome of `Ledger.check`.

    Attributes
    ----------
    ok
        The whole chain verifies and matches the head.
    entries
        Number of entries (complete lines) in the ledger.
    problems
        One line per problem found, naming the line number.
    head_hash
        Hash of the last entry (the value to archive), or `GENESIS` for an empty ledger.
    """

    ok: bool
    entries: int
    problems: list[str] = field(default_factory=list)
    head_hash: str = GENESIS


class Ledger:
    """The consent ledger of one project folder.

    Parameters
    ----------
    project_dir
        The project folder; the ledger lives in its ``.facecast`` subfolder.
    """

    def __init__(self, project_dir: str | Path) -> None:
        self.project_dir = Path(project_dir)
        self.folder = self.project_dir / LEDGER_DIR
        self.path = self.folder / LEDGER_FILE
        self.head_path = self.folder / HEAD_FILE

    def append(self, entry: dict) -> dict:
        """Append one render's record and return it as stored.

        Parameters
        ----------
        entry
            JSON-serialisable fields (render id, character, consent record, input and output
            hashes, ...). It may not use the reserved keys ``seq``, ``time``, ``prev_hash``,
            ``hash``.

        Returns
        -------
        dict
            `entry` plus ``seq`` (0-based), ``time`` (UTC, ISO 8601), ``prev_hash``, ``hash``.

        Raises
        ------
        ProvenanceError
            If the project folder is missing or the ledger's last entry is damaged.
        """
        clash = sorted(set(entry) & set(RESERVED))
        if clash:
            raise ValueError(f"ledger entry may not set reserved keys {clash}")
        if not self.project_dir.is_dir():
            raise ProvenanceError("project folder does not exist", self.project_dir)
        self.folder.mkdir(exist_ok=True)
        with self._locked():
            seq, prev_hash = self._tail()
            record = {
                **entry,
                "seq": seq,
                "time": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
                "prev_hash": prev_hash,
            }
            record["hash"] = entry_hash(record)
            line = canonical_json(record) + b"\n"
            with self.path.open("ab") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
            self._write_head(seq + 1, record["hash"])
        return record

    def entries(self) -> Iterator[dict]:
        """The parsed entries in file order (no verification; see `check`)."""
        if not self.path.exists():
            return
        with self.path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    yield json.loads(raw)
                except json.JSONDecodeError:
                    raise ProvenanceError(f"line {number} is not valid JSON", self.path) from None

    def check(self) -> LedgerCheck:
        """Verify the whole chain and the head.

        Returns
        -------
        LedgerCheck
            ``ok`` is False with one problem per broken link, edited entry, bad line or head
            mismatch. A project without a ledger checks as ok with 0 entries.
        """
        if not self.path.exists():
            problems = (
                ["ledger.head exists but the ledger file is missing"]
                if self.head_path.exists()
                else []
            )
            return LedgerCheck(not problems, 0, problems)
        problems: list[str] = []
        prev_hash, count = GENESIS, 0
        with self.path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.endswith(b"\n"):
                    problems.append(f"line {number}: incomplete last line (interrupted write?)")
                    break
                entry = _parse_line(raw, number, problems)
                if entry is not None:
                    _check_entry(entry, number, count, prev_hash, problems)
                    prev_hash = entry.get("hash", "")
                count += 1
        problems += self._check_head(count, prev_hash)
        return LedgerCheck(not problems, count, problems, prev_hash if count else GENESIS)

    # ------------------------------------------------------------------------------- internals

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        import fcntl  # POSIX only; facecast renders on Linux and macOS

        with (self.folder / LOCK_FILE).open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _tail(self) -> tuple[int, str]:
        """Next sequence number and the last entry's hash, read from the end of the file."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return 0, GENESIS
        with self.path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - _TAIL_BYTES))
            tail = handle.read()
        if not tail.endswith(b"\n"):
            raise ProvenanceError(
                "ends in an incomplete entry; run `facecast ledger check`", self.path
            )
        lines = tail[:-1].split(b"\n")
        if size > _TAIL_BYTES and len(lines) < 2:
            lines = self.path.read_bytes()[:-1].split(b"\n")
        last = _parse_line(lines[-1], 0, [])
        if last is None or not isinstance(last["seq"], int) or last["hash"] != entry_hash(last):
            raise ProvenanceError("last entry is damaged; run `facecast ledger check`", self.path)
        return last["seq"] + 1, last["hash"]

    def _write_head(self, entries: int, last_hash: str) -> None:
        temp = self.head_path.with_name(HEAD_FILE + ".partial")
        temp.write_bytes(canonical_json({"entries": entries, "hash": last_hash}) + b"\n")
        os.replace(temp, self.head_path)

    def _check_head(self, count: int, last_hash: str) -> list[str]:
        if not self.head_path.exists():
            return ["ledger.head is missing"] if count else []
        try:
            head = json.loads(self.head_path.read_bytes())
            entries, head_hash = int(head["entries"]), str(head["hash"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            return ["ledger.head is damaged"]
        if entries > count:
            return [f"ledger.head records {entries} entries but {count} remain (entries removed)"]
        if entries < count:
            return [f"ledger.head records {entries} entries but the ledger holds {count}"]
        if head_hash != last_hash:
            return ["ledger.head hash does not match the last entry (ledger rewritten)"]
        return []


def _parse_line(raw: bytes, number: int, problems: list[str]) -> dict | None:
    try:
        entry = json.loads(raw)
    except json.JSONDecodeError:
        problems.append(f"line {number}: not valid JSON")
        return None
    if not isinstance(entry, dict) or any(key not in entry for key in RESERVED):
        problems.append(f"line {number}: not a ledger entry (missing {', '.join(RESERVED)})")
        return None
    return entry


def _check_entry(entry: dict, number: int, index: int, prev_hash: str, problems: list[str]) -> None:
    """Append to `problems` what is wrong with the entry on line `number` (0-based `index`)."""
    where = f"line {number} (seq {entry['seq']})"
    if entry["seq"] != index:
        problems.append(f"{where}: expected seq {index}; an entry was deleted, inserted or moved")
    if entry["prev_hash"] != prev_hash:
        problems.append(
            f"{where}: does not link to the entry before it "
            "(an earlier entry was edited, deleted or moved)"
        )
    if entry["hash"] != entry_hash(entry):
        problems.append(f"{where}: content does not match its hash (entry edited)")
