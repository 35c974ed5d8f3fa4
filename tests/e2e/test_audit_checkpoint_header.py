"""A recipient keeps the checkpoint the hub hands it (`Pph-Audit-Checkpoint` on the streaming
feed) and gives it back to `hub audit verify --checkpoint FILE`: against a real `hub serve`,
the log verifies against it, and once rolled back below it, verify fails."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from hub.infra.db import create_engine
from tests.e2e.conftest import HUB, HubProcess
from tests.e2e.test_audit_cli import _settings
from tests.e2e.test_feed_stream import GLASGOW_SW, release_of_a_new_person
from tests.integration.api_helpers import bearer

pytestmark = pytest.mark.slow


async def _stream_header(hub: HubProcess) -> str:
    publisher = bearer(hub.token(hub.register("sps", "events:publish")))
    reader = bearer(hub.token(hub.register(GLASGOW_SW, "feed:read")))
    async with httpx.AsyncClient(base_url=hub.url, timeout=10) as http:
        for notification in release_of_a_new_person():
            answer = await http.post("/v1/events", json=notification, headers=publisher)
            assert answer.status_code == 201, answer.text
        for _ in range(200):  # the hub's checkpointer signs every 0.1 s
            async with http.stream("GET", "/v1/feed/stream", headers=reader) as response:
                assert response.status_code == 200
                value = response.headers.get("pph-audit-checkpoint")
            if value is not None:
                return value
            await asyncio.sleep(0.05)
    raise AssertionError("no Pph-Audit-Checkpoint header on the stream")


def _roll_back_everything(hub: HubProcess) -> None:
    """An insider with the database empties the log and its checkpoints."""

    async def run() -> None:
        engine = create_engine(_settings(hub, owner=True))
        try:
            async with engine.begin() as connection:
                for table in (
                    "audit_entries",
                    "audit_leaves",
                    "audit_subtrees",
                    "audit_checkpoints",
                ):
                    if engine.dialect.name == "postgresql":
                        await connection.execute(
                            sa.text(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
                        )
                        await connection.execute(
                            sa.text(f"GRANT DELETE ON {table} TO CURRENT_USER")
                        )
                    else:
                        await connection.execute(sa.text(f"DROP TRIGGER {table}_no_delete"))
                    await connection.execute(sa.text(f"DELETE FROM {table}"))
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_a_recipient_s_checkpoint_from_the_stream_catches_a_rollback(
    hub_process: HubProcess, tmp_path: Path
) -> None:
    hub = hub_process
    hub.env["HUB_AUDIT_CHECKPOINT_INTERVAL"] = "0.1"
    hub.start()
    value = asyncio.run(_stream_header(hub))
    held = tmp_path / "received.txt"
    held.write_text(value)
    out = hub.cli("audit", "verify", "--checkpoint", str(held))
    assert "OK:" in out
    assert "held outside the database" in out
    hub.stop()

    _roll_back_everything(hub)
    done = subprocess_verify(hub, held)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "FAILED (external_checkpoint_beyond_tree)" in done.stderr
    assert "rolled back" in done.stderr


def subprocess_verify(hub: HubProcess, held: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HUB, "audit", "verify", "--checkpoint", str(held)],
        env=hub.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
