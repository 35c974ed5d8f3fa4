"""Tampering with the audit log as an attacker with database access would: with raw SQL, after
disabling the append-only triggers (PostgreSQL: `ALTER TABLE … DISABLE TRIGGER ALL` as the
owner, and granting itself back the privileges the migration revoked; SQLite: dropping the
triggers). `verify()` must fail for each kind of tampering and name the first bad entry and the
check that failed; so must `verify_export` for an edited export."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.domain.audit.checkpoint import Checkpoint, sign_checkpoint
from hub.domain.audit.entries import AuditEntry, AuditKind
from hub.domain.audit.merkle import Frontier, leaf_hash
from hub.errors import StoreError
from hub.infra.audit import SqlAuditLog
from hub.infra.checkpoint_dir import CheckpointDirectory
from hub.services.audit import (
    AuditCheckpointer,
    AuditSequencer,
    AuditSigner,
    AuditVerifier,
    VerificationFailure,
    verify_export,
)
from tests.conftest import Database

pytestmark = pytest.mark.asyncio

ORIGIN = "test.hub/audit"
TABLES = ("audit_entries", "audit_leaves", "audit_subtrees", "audit_checkpoints")
#: Entries are sequenced and checkpointed in three batches: checkpoints at 8, 13 and 20 leaves.
CHECKPOINTS = (8, 13, 20)


def consultation(number: int) -> AuditEntry:
    return AuditEntry(
        kind=AuditKind.CONSULTATION,
        occurred_at=datetime(2026, 11, 26, 12, 0, number, tzinfo=UTC),
        actor="client-cjsw-glasgow",
        agency="cjsw.glasgow",
        person_id=f"p_{number:04d}",
        purpose="supervision of a licence",
        outcome="read",
    )


@dataclass
class Log:
    """A log of 20 entries with three checkpoints, and the attacker's raw SQL."""

    database: Database
    log: SqlAuditLog
    signer: AuditSigner
    #: The entry position of each leaf index.
    positions: list[int]
    entries: dict[int, str]
    _unlocked: bool = False

    async def verify(self) -> VerificationFailure:
        report = await verifier(self.log, self.signer, page_size=6).verify()
        assert report.failure is not None, "the tampering went unnoticed"
        return report.failure

    async def tamper(self, *statements: tuple[str, dict[str, Any]] | str) -> None:
        """Run raw SQL as an attacker with the owner's rights, who has disabled the append-only
        protection (the hub's own role cannot: tests/integration/test_database_roles.py)."""
        async with self.database.owner.connect() as connection:
            if not self._unlocked:
                await self._unlock(connection)
            for statement in statements:
                sql, params = (statement, {}) if isinstance(statement, str) else statement
                await connection.execute(sa.text(sql), params)
            await connection.commit()

    async def _unlock(self, connection: sa.ext.asyncio.AsyncConnection) -> None:
        for table in TABLES:
            if self.database.backend == "postgres":
                await connection.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER ALL"))
                await connection.execute(
                    sa.text(f"GRANT UPDATE, DELETE ON {table} TO CURRENT_USER")
                )
            else:
                for operation in ("update", "delete"):
                    await connection.execute(sa.text(f"DROP TRIGGER {table}_no_{operation}"))
        self._unlocked = True

    async def subtrees(self) -> dict[tuple[int, int], bytes]:
        async with self.database.engine.connect() as connection:
            rows = await connection.execute(
                sa.text('SELECT level, "index", hash FROM audit_subtrees')
            )
            return {(int(level), int(index)): bytes(h) for level, index, h in rows}


def verifier(log: SqlAuditLog, signer: AuditSigner, page_size: int = 5000) -> AuditVerifier:
    """A verifier with nothing held outside the database: these tests show what the database's
    own signed checkpoints prove (test_audit_external_checkpoints: what the checkpoints
    published outside it add)."""
    nothing_held = CheckpointDirectory(Path("/nonexistent/audit-checkpoints"))
    return AuditVerifier(log, signer.verifier_key, ORIGIN, held=nothing_held, page_size=page_size)


@pytest_asyncio.fixture
async def log(database: Database, tmp_path: Path) -> Log:
    audit = SqlAuditLog(database.engine)
    signer = AuditSigner(ORIGIN, "test-hub", Ed25519PrivateKey.generate())
    sequencer = AuditSequencer(audit)
    checkpointer = AuditCheckpointer(
        audit, signer, publisher=CheckpointDirectory(tmp_path / "published")
    )
    positions: list[int] = []
    entries: dict[int, str] = {}
    start = 0
    for size in CHECKPOINTS:
        batch = [consultation(n) for n in range(start, size)]
        recorded = await audit.record(batch)
        positions += recorded
        entries.update(
            {p: e.canonical_bytes().decode() for p, e in zip(recorded, batch, strict=True)}
        )
        await sequencer.run_until_idle()
        assert (await checkpointer.run_once()) is not None
        start = size
    report = await verifier(audit, signer).verify()
    assert report.ok, report.failure
    assert (report.entries, report.checkpoints, report.latest_checkpoint) == (20, 3, 20)
    return Log(database, audit, signer, positions, entries)


def forged(text: str) -> str:
    """The same entry, saying another purpose."""
    changed = text.replace('"purpose":"supervision of a licence"', '"purpose":"curiosity"')
    assert changed != text
    return changed


# -- the stored log --------------------------------------------------------------------------------


async def test_a_changed_entry(log: Log) -> None:
    position = log.positions[9]
    await log.tamper(
        (
            "UPDATE audit_entries SET entry = :entry WHERE position = :position",
            {"entry": forged(log.entries[position]), "position": position},
        )
    )
    failure = await log.verify()
    assert failure.check == "leaf_hash"
    assert (failure.leaf_index, failure.position) == (9, position)
    assert "changed" in failure.message
    assert failure.entry == forged(log.entries[position])


async def test_a_removed_entry_and_its_leaf(log: Log) -> None:
    position = log.positions[9]
    await log.tamper(
        ("DELETE FROM audit_entries WHERE position = :p", {"p": position}),
        ("DELETE FROM audit_leaves WHERE entry_position = :p", {"p": position}),
    )
    failure = await log.verify()
    assert failure.check == "leaf_missing"
    assert failure.leaf_index == 9
    assert "removed" in failure.message


async def test_a_removed_entry(log: Log) -> None:
    position = log.positions[9]
    await log.tamper(("DELETE FROM audit_entries WHERE position = :p", {"p": position}))
    failure = await log.verify()
    assert failure.check == "entry_missing"
    assert (failure.leaf_index, failure.position) == (9, position)


async def test_an_entry_removed_and_the_leaves_renumbered(log: Log) -> None:
    # A thorough attacker closes the gap in the leaf indexes too; the stored subtree over
    # leaves 8..9 no longer matches what the entries hash to.
    position = log.positions[9]
    await log.tamper(
        ("DELETE FROM audit_entries WHERE position = :p", {"p": position}),
        ("DELETE FROM audit_leaves WHERE entry_position = :p", {"p": position}),
        "UPDATE audit_leaves SET leaf_index = leaf_index - 1 WHERE leaf_index > 9",
    )
    failure = await log.verify()
    assert failure.check == "subtree"
    assert failure.leaf_index == 8
    assert "leaves 8..9" in failure.message


async def test_an_entry_inserted_in_the_middle(log: Log) -> None:
    # Make room after leaf 9's entry by moving every later entry (and its leaf) up one place,
    # then insert a forged entry there.
    after = log.positions[9]
    await log.tamper(
        ("UPDATE audit_entries SET position = -position - 1 WHERE position > :p", {"p": after}),
        "UPDATE audit_entries SET position = -position WHERE position < 0",
        "UPDATE audit_leaves SET entry_position = -entry_position - 1 WHERE leaf_index > 9",
        "UPDATE audit_leaves SET entry_position = -entry_position WHERE entry_position < 0",
        (
            "INSERT INTO audit_entries (position, kind, occurred_at, entry, recorded_at) "
            "VALUES (:p, 'consultation', :at, :entry, :at)",
            {
                "p": after + 1,
                "at": datetime(2026, 11, 26, 12, 0, 9, 500, tzinfo=UTC),
                "entry": forged(log.entries[after]),
            },
        ),
    )
    failure = await log.verify()
    assert failure.check == "entry_inserted"
    assert (failure.position, failure.leaf_index) == (after + 1, 10)
    assert "inserted" in failure.message


async def test_two_entries_swapped(log: Log) -> None:
    first, second = log.positions[4], log.positions[11]
    await log.tamper(
        ("UPDATE audit_entries SET position = -1 WHERE position = :p", {"p": first}),
        ("UPDATE audit_entries SET position = :a WHERE position = :b", {"a": first, "b": second}),
        ("UPDATE audit_entries SET position = :b WHERE position = -1", {"b": second}),
    )
    failure = await log.verify()
    assert failure.check == "leaf_hash"
    assert (failure.leaf_index, failure.position) == (4, first)
    assert "reordered" in failure.message
    assert "leaf 11" in failure.message


async def test_a_changed_leaf_hash(log: Log) -> None:
    await log.tamper(
        (
            "UPDATE audit_leaves SET leaf_hash = :h WHERE leaf_index = 6",
            {"h": leaf_hash(b"something else")},
        )
    )
    failure = await log.verify()
    assert failure.check == "leaf_hash"
    assert (failure.leaf_index, failure.position) == (6, log.positions[6])


async def test_an_entry_changed_with_its_leaf_hash(log: Log) -> None:
    position = log.positions[9]
    text = forged(log.entries[position])
    await log.tamper(
        (
            "UPDATE audit_entries SET entry = :entry WHERE position = :p",
            {"entry": text, "p": position},
        ),
        (
            "UPDATE audit_leaves SET leaf_hash = :h WHERE leaf_index = 9",
            {"h": leaf_hash(text.encode())},
        ),
    )
    failure = await log.verify()
    assert failure.check == "subtree"
    assert failure.leaf_index == 8
    assert "leaves 8..9" in failure.message


async def test_an_entry_changed_with_the_whole_stored_tree_rebuilt(log: Log) -> None:
    # The attacker recomputes every leaf and subtree: only the signed checkpoints remain to
    # give it away, and the change is placed between the last good one (8) and the next (13).
    position = log.positions[9]
    entries = dict(log.entries)
    entries[position] = forged(entries[position])
    frontier = Frontier()
    statements: list[tuple[str, dict[str, Any]] | str] = [
        (
            "UPDATE audit_entries SET entry = :entry WHERE position = :p",
            {"entry": entries[position], "p": position},
        )
    ]
    for index, p in enumerate(log.positions):
        hashed = leaf_hash(entries[p].encode())
        statements.append(
            (
                "UPDATE audit_leaves SET leaf_hash = :h WHERE leaf_index = :i",
                {"h": hashed, "i": index},
            )
        )
        for level, node_index, node in frontier.append(hashed)[1:]:
            statements.append(
                (
                    'UPDATE audit_subtrees SET hash = :h WHERE level = :l AND "index" = :i',
                    {"h": node, "l": level, "i": node_index},
                )
            )
    await log.tamper(*statements)
    failure = await log.verify()
    assert failure.check == "checkpoint_root"
    assert (failure.tree_size, failure.leaf_index) == (13, 8)
    assert "leaves 8..12" in failure.message


async def test_entries_removed_from_the_end(log: Log) -> None:
    last_three = log.positions[17:]
    await log.tamper(
        ("DELETE FROM audit_entries WHERE position >= :p", {"p": last_three[0]}),
        "DELETE FROM audit_leaves WHERE leaf_index >= 17",
    )
    failure = await log.verify()
    assert failure.check == "checkpoint_beyond_tree"
    assert (failure.leaf_index, failure.tree_size) == (17, 20)


async def test_a_changed_checkpoint_root(log: Log) -> None:
    await log.tamper(
        ("UPDATE audit_checkpoints SET root_hash = :r WHERE tree_size = 13", {"r": bytes(32)})
    )
    failure = await log.verify()
    assert failure.check == "checkpoint_note"
    assert failure.tree_size == 13


async def test_a_checkpoint_re_signed_with_another_key(log: Log) -> None:
    root = bytes(range(32))
    note = sign_checkpoint(Checkpoint(ORIGIN, 13, root), Ed25519PrivateKey.generate(), "test-hub")
    await log.tamper(
        (
            "UPDATE audit_checkpoints SET root_hash = :r, note = :n WHERE tree_size = 13",
            {"r": root, "n": note},
        )
    )
    failure = await log.verify()
    assert failure.check == "checkpoint_signature"
    assert failure.tree_size == 13


async def test_a_changed_time_column(log: Log) -> None:
    # The kind and time beside each entry serve queries; they must agree with the hashed text.
    await log.tamper(
        (
            "UPDATE audit_entries SET occurred_at = :at WHERE position = :p",
            {"at": datetime(2020, 1, 1, tzinfo=UTC), "p": log.positions[3]},
        )
    )
    failure = await log.verify()
    assert failure.check == "entry_columns"
    assert (failure.leaf_index, failure.position) == (3, log.positions[3])


async def test_a_time_column_a_microsecond_off(log: Log) -> None:
    # Compared to the microsecond the entry writes, not to the second.
    await log.tamper(
        (
            "UPDATE audit_entries SET occurred_at = :at WHERE position = :p",
            {"at": datetime(2026, 11, 26, 12, 0, 9, 1, tzinfo=UTC), "p": log.positions[9]},
        )
    )
    failure = await log.verify()
    assert failure.check == "entry_columns"
    assert (failure.leaf_index, failure.position) == (9, log.positions[9])


async def test_a_changed_kind_column(log: Log) -> None:
    await log.tamper(
        (
            "UPDATE audit_entries SET kind = 'disclosure' WHERE position = :p",
            {"p": log.positions[14]},
        )
    )
    failure = await log.verify()
    assert failure.check == "entry_columns"
    assert (failure.leaf_index, failure.position) == (14, log.positions[14])


async def test_the_checkpointer_refuses_to_sign_over_a_rewritten_history(
    log: Log, tmp_path: Path
) -> None:
    subtrees = await log.subtrees()
    assert (4, 0) in subtrees
    await log.tamper(
        ('UPDATE audit_subtrees SET hash = :h WHERE level = 4 AND "index" = 0', {"h": bytes(32)})
    )
    await log.log.record([consultation(30)])
    await AuditSequencer(log.log).run_until_idle()
    with pytest.raises(StoreError, match="does not extend"):
        await AuditCheckpointer(
            log.log, log.signer, publisher=CheckpointDirectory(tmp_path / "published")
        ).run_once()
    failure = await log.verify()
    assert failure.check == "subtree"
    assert "level 4, index 0" in failure.message


# -- at the edges of the pages the verifier reads --------------------------------------------------
# `Log.verify` reads pages of 6 leaves and 6 entries: leaves 0..5, 6..11, 12..17 and the last,
# partial page 18..19. The verifier checks each page's leaves against entries, published hashes
# and stored subtrees fetched per page: each check must hold on the first and last leaf of a page.

#: The first and last leaf of each page.
PAGE_EDGES = (0, 5, 6, 11, 12, 17, 18, 19)


@pytest.mark.parametrize("leaf", PAGE_EDGES)
async def test_a_changed_entry_at_a_page_edge(log: Log, leaf: int) -> None:
    position = log.positions[leaf]
    await log.tamper(
        (
            "UPDATE audit_entries SET entry = :entry WHERE position = :position",
            {"entry": forged(log.entries[position]), "position": position},
        )
    )
    failure = await log.verify()
    assert (failure.check, failure.leaf_index, failure.position) == ("leaf_hash", leaf, position)


@pytest.mark.parametrize("leaf", PAGE_EDGES)
async def test_a_removed_entry_at_a_page_edge(log: Log, leaf: int) -> None:
    position = log.positions[leaf]
    await log.tamper(("DELETE FROM audit_entries WHERE position = :p", {"p": position}))
    failure = await log.verify()
    assert (failure.check, failure.leaf_index, failure.position) == (
        "entry_missing",
        leaf,
        position,
    )


@pytest.mark.parametrize("leaf", PAGE_EDGES)
async def test_a_changed_kind_column_at_a_page_edge(log: Log, leaf: int) -> None:
    position = log.positions[leaf]
    await log.tamper(
        ("UPDATE audit_entries SET kind = 'disclosure' WHERE position = :p", {"p": position})
    )
    failure = await log.verify()
    assert (failure.check, failure.leaf_index, failure.position) == (
        "entry_columns",
        leaf,
        position,
    )


@pytest.mark.parametrize("leaf", PAGE_EDGES)
async def test_an_entry_changed_with_its_leaf_hash_at_a_page_edge(log: Log, leaf: int) -> None:
    # The first stored subtree the forged leaf hash enters is (1, leaf // 2), over leaves
    # 2k..2k+1: completed by the odd one of the pair, on this page or the next.
    position = log.positions[leaf]
    text = forged(log.entries[position])
    await log.tamper(
        (
            "UPDATE audit_entries SET entry = :entry WHERE position = :p",
            {"entry": text, "p": position},
        ),
        (
            "UPDATE audit_leaves SET leaf_hash = :h WHERE leaf_index = :i",
            {"h": leaf_hash(text.encode()), "i": leaf},
        ),
    )
    failure = await log.verify()
    pair = leaf - leaf % 2
    if leaf + 1 in CHECKPOINTS and leaf == pair:
        # The checkpoint of size leaf + 1 is reached before leaf + 1 completes the pair.
        assert (failure.check, failure.tree_size) == ("checkpoint_root", leaf + 1)
        return
    assert (failure.check, failure.leaf_index) == ("subtree", pair)
    assert f"level 1, index {leaf // 2} differs" in failure.message
    assert f"leaves {pair}..{pair + 1}" in failure.message


@pytest.mark.parametrize(
    ("level", "index", "first_leaf"),
    [
        (1, 2, 4),  # leaves 4..5: completed by the last leaf of the first page
        (1, 3, 6),  # 6..7: on the second page
        (2, 2, 8),  # 8..11: completed by the last leaf of the second page
        (3, 0, 0),  # 0..7: spans the first two pages
        (1, 9, 18),  # 18..19: the last, partial page
        (2, 4, 16),  # 16..19: spans the third page and the last
        (4, 0, 0),  # 0..15: the largest
    ],
)
async def test_a_changed_or_removed_stored_subtree_at_a_page_edge(
    log: Log, level: int, index: int, first_leaf: int
) -> None:
    assert (level, index) in await log.subtrees()
    where = {"l": level, "i": index}
    await log.tamper(
        (
            'UPDATE audit_subtrees SET hash = :h WHERE level = :l AND "index" = :i',
            {**where, "h": bytes(32)},
        )
    )
    failure = await log.verify()
    assert (failure.check, failure.leaf_index) == ("subtree", first_leaf)
    assert f"level {level}, index {index} " in failure.message
    await log.tamper(('DELETE FROM audit_subtrees WHERE level = :l AND "index" = :i', where))
    failure = await log.verify()
    assert (failure.check, failure.leaf_index) == ("subtree_missing", first_leaf)


async def test_a_time_column_changed_to_the_time_of_the_entry_before(log: Log) -> None:
    # The verifier formats a time once for the entries after it that share it: an entry whose
    # column now says its neighbour's time must still be caught.
    await log.tamper(
        (
            "UPDATE audit_entries SET occurred_at = :at WHERE position = :p",
            {"at": datetime(2026, 11, 26, 12, 0, 9, tzinfo=UTC), "p": log.positions[10]},
        )
    )
    failure = await log.verify()
    assert (failure.check, failure.leaf_index) == ("entry_columns", 10)


async def test_entries_after_the_last_leaf_are_counted_not_checked(log: Log) -> None:
    # The last page of entries holds more entries than leaves: those not in the tree yet are
    # the sequencer's to add, not an insertion.
    await log.log.record([consultation(n) for n in range(20, 27)])
    report = await verifier(log.log, log.signer, page_size=6).verify()
    assert report.ok, report.failure
    assert (report.entries, report.unsequenced, report.last_position) == (20, 7, log.positions[19])


# -- an export -------------------------------------------------------------------------------------


async def _export(log: Log, path: Path) -> list[dict[str, Any]]:
    summary = await verifier(log.log, log.signer).export(path)
    assert (summary.tree_size, summary.checkpoints) == (20, 3)
    text = await asyncio.to_thread(path.read_text)
    return [json.loads(line) for line in text.splitlines()]


def _write(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


async def test_an_export_verifies_and_fails_once_edited(log: Log, tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    records = await _export(log, path)
    key = log.signer.verifier_key
    assert records[0]["type"] == "header"
    assert records[0]["verifier_key"] == key
    report = verify_export(path, key)
    assert report.ok, report.failure
    assert (report.entries, report.checkpoints) == (20, 3)

    entry_lines = {r["leaf_index"]: i for i, r in enumerate(records) if r["type"] == "entry"}

    def edited(change: Callable[[list[dict[str, Any]]], None]) -> VerificationFailure:
        copy = [dict(r) for r in records]
        change(copy)
        target = tmp_path / "edited.jsonl"
        _write(target, copy)
        result = verify_export(target, key)
        assert result.failure is not None, "the edit went unnoticed"
        return result.failure

    def change_entry(copy: list[dict[str, Any]]) -> None:
        copy[entry_lines[9]]["entry"] = forged(copy[entry_lines[9]]["entry"])

    failure = edited(change_entry)
    assert failure.check == "checkpoint_root"
    assert (failure.tree_size, failure.leaf_index) == (13, 8)

    def remove_entry(copy: list[dict[str, Any]]) -> None:
        del copy[entry_lines[9]]

    failure = edited(remove_entry)
    assert (failure.check, failure.leaf_index) == ("leaf_missing", 9)

    def swap_contents(copy: list[dict[str, Any]]) -> None:
        a, b = copy[entry_lines[4]], copy[entry_lines[11]]
        a["entry"], b["entry"] = b["entry"], a["entry"]

    failure = edited(swap_contents)
    assert (failure.check, failure.tree_size, failure.leaf_index) == ("checkpoint_root", 8, 0)

    def truncate(copy: list[dict[str, Any]]) -> None:
        for index in (19, 18, 17):
            del copy[entry_lines[index]]
        copy[0]["tree_size"] = 17

    failure = edited(truncate)
    assert (failure.check, failure.tree_size, failure.leaf_index) == (
        "checkpoint_beyond_tree",
        20,
        17,
    )

    def forge_checkpoint(copy: list[dict[str, Any]]) -> None:
        line = next(r for r in copy if r["type"] == "checkpoint" and r["tree_size"] == 13)
        line["note"] = line["note"].replace("\n13\n", "\n12\n")

    failure = edited(forge_checkpoint)
    assert (failure.check, failure.tree_size) == ("checkpoint_signature", 13)

    other_key = AuditSigner(ORIGIN, "test-hub", Ed25519PrivateKey.generate()).verifier_key
    wrong = verify_export(path, other_key)
    assert wrong.failure is not None
    assert (wrong.failure.check, wrong.failure.tree_size) == ("checkpoint_signature", 8)

    path.write_text("not json\n")
    garbled = verify_export(path, key)
    assert garbled.failure is not None
    assert garbled.failure.check == "export_format"
