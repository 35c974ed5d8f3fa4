"""`hub audit` end to end, as an operator and an auditor would use it: sign checkpoints, verify
the stored log, give out proofs, export it, verify the export with only the public key, and
fail (exit 1, naming the first bad entry) once the database or the export is tampered with."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from hub.domain.audit.checkpoint import parse_signed_checkpoint
from hub.domain.audit.entries import AuditEntry, AuditKind
from hub.domain.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from hub.infra.audit import SqlAuditLog
from hub.infra.db import create_engine
from hub.settings import Settings
from tests.e2e.conftest import HUB, HubProcess

pytestmark = pytest.mark.slow


def _settings(hub: HubProcess, *, owner: bool = False) -> Settings:
    # The insider's tampering needs the owner's rights: the hub's own role cannot do it.
    url = hub.owner_url if owner and hub.owner_url else hub.env.get("HUB_DATABASE_URL")
    return Settings(
        environment="test",
        data_dir=Path(hub.env["HUB_DATA_DIR"]),
        database_url=SecretStr(url) if url else None,
        database_schema=hub.env.get("HUB_DATABASE_SCHEMA"),
    )


def _record(hub: HubProcess, first: int, count: int) -> list[int]:
    """Entries written as the hub's own operations would write them (the log's public API)."""

    async def run() -> list[int]:
        engine = create_engine(_settings(hub))
        try:
            entries = [
                AuditEntry(
                    kind=AuditKind.DISCLOSURE,
                    occurred_at=datetime.now(UTC),
                    actor="hub",
                    agency="hub",
                    person_id=f"p_{n}",
                    event_id=f"ev-{n}",
                    source="urn:pph:sps:pr2",
                    recipient_id="police.scotland",
                    fields=("licence.conditions",),
                    rules=("liberation-to-police",),
                    purpose="public protection",
                    legal_basis="DPA 2018 s35",
                    policy_version="v1",
                    outcome="disclosed",
                )
                for n in range(first, first + count)
            ]
            return await SqlAuditLog(engine).record(entries)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _tamper(hub: HubProcess, position: int) -> None:
    """An attacker with the owner's database rights changes one stored entry."""

    async def run() -> None:
        engine = create_engine(_settings(hub, owner=True))
        try:
            async with engine.begin() as connection:
                if engine.dialect.name == "postgresql":
                    await connection.execute(
                        sa.text("ALTER TABLE audit_entries DISABLE TRIGGER ALL")
                    )
                    await connection.execute(
                        sa.text("GRANT UPDATE ON audit_entries TO CURRENT_USER")
                    )
                else:
                    await connection.execute(sa.text("DROP TRIGGER audit_entries_no_update"))
                await connection.execute(
                    sa.text(
                        "UPDATE audit_entries SET entry = replace(entry, 'disclosed', 'withheld') "
                        "WHERE position = :p"
                    ),
                    {"p": position},
                )
        finally:
            await engine.dispose()

    asyncio.run(run())


def _failing(hub: HubProcess, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*HUB, *args], env=hub.env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    return done


def test_audit_commands_end_to_end(hub_process: HubProcess, tmp_path: Path) -> None:
    hub = hub_process
    # An empty log: nothing to sign, and nothing wrong.
    assert "the log is empty" in hub.cli("audit", "checkpoint")
    key = hub.cli("audit", "public-key").strip()
    assert key.startswith("pph-hub-audit+")
    assert hub.cli("audit", "public-key").strip() == key  # the generated key is kept

    positions = _record(hub, 0, 12)
    out = hub.cli("audit", "checkpoint")
    assert "added 12 entries" in out
    assert "signed a checkpoint of tree size 12" in out
    assert "has not grown" in hub.cli("audit", "checkpoint")
    assert "OK: 12 entries and 1 signed checkpoints checked" in hub.cli("audit", "verify")

    positions += _record(hub, 12, 5)
    export = tmp_path / "audit.jsonl"
    out = hub.cli("audit", "export", str(export))
    assert "exported 17 entries and 2 signed checkpoints" in out
    assert "OK: 17 entries and 2 signed checkpoints checked" in hub.cli(
        "audit", "verify-export", str(export), "--key", key
    )
    report = json.loads(hub.cli("audit", "verify", "--json"))
    assert report["ok"]
    assert (report["entries"], report["checkpoints"], report["latest_checkpoint"]) == (17, 2, 17)

    # Proofs, checked with nothing but the RFC 9162 verifiers and the public key.
    proof = json.loads(hub.cli("audit", "prove", "--position", str(positions[7]), "--json"))
    signed = parse_signed_checkpoint(proof["checkpoint"], key, expected_origin="pph.hub/audit")
    assert verify_inclusion(
        leaf_hash(proof["entry"].encode()),
        proof["leaf_index"],
        signed.tree_size,
        [bytes.fromhex(node) for node in proof["proof"]],
        signed.root_hash,
    )
    consistency = json.loads(hub.cli("audit", "consistency", "12", "17", "--json"))
    old = parse_signed_checkpoint(consistency["old_checkpoint"], key)
    new = parse_signed_checkpoint(consistency["new_checkpoint"], key)
    assert verify_consistency(
        12, 17, old.root_hash, new.root_hash, [bytes.fromhex(n) for n in consistency["proof"]]
    )

    # An edited export fails, and says where.
    lines = export.read_text().splitlines()
    edited = [
        line.replace("disclosed", "withheld") if '"leaf_index":14,' in line else line
        for line in lines
    ]
    assert edited != lines
    (tmp_path / "edited.jsonl").write_text("\n".join(edited) + "\n")
    done = _failing(hub, "audit", "verify-export", str(tmp_path / "edited.jsonl"), "--key", key)
    assert "FAILED (checkpoint_root)" in done.stderr
    assert "leaves 12..16" in done.stderr

    # A tampered database fails `hub audit verify`, naming the first bad entry.
    _tamper(hub, positions[3])
    done = _failing(hub, "audit", "verify")
    assert "FAILED (leaf_hash)" in done.stderr
    assert f"first bad entry: leaf 3, position {positions[3]}" in done.stderr
    assert "withheld" in done.stderr
    assert not json.loads(_failing(hub, "audit", "verify", "--json").stdout)["ok"]
    # The export taken before the tampering still verifies on its own.
    assert "OK:" in hub.cli("audit", "verify-export", str(export), "--key", key)
