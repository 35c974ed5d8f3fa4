"""Crypto-shredding survives a restore: erase a person, restore a backup taken before (SQLite's
online `.backup` with the `sqlite3` tool; PostgreSQL's `pg_dump`/`pg_restore`), and the person's
data is readable again, until `hub db reapply-erasures --from <audit export>` destroys their
keys again, once, with erasure entries that say so (docs/backup-restore.md)."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from hub.infra import tables
from hub.settings import Settings
from tests.conftest import POSTGRES_OWNER_URL, Database
from tests.integration.api_helpers import RunningHub, running_hub
from tests.integration.cli_helpers import run_cli
from tests.integration.feed_helpers import about_new_person, push, routed

pytestmark = pytest.mark.asyncio

STORY = ("custody.admission", "release.schedule1-notification")


def hub_settings(database: Database) -> Settings:
    return database.settings.model_copy(
        update={"router_poll_interval": 0.05, "delivery_enabled": False}
    )


def story(offence: str) -> list[dict[str, Any]]:
    notifications = about_new_person(STORY)
    notifications[1]["data"]["schedule1_offences"][0]["description"] = offence
    return notifications


async def offence_of(hub: RunningHub, notification: dict[str, Any]) -> str | None:
    """The offence description the hub reads back (None: erased, its key destroyed)."""
    event = await hub.container.store.get(notification["source"], notification["id"])
    assert event is not None
    offence: dict[str, Any] = event.notification.data["schedule1_offences"][0]
    return offence.get("description")


async def erasure_entries(database: Database) -> list[dict[str, Any]]:
    async with database.engine.connect() as connection:
        rows = await connection.execute(
            sa.select(tables.audit_entries.c.entry)
            .where(tables.audit_entries.c.kind == "erasure")
            .order_by(tables.audit_entries.c.position)
        )
        return [json.loads(row.entry) for row in rows]


async def _tool(*command: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode == 0, (command[0], out.decode(), err.decode())


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_file(settings: Settings) -> Path:
    return Path(str(make_url(settings.resolved_database_url).database))


async def back_up(database: Database, target: Path) -> None:
    if database.backend == "sqlite":
        # The online backup: consistent while the hub writes (docs/backup-restore.md).
        await _tool("sqlite3", str(_sqlite_file(database.settings)), f".backup '{target}'")
    else:
        schema = str(database.settings.database_schema)
        await _tool("pg_dump", "-Fc", "-n", schema, "-f", str(target), _libpq(POSTGRES_OWNER_URL))


async def restore(database: Database, backup: Path) -> None:
    """Put the backup in place of the database (the hub stopped)."""
    await database.engine.dispose()
    if database.owner_engine is not None:
        await database.owner_engine.dispose()
    if database.backend == "sqlite":
        live = _sqlite_file(database.settings)
        for leftover in (Path(f"{live}-wal"), Path(f"{live}-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copyfile(backup, live)
    else:
        schema = str(database.settings.database_schema)
        owner = _libpq(POSTGRES_OWNER_URL)
        await _tool("psql", "-v", "ON_ERROR_STOP=1", "-c", f'DROP SCHEMA "{schema}" CASCADE', owner)
        await _tool("pg_restore", "--exit-on-error", "-d", owner, str(backup))


async def test_a_restore_brings_erased_data_back_until_the_erasures_are_reapplied(
    database: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    erased_offence = f"offence of the erased {uuid.uuid4().hex}"
    kept_offence = f"offence of the kept {uuid.uuid4().hex}"
    erased, kept = story(erased_offence), story(kept_offence)
    backup, ledger = tmp_path / "hub.backup", tmp_path / "audit-export.jsonl"
    async with running_hub(hub_settings(database)) as hub:
        await push(hub, await hub.token("sps"), erased + kept)
        await routed(hub)
    await back_up(database, backup)

    sps_number = erased[1]["identifiers"]["sps_number"]
    erase = ("persons", "erase", f"sps_number:{sps_number}", "--reason", "court order 2026/17")
    assert await run_cli(database, monkeypatch, *erase, "--by", "dpo") == 0
    (original,) = await erasure_entries(database)
    # The ledger: the audit export, written after the erasure and kept outside the database.
    assert await run_cli(database, monkeypatch, "audit", "export", str(ledger)) == 0

    await restore(database, backup)
    assert await erasure_entries(database) == []
    async with running_hub(hub_settings(database)) as hub:
        assert await offence_of(hub, erased[1]) == erased_offence  # the problem

    # A ledger that does not verify destroys nothing.
    forged = tmp_path / "forged.jsonl"
    forged.write_text(ledger.read_text().replace('"tree_size":', '"tree_size": 1,"x":', 1))
    capsys.readouterr()
    assert (
        await run_cli(database, monkeypatch, "db", "reapply-erasures", "--from", str(forged)) == 2
    )
    assert "does not verify" in capsys.readouterr().err
    assert await erasure_entries(database) == []

    reapply = ("db", "reapply-erasures", "--from", str(ledger), "--by", "restore-operator")
    assert await run_cli(database, monkeypatch, *reapply, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert [k["key_id"] for k in report["destroyed"]] == [original["details"]["key_id"]]
    assert (report["already_destroyed"], report["absent"]) == (0, 0)

    async with running_hub(hub_settings(database)) as hub:
        assert await offence_of(hub, erased[1]) is None
        assert await offence_of(hub, kept[1]) == kept_offence
    (again,) = await erasure_entries(database)
    assert again["person_id"] == original["person_id"]
    assert again["actor"] == "restore-operator"
    assert again["fields"] == original["fields"]
    assert again["details"]["key_id"] == original["details"]["key_id"]
    assert again["details"]["reason"] == "re-applied after a restore: court order 2026/17"
    assert again["details"]["reapplies"]["erased_at"].startswith(original["occurred_at"][:19])
    # Idempotent: a second run destroys nothing and logs nothing.
    assert await run_cli(database, monkeypatch, *reapply) == 0
    assert "0 key(s) destroyed again" in capsys.readouterr().out
    assert len(await erasure_entries(database)) == 1
