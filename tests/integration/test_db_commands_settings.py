"""`hub db upgrade|current|check` run with the database's settings only: a migration Job or an
init container is given the database URLs, never the signing keys or the key-encryption key, and
production must not refuse to load without them there (it still does for every other command)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.cli import exits
from hub.cli import main as hub_cli
from tests.conftest import Database
from tests.integration.cli_helpers import run_cli

#: What production would otherwise demand: none of it is given.
_KEYS = ("HUB_TOKEN_SIGNING_KEY", "HUB_AUDIT_SIGNING_KEY", "HUB_DATA_KEK")


@pytest.mark.asyncio
async def test_schema_commands_run_in_production_without_the_keys(
    database: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in _KEYS:
        monkeypatch.delenv(name, raising=False)
    production = {"HUB_ENVIRONMENT": "production"}
    if database.settings.database_url is None:  # the embedded default, named explicitly
        production["HUB_DATABASE_URL"] = database.settings.resolved_database_url

    assert await run_cli(database, monkeypatch, "db", "upgrade", **production) == exits.OK
    assert await run_cli(database, monkeypatch, "db", "check", **production) == exits.OK
    assert await run_cli(database, monkeypatch, "db", "current", **production) == exits.OK
    out = capsys.readouterr()
    assert "database at revision" in out.out
    assert "invalid settings" not in out.err

    # Any command that reaches the data still refuses production without its keys.
    refused = await run_cli(database, monkeypatch, "audit", "verify", **production)
    assert refused == exits.USAGE
    assert (
        "HUB_TOKEN_SIGNING_KEY must be set to a real key in production" in capsys.readouterr().err
    )


def test_schema_commands_in_production_still_need_the_database_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    monkeypatch.setenv("HUB_ENVIRONMENT", "production")
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path))
    assert hub_cli(["db", "check"]) == exits.USAGE
    assert "HUB_DATABASE_URL is required in production" in capsys.readouterr().err
