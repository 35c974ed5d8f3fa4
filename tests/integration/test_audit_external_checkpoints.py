"""Checkpoints leave the database (issue 13, finding 4): every checkpoint the hub signs is also
published to an append-only checkpoint directory, and `hub audit verify` checks the database's
log against the last checkpoint held outside it. An insider with the database (who can disable
its triggers and rewrite any table) re-hashes the whole tree and deletes `audit_checkpoints`, or
rolls the log back to an earlier checkpoint: verify must fail, naming the changed leaf or what is
missing. Run through the real CLI (`hub audit checkpoint`, `hub audit verify`) on both backends.
"""

from __future__ import annotations

import base64
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hub.domain.audit.checkpoint import parse_signed_checkpoint
from hub.domain.audit.entries import AuditEntry, AuditKind
from hub.domain.audit.merkle import Frontier, leaf_hash
from hub.infra.audit import SqlAuditLog, load_audit_signer
from hub.infra.checkpoint_dir import CheckpointDirectory
from hub.services.audit_sequencer import AuditCheckpointer, AuditSequencer
from tests.conftest import Database
from tests.integration.cli_helpers import run_cli

pytestmark = pytest.mark.asyncio

TABLES = (
    "audit_entries",
    "audit_leaves",
    "audit_subtrees",
    "audit_checkpoints",
    "audit_index",
    "audit_index_rules",
)
#: Entries are recorded and checkpointed through the CLI in three batches.
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


def checkpoint_dir(database: Database) -> Path:
    """Where the hub publishes checkpoints when HUB_AUDIT_CHECKPOINT_DIR is not set."""
    return database.settings.data_dir / "audit-checkpoints"


async def build(
    database: Database, monkeypatch: pytest.MonkeyPatch, sizes: tuple[int, ...] = CHECKPOINTS
) -> None:
    """Record entries as the hub's operations do and sign a checkpoint after each batch with
    `hub audit checkpoint`; the log verifies."""
    log = SqlAuditLog(database.engine)
    start = 0
    for size in sizes:
        await log.record([consultation(n) for n in range(start, size)])
        assert await run_cli(database, monkeypatch, "audit", "checkpoint") == 0
        start = size
    assert await run_cli(database, monkeypatch, "audit", "verify") == 0


async def insider(database: Database, *statements: tuple[str, dict[str, Any]] | str) -> None:
    """Raw SQL as an insider with the owner's rights (the hub's own role cannot: see
    test_database_roles.py), append-only protection disabled."""
    async with database.owner.connect() as connection:
        for table in TABLES:
            if database.backend == "postgres":
                await connection.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER ALL"))
                await connection.execute(
                    sa.text(f"GRANT UPDATE, DELETE ON {table} TO CURRENT_USER")
                )
            else:
                for operation in ("update", "delete"):
                    await connection.execute(
                        sa.text(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")
                    )
        for statement in statements:
            sql, params = (statement, {}) if isinstance(statement, str) else statement
            await connection.execute(sa.text(sql), params)
        await connection.commit()


async def rehash(database: Database, leaf: int) -> None:
    """Change the entry of `leaf` and recompute every stored leaf and subtree hash, as an
    insider who knows the tree's construction (RFC 9162) would."""
    async with database.owner.connect() as connection:
        rows = (
            await connection.execute(
                sa.text(
                    "SELECT l.leaf_index, e.position, e.entry FROM audit_leaves l "
                    "JOIN audit_entries e ON e.position = l.entry_position ORDER BY l.leaf_index"
                )
            )
        ).all()
    texts = [str(row.entry) for row in rows]
    changed = texts[leaf].replace('"purpose":"supervision of a licence"', '"purpose":"curiosity"')
    assert changed != texts[leaf]
    texts[leaf] = changed
    statements: list[tuple[str, dict[str, Any]] | str] = [
        (
            "UPDATE audit_entries SET entry = :entry WHERE position = :p",
            {"entry": changed, "p": int(rows[leaf].position)},
        )
    ]
    frontier = Frontier()
    for index, text in enumerate(texts):
        hashed = leaf_hash(text.encode())
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
    await insider(database, *statements)


async def roll_back(database: Database, size: int) -> None:
    """Remove every entry, leaf, subtree and checkpoint beyond the tree of `size` leaves, and
    their rows in the query index (else `hub audit verify`'s evidence check finds index rows
    with no entry)."""
    beyond = "(SELECT entry_position FROM audit_leaves WHERE leaf_index = :last)"
    await insider(
        database,
        (f"DELETE FROM audit_index_rules WHERE position > {beyond}", {"last": size - 1}),
        (f"DELETE FROM audit_index WHERE position > {beyond}", {"last": size - 1}),
        (
            "DELETE FROM audit_entries WHERE position > "
            "(SELECT entry_position FROM audit_leaves WHERE leaf_index = :last)",
            {"last": size - 1},
        ),
        ("DELETE FROM audit_leaves WHERE leaf_index >= :size", {"size": size}),
        (
            # A perfect subtree (level, index) covers leaves up to (index + 1) * 2**level - 1.
            'DELETE FROM audit_subtrees WHERE ("index" + 1) * (1 << level) > :size',
            {"size": size},
        ),
        ("DELETE FROM audit_checkpoints WHERE tree_size > :size", {"size": size}),
    )


async def verify(
    database: Database, monkeypatch: pytest.MonkeyPatch, capsys: Any, *args: str
) -> tuple[int, str, str]:
    capsys.readouterr()
    code = await run_cli(database, monkeypatch, "audit", "verify", *args)
    out = capsys.readouterr()
    return code, out.out, out.err


# -- publication ---------------------------------------------------------------------------------


async def test_every_signed_checkpoint_is_published_to_the_checkpoint_directory(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await build(database, monkeypatch)
    directory = checkpoint_dir(database)
    published = sorted(p.name for p in directory.iterdir() if p.suffix == ".checkpoint")
    assert published == [f"{size:020d}.checkpoint" for size in CHECKPOINTS]
    signer = load_audit_signer(database.settings)
    async with database.engine.connect() as connection:
        stored = {
            int(size): str(note)
            for size, note in await connection.execute(
                sa.text("SELECT tree_size, note FROM audit_checkpoints")
            )
        }
    for size in CHECKPOINTS:
        path = directory / f"{size:020d}.checkpoint"
        assert path.read_text(encoding="utf-8") == stored[size]
        checkpoint = parse_signed_checkpoint(
            path.read_text(encoding="utf-8"), signer.trusted_keys, expected_origin=signer.origin
        )
        assert checkpoint.tree_size == size
        # Checkpoints are public (signed roots, no personal data): world-readable, and no one
        # but the hub's user may write them.
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    # Signing again with nothing new publishes nothing new and rewrites nothing.
    before = {p.name: p.stat().st_mtime_ns for p in directory.iterdir()}
    assert await run_cli(database, monkeypatch, "audit", "checkpoint") == 0
    assert {p.name: p.stat().st_mtime_ns for p in directory.iterdir()} == before
    assert not [p for p in directory.iterdir() if p.name.startswith(".")], "no temporary left"


# -- what an insider with the database does -------------------------------------------------------


async def test_a_rehashed_tree_with_its_checkpoints_deleted_fails_and_names_the_leaf(
    database: Database, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # Before: "OK: 20 entries and 0 signed checkpoints checked".
    await build(database, monkeypatch)
    await rehash(database, leaf=9)
    await insider(database, "DELETE FROM audit_checkpoints")
    code, out, err = await verify(database, monkeypatch, capsys)
    assert code == 1, out
    assert "FAILED (leaf_published)" in err
    assert "first bad entry: leaf 9," in err


async def test_checkpoints_deleted_from_the_database_fail_naming_the_missing_one(
    database: Database, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    await build(database, monkeypatch)
    await insider(database, "DELETE FROM audit_checkpoints")
    code, out, err = await verify(database, monkeypatch, capsys)
    assert code == 1, out
    assert "FAILED (external_checkpoint_missing)" in err
    assert "tree size 20" in err
    assert "audit_checkpoints" in err


async def test_a_log_rolled_back_to_an_earlier_checkpoint_fails(
    database: Database, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # Before: "OK: 13 entries and 2 signed checkpoints checked".
    await build(database, monkeypatch)
    await roll_back(database, 13)
    code, out, err = await verify(database, monkeypatch, capsys)
    assert code == 1, out
    assert "FAILED (external_checkpoint_beyond_tree)" in err
    assert "rolled back" in err
    assert "leaves 13..19" in err


async def test_a_rehash_names_the_changed_leaf_not_the_first(
    database: Database, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # One checkpoint over all 20 leaves: before, verify said "an entry among leaves 0..19" and
    # "first bad entry: leaf 0".
    await build(database, monkeypatch, sizes=(20,))
    await rehash(database, leaf=14)
    code, out, err = await verify(database, monkeypatch, capsys)
    assert code == 1, out
    assert "first bad entry: leaf 14," in err
    assert "leaf 0" not in err


async def test_a_checkpoint_the_operator_holds_catches_a_rollback_the_directory_missed(
    database: Database, monkeypatch: pytest.MonkeyPatch, capsys: Any, tmp_path: Path
) -> None:
    # A recipient kept the checkpoint of 20 leaves from a header; the insider also emptied the
    # checkpoint directory (a deployment that left it writable by the hub's user).
    await build(database, monkeypatch)
    held = tmp_path / "held.checkpoint"
    held.write_bytes((checkpoint_dir(database) / f"{20:020d}.checkpoint").read_bytes())
    for path in checkpoint_dir(database).iterdir():
        path.unlink()
    await roll_back(database, 8)
    code, out, err = await verify(database, monkeypatch, capsys, "--checkpoint", str(held))
    assert code == 1, out
    assert "FAILED (external_checkpoint_beyond_tree)" in err
    assert str(held) in err
    # Without it, verify says plainly that no checkpoint outside the database was checked.
    code, out, err = await verify(database, monkeypatch, capsys)
    assert code == 0
    assert "no checkpoint held outside the database" in out


async def test_a_header_value_is_accepted_as_the_held_checkpoint(
    database: Database, monkeypatch: pytest.MonkeyPatch, capsys: Any, tmp_path: Path
) -> None:
    # A recipient saves the Pph-Audit-Checkpoint header value as it came (base64url).
    await build(database, monkeypatch)
    note = (checkpoint_dir(database) / f"{13:020d}.checkpoint").read_bytes()
    held = tmp_path / "header.txt"
    held.write_text(base64.urlsafe_b64encode(note).decode().rstrip("=") + "\n")
    code, out, err = await verify(database, monkeypatch, capsys, "--checkpoint", str(held))
    assert code == 0, err
    assert "checked against the checkpoint of tree size 13 held outside the database" in out


async def test_a_forged_held_checkpoint_is_refused(
    database: Database, monkeypatch: pytest.MonkeyPatch, capsys: Any, tmp_path: Path
) -> None:
    await build(database, monkeypatch)
    note = (checkpoint_dir(database) / f"{20:020d}.checkpoint").read_text()
    lines = note.split("\n")
    lines[1] = "21"  # a bigger tree, under the same signature
    held = tmp_path / "forged.checkpoint"
    held.write_text("\n".join(lines))
    code, out, err = await verify(database, monkeypatch, capsys, "--checkpoint", str(held))
    assert code == 1, out
    assert "FAILED (external_checkpoint_signature)" in err


async def test_the_checkpointer_refuses_to_sign_over_a_rolled_back_log(
    database: Database, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # After the rollback the log grows again past the published 20 leaves: signing it would
    # bless a rewritten history, so `hub audit checkpoint` refuses and publishes nothing.
    await build(database, monkeypatch)
    await roll_back(database, 13)
    await SqlAuditLog(database.engine).record([consultation(n + 30) for n in range(13, 25)])
    capsys.readouterr()
    code = await run_cli(database, monkeypatch, "audit", "checkpoint")
    out = capsys.readouterr()
    assert code == 1, out
    assert "does not extend the one checkpoint 20 signed" in out.err
    published = sorted(p.name for p in checkpoint_dir(database).glob("*.checkpoint"))
    assert published == [f"{size:020d}.checkpoint" for size in CHECKPOINTS]


async def test_a_large_first_publication_is_written_a_page_at_a_time(
    database: Database, tmp_path: Path
) -> None:
    # An existing log (here 20 leaves, pages of 6) is published whole by its next checkpoint.
    log = SqlAuditLog(database.engine)
    signer = load_audit_signer(database.settings)
    await log.record([consultation(n) for n in range(20)])
    await AuditSequencer(log).run_until_idle()
    directory = CheckpointDirectory(tmp_path / "published")
    signed = await AuditCheckpointer(log, signer, publisher=directory, page_size=6).run_once()
    assert signed is not None
    names = sorted(p.name for p in directory.path.iterdir())
    assert names == [
        f"{0:020d}-{6:020d}.leaves",
        f"{6:020d}-{12:020d}.leaves",
        f"{12:020d}-{18:020d}.leaves",
        f"{18:020d}-{20:020d}.leaves",
        f"{20:020d}.checkpoint",
    ]
    async with database.engine.connect() as connection:
        stored = [
            bytes(h)
            for (h,) in await connection.execute(
                sa.text("SELECT leaf_hash FROM audit_leaves ORDER BY leaf_index")
            )
        ]
    assert await directory.leaf_hashes(0, 100) == stored
