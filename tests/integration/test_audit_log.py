"""The audit log on each backend: entries appended inside a caller's transaction, the sequencer
that gives them dense leaf indexes in position order without skipping (also under concurrent
writers and a second sequencer), signed checkpoints, and proofs that verify with the RFC 9162
verification functions."""

from __future__ import annotations

import asyncio
import json
import random
import stat
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr, ValidationError

from hub.domain.audit.checkpoint import parse_signed_checkpoint
from hub.domain.audit.entries import AuditEntry, AuditKind
from hub.domain.audit.evidence import index_facts
from hub.domain.audit.merkle import (
    Frontier,
    leaf_hash,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)
from hub.errors import InvalidInput, NotFound, StoreError
from hub.infra.audit import KEY_FILE, SqlAuditLog, load_audit_signer, load_audit_signing_key
from hub.infra.checkpoint_dir import CheckpointDirectory
from hub.infra.tables import audit_entries, audit_index, audit_index_rules, audit_leaves
from hub.services.audit import (
    EXPORT_FORMAT,
    AuditCheckpointer,
    AuditSequencer,
    AuditSigner,
    AuditTrail,
    AuditVerifier,
    Leaf,
    StoredCheckpoint,
    TreeHead,
    verify_export,
)
from hub.settings import Settings
from tests.conftest import Database

ORIGIN = "test.hub/audit"


def disclosure(number: int) -> AuditEntry:
    return AuditEntry(
        kind=AuditKind.DISCLOSURE,
        occurred_at=datetime.now(UTC),
        actor="hub",
        agency="hub",
        person_id=f"p_{number:06d}",
        event_id=f"ev-{number}",
        source="urn:pph:sps:pr2",
        recipient_id="cjsw.glasgow",
        fields=("release.date", "release.address"),
        rules=("schedule1-release-to-cjsw",),
        purpose="public protection",
        legal_basis="DPA 2018 s35",
        policy_version="abc123",
        outcome="disclosed",
        state="pending",
    )


@dataclass
class Audit:
    log: SqlAuditLog
    signer: AuditSigner
    database: Database

    @property
    def published(self) -> CheckpointDirectory:
        """The checkpoint directory the hub would publish to (under the test's data dir)."""
        return CheckpointDirectory(self.database.settings.resolved_audit_checkpoint_dir)

    def sequencer(self, batch_size: int = 1000) -> AuditSequencer:
        return AuditSequencer(self.log, batch_size=batch_size, poll_interval=0.01)

    def checkpointer(self, interval: float = 5.0) -> AuditCheckpointer:
        return AuditCheckpointer(self.log, self.signer, publisher=self.published, interval=interval)

    def verifier(self) -> AuditVerifier:
        return AuditVerifier(
            self.log, self.signer.verifier_key, ORIGIN, held=self.published, page_size=7
        )

    async def leaves(self) -> list[tuple[int, int, bytes]]:
        async with self.database.engine.connect() as connection:
            rows = await connection.execute(
                sa.select(
                    audit_leaves.c.leaf_index,
                    audit_leaves.c.entry_position,
                    audit_leaves.c.leaf_hash,
                ).order_by(audit_leaves.c.leaf_index)
            )
            return [(int(i), int(p), bytes(h)) for i, p, h in rows]

    async def entries(self) -> dict[int, str]:
        async with self.database.engine.connect() as connection:
            rows = await connection.execute(
                sa.select(audit_entries.c.position, audit_entries.c.entry)
            )
            return {int(p): e for p, e in rows}


@pytest_asyncio.fixture
async def audit(database: Database) -> Audit:
    signer = AuditSigner(ORIGIN, "test-hub", Ed25519PrivateKey.generate())
    return Audit(SqlAuditLog(database.engine, visibility_timeout=2.0), signer, database)


# -- appending -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_recorded_entries_are_stored_exactly_as_hashed(audit: Audit) -> None:
    entries = [disclosure(n) for n in range(3)]
    positions = await audit.log.record(entries)
    assert positions == sorted(positions)
    assert len(set(positions)) == 3
    stored = await audit.entries()
    for position, entry in zip(positions, entries, strict=True):
        assert stored[position].encode("utf-8") == entry.canonical_bytes()
        assert AuditEntry.from_canonical(stored[position].encode("utf-8")) == entry
    assert await audit.log.record([]) == []
    # One writer: the positions of a multi-entry append follow each other in the entries'
    # order, and the next append's follow them (on SQLite, the first entry is numbered by
    # AUTOINCREMENT and the rest explicitly after it).
    more = [disclosure(n) for n in range(3, 7)]
    next_positions = await audit.log.record(more)
    assert next_positions == list(range(positions[-1] + 1, positions[-1] + 5))
    stored = await audit.entries()
    assert [stored[p] for p in next_positions] == [e.canonical_bytes().decode() for e in more]


@pytest.mark.asyncio
async def test_appended_entries_are_indexed_with_their_rules(audit: Audit) -> None:
    """The entries, their index rows and their rules' rows go in together (one statement on
    PostgreSQL, a few on SQLite), each index row holding its entry's facts at its position."""
    many_rules = replace(disclosure(1), rules=("rule-b", "rule-a", "rule-c"))
    no_rules = replace(disclosure(2), rules=(), kind=AuditKind.COLLECTION, recipient_id=None)
    entries = [disclosure(0), many_rules, no_rules]
    positions = await audit.log.record(entries)
    async with audit.database.engine.connect() as connection:
        index = {
            int(row.position): row
            for row in await connection.execute(
                sa.select(audit_index).where(audit_index.c.position.in_(positions))
            )
        }
        rules = sorted(
            (int(p), r)
            for r, p in await connection.execute(
                sa.select(audit_index_rules.c.rule, audit_index_rules.c.position).where(
                    audit_index_rules.c.position.in_(positions)
                )
            )
        )
    assert sorted(index) == positions
    for position, entry in zip(positions, entries, strict=True):
        row = index[position]._mapping
        facts = index_facts(entry)
        assert {k: row[k] for k in facts if k != "occurred_at"} == {
            k: v for k, v in facts.items() if k != "occurred_at"
        }
        occurred_at = row["occurred_at"]  # SQLite gives it back without its (UTC) offset
        if occurred_at.tzinfo is None:
            occurred_at = occurred_at.replace(tzinfo=UTC)
        assert occurred_at == facts["occurred_at"]
    assert rules == sorted(
        (p, rule) for p, entry in zip(positions, entries, strict=True) for rule in entry.rules
    )


@pytest.mark.asyncio
async def test_entries_appended_on_a_connection_not_yet_in_a_transaction_commit_with_it(
    audit: Audit,
) -> None:
    """`append` on a connection that has run nothing yet begins the transaction SQLAlchemy
    would have begun (its entries then roll back with the caller's work)."""
    async with audit.database.engine.connect() as connection:
        [position] = await audit.log.append(connection, [disclosure(9)])
        await connection.rollback()
    assert position not in await audit.entries()
    async with audit.database.engine.connect() as connection:
        [position] = await audit.log.append(connection, [disclosure(10)])
        await connection.commit()
    assert position in await audit.entries()


@pytest.mark.asyncio
async def test_an_entry_appended_in_a_transaction_that_rolls_back_is_never_logged(
    audit: Audit, database: Database
) -> None:
    writer = database.engine.execution_options(sqlite_begin="IMMEDIATE")
    async with writer.connect() as connection:
        transaction = await connection.begin()
        await connection.execute(
            sa.text(
                "INSERT INTO clients (client_id, name, agency, scopes, secret_hash, created_at) "
                "VALUES ('c1', 'n', 'sps', 'events:read', 'x', :now)"
            ),
            {"now": datetime.now(UTC)},
        )
        [lost] = await audit.log.append(connection, [disclosure(1)])
        await transaction.rollback()
    async with writer.connect() as connection, connection.begin():
        [kept] = await audit.log.append(connection, [disclosure(2)])
    assert kept >= lost  # SQLite hands a rolled-back position out again; PostgreSQL never
    assert list(await audit.entries()) == [kept]
    async with database.engine.connect() as connection:
        clients = await connection.execute(sa.text("SELECT count(*) FROM clients"))
        assert clients.scalar_one() == 0
    assert await audit.sequencer().run_until_idle() == 1
    assert [p for _, p, _ in await audit.leaves()] == [kept]
    assert (await audit.verifier().verify()).ok


@pytest.mark.asyncio
async def test_the_database_refuses_to_change_or_remove_audit_rows(
    audit: Audit, database: Database
) -> None:
    await audit.log.record([disclosure(n) for n in range(3)])
    await audit.sequencer().run_until_idle()
    await audit.checkpointer().run_once()
    refusal = (
        "permission denied for table"
        if database.backend == "postgres"
        else "is append-only: (UPDATE|DELETE) is not allowed"
    )
    for statement in (
        "UPDATE audit_entries SET kind = 'erasure'",
        "DELETE FROM audit_entries",
        "UPDATE audit_leaves SET leaf_index = leaf_index + 10",
        "DELETE FROM audit_leaves",
        "UPDATE audit_subtrees SET hash = hash",
        "DELETE FROM audit_subtrees",
        "UPDATE audit_checkpoints SET note = ''",
        "DELETE FROM audit_checkpoints",
    ):
        async with database.engine.connect() as connection:
            with pytest.raises(sa.exc.DBAPIError, match=refusal):
                await connection.execute(sa.text(statement))


# -- sequencing ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_sequencer_gives_dense_leaves_in_position_order_and_is_idempotent(
    audit: Audit,
) -> None:
    positions = []
    for n in range(23):
        positions += await audit.log.record([disclosure(n)])
    sequencer = audit.sequencer(batch_size=5)
    assert await sequencer.run_once() == 5
    assert await sequencer.run_until_idle() == 18
    assert await sequencer.run_until_idle() == 0  # a replay changes nothing
    leaves = await audit.leaves()
    assert [i for i, _, _ in leaves] == list(range(23))
    assert [p for _, p, _ in leaves] == positions
    entries = await audit.entries()
    assert [h for _, _, h in leaves] == [leaf_hash(entries[p].encode()) for p in positions]
    assert await audit.log.head() == TreeHead(23, positions[-1])


@pytest.mark.asyncio
async def test_a_batch_for_a_tree_that_moved_on_writes_nothing(audit: Audit) -> None:
    [position] = await audit.log.record([disclosure(1)])
    await audit.sequencer().run_until_idle()
    stale = Leaf(0, position, leaf_hash(b"forged"))
    assert not await audit.log.add_leaves(TreeHead(0, 0), [stale], [])
    # Even one that claims the current head meets the unique keys and writes nothing.
    assert not await audit.log.add_leaves(
        TreeHead(1, position), [Leaf(1, position, leaf_hash(b"x"))], []
    )
    assert len(await audit.leaves()) == 1


@pytest.mark.asyncio
async def test_two_sequencers_never_interleave(audit: Audit) -> None:
    positions = []
    for start in range(0, 300, 20):
        positions += await audit.log.record([disclosure(n) for n in range(start, start + 20)])
    first, second = audit.sequencer(batch_size=13), audit.sequencer(batch_size=17)
    added = await asyncio.gather(first.run_until_idle(), second.run_until_idle())
    assert sum(added) == 300
    leaves = await audit.leaves()
    assert [i for i, _, _ in leaves] == list(range(300))
    assert [p for _, p, _ in leaves] == positions
    await audit.checkpointer().run_once()
    assert (await audit.verifier().verify()).ok


@pytest.mark.asyncio
async def test_concurrent_writers_while_the_sequencer_runs(
    audit: Audit, database: Database
) -> None:
    """Several connections append (some rolling back, some holding their positions a while
    before committing) while two sequencers and a checkpointer run: every committed entry gets
    exactly one leaf, the indexes are dense, and leaves follow positions."""
    writers, batches = (8, 40) if database.backend == "postgres" else (4, 15)
    committed: list[int] = []
    rolled_back: list[int] = []
    writer_engine = database.engine.execution_options(sqlite_begin="IMMEDIATE")
    rng = random.Random(9162)

    async def writer(number: int) -> None:
        for batch in range(batches):
            entries = [
                disclosure(number * 10_000 + batch * 10 + i) for i in range(rng.randint(1, 4))
            ]
            async with writer_engine.connect() as connection:
                transaction = await connection.begin()
                positions = await audit.log.append(connection, entries)
                await asyncio.sleep(rng.uniform(0, 0.004))
                if batch % 9 == 4:
                    await transaction.rollback()
                    rolled_back.extend(positions)
                else:
                    await transaction.commit()
                    committed.extend(positions)

    stop = asyncio.Event()
    running = [
        asyncio.create_task(audit.sequencer(batch_size=25).run(stop)),
        asyncio.create_task(audit.sequencer(batch_size=11).run(stop)),
        asyncio.create_task(audit.checkpointer(interval=0.05).run(stop)),
    ]
    await asyncio.gather(*(writer(n) for n in range(writers)))
    await audit.sequencer().run_until_idle()
    stop.set()
    await asyncio.gather(*running)
    await audit.checkpointer().run_once()

    leaves = await audit.leaves()
    assert [i for i, _, _ in leaves] == list(range(len(committed)))
    assert [p for _, p, _ in leaves] == sorted(committed)
    if database.backend == "postgres":  # SQLite hands rolled-back positions out again
        assert not set(rolled_back) & {p for _, p, _ in leaves}
    report = await audit.verifier().verify()
    assert report.ok, report.failure
    assert report.entries == len(committed)
    # How many checkpoints the background checkpointer signed depends on timing (never assert
    # timing); each one it signed was verified, and there is at least the final one.
    assert report.checkpoints == len(await audit.log.checkpoints(0, 100_000)) >= 1
    print(f"\n{len(committed)} entries, {report.checkpoints} checkpoints")
    await _check_proofs(audit, rng)


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
@pytest.mark.asyncio
async def test_the_sequencer_never_skips_a_position_held_by_a_transaction_still_running(
    database: Database,
) -> None:
    log = SqlAuditLog(database.engine, visibility_timeout=0.3)
    sequencer = AuditSequencer(log)
    async with database.engine.connect() as slow:
        transaction = await slow.begin()
        [held] = await log.append(slow, [disclosure(1)])
        [later] = await log.record([disclosure(2)])
        assert later > held
        # A naive follower would take `later` now and never see `held`; the sequencer waits
        # (here up to its 0.3 s) and takes nothing it cannot prove final.
        assert await sequencer.run_once() == 0
        waiting = asyncio.create_task(sequencer.run_once())
        await asyncio.sleep(0.1)
        await transaction.commit()
        assert await waiting == 2
    assert await log.head() == TreeHead(2, later)


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
@pytest.mark.asyncio
async def test_a_rolled_back_append_leaves_a_gap_the_sequencer_passes(
    database: Database,
) -> None:
    log = SqlAuditLog(database.engine)
    async with database.engine.connect() as slow:
        transaction = await slow.begin()
        [gap] = await log.append(slow, [disclosure(1)])
        [after] = await log.record([disclosure(2)])
        await transaction.rollback()
    assert await AuditSequencer(log).run_once() == 1
    assert await log.head() == TreeHead(1, after)
    assert after > gap


class _CountingTree:
    """The audit log, counting how many times a sequencer looked for waiting entries."""

    def __init__(self, log: SqlAuditLog) -> None:
        self._log = log
        self.looks = 0

    async def unsequenced(self, after: int, limit: int) -> Any:
        self.looks += 1
        return await self._log.unsequenced(after, limit)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)


@pytest.mark.asyncio
async def test_the_running_sequencer_drains_a_backlog_then_waits_to_batch_a_trickle(
    audit: Audit,
) -> None:
    tree = _CountingTree(audit.log)
    sequencer = AuditSequencer(tree, batch_size=5, poll_interval=3600)  # type: ignore[arg-type]
    stop, wake = asyncio.Event(), asyncio.Event()
    await audit.log.record([disclosure(n) for n in range(12)])
    task = asyncio.create_task(sequencer.run(stop, wake))
    try:
        # Full batches follow each other at once; the partial one (2) ends the drain: three
        # looks, not a fourth that would find nothing.
        await _until(audit.log.head, lambda head: head.size == 12)
        await asyncio.sleep(0.2)
        assert tree.looks == 3
        # Entries arriving one by one wait for the poll (an hour here) or a wake, and then go
        # together in one batch.
        await audit.log.record([disclosure(12)])
        await audit.log.record([disclosure(13)])
        await asyncio.sleep(0.2)
        assert (await audit.log.head()).size == 12
        wake.set()
        await _until(audit.log.head, lambda head: head.size == 14)
        assert tree.looks == 4
    finally:
        stop.set()
        await task
    assert [index for index, _, _ in await audit.leaves()] == list(range(14))


async def _until(read: Any, done: Any) -> None:
    for _ in range(400):
        if done(await read()):
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the sequencer did not get there")


# -- checkpoints and proofs ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_checkpoints_are_signed_only_when_the_tree_grew(audit: Audit) -> None:
    checkpointer = audit.checkpointer()
    assert await checkpointer.run_once() is None  # empty
    await audit.log.record([disclosure(n) for n in range(5)])
    assert await checkpointer.run_once() is None  # nothing sequenced yet
    await audit.sequencer().run_until_idle()
    first = await checkpointer.run_once()
    assert first is not None
    assert first.tree_size == 5
    assert await checkpointer.run_once() is None
    entries = await audit.entries()
    signed = parse_signed_checkpoint(first.note, audit.signer.verifier_key, expected_origin=ORIGIN)
    expected_root = root_from_leaves([leaf_hash(entries[p].encode()) for p in sorted(entries)])
    assert signed.tree_size == 5
    assert signed.root_hash == first.root_hash == expected_root
    assert await audit.log.latest_checkpoint() == first
    # A second checkpointer signing the same size stores nothing twice.
    assert not await audit.log.add_checkpoint(first)


@pytest.mark.asyncio
async def test_proofs_for_every_entry_and_between_every_pair_of_checkpoints(
    audit: Audit,
) -> None:
    rng = random.Random(6962)
    sequencer = audit.sequencer()
    for size in (1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 32, 33, 50):
        head = await audit.log.head()
        await audit.log.record([disclosure(n) for n in range(head.size, size)])
        await sequencer.run_until_idle()
        await audit.checkpointer().run_once()
    checkpoints = await audit.log.checkpoints()
    assert [c.tree_size for c in checkpoints][:4] == [1, 2, 3, 4]
    for checkpoint in checkpoints:
        for leaf in range(checkpoint.tree_size):
            proof = await AuditTrail(audit.log).inclusion_proof(
                leaf_index=leaf, tree_size=checkpoint.tree_size
            )
            signed = parse_signed_checkpoint(proof.checkpoint or "", audit.signer.verifier_key)
            assert verify_inclusion(
                leaf_hash(proof.entry.encode()),
                leaf,
                signed.tree_size,
                proof.proof,
                signed.root_hash,
            )
    for old in checkpoints:
        for new in checkpoints:
            if old.tree_size <= new.tree_size:
                proof = await AuditTrail(audit.log).consistency_proof(old.tree_size, new.tree_size)
                assert proof.old_checkpoint == old.note
                assert proof.new_checkpoint == new.note
                assert verify_consistency(
                    old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof.proof
                )
    await _check_proofs(audit, rng)
    report = await audit.verifier().verify()
    assert report.ok
    assert report.checkpoints == len(checkpoints)
    assert report.entries == 50


@pytest.mark.asyncio
async def test_proof_requests_that_cannot_be_answered(audit: Audit) -> None:
    trail = AuditTrail(audit.log)
    with pytest.raises(NotFound, match="no audit checkpoint"):
        await trail.inclusion_proof(leaf_index=0)
    [first, second] = await audit.log.record([disclosure(1), disclosure(2)])
    await audit.sequencer().run_until_idle()
    await audit.checkpointer().run_once()
    [third] = await audit.log.record([disclosure(3)])
    await audit.sequencer().run_until_idle()
    proof = await trail.inclusion_proof(entry_position=second)
    assert (proof.leaf_index, proof.position, proof.tree_size) == (1, second, 2)
    with pytest.raises(NotFound, match="not yet in a checkpoint"):
        await trail.inclusion_proof(entry_position=third)
    assert (await trail.inclusion_proof(entry_position=third, tree_size=3)).checkpoint is None
    with pytest.raises(NotFound):
        await trail.inclusion_proof(entry_position=third + 100)
    with pytest.raises(InvalidInput):
        await trail.inclusion_proof(entry_position=first, leaf_index=0)
    with pytest.raises(InvalidInput):
        await trail.inclusion_proof(leaf_index=0, tree_size=4)
    with pytest.raises(InvalidInput):
        await trail.consistency_proof(3, 2)
    with pytest.raises(InvalidInput):
        await trail.consistency_proof(1, 4)


async def _check_proofs(audit: Audit, rng: random.Random) -> None:
    """Inclusion proofs of random entries in the latest checkpoint, and consistency proofs
    between random pairs of checkpoints, checked with the RFC 9162 verifiers against the roots
    in the signed notes."""
    trail = AuditTrail(audit.log)
    latest = await trail.latest_checkpoint()
    assert latest is not None
    signed = parse_signed_checkpoint(latest.note, audit.signer.verifier_key)
    leaves = await audit.leaves()
    for leaf_index, position, _ in rng.sample(leaves[: latest.tree_size], 20):
        proof = await trail.inclusion_proof(entry_position=position)
        assert proof.leaf_index == leaf_index
        assert proof.tree_size == signed.tree_size
        assert verify_inclusion(
            leaf_hash(proof.entry.encode()),
            leaf_index,
            signed.tree_size,
            proof.proof,
            signed.root_hash,
        )
        assert not verify_inclusion(
            leaf_hash(proof.entry.encode() + b" "),
            leaf_index,
            signed.tree_size,
            proof.proof,
            signed.root_hash,
        )
    checkpoints = await trail.checkpoints(0, 100_000)
    for _ in range(20):
        old, new = sorted(rng.sample(checkpoints, 2), key=lambda c: c.tree_size)
        proof = await trail.consistency_proof(old.tree_size, new.tree_size)
        old_root = parse_signed_checkpoint(old.note, audit.signer.verifier_key).root_hash
        new_root = parse_signed_checkpoint(new.note, audit.signer.verifier_key).root_hash
        assert verify_consistency(old.tree_size, new.tree_size, old_root, new_root, proof.proof)


# -- export ----------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_export_verifies_with_only_the_public_key(audit: Audit, tmp_path: Path) -> None:
    sequencer = audit.sequencer()
    for size in (3, 8, 11, 16, 29):
        head = await audit.log.head()
        await audit.log.record([disclosure(n) for n in range(head.size, size)])
        await sequencer.run_until_idle()
        await audit.checkpointer().run_once()
    await audit.log.record([disclosure(99)])  # not yet in a checkpoint: not exported
    summary = await audit.verifier().export(tmp_path / "audit.jsonl")
    assert (summary.tree_size, summary.checkpoints) == (29, 5)
    report = verify_export(tmp_path / "audit.jsonl", audit.signer.verifier_key)
    assert report.ok, report.failure
    assert (report.entries, report.checkpoints, report.latest_checkpoint) == (29, 5, 29)
    stored = await audit.verifier().verify()
    assert stored.ok
    assert stored.unsequenced == 1


@pytest.mark.asyncio
async def test_a_rotated_signing_key_keeps_earlier_checkpoints_verifiable(
    audit: Audit, tmp_path: Path
) -> None:
    sequencer = audit.sequencer()
    old = audit.signer
    for start, end in ((0, 4), (4, 9)):
        await audit.log.record([disclosure(n) for n in range(start, end)])
        await sequencer.run_until_idle()
        assert (
            await AuditCheckpointer(audit.log, old, publisher=audit.published).run_once()
            is not None
        )
    # The operator rotates: a new key signs from now on, the old verifier key stays trusted.
    new = AuditSigner(ORIGIN, "test-hub-2", Ed25519PrivateKey.generate(), (old.verifier_key,))
    assert new.trusted_keys == (new.verifier_key, old.verifier_key)
    await audit.log.record([disclosure(n) for n in range(9, 15)])
    await sequencer.run_until_idle()
    # The new key's first checkpoint is signed only after the old one's consistency is checked.
    rotated = await AuditCheckpointer(audit.log, new, publisher=audit.published).run_once()
    assert rotated is not None
    assert rotated.tree_size == 15
    parse_signed_checkpoint(rotated.note, new.verifier_key, expected_origin=ORIGIN)

    report = await AuditVerifier(
        audit.log, new.trusted_keys, ORIGIN, held=audit.published, page_size=4
    ).verify()
    assert report.ok, report.failure
    assert report.checkpoints == 3
    summary = await AuditVerifier(audit.log, new.trusted_keys, ORIGIN, held=audit.published).export(
        tmp_path / "a.jsonl"
    )
    assert summary.checkpoints == 3
    assert verify_export(tmp_path / "a.jsonl", list(new.trusted_keys)).ok

    # Without the old key, the checkpoints it signed do not verify: named, in log order.
    alone = await AuditVerifier(audit.log, new.verifier_key, ORIGIN, held=audit.published).verify()
    assert alone.failure is not None
    assert alone.failure.check == "checkpoint_signature"
    assert alone.failure.tree_size == 4
    assert "test-hub-2+" in alone.failure.message
    exported = verify_export(tmp_path / "a.jsonl", new.verifier_key)
    assert exported.failure is not None
    assert exported.failure.tree_size == 4
    # Nor does a checkpointer that no longer trusts the old key sign on top of its checkpoint.
    await AuditCheckpointer(audit.log, new, publisher=audit.published).run_once()
    forgetful = AuditSigner(ORIGIN, "test-hub-3", Ed25519PrivateKey.generate())
    await audit.log.record([disclosure(15)])
    await sequencer.run_until_idle()
    with pytest.raises(StoreError, match="does not verify"):
        await AuditCheckpointer(audit.log, forgetful, publisher=audit.published).run_once()


def test_previous_verifier_keys_come_from_the_settings(tmp_path: Path) -> None:
    earlier = AuditSigner(ORIGIN, "pph-hub-audit", Ed25519PrivateKey.generate()).verifier_key
    settings = Settings(
        environment="development", data_dir=tmp_path, audit_previous_verifier_keys=[earlier]
    )
    signer = load_audit_signer(settings)
    assert signer.trusted_keys == (signer.verifier_key, earlier)
    bad = settings.model_copy(update={"audit_previous_verifier_keys": [earlier, "nope"]})
    with pytest.raises(InvalidInput, match="HUB_AUDIT_PREVIOUS_VERIFIER_KEYS: key 2"):
        load_audit_signer(bad)


# -- the signing key -------------------------------------------------------------------------------


def test_the_signing_key_is_generated_once_outside_production(tmp_path: Path) -> None:
    settings = Settings(environment="development", data_dir=tmp_path)
    signer = load_audit_signer(settings)
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_audit_signer(settings).verifier_key == signer.verifier_key
    assert signer.verifier_key.startswith("pph-hub-audit+")
    assert signer.origin == "pph.hub/audit"
    path.chmod(0o644)
    with pytest.raises(InvalidInput, match="chmod 600"):
        load_audit_signing_key(settings)


def test_the_signing_key_comes_from_the_settings_and_is_required_in_production(
    tmp_path: Path,
) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    settings = Settings(environment="test", data_dir=tmp_path, audit_signing_key=SecretStr(pem))
    assert (
        load_audit_signer(settings).verifier_key
        == AuditSigner("o", "pph-hub-audit", key).verifier_key
    )
    assert not (tmp_path / KEY_FILE).exists()
    assert "BEGIN" not in repr(settings)
    ecdsa = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(InvalidInput, match="Ed25519"):
        load_audit_signing_key(
            Settings(
                environment="test", data_dir=tmp_path, audit_signing_key=SecretStr(ecdsa.decode())
            )
        )
    with pytest.raises(ValidationError, match="HUB_AUDIT_SIGNING_KEY"):
        Settings(
            environment="production",
            database_url=SecretStr("postgresql+asyncpg://h/db"),
            token_signing_key=SecretStr(pem),
        )
    production = Settings.model_construct(environment="production", data_dir=tmp_path)
    with pytest.raises(InvalidInput, match="never generated"):
        load_audit_signing_key(production)
    assert isinstance(StoredCheckpoint(1, b"\0" * 32, "n", datetime.now(UTC)).signed_at, datetime)


# -- verification without a database: checkpoints at any sizes ----------------------------------


def _export_file(path: Path, signer: AuditSigner, leaves: int, sizes: list[int]) -> None:
    """An export built by hand: entries, and checkpoints signed at `sizes`."""
    frontier = Frontier()
    roots = {0: frontier.root()}
    entries = [f'{{"n":{n}}}' for n in range(leaves)]
    for text in entries:
        frontier.append(leaf_hash(text.encode()))
        roots[frontier.size] = frontier.root()
    records: list[dict[str, object]] = [
        {"type": "header", "format": EXPORT_FORMAT, "origin": ORIGIN, "tree_size": leaves}
    ]
    records += [
        {"type": "checkpoint", "tree_size": size, "note": signer.sign(size, roots[size])}
        for size in sizes
    ]
    records += [
        {"type": "entry", "leaf_index": n, "position": 2 * n + 1, "entry": text}
        for n, text in enumerate(entries)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_verify_export_checks_consistency_between_checkpoints_of_any_sizes(
    tmp_path: Path,
) -> None:
    signer = AuditSigner(ORIGIN, "test-hub", Ed25519PrivateKey.generate())
    rng = random.Random(4)
    cases = [list(range(1, 41)), [40], [1, 40], [3, 5, 6, 7, 33, 40]]
    cases += [[*sorted(rng.sample(range(1, 41), rng.randint(1, 12))), 40] for _ in range(40)]
    for sizes in cases:
        sizes = sorted(set(sizes))
        _export_file(tmp_path / "log.jsonl", signer, 40, sizes)
        report = verify_export(tmp_path / "log.jsonl", signer.verifier_key)
        assert report.ok, (sizes, report.failure)
        assert (report.entries, report.checkpoints) == (40, len(sizes))
