"""The router survives being killed: `hub router run` is SIGKILLed twice while routing ~2,000
notifications, then restarted until idle, and every notification ends up with exactly the
decisions a fresh in-process evaluation gives, none recorded twice, on each backend.

The policy is a tiny real bundle (`fixtures/tiny-bundle`), loaded by the CLI from
`HUB_POLICY_BUNDLE_DIR` and in-process from the same directory.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from asyncio.subprocess import PIPE, STDOUT
from pathlib import Path
from typing import Any

import pytest

from hub.domain.notifications import Notification
from hub.domain.policy import PolicyBundle
from hub.domain.schemas import SchemaRegistry
from hub.infra.audit import SqlAuditLog
from hub.infra.routing import SqlRoutingStore
from hub.infra.store import create_event_store
from hub.services.routing import CONSUMER
from tests.conftest import Database
from tests.integration.test_routing import (
    KINDS,
    PR2,
    all_events,
    expected_decisions,
    recorded_decisions,
)
from tests.unit.test_profile import DROP, example

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = Path(__file__).resolve().parent / "fixtures" / "tiny-bundle"
HUB = [sys.executable, "-m", "hub.cli"]
EVENTS = 2_000
PEOPLE = 150
ESTABLISHMENTS = ("hmp-barlinnie", "hmp-glenochil", "hmp-low-moss")


def random_notification(rng: random.Random, number: int) -> Notification:
    kind = rng.choice(sorted(KINDS))
    changes: dict[str, Any] = {}
    if kind == "custody.admission":
        changes = {
            "data.establishment": rng.choice(ESTABLISHMENTS),
            "data.schedule1_offender": rng.random() < 0.5,
        }
        if rng.random() < 0.2:
            changes.update({"data.admission_reason": "remand", "data.sentence": DROP})
    elif kind == "custody.transfer":
        changes = {
            "data.from_establishment": "hmp-barlinnie",
            "data.to_establishment": rng.choice(ESTABLISHMENTS[1:]),
        }
    elif kind == "mappa.referral":
        changes = {"data.level": rng.choice([1, 2, 3])}
    elif kind == "health.information-shared":
        changes = {"data.consent.given": rng.random() < 0.5}
    who = rng.randrange(PEOPLE)
    return example(
        kind,
        changes,
        id=f"crash-{number}",
        identifiers={"sps_number": str(8_000_000 + who)},
    )


def environment(database: Database) -> dict[str, str]:
    """The environment of a `hub` process on the test's database, with the tiny bundle."""
    settings = database.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_ENVIRONMENT": "development",
            "HUB_DATA_DIR": str(settings.data_dir),
            "HUB_POLICY_BUNDLE_DIR": str(BUNDLE),
        }
    )
    if settings.database_url is not None:
        env["HUB_DATABASE_URL"] = settings.database_url.get_secret_value()
    if settings.database_schema is not None:
        env["HUB_DATABASE_SCHEMA"] = settings.database_schema
    return env


async def hub_command(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run `hub ARGS` to the end: its exit code, standard output and standard error."""
    process = await asyncio.create_subprocess_exec(
        *HUB, *args, env=env, cwd=ROOT, stdout=PIPE, stderr=PIPE
    )
    async with asyncio.timeout(300):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def kill_when_past(env: dict[str, str], routing: SqlRoutingStore, position: int) -> int:
    """Start `hub router run`, SIGKILL it as soon as its checkpoint passes `position`, and
    return the checkpoint it got to."""
    process = await asyncio.create_subprocess_exec(
        *HUB, "router", "run", "--batch-size", "10", "--poll-interval", "0.05",
        env=env, cwd=ROOT, stdout=PIPE, stderr=STDOUT,
    )  # fmt: skip
    try:
        async with asyncio.timeout(120):
            while (checkpoint := await routing.checkpoint(CONSUMER)) < position:
                if process.returncode is not None:
                    break
                await asyncio.sleep(0.002)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
        output, _ = await process.communicate()
    assert process.returncode == -signal.SIGKILL, f"the router exited:\n{output.decode()}"
    return checkpoint


@pytest.mark.asyncio
@pytest.mark.slow
async def test_a_killed_router_restarts_and_records_every_decision_exactly_once(
    database: Database,
) -> None:
    audit = SqlAuditLog(database.engine)
    store = create_event_store(database.engine, audit=audit)
    routing = SqlRoutingStore(database.engine, audit=audit)
    rng = random.Random(2009)
    notifications = [random_notification(rng, n) for n in range(EVENTS)]
    for start in range(0, EVENTS, 200):
        await store.append(notifications[start : start + 200], publisher=PR2)
    last = await store.last_position()

    env = environment(database)
    killed_at = [await kill_when_past(env, routing, int(last * f)) for f in (0.25, 0.6)]
    assert 0 < killed_at[0] < killed_at[1] < last, f"not killed mid-stream: {killed_at} of {last}"

    code, _, err = await hub_command(env, "router", "run", "--until-idle")
    assert code == 0, err
    assert await routing.checkpoint(CONSUMER) == last

    policy = PolicyBundle.load(BUNDLE, SchemaRegistry.load(database.settings.events_dir))
    expected = expected_decisions(await all_events(store), policy)
    recorded = await recorded_decisions(database.engine)
    assert set(recorded.values()) == {1}, "a decision was recorded twice"
    missing, extra = expected - recorded, recorded - expected
    assert not missing, f"{len(missing)} decisions missing, e.g. {sorted(missing)[:3]}"
    assert not extra, f"{len(extra)} decisions not expected, e.g. {sorted(extra)[:3]}"
    permitted = sum(1 for key in recorded if key[3])
    followed = sum(1 for key in recorded if key[0] != key[2])
    # Every kind of decision was exercised: permitted, denied, and followed the person.
    assert 0 < permitted < len(recorded)
    assert followed > 0

    # Rebuilding the profiles by replay gives the ones the router built.
    routed_profiles = await routing.all_profiles()
    code, out, err = await hub_command(env, "projections", "rebuild")
    assert code == 0, err
    assert f"rebuilt {len(routed_profiles)} person profiles up to position {last}" in out
    assert await routing.all_profiles() == routed_profiles
