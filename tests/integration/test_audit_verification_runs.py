"""Recorded runs of `hub audit verify` (migration 0020), on both backends: each run, OK or
FAILED, is recorded with when it ran, which process ran it, how far into the log it checked and
the first failure it found (never the entry itself); the record is append-only."""

from __future__ import annotations

import os
import socket

import pytest
import sqlalchemy as sa

from hub.infra import tables
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, running_hub
from tests.integration.audit_tampering import change_an_entry
from tests.integration.cli_helpers import run_cli
from tests.integration.feed_helpers import about_new_person, push, routed, rows

pytestmark = pytest.mark.asyncio


async def released_and_checkpointed(hub: RunningHub) -> int:
    notifications = about_new_person(("custody.admission", "release.schedule1-notification"))
    await push(hub, await hub.token("sps"), notifications)
    await routed(hub)
    await hub.container.audit_sequencer().run_until_idle()
    await hub.container.audit_checkpointer().run_once()
    latest = await hub.container.audit_trail.latest_checkpoint()
    assert latest is not None
    return latest.tree_size


async def test_each_run_is_recorded_with_its_result(
    database: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = database.settings.model_copy(update={"router_poll_interval": 0.05})
    async with running_hub(settings) as hub:
        runs = hub.container.audit_verification_runs()
        assert await runs.latest() is None
        tree_size = await released_and_checkpointed(hub)

        assert await run_cli(database, monkeypatch, "audit", "verify") == 0
        ok = await runs.latest()
        assert ok is not None
        assert ok.result == "ok"
        assert (ok.entries, ok.latest_checkpoint, ok.held_checkpoint) == (tree_size,) * 3
        assert ok.evidence_checked
        [last] = await rows(
            hub,
            sa.select(tables.audit_leaves.c.entry_position).where(
                tables.audit_leaves.c.leaf_index == tree_size - 1
            ),
        )
        assert ok.last_position == last["entry_position"]
        assert ok.started_at <= ok.finished_at
        host, _, pid = ok.ran_by.rpartition(":")
        # run_cli runs the command in this process, as its own event loop.
        assert (host, int(pid)) == (socket.gethostname(), os.getpid())
        assert ok.failed_check is ok.failure_message is None

        [disclosure] = await rows(
            hub,
            sa.select(tables.audit_index.c.position)
            .where(tables.audit_index.c.kind == "disclosure")
            .limit(1),
        )
        await change_an_entry(database, disclosure["position"])
        capsys.readouterr()
        assert await run_cli(database, monkeypatch, "audit", "verify", "--json") == 1
        assert '"check": "leaf_hash"' in capsys.readouterr().out
        failed = await runs.latest()
        assert failed is not None
        assert failed.run_id != ok.run_id
        assert failed.result == "failed"
        assert (failed.failed_check, failed.failed_position) == (
            "leaf_hash",
            disclosure["position"],
        )
        assert failed.failure_message is not None
        assert "curiosity" not in failed.failure_message  # the entry itself is not recorded
        assert not failed.evidence_checked
        recorded = await rows(hub, sa.select(tables.audit_verification_runs.c.result))
        assert sorted(r["result"] for r in recorded) == ["failed", "ok"]


async def test_a_recorded_run_cannot_be_changed_or_removed(database: Database) -> None:
    async with running_hub(database.settings) as hub:
        outcome = await hub.container.recorded_audit_verification().run()
        assert outcome.run.ok  # an empty log verifies
        for statement in (
            "UPDATE audit_verification_runs SET result = 'ok'",
            "DELETE FROM audit_verification_runs",
        ):
            with pytest.raises(sa.exc.DBAPIError):
                async with database.engine.begin() as connection:
                    await connection.execute(sa.text(statement))
        assert (await hub.container.audit_verification_runs().latest()) == outcome.run
