"""What `hub serve` writes to its log, run as an operator runs it: JSON lines, each request's id
on its lines and echoed to the caller, and none of the identifiers or facts of the people the
notifications are about — not in access lines (paths and query strings carry identifiers), not
from the router, the audit or the workers (issue 17, item 3)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import HubProcess, eventually
from tests.integration.api_helpers import example

pytestmark = pytest.mark.slow


def test_the_log_is_json_with_request_ids_and_no_identifiers(hub_process: HubProcess) -> None:
    hub = hub_process
    hub.env["HUB_LOG_LEVEL"] = "debug"
    hub.start()
    sps = hub.token(hub.register("sps", "events:publish"))
    dpo = hub.token(hub.register("hub-dpo", "audit:read"))
    marker = uuid.uuid4().hex[:10]
    sps_number = str(7_000_000 + uuid.uuid4().int % 1_000_000)
    pnc = f"26/{uuid.uuid4().int % 1_000_000:06d}Q"
    secrets = [sps_number, pnc, pnc.replace("/", "%2F"), marker]
    for event_type in ("custody.admission", "release.schedule1-notification"):
        notification = example(event_type)
        notification["id"] = str(uuid.uuid4())
        notification["identifiers"] = {"sps_number": sps_number, "pnc_id": pnc}
        if event_type == "custody.admission":
            notification["data"]["committing_court"] = f"Sheriff Court {marker}"
        answer = httpx.post(
            f"{hub.url}/v1/events",
            json=notification,
            headers={"Authorization": f"Bearer {sps}", "X-Request-ID": f"push-{event_type}"},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        assert answer.headers["x-request-id"] == f"push-{event_type}"
    refused = httpx.post(
        f"{hub.url}/v1/events",
        json={"identifiers": {"pnc_id": pnc}, "data": {"court": marker}},
        headers={"Authorization": f"Bearer {sps}"},
        timeout=10,
    )
    assert refused.status_code in (400, 422), refused.text
    generated = refused.headers["x-request-id"]

    def history() -> dict[str, Any] | None:
        answer = httpx.get(
            f"{hub.url}/v1/audit/persons/pnc_id:{pnc}/history",
            params={"purpose": f"log check {marker}"},
            headers={"Authorization": f"Bearer {dpo}", "X-Purpose": "log check"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        report: dict[str, Any] = answer.json()
        return report if report["disclosed"] else None

    report = eventually(history, "the router's decisions in the person's history")
    secrets.append(report["person_id"])
    httpx.get(
        f"{hub.url}/v1/audit/disclosures",
        params={"person": f"pnc_id:{pnc}"},
        headers={"Authorization": f"Bearer {dpo}", "X-Purpose": "log check"},
        timeout=10,
    )
    for _ in range(3):
        assert httpx.get(f"{hub.url}/readyz", timeout=10).status_code == 200
    hub.stop()

    lines = [line for line in hub.log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    leaked = [line for line in lines if any(secret in line for secret in secrets)]
    assert leaked == []
    access = [r for r in records if r["logger"] == "hub.access"]
    pushes = [r for r in access if r["request_id"].startswith("push-")]
    assert {(r["method"], r["route"], r["status"]) for r in pushes} == {("POST", "/v1/events", 201)}
    assert any(r["request_id"] == generated for r in access)
    routes = {r["route"] for r in access}
    assert "/v1/audit/persons/{person:path}/history" in routes
    # uvicorn's own lines (server start and stop) without its ANSI-coloured copy of the message.
    started = [
        r for r in records if r["logger"] == "uvicorn.error" and "running on" in r["message"]
    ]
    assert started, [r["message"] for r in records if r["logger"].startswith("uvicorn")]
    assert [r for r in records if "color_message" in r] == []
    assert not [line for line in lines if "\\u001b[" in line or "\x1b[" in line]
    # Alembic speaks while migrating (at startup on the embedded default), not on each probe.
    assert not [r for r in records if r["logger"].startswith("alembic") and "request_id" in r]
