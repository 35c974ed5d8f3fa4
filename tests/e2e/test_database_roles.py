"""`hub serve` and the operator's commands, as deployed with two PostgreSQL roles: the schema
migrated by the owner (`hub db upgrade` with HUB_DATABASE_MIGRATION_URL), and everything else run
as the runtime role, which owns nothing (`hub.infra.grants`). The hub works end to end: intake,
routing, the feed, acknowledgement, erasure of a person, audit checkpoint and verification; and
the runtime role alone can neither migrate nor switch off the triggers."""

from __future__ import annotations

import subprocess
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import POSTGRES_RUNTIME_ROLE
from tests.e2e.conftest import HUB, HubProcess
from tests.integration.api_helpers import example

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.parametrize("hub_process", ["postgres"], indirect=True),
]

GLASGOW_SW = "sw-glasgow-city"


def _feed(hub: HubProcess, reader: dict[str, str]) -> list[dict[str, Any]]:
    answer = httpx.get(f"{hub.url}/v1/feed", headers=reader, timeout=10)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_the_hub_runs_end_to_end_as_the_runtime_role(hub_process: HubProcess) -> None:
    hub = hub_process
    assert hub.owner_url is not None
    assert hub.owner_url not in hub.env.values()  # the hub is never given the owner's URL
    hub.start()
    publisher = {"Authorization": f"Bearer {hub.token(hub.register('sps', 'events:publish'))}"}
    reader = {"Authorization": f"Bearer {hub.token(hub.register(GLASGOW_SW, 'feed:read'))}"}
    sps_number = str(7_000_000 + uuid.uuid4().int % 1_000_000)
    notification = example("release.schedule1-notification")
    notification["id"] = str(uuid.uuid4())
    notification["identifiers"] = {"sps_number": sps_number}
    pushed = httpx.post(f"{hub.url}/v1/events", json=notification, headers=publisher, timeout=10)
    assert pushed.status_code == 201, pushed.text

    deadline = time.monotonic() + 30
    while not (items := _feed(hub, reader)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [item["notification"]["id"] for item in items] == [notification["id"]]
    acknowledged = httpx.post(
        f"{hub.url}/v1/disclosures/{items[0]['disclosure_id']}/ack", headers=reader, timeout=10
    )
    assert acknowledged.status_code == 201, acknowledged.text

    hub.cli("persons", "erase", f"sps_number:{sps_number}", "--reason", "e2e", "--by", "dpo")
    hub.stop()
    hub.cli("audit", "checkpoint")
    assert "OK:" in hub.cli("audit", "verify")
    log = hub.log.read_text()
    assert "runs as the owner of its tables" not in log


def test_the_runtime_role_alone_cannot_migrate(hub_process: HubProcess) -> None:
    # Without the owner's URL, `hub db upgrade` runs as the runtime role: the schema is already
    # at head, so it has nothing to create, but re-granting is the owner's and is refused.
    done = subprocess.run(
        [*HUB, "db", "upgrade"],
        env={**hub_process.env, "HUB_DATABASE_RUNTIME_ROLE": POSTGRES_RUNTIME_ROLE},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "is the role running the migrations" in done.stderr
