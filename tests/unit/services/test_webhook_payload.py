"""Webhook bodies by payload version: 2, the Standard Webhooks envelope; 1, the body before it."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from hub.services.delivery import DeliveryJob
from hub.services.webhook_payload import render_json

DECIDED = datetime(2026, 12, 6, 13, 0, tzinfo=timezone(timedelta(hours=1)))
JOB = DeliveryJob(
    delivery_id="dl_1",
    subscription_id="sub_1",
    recipient_id="sw-glasgow-city",
    attempts=0,
    url="https://hooks.example.gov.uk/pph",
    format="json",
    secrets=(),
    subscription_status="active",
    disclosure_id="d_1",
    source="urn:pph:sps:pr2:hmp-barlinnie",
    event_id="e-1",
    event_type="custody.release",
    person_id="p_1",
    fields=("data.release",),
    rules=("release-to-social-work",),
    purposes=("purpose",),
    legal_bases=("basis",),
    policy_version="v1",
    decided_at=DECIDED,
    acknowledge_within_seconds=3600,
    recipient_seq=7,
)
NOTIFICATION = {"id": "e-1", "type": "custody.release", "data": {"release": {"on": "x"}}}
TERMS = {
    "id": "d_1",
    "recipient_seq": 7,
    "event_type": "custody.release",
    "person_id": "p_1",
    "purposes": ["purpose"],
    "legal_bases": ["basis"],
    "rules": ["release-to-social-work"],
    "policy_version": "v1",
    "decided_at": "2026-12-06T12:00:00+00:00",
    "acknowledge_by": "2026-12-06T14:00:00+01:00",
}


def test_version_2_is_the_standard_webhooks_envelope() -> None:
    body = json.loads(render_json(dataclasses.replace(JOB, payload_version=2), NOTIFICATION))
    assert body == {
        "type": "custody.release",
        "timestamp": "2026-12-06T12:00:00+00:00",
        "data": {"disclosure": TERMS, "notification": NOTIFICATION},
    }
    assert datetime.fromisoformat(body["timestamp"]).utcoffset() == timedelta(0)
    assert datetime.fromisoformat(body["timestamp"]) == DECIDED.astimezone(UTC)


def test_version_1_is_the_body_from_before() -> None:
    body = json.loads(render_json(dataclasses.replace(JOB, payload_version=1), NOTIFICATION))
    assert body == {"disclosure": TERMS, "notification": NOTIFICATION}


def test_a_job_without_a_version_is_rendered_as_version_1() -> None:
    # Jobs read from rows written before migration 0017 keep the body their receivers read.
    assert json.loads(render_json(JOB, NOTIFICATION)) == {
        "disclosure": TERMS,
        "notification": NOTIFICATION,
    }


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown webhook payload version 3"):
        render_json(dataclasses.replace(JOB, payload_version=3), NOTIFICATION)
