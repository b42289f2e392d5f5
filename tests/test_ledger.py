"""The consent ledger: append-only, hash-chained, tamper-evident, safe under concurrent writers."""

from __future__ import annotations

import itertools
import json
import multiprocessing
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from facecast.errors import ProvenanceError
from facecast.provenance.commands import register
from facecast.provenance.ledger import GENESIS, Ledger, entry_hash


def render_entry(number: int) -> dict:
    return {
        "render_id": f"{number:016x}",
        "character": "volodya",
        "consent": {"grantor": "Jane Example", "production": "Test Film"},
        "inputs": {"plate.mp4": "sha256:" + "ab" * 32},
        "outputs": {"out.mp4": "sha256:" + f"{number:02x}" * 32},
    }


@pytest.fixture
def ledger(tmp_path) -> Ledger:
    book = Ledger(tmp_path)
    for number in range(5):
        book.append(render_entry(number))
    return book


def lines(book: Ledger) -> list[str]:
    return book.path.read_text().splitlines(keepends=True)


def rewrite(book: Ledger, new_lines: list[str]) -> None:
    book.path.write_text("".join(new_lines))


def test_append_chains_entries(ledger):
    entries = list(ledger.entries())
    assert [e["seq"] for e in entries] == [0, 1, 2, 3, 4]
    assert entries[0]["prev_hash"] == GENESIS
    for before, after in itertools.pairwise(entries):
        assert after["prev_hash"] == before["hash"]
    assert all(e["hash"] == entry_hash(e) for e in entries)
    assert entries[2]["render_id"] == f"{2:016x}" and entries[2]["time"].endswith("+00:00")
    result = ledger.check()
    assert result.ok and result.entries == 5 and result.problems == []
    assert result.head_hash == entries[-1]["hash"]


def test_append_returns_the_stored_entry(tmp_path):
    stored = Ledger(tmp_path).append(render_entry(9))
    assert stored == json.loads(Ledger(tmp_path).path.read_text())
    assert (tmp_path / ".facecast" / "ledger.jsonl").exists()


def test_edited_entry_is_detected(ledger):
    content = lines(ledger)
    entry = json.loads(content[2])
    entry["consent"]["grantor"] = "Someone Else"
    content[2] = json.dumps(entry) + "\n"
    rewrite(ledger, content)
    result = ledger.check()
    assert not result.ok
    assert any("line 3" in p and "entry edited" in p for p in result.problems)


def test_edited_entry_with_recomputed_hash_breaks_the_next_link(ledger):
    content = lines(ledger)
    entry = json.loads(content[1])
    entry["character"] = "someone-else"
    entry["hash"] = entry_hash(entry)
    content[1] = json.dumps(entry) + "\n"
    rewrite(ledger, content)
    problems = ledger.check().problems
    assert any("line 3" in p and "does not link" in p for p in problems)


def test_deleted_entry_is_detected(ledger):
    content = lines(ledger)
    del content[1]
    rewrite(ledger, content)
    problems = ledger.check().problems
    assert any("line 2 (seq 2)" in p and "deleted" in p for p in problems)


def test_deleted_last_entry_is_detected_by_the_head(ledger):
    rewrite(ledger, lines(ledger)[:-1])
    result = ledger.check()
    assert not result.ok and result.entries == 4
    assert any("entries removed" in p for p in result.problems)


def test_reordered_entries_are_detected(ledger):
    content = lines(ledger)
    content[1], content[2] = content[2], content[1]
    rewrite(ledger, content)
    problems = ledger.check().problems
    assert any("line 2 (seq 2)" in p for p in problems)
    assert any("line 3 (seq 1)" in p for p in problems)


def test_append_refuses_a_damaged_tail(ledger):
    with ledger.path.open("a") as handle:
        handle.write('{"seq": 5, "trunc')
    with pytest.raises(ProvenanceError, match="incomplete"):
        ledger.append(render_entry(6))
    assert any("incomplete" in p for p in ledger.check().problems)


def test_reserved_keys_are_refused(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        Ledger(tmp_path).append({"seq": 3, "render_id": "x"})


def _append_many(project: str, worker: int, count: int) -> None:
    book = Ledger(project)
    for number in range(count):
        book.append(render_entry(1000 * worker + number))


def test_concurrent_writers_keep_the_chain(tmp_path):
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_append_many, args=(str(tmp_path), worker, 15))
        for worker in range(4)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    result = Ledger(tmp_path).check()
    assert result.ok, result.problems
    assert result.entries == 60
    ids = {e["render_id"] for e in Ledger(tmp_path).entries()}
    assert len(ids) == 60


def _cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_cli_ledger_check_exit_status(ledger):
    runner = CliRunner()
    good = runner.invoke(_cli(), ["ledger", "check", "--project", str(ledger.project_dir)])
    assert good.exit_code == 0 and "5 entries" in good.output
    rewrite(ledger, lines(ledger)[:2] + lines(ledger)[3:])
    bad = runner.invoke(_cli(), ["ledger", "check", "--project", str(ledger.project_dir)])
    assert bad.exit_code == 2 and "FAILED" in bad.output


def test_missing_ledger_checks_empty(tmp_path):
    result = Ledger(Path(tmp_path)).check()
    assert result.ok and result.entries == 0
