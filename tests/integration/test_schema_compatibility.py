"""Rolling upgrades: code keeps serving on a later schema that declares it runs with it, and
refuses (readiness, start, `hub db check`) a schema that is behind it or breaks it; on both
backends, with the migrations run as `hub db upgrade` runs them (docs/migrations.md)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from hub.errors import StoreUnavailable
from hub.infra.db import alembic_config, migrate
from hub.infra.schema_compatibility import code_lineage, schema_verdict
from hub.settings import PROJECT_ROOT, Settings
from tests.conftest import Database
from tests.integration.api_helpers import running_hub
from tests.integration.cli_helpers import run_cli

_NEXT_MIGRATION = '''"""A later release's migration (test): {what}.

Revision ID: {revision}
Revises: {down}
"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{down}"
branch_labels = None
depends_on = None
compatible_from = "{compatible_from}"


def upgrade() -> None:
    op.add_column("clients", sa.Column("contact_note", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("contact_note")
'''


def newer_code(settings: Settings, tmp_path: Path, *, compatible_from: str | None) -> Settings:
    """The settings of a later release: this code's migrations and one more, which declares
    `compatible_from` (None: this code's head, i.e. expand-only)."""
    head = code_lineage(settings)[-1]
    revision = f"{int(head) + 1:04d}"
    migrations = tmp_path / "newer-migrations"
    shutil.copytree(PROJECT_ROOT / "migrations", migrations)
    (migrations / "versions" / f"{revision}_contact_note.py").write_text(
        _NEXT_MIGRATION.format(
            what="a nullable column",
            revision=revision,
            down=head,
            compatible_from=compatible_from or head,
        )
    )
    return settings.model_copy(update={"migrations_dir": migrations})


async def downgrade(database: Database, revision: str) -> None:
    """`alembic downgrade` as the owner: a database restored from before a migration."""
    config = alembic_config(database.settings)

    def _run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with database.owner.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()


@pytest.mark.asyncio
async def test_each_applied_migration_records_what_code_it_runs_with(database: Database) -> None:
    async with database.engine.connect() as connection:
        rows = (
            await connection.execute(
                sa.text("SELECT revision, compatible_from FROM schema_compatibility")
            )
        ).all()
    assert sorted(tuple(r) for r in rows) == [
        ("0018", "0017"),
        ("0019", "0017"),
        ("0020", "0017"),
        ("0021", "0017"),
        ("0022", "0017"),
        ("0023", "0023"),
    ]
    verdict = await schema_verdict(database.engine, database.settings)
    assert (verdict.state, verdict.database, verdict.code) == ("current", "0023", "0023")


@pytest.mark.asyncio
async def test_old_code_stays_ready_while_a_compatible_migration_runs(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = database.settings
    new = newer_code(old, tmp_path, compatible_from="0023")
    async with running_hub(old) as hub:
        assert (await hub.http.get("/readyz")).json()["checks"]["schema"] == "ok"
        await migrate(new)  # the new release's migration job, under the running old code
        ready = await hub.http.get("/readyz")
        assert ready.status_code == 200, ready.text
        schema = ready.json()["checks"]["schema"]
        assert schema.startswith("compatible:")
        assert "0024" in schema
        assert "0023" in schema
        assert ready.json()["status"] == "ok"
    async with running_hub(old) as restarted:  # an old pod restarted mid-rollout starts
        assert (await restarted.http.get("/readyz")).status_code == 200
    assert await run_cli(database, monkeypatch, "db", "check") == 0
    async with running_hub(new) as hub:  # and the new code is at its head
        assert (await hub.http.get("/readyz")).json()["checks"]["schema"] == "ok"


@pytest.mark.asyncio
async def test_old_code_goes_unready_naming_the_revisions_when_a_migration_breaks_it(
    database: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old = database.settings
    new = newer_code(old, tmp_path, compatible_from="0024")
    async with running_hub(old) as hub:
        await migrate(new)
        with caplog.at_level(logging.WARNING, logger="hub.api.routes.health"):
            unready = await hub.http.get("/readyz")
            again = await hub.http.get("/readyz")
    assert unready.status_code == 503
    assert again.status_code == 503
    assert unready.headers["Retry-After"]
    schema = unready.json()["checks"]["schema"]
    assert schema.startswith("incompatible:")
    assert "0024" in schema
    assert "0023" in schema
    refusals = [r for r in caplog.records if r.name == "hub.api.routes.health"]
    assert len(refusals) == 1  # one line when the verdict changes, not one a probe
    assert "0024" in refusals[0].getMessage()
    with pytest.raises(StoreUnavailable, match="0024"):
        async with running_hub(old):
            pass
    capsys.readouterr()
    assert await run_cli(database, monkeypatch, "db", "check", "--json") == 5
    verdict = json.loads(capsys.readouterr().out)
    assert (verdict["state"], verdict["database_revision"], verdict["code_revision"]) == (
        "incompatible",
        "0024",
        "0023",
    )
    assert verdict["compatible_from"] == "0024"


@pytest.mark.asyncio
async def test_code_goes_unready_when_the_database_is_behind_it(
    database: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_hub(database.settings) as hub:
        await downgrade(database, "0017")
        unready = await hub.http.get("/readyz")
    assert unready.status_code == 503, unready.text
    schema = unready.json()["checks"]["schema"]
    assert schema.startswith("behind:")
    assert "0017" in schema
    assert "0023" in schema
    assert "hub db upgrade" in schema
    capsys.readouterr()
    assert await run_cli(database, monkeypatch, "db", "check") == 1
    assert "behind" in capsys.readouterr().out
    assert await run_cli(database, monkeypatch, "db", "current") == 0
    shown = capsys.readouterr().out
    assert "database revision: 0017" in shown
    assert "code revision: 0023" in shown
    assert "this code runs on it: no" in shown


def test_check_on_an_unreachable_database_is_one_line_and_exit_3(tmp_path: Path) -> None:
    # Port 1 on loopback: nothing listens there. An init container must tell this from "behind".
    environ = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "db", "check"],
        env=environ
        | {
            "HUB_ENVIRONMENT": "test",
            "HUB_DATA_DIR": str(tmp_path),
            "HUB_DATABASE_URL": "postgresql+asyncpg://hub:pw-Secret-1@127.0.0.1:1/hub",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert "pw-Secret-1" not in done.stderr + done.stdout
    [line] = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith("error: cannot reach the database postgresql+asyncpg://hub@127.0.0.1:1")
