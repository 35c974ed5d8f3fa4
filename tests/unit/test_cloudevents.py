"""A delivered notification is a CloudEvents 1.0 event the `cloudevents` SDK parses, in structured
and binary HTTP mode, whatever the grant; a withheld `source` is replaced by an opaque one, never
sent; identifiers travel as flat string extensions; the Kafka headers the hub writes are binary
content mode headers (docs/cloudevents.md)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from hub.domain.cloudevents import (
    IDENTIFIER_ATTRIBUTES,
    WITHHELD_SOURCE_PREFIX,
    identifier_attribute,
    identifiers_of,
    kafka_binary_headers,
    to_cloudevent,
)
from hub.domain.notifications import IDENTIFIER_SCHEMES, Notification, StoredEvent
from hub.domain.policy.redaction import envelope, redact
from hub.services.bus import event_headers
from tests.integration.kafka.bus_contract import stored_event
from tests.unit.policy.support import EXAMPLES, schemas

#: What CloudEvents 1.0 defines; anything else in a delivered event is an extension attribute.
CONTEXT_ATTRIBUTES = {
    "specversion",
    "id",
    "source",
    "type",
    "datacontenttype",
    "dataschema",
    "subject",
    "time",
}


POSITION = 4711


def example(event_type: str) -> Notification:
    raw = json.loads((EXAMPLES / f"{event_type}.json").read_text())
    return schemas().validate(raw)


def stored(notification: Notification) -> StoredEvent:
    template = stored_event(POSITION, person=1, version=1)
    return StoredEvent(
        POSITION,
        template.person_id,
        1,
        notification,
        template.recorded_at,
        template.publisher,
    )


def delivered(notification: Notification, fields: list[str]) -> dict[str, Any]:
    return to_cloudevent(redact(envelope(notification), fields), stored(notification))


def parse_structured(event: dict[str, Any]) -> CloudEvent:
    message = ce_http.HTTPMessage(
        headers={"content-type": "application/cloudevents+json; charset=utf-8"},
        body=json.dumps(event).encode("utf-8"),
    )
    parsed = ce_http.from_http_event(message)
    assert isinstance(parsed, CloudEvent)
    return parsed


def as_binary(event: dict[str, Any]) -> ce_http.HTTPMessage:
    """The event in binary HTTP mode, as the SDK writes it from the parsed structured event."""
    return ce_http.to_binary_event(parse_structured(event))


def assert_conformant(event: dict[str, Any]) -> None:
    """What the SDK does not check: extension attributes are strings (the CloudEvents type
    system has no object), named in lowercase letters and digits, at most 20 characters."""
    for name, value in event.items():
        if name == "data" or name in CONTEXT_ATTRIBUTES:
            continue
        assert re.fullmatch("[a-z0-9]{1,20}", name), name
        assert isinstance(value, str), f"extension {name} is a {type(value).__name__}"


GRANTS = [
    pytest.param(
        ["type", "source", "time", "identifiers.sps_number", "identifiers.pnc_id", "data"],
        id="wide",
    ),
    pytest.param(["type", "identifiers.sps_number", "data.establishment"], id="narrow"),
    pytest.param([], id="nothing-granted"),
]


@pytest.mark.parametrize("fields", GRANTS)
def test_a_delivered_notification_parses_in_structured_and_binary_http_mode(
    fields: list[str],
) -> None:
    notification = example("custody.admission")
    event = delivered(notification, fields)
    assert_conformant(event)

    structured = parse_structured(event)
    assert structured.get_id() == notification.id
    source = notification.source if "source" in fields else f"{WITHHELD_SOURCE_PREFIX}{POSITION}"
    assert structured.get_source() == source
    assert structured.get_type() == "custody.admission"
    assert structured.get_specversion() == "1.0"
    assert structured.get_dataschema() == "urn:pph:events:custody.admission:v1"
    assert structured.get_datacontenttype() == "application/json"

    binary = as_binary(event)
    assert binary.headers["ce-source"] == source
    assert "application/json" in binary.headers["content-type"]
    back = ce_http.from_http_event(binary)
    # (The SDK fills in `time` with its own clock when an event has none: compare what we sent.)
    sent = [name for name in event if name != "data"]
    assert {n: back.get_attributes()[n] for n in sent} == {
        n: structured.get_attributes()[n] for n in sent
    }
    assert back.get_data() == event.get("data")
    # Every identifier granted, and only those, comes back from the binary form's headers.
    granted = {f.removeprefix("identifiers.") for f in fields if f.startswith("identifiers.")}
    carried = {
        IDENTIFIER_ATTRIBUTES[a]: back.get_extension(a)
        for a in IDENTIFIER_ATTRIBUTES
        if back.get_extension(a) is not None
    }
    pushed = identifiers_of(envelope(notification))
    assert carried == {s: v for s, v in pushed.items() if s in granted}


def test_a_grant_of_nothing_still_makes_a_cloudevent_and_never_names_the_sender() -> None:
    notification = example("health.information-shared")
    event = delivered(notification, [])
    assert event == {
        "specversion": "1.0",
        "id": notification.id,
        "source": f"urn:pph:hub:event:{POSITION}",
        "type": "health.information-shared",
        "datacontenttype": "application/json",
        "dataschema": "urn:pph:events:health.information-shared:v1",
    }
    # The health board's own source says the person is known to it: withheld, not in any form.
    assert notification.source not in json.dumps(event)
    parse_structured(event)


def test_the_publishers_source_is_given_when_granted() -> None:
    notification = example("health.information-shared")
    assert delivered(notification, ["source"])["source"] == notification.source


def test_time_subject_identifiers_and_data_are_given_only_as_granted() -> None:
    notification = example("custody.admission")
    whole = delivered(notification, ["time", "subject", "identifiers.sps_number", "data"])
    assert whole["time"] == notification.time.isoformat()
    assert "pphspsnumber" in whole
    assert "pphpncid" not in whole
    assert "data" in whole
    narrow = delivered(notification, [])
    for withheld in ("time", "subject", "data", "pphspsnumber", "identifiers"):
        assert withheld not in narrow


def test_identifiers_become_flat_string_extensions_not_an_object() -> None:
    notification = example("custody.admission")
    pushed = envelope(notification)
    assert isinstance(pushed["identifiers"], dict)  # the intake form: one object
    event = to_cloudevent(pushed, stored(notification))
    assert "identifiers" not in event
    assert identifiers_of(event) == pushed["identifiers"]
    assert list(event)[-1] == "data"
    assert_conformant(event)


def test_every_scheme_has_its_own_conformant_attribute() -> None:
    assert identifier_attribute("pnc_id") == "pphpncid"
    assert identifier_attribute("sw_client_id") == "pphswclientid"
    assert sorted(IDENTIFIER_ATTRIBUTES.values()) == sorted(IDENTIFIER_SCHEMES)
    for attribute in IDENTIFIER_ATTRIBUTES:
        assert re.fullmatch("[a-z0-9]{1,20}", attribute), attribute
    with pytest.raises(ValueError, match="no CloudEvents attribute name"):
        identifier_attribute("Bad-Scheme")


def test_identifiers_of_reads_either_form() -> None:
    assert identifiers_of({"pphpncid": "24/123456X"}) == {"pnc_id": "24/123456X"}
    assert identifiers_of({"identifiers": {"sps_number": "1000001"}}) == {"sps_number": "1000001"}
    assert identifiers_of({"id": "x"}) == {}


def test_the_events_topic_headers_are_kafka_binary_mode() -> None:
    event = stored_event(42, person=7, version=3)
    headers = event_headers(event)
    message = ce_kafka.KafkaMessage(
        headers=dict(headers), key=event.person_id.encode(), value=b'{"position": 42}'
    )
    parsed = ce_kafka.from_binary(message, JSONFormat())
    notification = event.notification
    assert parsed.get_specversion() == "1.0"
    assert parsed.get_id() == notification.id
    assert parsed.get_source() == notification.source
    assert parsed.get_type() == notification.type
    assert parsed.get_time() == notification.time
    assert parsed.get_datacontenttype() == "application/json"
    assert parsed.get_data() == {"position": 42}
    # No identifier in a header.
    assert not any(name.startswith("ce_pph") for name, _ in headers)


def test_kafka_headers_refuse_what_binary_mode_cannot_carry() -> None:
    base = {"specversion": "1.0", "id": "1", "source": "urn:x", "type": "t"}
    with pytest.raises(ValueError, match="needs source"):
        kafka_binary_headers({**base, "source": ""})
    with pytest.raises(ValueError, match="'Identifiers' is not"):
        kafka_binary_headers({**base, "Identifiers": "x"})
    with pytest.raises(ValueError, match="'datacontenttype' is not"):
        kafka_binary_headers({**base, "datacontenttype": "text/plain"})
    moment = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    headers = dict(kafka_binary_headers({**base, "time": moment}))
    assert headers["ce_time"] == b"2026-01-01T00:00:00+00:00"
    assert headers["content-type"] == b"application/json"
