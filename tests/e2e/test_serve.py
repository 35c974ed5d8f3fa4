"""The hub as a newcomer runs it: `hub serve`, `hub clients add`, a token, a first notification —
and a crash in the middle of intake that loses nothing and leaves no half-stored batch."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import httpx

from tests.e2e.conftest import HubProcess
from tests.integration.api_helpers import example


def test_readme_walkthrough(hub_process: HubProcess) -> None:
    hub_process.start()
    client = hub_process.register("sps", "events:publish events:read")
    assert client["client_id"]
    assert client["client_secret"]
    token = hub_process.token(client)
    headers = {"Authorization": f"Bearer {token}"}
    notification = example("custody.admission")

    first = httpx.post(f"{hub_process.url}/v1/events", json=notification, headers=headers)
    assert first.status_code == 201, first.text
    second = httpx.post(f"{hub_process.url}/v1/events", json=notification, headers=headers)
    assert second.status_code == 200
    assert second.json()["duplicate"] is True
    assert second.json()["position"] == first.json()["position"]

    read = httpx.get(f"{hub_process.url}{first.headers['location']}", headers=headers)
    assert read.status_code == 200
    assert read.json()["notification"]["data"] == notification["data"]

    listed = json.loads(hub_process.cli("clients", "list", "--json"))
    assert [c["client_id"] for c in listed] == [client["client_id"]]
    assert "client_secret" not in listed[0]
    assert json.loads(hub_process.cli("persons", "conflicts", "--json")) == []


def test_crash_during_intake_loses_nothing_acknowledged_and_stores_no_half_batch(
    hub_process: HubProcess,
) -> None:
    hub_process.start()
    client = hub_process.register("sps", "events:publish events:read")
    token = hub_process.token(client)
    acknowledged: list[list[str]] = []
    sent: list[list[str]] = []
    stop = threading.Event()

    def push_batches() -> None:
        with httpx.Client(
            base_url=hub_process.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as http:
            while not stop.is_set():
                batch = []
                for _ in range(20):
                    n = example("custody.admission")
                    n["id"] = str(uuid.uuid4())
                    n["identifiers"] = {"sps_number": str(uuid.uuid4().int % 10**7)}
                    batch.append(n)
                ids = [n["id"] for n in batch]
                sent.append(ids)
                try:
                    answer = http.post("/v1/events/batch", json=batch)
                except httpx.TransportError:
                    return
                if answer.status_code == 200:
                    acknowledged.append(ids)

    pushers = [threading.Thread(target=push_batches) for _ in range(3)]
    for thread in pushers:
        thread.start()
    while len(acknowledged) < 10:
        stop.wait(0.05)
    hub_process.kill()
    stop.set()
    for thread in pushers:
        thread.join(timeout=30)

    hub_process.start()
    token = hub_process.token(client)
    headers = {"Authorization": f"Bearer {token}"}
    stored: dict[str, Any] = {}
    for batch_ids in sent:
        present = [
            httpx.get(f"{hub_process.url}/v1/events/{i}", headers=headers).status_code == 200
            for i in batch_ids
        ]
        stored[batch_ids[0]] = present
        assert all(present) or not any(present), "a batch was half stored"
    for batch_ids in acknowledged:
        assert all(stored[batch_ids[0]]), "an acknowledged batch was lost"
