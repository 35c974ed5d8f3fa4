"""The rules webhooks follow, without I/O: which URLs and addresses the hub will call, the
signing secrets and signatures, the retry schedule, and what a worker makes of each answer."""

from __future__ import annotations

import base64
import random
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from standardwebhooks import Webhook

from hub.errors import Conflict, InvalidRequest, NotFound
from hub.infra.webhooks import HttpWebhookSender
from hub.services.delivery import DeliveryJob, DeliveryWorker, Finish, WebhookResponse, sign
from hub.services.subscriptions import Subscription, SubscriptionService
from hub.services.webhook_rules import (
    JITTER,
    RefusedUrl,
    address_problem,
    generate_secret,
    parse_webhook_url,
    retry_delay,
)
from hub.services.webhook_signing import WebhookSigner, WebhookSigningKey

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

# -- URLs and addresses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("https://hooks.example.gov.uk/pph", "hooks.example.gov.uk", 443),
        ("https://Hooks.Example.gov.uk.:8443/a?b=c", "hooks.example.gov.uk", 8443),
        ("https://1.1.1.1/hook", "1.1.1.1", 443),
        ("https://[2606:4700:4700::1111]/hook", "2606:4700:4700::1111", 443),
    ],
)
def test_public_https_urls_are_accepted(url: str, host: str, port: int) -> None:
    target = parse_webhook_url(url, require_https=True)
    assert (target.url, target.host, target.port, target.scheme) == (url, host, port, "https")


def test_plain_http_only_when_https_is_not_required() -> None:
    assert parse_webhook_url("http://1.1.1.1/hook", require_https=False).port == 80
    with pytest.raises(RefusedUrl, match="must use https"):
        parse_webhook_url("http://1.1.1.1/hook", require_https=True)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://hooks.example/x", "absolute http or https"),
        ("hooks.example/x", "absolute http or https"),
        ("https:///x", "must name a host"),
        ("https://u:p@hooks.example/x", "credentials"),
        ("https://token@hooks.example/x", "credentials"),
        ("https://hooks.example/x#frag", "fragment"),
        ("https://hooks.example/a b", "spaces"),
        ("https://hooks.example:99999/x", "not a valid URL"),
        ("https://hooks.example/" + "x" * 2048, "at most 2048"),
        ("https://localhost/x", "this machine"),
        ("https://api.localhost/x", "this machine"),
        ("https://127.0.0.1/x", "loopback"),
        ("https://[::1]/x", "loopback"),
        ("https://10.0.0.1/x", "private"),
        ("https://[fe80::1]/x", "link-local"),
        ("https://169.254.169.254/x", "link-local"),
        ("https://0.0.0.0/x", "unspecified"),
        ("https://239.1.1.1/x", "multicast"),
        ("https://240.0.0.1/x", "private"),
        ("https://100.64.0.1/x", "non-public"),
        ("https://[::ffff:10.0.0.1]/x", "private"),
        ("https://[2002:7f00:1::1]/x", "carrying 127.0.0.1"),
        ("https://[64:ff9b::a00:1]/x", "reserved"),
    ],
)
def test_refused_urls_say_why(url: str, message: str) -> None:
    with pytest.raises(RefusedUrl, match=message):
        parse_webhook_url(url, require_https=True)


def test_private_literals_pass_when_allowed() -> None:
    for url in ("http://127.0.0.1:8080/x", "http://localhost/x", "http://[::1]/x"):
        parse_webhook_url(url, require_https=False, allow_private=True)


@pytest.mark.parametrize(
    ("address", "category"),
    [
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("127.0.0.53", "loopback"),
        ("::1", "loopback"),
        ("192.168.1.1", "private"),
        ("172.31.255.255", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.0.5", "link-local"),
        ("ff02::1", "multicast"),
        ("224.0.0.251", "multicast"),
        ("::", "unspecified"),
        ("192.0.2.1", "private"),  # documentation (TEST-NET-1)
        ("100.100.100.100", "non-public"),  # carrier-grade NAT
        ("::ffff:192.168.0.1", "private"),
    ],
)
def test_address_categories(address: str, category: str | None) -> None:
    problem = address_problem(address)
    if category is None:
        assert problem is None
    else:
        assert problem is not None
        assert problem.startswith(f"a {category} address")


# -- secrets and signatures ----------------------------------------------------------------------


def test_secrets_are_standard_webhooks_secrets() -> None:
    secrets = {generate_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) >= 24


def test_every_current_secret_signs() -> None:
    old, new = generate_secret(), generate_secret()
    body = b'{"disclosure":{"id":"d_1"},"notification":{"id":"x","note":"caf\xc3\xa9"}}'
    now = datetime.now(UTC)
    headers = sign("d_1", now, body, [new, old])
    assert headers["webhook-id"] == "d_1"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["content-type"] == "application/json"
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers)["disclosure"]["id"] == "d_1"
    with pytest.raises(Exception, match="signature"):
        Webhook(generate_secret()).verify(body, headers)


# -- the retry schedule --------------------------------------------------------------------------


def test_retries_follow_the_schedule_with_jitter() -> None:
    schedule = (5.0, 300.0, 1800.0)
    rng = random.Random(7)
    for attempt, base in enumerate(schedule, start=1):
        waits = [retry_delay(schedule, attempt, rng) for _ in range(500)]
        seconds = [w.total_seconds() for w in waits if w is not None]
        assert len(seconds) == 500
        assert min(seconds) >= base * (1 - JITTER)
        assert max(seconds) <= base * (1 + JITTER)
        assert max(seconds) - min(seconds) > base * JITTER  # spread, not one instant
    assert retry_delay(schedule, len(schedule) + 1, rng) is None
    assert retry_delay((), 1, rng) is None
    with pytest.raises(ValueError, match="numbered from 1"):
        retry_delay(schedule, 0, rng)


def test_the_default_schedule_spans_about_a_day() -> None:
    from hub.settings import Settings

    schedule = Settings().webhook_retry_schedule
    assert 24 * 3600 < sum(schedule) < 30 * 3600


# -- subscriptions: names are resolved and every address checked ------------------------------


class FakeResolver:
    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names

    async def resolve(self, host: str, port: int) -> list[str]:
        return self.names.get(host, [])


class MemorySubscriptions:
    def __init__(self) -> None:
        self.stored: dict[str, Subscription] = {}

    async def add(self, subscription: Subscription) -> None:
        self.stored[subscription.subscription_id] = subscription

    async def get(self, subscription_id: str) -> Subscription | None:
        return self.stored.get(subscription_id)

    async def list_for(self, recipient_id: str, *, include_deleted: bool) -> list[Subscription]:
        return [s for s in self.stored.values() if s.recipient_id == recipient_id]

    async def change(
        self, subscription_id: str, change: Callable[[Subscription], Subscription]
    ) -> Subscription:
        found = self.stored.get(subscription_id)
        if found is None:
            raise NotFound(subscription_id)
        self.stored[subscription_id] = changed = change(found)
        return changed


def service(names: dict[str, list[str]], *, allow_private: bool = False) -> SubscriptionService:
    return SubscriptionService(
        MemorySubscriptions(),
        FakeResolver(names),
        lambda recipient: frozenset({"release.schedule1-notification"}),
        require_https=True,
        allow_private=allow_private,
        clock=lambda: NOW,
    )


NAMES = {
    "hooks.example.gov.uk": ["203.0.113.10", "1.1.1.1"],
    "public.example": ["1.1.1.1", "2606:4700:4700::1111"],
    "internal.example": ["10.20.30.40"],
}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("hooks.example.gov.uk", "resolves to a private address (203.0.113.10)"),
        ("internal.example", "resolves to a private address (10.20.30.40)"),
        ("nowhere.example", "does not resolve"),
    ],
)
async def test_a_name_is_refused_if_any_address_is_internal(host: str, message: str) -> None:
    subscriptions = service(NAMES)
    with pytest.raises(InvalidRequest, match=re.escape(message)) as refused:
        await subscriptions.create("sw-glasgow-city", url=f"https://{host}/hook")
    assert [p.pointer for p in refused.value.problems] == ["/url"]


@pytest.mark.asyncio
async def test_a_public_name_is_accepted_and_internal_ones_only_when_allowed() -> None:
    created, secret = await service(NAMES).create("sw", url="https://public.example/hook")
    assert created.secrets == (secret,)
    assert secret not in repr(created)
    local = service(NAMES, allow_private=True)
    await local.create("sw", url="https://internal.example/hook")


@pytest.mark.asyncio
async def test_a_deleted_subscription_cannot_be_changed_or_rotated() -> None:
    subscriptions = service(NAMES)
    created, _ = await subscriptions.create("sw", url="https://public.example/hook")
    deleted = await subscriptions.delete("sw", created.subscription_id)
    assert deleted.status == "deleted"
    assert deleted.secrets == ()
    with pytest.raises(Conflict):
        await subscriptions.rotate_secret("sw", created.subscription_id)
    with pytest.raises(NotFound):
        await subscriptions.get("police", created.subscription_id)


# -- the sender checks the addresses again at delivery time (DNS rebinding) ---------------------


@pytest.mark.asyncio
async def test_the_sender_refuses_a_name_that_now_points_inside() -> None:
    sender = HttpWebhookSender(
        timeout=2.0,
        resolver=FakeResolver({"hooks.example.gov.uk": ["1.1.1.1", "10.0.0.7"]}),
        allow_private=False,
        require_https=True,
    )
    try:
        answer = await sender.send("https://hooks.example.gov.uk/pph", {}, b"{}")
        plain = await sender.send("http://1.1.1.1/pph", {}, b"{}")
    finally:
        await sender.aclose()
    assert answer.status_code is None
    assert answer.error is not None
    assert "private address (10.0.0.7)" in answer.error
    assert plain.error is not None
    assert "must use https" in plain.error


# -- what a worker makes of each answer ---------------------------------------------------------


SECRET = generate_secret()
JOB = DeliveryJob(
    delivery_id="dl_1",
    subscription_id="sub_1",
    recipient_id="sw-glasgow-city",
    attempts=0,
    url="https://hooks.example.gov.uk/pph",
    format="json",
    secrets=(SECRET,),
    subscription_status="active",
    disclosure_id="d_1",
    source="urn:pph:sps:pr2:hmp-barlinnie",
    event_id="e-1",
    event_type="release.schedule1-notification",
    person_id="p_1",
    fields=("data.release",),
    rules=("schedule1-release-to-social-work",),
    purposes=("purpose",),
    legal_bases=("basis",),
    policy_version="v1",
    decided_at=NOW,
    acknowledge_within_seconds=172800,
    recipient_seq=7,
)


class FakeQueue:
    def __init__(self) -> None:
        self.finished: list[Finish] = []

    async def finish(self, job: DeliveryJob, worker_id: str, finish: Finish) -> bool:
        self.finished.append(finish)
        return True


class FakeStore:
    async def get(self, source: str, event_id: str) -> Any:
        return SimpleNamespace(notification="stored")


class FakeSender:
    def __init__(self, answer: WebhookResponse) -> None:
        self.answer = answer
        self.sent: list[tuple[str, dict[str, str], bytes]] = []

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> WebhookResponse:
        self.sent.append((url, dict(headers), body))
        return self.answer


async def attempt(answer: WebhookResponse, job: DeliveryJob = JOB) -> tuple[Finish, FakeSender]:
    """One attempt by a worker on the real clock (receivers check the signed timestamp)."""
    queue, sender = FakeQueue(), FakeSender(answer)
    worker = DeliveryWorker(
        queue,  # type: ignore[arg-type]
        FakeStore(),  # type: ignore[arg-type]
        sender,
        lambda notification, fields: {"id": "e-1", "granted": list(fields)},
        signer=WebhookSigner([WebhookSigningKey(Ed25519PrivateKey.generate(), "active")]),
        retry_schedule=(10.0, 20.0),
        clock=lambda: datetime.now(UTC),
        rng=random.Random(1),
    )
    await worker.deliver(job)
    (finish,) = queue.finished
    return finish, sender


@pytest.mark.asyncio
async def test_a_2xx_is_delivered_signed_with_the_disclosure_id() -> None:
    finish, sender = await attempt(WebhookResponse(204, 12.34))
    assert finish.status == "delivered"
    assert finish.attempt is not None
    assert (finish.attempt.attempt, finish.attempt.outcome) == (1, "delivered")
    assert finish.attempt.latency_ms == 12.3
    ((url, headers, body),) = sender.sent
    assert url == JOB.url
    assert headers["webhook-id"] == "d_1"
    sent = Webhook(SECRET).verify(body, headers)
    assert sent["notification"] == {"id": "e-1", "granted": ["data.release"]}
    assert sent["disclosure"]["recipient_seq"] == 7
    assert sent["disclosure"]["acknowledge_by"] == (NOW + timedelta(days=2)).isoformat()


@pytest.mark.asyncio
async def test_410_disables_the_subscription() -> None:
    finish, _ = await attempt(WebhookResponse(410, 5.0, "gone for good"))
    assert finish.status == "cancelled"
    assert finish.disable_subscription is not None
    assert "410" in finish.disable_subscription
    assert finish.attempt is not None
    assert finish.attempt.outcome == "disabled"


@pytest.mark.asyncio
async def test_a_failure_waits_for_the_next_retry_and_ends_dead() -> None:
    before = datetime.now(UTC)
    finish, _ = await attempt(WebhookResponse(500, 5.0, "oops"))
    assert finish.status == "pending"
    assert finish.next_attempt_at is not None
    wait = (finish.next_attempt_at - before).total_seconds()
    assert 8.0 <= wait <= 12.5
    assert finish.last_error == "HTTP 500: oops"

    before = datetime.now(UTC)
    second, _ = await attempt(WebhookResponse(None, 5.0, "timed out"), replace(JOB, attempts=1))
    assert second.status == "pending"
    assert second.next_attempt_at is not None
    assert 16.0 <= (second.next_attempt_at - before).total_seconds() <= 24.5

    last, _ = await attempt(WebhookResponse(503, 5.0), replace(JOB, attempts=2))
    assert last.status == "dead"
    assert last.attempt is not None
    assert (last.attempt.attempt, last.attempt.outcome) == (3, "dead")


@pytest.mark.asyncio
async def test_errors_never_carry_a_secret() -> None:
    finish, _ = await attempt(WebhookResponse(400, 1.0, f"bad signature with {SECRET}"))
    assert finish.last_error is not None
    assert SECRET not in finish.last_error
    assert finish.attempt is not None
    assert SECRET not in (finish.attempt.error or "")


@pytest.mark.asyncio
async def test_a_job_of_a_subscription_no_longer_active_is_cancelled_unsent() -> None:
    finish, sender = await attempt(
        WebhookResponse(200, 1.0), replace(JOB, subscription_status="disabled")
    )
    assert finish.status == "cancelled"
    assert finish.attempt is None
    assert sender.sent == []
