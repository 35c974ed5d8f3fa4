"""The hub as a newcomer runs it: `hub serve`, `hub clients add`, a token, a first notification —
and a crash in the middle of intake that loses nothing and leaves no half-stored batch."""

from __future__ import annotations

import json
import resource
import socket
import threading
import time
import uuid
from pathlib import Path
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


def _closed_by_the_hub(connection: socket.socket, trickle: bytes, within: float) -> bytes:
    """Send `trickle` a byte at a time, slowly, until the hub closes the connection; what it
    answered before closing. Fails if the connection is still open after `within` seconds."""
    connection.settimeout(0.5)
    answered = b""
    deadline = time.monotonic() + within
    sent = 0
    while time.monotonic() < deadline:
        try:
            if sent < len(trickle):
                connection.sendall(trickle[sent : sent + 1])
                sent += 1
            chunk = connection.recv(4096)
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return answered
        if not chunk:
            return answered
        answered += chunk
    raise AssertionError(f"the connection was still open after {within} s (sent {sent} bytes)")


def test_slow_clients_are_cut_off_and_the_hub_keeps_serving(hub_process: HubProcess) -> None:
    hub_process.env.update(
        {"HUB_HTTP_HEADER_TIMEOUT_SECONDS": "2", "HUB_HTTP_BODY_TIMEOUT_SECONDS": "2"}
    )
    hub_process.start()
    address = ("127.0.0.1", hub_process.port)
    # A request head sent a byte at a time, never finished (slowloris).
    head = b"GET /healthz HTTP/1.1\r\nHost: hub\r\n" + b"X-Slow: " + b"a" * 1000
    # A connection that says nothing at all.
    with (
        socket.create_connection(address) as slow_head,
        socket.create_connection(address) as silent,
        socket.create_connection(address) as slow_body,
    ):
        # A complete head announcing a body that never comes.
        slow_body.sendall(
            b"POST /v1/events HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
            b"Content-Length: 5000\r\n\r\n{"
        )
        answered = _closed_by_the_hub(slow_head, head, within=60)
        assert answered == b"" or answered.startswith(b"HTTP/1.1 408")
        _closed_by_the_hub(silent, b"", within=60)
        _closed_by_the_hub(slow_body, b"", within=60)
    # The hub is still serving others.
    assert httpx.get(f"{hub_process.url}/healthz", timeout=10).status_code == 200


def test_hub_serve_raises_its_open_file_limit_to_the_hard_limit(hub_process: HubProcess) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(256, hard)

    def lowered() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))

    hub_process.start(preexec_fn=lowered)
    assert hub_process.process is not None
    limits = Path(f"/proc/{hub_process.process.pid}/limits").read_text(encoding="ascii")
    line = next(x for x in limits.splitlines() if x.startswith("Max open files"))
    raised_soft, raised_hard = line.split()[3:5]
    assert raised_soft == raised_hard == str(hard)
    assert hard > low
