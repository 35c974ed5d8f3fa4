"""Running `hub …` commands from an integration test, against the test's database."""

from __future__ import annotations

import asyncio

import pytest

from hub.cli import main as hub_cli
from tests.conftest import Database


async def run_cli(
    database: Database, monkeypatch: pytest.MonkeyPatch, *args: str, **env: str
) -> int:
    """`hub ARGS` with the settings of `database` (and `env`) in the environment."""
    settings = database.settings
    monkeypatch.setenv("HUB_ENVIRONMENT", "test")
    monkeypatch.setenv("HUB_DATA_DIR", str(settings.data_dir))
    if settings.database_url is not None:
        monkeypatch.setenv("HUB_DATABASE_URL", settings.database_url.get_secret_value())
    if settings.database_schema is not None:
        monkeypatch.setenv("HUB_DATABASE_SCHEMA", settings.database_schema)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The command runs its own event loop: run it in a thread, as an operator's shell would.
    return await asyncio.to_thread(hub_cli, list(args))
