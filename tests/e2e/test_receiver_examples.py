"""The receiver examples (`examples/receivers/`), Python and Java, run as an agency runs them.

First against a stand-in for the hub's API, requests signed as the hub signs them: each verifies
`v1` and `v1a` signatures, refuses forged, tampered and stale requests, handles a disclosure once
however often it comes (across a restart too), and asks for a retry when it cannot acknowledge.
Then against a live `hub serve` (embedded SQLite): a pushed notification is verified and
acknowledged (the hub shows it), a disclosure made while the receiver was down is caught up from
the feed at its restart, and the hub's replay of it is recognised as a duplicate."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from standardwebhooks import Webhook

from tests.e2e.conftest import HUB, HubProcess, free_port
from tests.e2e.receivers import (
    KINDS,
    ReceiverProcess,
    StandInHub,
    build_java,
    public_key,
    running,
    signed_headers,
    stand_in_hub,
    v2_body,
)

pytestmark = pytest.mark.slow

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 bytes, as the specification allows
EXAMPLES = Path(__file__).resolve().parents[2] / "events" / "examples"


@pytest.fixture(scope="module", params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    if request.param == "java":
        build_java()
    kind: str = request.param
    return kind


# -- verification, against a stand-in for the hub ------------------------------------------------


@pytest.fixture
def hub_stand_in() -> Iterator[StandInHub]:
    with stand_in_hub() as hub:
        yield hub


@pytest.fixture
def hub_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def receiver(
    kind: str, tmp_path: Path, hub_stand_in: StandInHub, hub_key: Ed25519PrivateKey
) -> ReceiverProcess:
    return ReceiverProcess(
        kind,
        {
            "PPH_HUB_URL": hub_stand_in.url,
            "PPH_CLIENT_ID": "c_receiver",
            "PPH_CLIENT_SECRET": "secret",
            "PPH_WEBHOOK_SECRET": SECRET,
            "PPH_WEBHOOK_PUBLIC_KEYS": public_key(hub_key),
            "PPH_STATE": str(tmp_path / "state"),
        },
        tmp_path / "receiver.log",
    )


def post(receiver: ReceiverProcess, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(receiver.url, content=body, headers=headers, timeout=30)


def test_a_v1_signed_disclosure_is_handled_and_acknowledged_once(
    receiver: ReceiverProcess, hub_stand_in: StandInHub
) -> None:
    body = v2_body("d_first")
    headers = signed_headers(body, "msg_first", secret=SECRET)
    # The library that signed it also accepts it: the headers are what the hub sends.
    Webhook(SECRET).verify(body, headers)
    with running(receiver):
        first = post(receiver, body, headers)
        again = post(receiver, body, headers)
    assert (first.status_code, first.json()) == (200, {"status": "processed"})
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    assert hub_stand_in.acks == ["d_first"]


def test_a_v1a_signature_verifies_with_the_hubs_public_key(
    receiver: ReceiverProcess, hub_stand_in: StandInHub, hub_key: Ed25519PrivateKey
) -> None:
    body = v2_body("d_ed25519")
    with running(receiver):
        answer = post(receiver, body, signed_headers(body, "msg_ed25519", key=hub_key))
    assert (answer.status_code, answer.json()) == (200, {"status": "processed"})
    assert hub_stand_in.acks == ["d_ed25519"]


def test_forged_tampered_and_stale_requests_are_refused(
    receiver: ReceiverProcess, hub_stand_in: StandInHub
) -> None:
    body = v2_body("d_forged")
    other_key = Ed25519PrivateKey.generate()
    now = datetime.now(UTC)
    attempts = {
        "another secret": signed_headers(body, "m1", secret="whsec_" + "A" * 32),
        "another key": signed_headers(body, "m2", key=other_key),
        "ten minutes old": signed_headers(
            body, "m3", secret=SECRET, at=now - timedelta(minutes=10)
        ),
        "ten minutes ahead": signed_headers(
            body, "m4", secret=SECRET, at=now + timedelta(minutes=10)
        ),
        "no signature": {"webhook-id": "m5", "webhook-timestamp": str(int(now.timestamp()))},
    }
    tampered = v2_body("d_tampered")
    with running(receiver):
        answers = {
            why: post(receiver, body, headers).status_code for why, headers in attempts.items()
        }
        answers["tampered body"] = post(
            receiver, tampered, signed_headers(body, "m6", secret=SECRET)
        ).status_code
    assert answers == dict.fromkeys([*attempts, "tampered body"], 401)
    assert hub_stand_in.acks == []
    assert len(receiver.lines("rejected")) == 6


def test_a_restart_still_recognises_what_was_handled(
    receiver: ReceiverProcess, hub_stand_in: StandInHub
) -> None:
    body = v2_body("d_restart")
    with running(receiver):
        assert post(receiver, body, signed_headers(body, "msg_a", secret=SECRET)).json() == {
            "status": "processed"
        }
    with running(receiver):
        # The same webhook-id again (a retry), and the same disclosure under another id.
        retried = post(receiver, body, signed_headers(body, "msg_a", secret=SECRET))
        replayed = post(receiver, body, signed_headers(body, "msg_b", secret=SECRET))
    assert retried.json() == replayed.json() == {"status": "duplicate"}
    assert hub_stand_in.acks == ["d_restart"]


def test_the_payload_version_1_body_is_read_too(
    receiver: ReceiverProcess, hub_stand_in: StandInHub
) -> None:
    body = json.dumps(
        {"disclosure": {"id": "d_v1", "event_type": "custody.release"}, "notification": {}}
    ).encode()
    with running(receiver):
        answer = post(receiver, body, signed_headers(body, "msg_v1", secret=SECRET))
    assert answer.json() == {"status": "processed"}
    assert hub_stand_in.acks == ["d_v1"]


def test_a_failed_acknowledgement_asks_for_a_retry_and_is_not_marked_handled(
    receiver: ReceiverProcess, hub_stand_in: StandInHub
) -> None:
    body = v2_body("d_unacknowledged")
    headers = signed_headers(body, "msg_unacknowledged", secret=SECRET)
    with running(receiver):
        hub_stand_in.ack_status = 503
        failed = post(receiver, body, headers)
        hub_stand_in.ack_status = 201
        retried = post(receiver, body, headers)
    assert failed.status_code == 503
    assert retried.json() == {"status": "processed"}
    assert hub_stand_in.acks == ["d_unacknowledged"]


def test_at_start_it_catches_up_from_its_saved_feed_position(
    receiver: ReceiverProcess, hub_stand_in: StandInHub
) -> None:
    def item(seq: int) -> dict[str, Any]:
        return {"seq": seq, "disclosure_id": f"d_feed{seq}", "event_type": "t", "notification": {}}

    hub_stand_in.feed = [item(1), item(2)]
    with running(receiver):
        pass
    hub_stand_in.feed.append(item(3))
    with running(receiver):
        pass
    # Each disclosure once: the second start read only what came after position 2.
    assert hub_stand_in.acks == ["d_feed1", "d_feed2", "d_feed3"]
    assert receiver.lines("caught up")[-1].endswith("1 new, position 2 -> 3")


# -- against a live hub --------------------------------------------------------------------------

RECIPIENT = "sw-glasgow-city"
RELEASE = "release.schedule1-notification"


@pytest.fixture
def live_hub(tmp_path: Path) -> Iterator[HubProcess]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_ENVIRONMENT": "development",
            "HUB_DATA_DIR": str(tmp_path / "data"),
            # The receiver is on this machine: allowed in development only (README).
            "HUB_WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
            # One retry, soon: a delivery to a stopped receiver is dead within a second.
            "HUB_WEBHOOK_RETRY_SCHEDULE": "[0.2]",
            "HUB_WEBHOOK_TIMEOUT_SECONDS": "20",
            "HUB_DELIVERY_POLL_INTERVAL": "0.1",
            "HUB_ROUTER_POLL_INTERVAL": "0.1",
        }
    )
    hub = HubProcess(env=env, port=free_port(), log=tmp_path / "hub.log")
    try:
        yield hub
    finally:
        hub.stop()


def register(hub: HubProcess, agency: str, scopes: str) -> dict[str, Any]:
    """`hub clients add`, as the README's walkthrough does (slow on a busy machine)."""
    arguments = ["--name", f"e2e {agency}", "--agency", agency, "--scope", scopes, "--json"]
    done = subprocess.run(
        [*HUB, "clients", "add", *arguments],
        env=hub.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    client: dict[str, Any] = json.loads(done.stdout)
    return client


class Api:
    """The hub's API as one client uses it."""

    def __init__(self, hub: HubProcess, client: dict[str, Any]) -> None:
        self.hub = hub
        self.client = client

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.hub.token(self.client)}", "X-Purpose": "e2e"}
        return httpx.request(method, f"{self.hub.url}{path}", headers=headers, timeout=30, **kwargs)

    def push_release(self) -> None:
        """A Schedule 1 release notice about a new person (Glasgow social work receives it)."""
        notification = json.loads((EXAMPLES / f"{RELEASE}.json").read_text())
        notification["id"] = str(uuid.uuid4())
        notification["identifiers"]["sps_number"] = str(uuid.uuid4().int % 10_000_000)
        notification["identifiers"].pop("pnc_id")
        notification["identifiers"].pop("sw_client_id")
        answer = self.call("POST", "/v1/events", json=notification)
        assert answer.status_code == 201, answer.text

    def disclosure(self, disclosure_id: str) -> dict[str, Any]:
        answer = self.call("GET", f"/v1/disclosures/{disclosure_id}")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def deliveries(self, status: str) -> list[dict[str, Any]]:
        answer = self.call("GET", "/v1/deliveries", params={"status": status})
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()["deliveries"]
        return found


def test_against_a_live_hub_verify_acknowledge_catch_up_and_ignore_a_replay(
    kind: str, live_hub: HubProcess, tmp_path: Path
) -> None:
    sps = Api(live_hub, register(live_hub, "sps", "events:publish"))
    # The receiver needs only feed:read; subscriptions:manage is for making the subscription.
    social_work = Api(live_hub, register(live_hub, RECIPIENT, "feed:read subscriptions:manage"))
    live_hub.start()
    receiver = ReceiverProcess(kind, {}, tmp_path / "receiver.log")
    created = social_work.call("POST", "/v1/subscriptions", json={"url": receiver.url})
    assert created.status_code == 201, created.text
    receiver.env = {
        "PPH_HUB_URL": live_hub.url,
        "PPH_CLIENT_ID": social_work.client["client_id"],
        "PPH_CLIENT_SECRET": social_work.client["client_secret"],
        "PPH_WEBHOOK_SECRET": created.json()["secret"],
        "PPH_STATE": str(tmp_path / "state"),
    }

    # 1. Up: the webhook arrives, is verified, handled and acknowledged.
    with running(receiver):
        sps.push_release()
        line = receiver.wait_for("processed", "via=webhook")
    first = line.split("disclosure=")[1].split()[0]
    # The worker records the webhook's receipt once the receiver has answered it, which may be
    # after the receiver logged it: a read through the API before that would itself be the
    # first receipt (any read by the recipient is), so the test waits for the webhook's.
    _wait(lambda: [d for d in social_work.deliveries("delivered") if d["disclosure_id"] == first])
    shown = social_work.disclosure(first)
    assert shown["acknowledged_at"] is not None
    assert shown["delivery_channel"] == "webhook"

    # 2. Down: the next disclosure's webhook fails until the delivery is dead.
    sps.push_release()
    (missed,) = _wait(lambda: social_work.deliveries("dead"))
    assert social_work.disclosure(missed["disclosure_id"])["acknowledged_at"] is None

    # 3. Restarted: it reads the feed from where it was and acknowledges what it missed.
    with running(receiver):
        receiver.wait_for("processed", f"disclosure={missed['disclosure_id']} ")
        assert receiver.lines("processed")[-1].endswith("via=feed")
        assert social_work.disclosure(missed["disclosure_id"])["acknowledged_at"] is not None

        # 4. The dead delivery is replayed (same webhook-id): recognised as already handled.
        replayed = social_work.call("POST", f"/v1/deliveries/{missed['id']}/replay")
        assert replayed.status_code == 200, replayed.text
        receiver.wait_for("duplicate", f"disclosure={missed['disclosure_id']}")
        _wait(lambda: [d for d in social_work.deliveries("delivered") if d["id"] == missed["id"]])
    handled = [line.split("disclosure=")[1].split()[0] for line in receiver.lines("processed")]
    assert handled == [first, missed["disclosure_id"]]  # each once
    assert receiver.lines("rejected") == []


def _wait(found: Any, within: float = 60.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = found()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError("timed out")
