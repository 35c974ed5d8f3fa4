"""A data protection officer's day, end to end against a running `hub serve`: notifications
pushed and routed, then `hub audit history` (JSON, CSV, subject access with a restriction),
`hub audit query`, `hub retention apply`, and the signed checkpoints `hub serve` publishes on its
own — all through the real CLI and HTTP API, on both backends."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import HubProcess, eventually
from tests.integration.api_helpers import example

pytestmark = pytest.mark.slow

GLASGOW_SW = "sw-glasgow-city"


def _push(hub: HubProcess, token: str, notification: dict[str, Any]) -> None:
    answer = httpx.post(
        f"{hub.url}/v1/events",
        json=notification,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text


def test_history_query_restriction_and_retention_through_the_cli(hub_process: HubProcess) -> None:
    hub = hub_process
    hub.env["HUB_AUDIT_CHECKPOINT_INTERVAL"] = "0.5"
    hub.start()
    sps = hub.token(hub.register("sps", "events:publish"))
    sps_number = str(7_000_000 + uuid.uuid4().int % 1_000_000)
    old = datetime.now(UTC) - timedelta(days=365 * 11)
    for event_type, when in (
        ("custody.admission", old),
        ("release.schedule1-notification", datetime.now(UTC)),
    ):
        notification = example(event_type)
        notification["id"] = str(uuid.uuid4())
        notification["time"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        notification["identifiers"] = {"sps_number": sps_number}
        _push(hub, sps, notification)
    person = f"sps_number:{sps_number}"

    def routed() -> dict[str, Any] | None:
        report = json.loads(
            hub.cli("audit", "history", person, "--purpose", "e2e check", "--by", "dpo", "--json")
        )
        return report if report["disclosed"] else None

    report = eventually(routed, "the router's decisions in the person's history")
    assert len(report["collected"]) == 2
    assert GLASGOW_SW in {d["recipient_id"] for d in report["disclosed"]}

    # hub serve sequences and signs on its own, every HUB_AUDIT_CHECKPOINT_INTERVAL seconds.
    dpo = hub.token(hub.register("hub-dpo", "audit:verify"))
    checkpoint = eventually(
        lambda: (
            httpx.get(
                f"{hub.url}/v1/audit/checkpoint",
                headers={"Authorization": f"Bearer {dpo}"},
                timeout=10,
            )
            .json()
            .get("tree_size")
        ),
        "a signed checkpoint",
    )
    assert checkpoint >= 1

    table = list(
        csv.DictReader(
            io.StringIO(
                hub.cli(
                    "audit",
                    "query",
                    "--person",
                    person,
                    "--recipient",
                    GLASGOW_SW,
                    "--purpose",
                    "annual review",
                    "--csv",
                )
            )
        )
    )
    assert table
    assert {row["recipient_id"] for row in table} == {GLASGOW_SW}

    restriction = json.loads(
        hub.cli(
            "audit", "restrict", person, "--ground", "crime", "--recipient", GLASGOW_SW, "--json"
        )
    )
    assert restriction["ground"] == "crime"
    subject = json.loads(
        hub.cli("audit", "history", person, "--purpose", "SAR-1", "--subject-access", "--json")
    )
    assert GLASGOW_SW not in {d["recipient_id"] for d in subject["disclosed"]}
    assert "section 45(4)" in subject["withheld"]["statement"]

    dry = json.loads(hub.cli("retention", "apply", "--dry-run", "--json"))
    assert dry["erased"] == 1
    done = json.loads(hub.cli("retention", "apply", "--json", "--by", "dpo"))
    assert done["by_type"]["custody.admission"]["erased"] == 1
    after = json.loads(hub.cli("audit", "history", person, "--purpose", "e2e check", "--json"))
    assert [e["fields"] != [] for e in after["erased"]] == [True]
    assert after["erased"][0]["actor"] == "cli:dpo"

    hub.stop()
    hub.cli("audit", "checkpoint")
    assert "OK:" in hub.cli("audit", "verify")
