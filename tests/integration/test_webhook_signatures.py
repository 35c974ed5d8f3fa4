"""Standard Webhooks conformance end to end, against a real HTTP receiver, on both backends:
payload version 2 (`{type, timestamp, data}`) by default and version 1 on request; `v1` (HMAC)
and `v1a` (Ed25519) signatures as each subscription chooses, verified with the
`standardwebhooks` library (v1; it has no v1a) and with an independent implementation
(`tests.webhook_verification`); the hub's keys published without a token and rotated with an
overlap; subscriptions made before migration 0017 keep the body and signatures they had."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
import pytest_asyncio
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from jsonschema import Draft202012Validator
from pydantic import SecretStr
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from standardwebhooks import Webhook, WebhookVerificationError

from hub.api.app import create_app
from hub.auth.webhook_keys import generate_webhook_pem
from hub.domain.cloudevents import identifiers_of
from hub.infra.db import migrate
from hub.settings import Settings
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, running_hub
from tests.integration.older_schema import subscription_before
from tests.integration.test_webhooks import (
    MANAGE,
    RELEASE,
    SOCIAL_WORK,
    hub_settings,
    push_release,
    subscribe,
)
from tests.integration.webhook_receiver import Received, Receiver, running_receiver
from tests.webhook_verification import ed25519_verifies, hmac_verifies, signatures

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as running:
        yield running


async def published_keys(hub: RunningHub) -> list[dict[str, Any]]:
    answer = await hub.http.get("/v1/webhook-keys")  # no token: the keys are public
    assert answer.status_code == 200, answer.text
    keys: list[dict[str, Any]] = answer.json()["keys"]
    return keys


async def one_arrival(receiver: Receiver, path: str) -> Received:
    await receiver.wait_for(lambda: bool(receiver.at(path)), within=30.0)
    (arrived,) = receiver.at(path)
    return arrived


async def test_a_new_subscription_gets_version_2_signed_v1_and_v1a(
    database: Database, receiver: Receiver
) -> None:
    async with running_hub(hub_settings(database)) as hub:
        subscription = await subscribe(hub, SOCIAL_WORK, receiver.url("/new"))
        assert subscription["payload_version"] == 2
        assert subscription["signature_schemes"] == ["v1", "v1a"]
        notification = await push_release(hub)
        arrived = await one_arrival(receiver, "/new")
        (key,) = await published_keys(hub)

    assert key["status"] == "active"
    assert len(base64.b64decode(key["public_key"].removeprefix("whpk_"))) == 32
    assert base64.urlsafe_b64decode(key["jwk"]["x"] + "=") == base64.b64decode(
        key["public_key"].removeprefix("whpk_")
    )
    headers = arrived.headers
    assert headers["content-type"] == "application/json"
    assert len(signatures(headers["webhook-signature"], "v1")) == 1
    assert len(signatures(headers["webhook-signature"], "v1a")) == 1

    # The library (v1 only), and the independent implementation for both schemes.
    body = Webhook(subscription["secret"]).verify(arrived.body, headers)
    assert hmac_verifies(subscription["secret"], headers, arrived.body)
    assert ed25519_verifies(key["public_key"], headers, arrived.body)
    assert not ed25519_verifies(_other_public_key(), headers, arrived.body)

    assert set(body) == {"type", "timestamp", "data"}
    assert body["type"] == RELEASE
    disclosure = body["data"]["disclosure"]
    assert body["timestamp"] == disclosure["decided_at"]
    assert datetime.fromisoformat(body["timestamp"]).utcoffset() is not None
    assert disclosure["id"] == arrived.webhook_id
    assert disclosure["event_type"] == RELEASE
    assert body["data"]["notification"]["id"] == notification["id"]
    # Version 2 carries the notification as a CloudEvents 1.0 event (docs/cloudevents.md):
    # the SDK parses it, identifiers are string extensions, not an object.
    event = from_http_event(
        HTTPMessage(
            headers={"content-type": "application/cloudevents+json"},
            body=json.dumps(body["data"]["notification"]).encode("utf-8"),
        )
    )
    assert event.get_id() == notification["id"]
    assert event.get_dataschema() == notification["dataschema"]
    assert "identifiers" not in body["data"]["notification"]
    assert identifiers_of(body["data"]["notification"])
    declared_webhook_body().validate(body)  # what `webhooks` in /openapi.json says it is


def declared_webhook_body() -> Draft202012Validator:
    document = create_app(Settings(environment="test")).openapi()
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource("urn:pph:openapi", resource)
    return Draft202012Validator(
        {"$ref": "urn:pph:openapi#/components/schemas/WebhookDisclosure"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


async def test_version_1_and_the_chosen_schemes_are_kept_per_subscription(
    database: Database, receiver: Receiver
) -> None:
    async with running_hub(hub_settings(database)) as hub:
        old = await subscribe(
            hub,
            SOCIAL_WORK,
            receiver.url("/v1-hmac"),
            payload_version=1,
            signature_schemes=["v1"],
        )
        asymmetric = await subscribe(
            hub, SOCIAL_WORK, receiver.url("/v2-ed25519"), signature_schemes=["v1a"]
        )
        assert (old["payload_version"], old["signature_schemes"]) == (1, ["v1"])
        assert (asymmetric["payload_version"], asymmetric["signature_schemes"]) == (2, ["v1a"])
        await push_release(hub)
        legacy = await one_arrival(receiver, "/v1-hmac")
        modern = await one_arrival(receiver, "/v2-ed25519")
        (key,) = await published_keys(hub)

    body = Webhook(old["secret"]).verify(legacy.body, legacy.headers)
    assert set(body) == {"disclosure", "notification"}
    assert "identifiers" in body["notification"]  # version 1's notification, as it always was
    declared_webhook_body().validate(body)
    assert signatures(legacy.headers["webhook-signature"], "v1a") == []
    assert hmac_verifies(old["secret"], legacy.headers, legacy.body)

    assert signatures(modern.headers["webhook-signature"], "v1") == []
    assert ed25519_verifies(key["public_key"], modern.headers, modern.body)
    # The v1a-only delivery carries nothing the library can check (it knows no v1a).
    with pytest.raises(WebhookVerificationError):
        Webhook(asymmetric["secret"]).verify(modern.body, modern.headers)


async def test_a_subscription_moves_to_version_2_and_v1a_by_patch(
    database: Database, receiver: Receiver
) -> None:
    async with running_hub(hub_settings(database)) as hub:
        created = await subscribe(
            hub, SOCIAL_WORK, receiver.url("/moving"), payload_version=1, signature_schemes=["v1"]
        )
        answer = await hub.http.patch(
            f"/v1/subscriptions/{created['id']}",
            json={"payload_version": 2, "signature_schemes": ["v1a", "v1"]},
            headers=created["headers"],
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["payload_version"] == 2
        assert answer.json()["signature_schemes"] == ["v1", "v1a"]  # in canonical order
        again = await hub.http.get(f"/v1/subscriptions/{created['id']}", headers=created["headers"])
        assert again.json()["signature_schemes"] == ["v1", "v1a"]
        await push_release(hub)
        arrived = await one_arrival(receiver, "/moving")
        (key,) = await published_keys(hub)
    assert set(Webhook(created["secret"]).verify(arrived.body, arrived.headers)) == {
        "type",
        "timestamp",
        "data",
    }
    assert ed25519_verifies(key["public_key"], arrived.headers, arrived.body)


#: Each wrong value, and the field its 422 names.
WRONG = [
    ({"payload_version": 3}, "/payload_version"),
    ({"payload_version": "2"}, "/payload_version"),
    ({"signature_schemes": []}, "/signature_schemes"),
    ({"signature_schemes": ["v2"]}, "/signature_schemes/0"),
    ({"signature_schemes": "v1a"}, "/signature_schemes"),
]


async def test_a_wrong_version_or_scheme_is_refused_naming_the_field(
    database: Database,
) -> None:
    async with running_hub(hub_settings(database)) as hub:
        headers = bearer(await hub.token(SOCIAL_WORK, MANAGE))
        url = "http://127.0.0.1:9/hook"  # never called: nothing is pushed in this test
        for fields, pointer in WRONG:
            created = await hub.http.post(
                "/v1/subscriptions", json={"url": url, **fields}, headers=headers
            )
            assert created.status_code == 422, created.text
            assert [e["pointer"] for e in created.json()["errors"]] == [pointer], fields
        listed = await hub.http.get("/v1/subscriptions", headers=headers)
        assert listed.json()["subscriptions"] == []  # nothing was made

        made = await hub.http.post("/v1/subscriptions", json={"url": url}, headers=headers)
        assert made.status_code == 201, made.text
        path = f"/v1/subscriptions/{made.json()['id']}"
        for fields, pointer in [*WRONG, ({"payload_version": None}, "/payload_version")]:
            changed = await hub.http.patch(path, json=fields, headers=headers)
            assert changed.status_code == 422, changed.text
            assert [e["pointer"] for e in changed.json()["errors"]] == [pointer], fields
        unchanged = (await hub.http.get(path, headers=headers)).json()
        assert (unchanged["payload_version"], unchanged["signature_schemes"]) == (2, ["v1", "v1a"])


async def test_a_rotation_signs_with_both_keys_then_only_the_new_one(
    database: Database, receiver: Receiver
) -> None:
    old_pem, new_pem = generate_webhook_pem().decode(), generate_webhook_pem().decode()
    rotating = hub_settings(
        database,
        webhook_signing_key=SecretStr(new_pem),
        webhook_retiring_signing_keys=(SecretStr(old_pem),),
    )
    async with running_hub(rotating) as hub:
        created = await subscribe(hub, SOCIAL_WORK, receiver.url("/rotation"))
        keys = await published_keys(hub)
        await push_release(hub)
        during = await one_arrival(receiver, "/rotation")
    assert [key["status"] for key in keys] == ["active", "retiring"]
    new_key, old_key = (key["public_key"] for key in keys)
    # A receiver that knows only the old key still verifies during the overlap.
    assert ed25519_verifies(old_key, during.headers, during.body)
    assert ed25519_verifies(new_key, during.headers, during.body)
    assert len(signatures(during.headers["webhook-signature"], "v1a")) == 2
    Webhook(created["secret"]).verify(during.body, during.headers)

    retired = hub_settings(database, webhook_signing_key=SecretStr(new_pem))
    receiver.received.clear()
    async with running_hub(retired) as hub:
        keys_after = await published_keys(hub)
        await push_release(hub)
        after = await one_arrival(receiver, "/rotation")
    assert [(key["public_key"], key["status"]) for key in keys_after] == [(new_key, "active")]
    assert ed25519_verifies(new_key, after.headers, after.body)
    assert not ed25519_verifies(old_key, after.headers, after.body)


async def test_the_keys_endpoint_is_declared_public_in_openapi(database: Database) -> None:
    async with running_hub(hub_settings(database)) as hub:
        document = (await hub.http.get("/openapi.json")).json()
    operation = document["paths"]["/v1/webhook-keys"]["get"]
    assert operation["operationId"] == "listWebhookKeys"
    assert operation["security"] == []
    signature = next(
        p
        for p in document["webhooks"]["disclosure"]["post"]["parameters"]
        if p["name"] == "webhook-signature"
    )
    assert "v1a" in signature["description"]


async def test_a_subscription_from_before_0017_keeps_version_1_and_v1(
    database: Database, receiver: Receiver
) -> None:
    secret = await subscription_before(
        database,
        "0016",
        subscription_id="sub_before_0017",
        recipient=SOCIAL_WORK,
        url=receiver.url("/before"),
    )
    await migrate(database.settings)
    async with running_hub(hub_settings(database)) as hub:
        stored = await hub.container.subscriptions.get(SOCIAL_WORK, "sub_before_0017")
        assert (stored.payload_version, stored.signature_schemes) == (1, ("v1",))
        await push_release(hub)
        arrived = await one_arrival(receiver, "/before")
    assert set(Webhook(secret).verify(arrived.body, arrived.headers)) == {
        "disclosure",
        "notification",
    }
    assert signatures(arrived.headers["webhook-signature"], "v1a") == []


def _other_public_key() -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "whpk_" + base64.b64encode(raw).decode()
