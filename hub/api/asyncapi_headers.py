"""The Kafka headers of each channel of the AsyncAPI document (`hub.api.asyncapi`), as the code
produces them: the one place to change when the headers change. The events and disclosures
topics are CloudEvents in Kafka binary content mode (`ce_*` headers and `content-type`,
`hub.domain.cloudevents.kafka_binary_headers`, docs/cloudevents.md). Every value is UTF-8 text
(Kafka headers are bytes); a test checks these names against the headers the code writes."""

from __future__ import annotations

from typing import Any, Final

from hub.services.bus import HEADER_EVENT_TYPE, HEADER_POSITION

_DIGITS: Final = "^(0|[1-9][0-9]*)$"


def _text(description: str, **constraints: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **constraints}


def _headers(title: str, properties: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    return {
        "type": "object",
        "title": title,
        "description": "Kafka record headers; each value UTF-8 text.",
        "properties": properties,
        **({"required": list(properties)} if required else {}),
    }


def _cloudevent(*, id_: str, source: str, time: str) -> dict[str, Any]:
    """CloudEvents Kafka binary mode's context attributes (binding 1.0, section 3.2)."""
    return {
        "ce_specversion": _text("CloudEvents version", const="1.0"),
        "ce_id": _text(id_),
        "ce_source": _text(source, format="uri-reference"),
        "ce_type": _text("The notification's `type`, e.g. `custody.admission`"),
        "ce_time": _text(time, format="date-time"),
        "content-type": _text("The value's media type", const="application/json"),
    }


#: The events topic (`hub.services.bus.event_headers`).
EVENT_HEADERS: Final = _headers(
    "Stored event headers",
    {
        **_cloudevent(
            id_="The notification's `id` (unique with `ce_source`)",
            source="The publisher's `source`",
            time="The notification's `time`",
        ),
        HEADER_EVENT_TYPE: _text("The notification's `type`, e.g. `custody.admission`"),
        HEADER_POSITION: _text(
            "The event's position in the hub's store (unique per event): de-duplicate on it",
            pattern=_DIGITS,
        ),
    },
)

#: The rejects topic (`hub.infra.kafka_intake`): why, and where the message came from.
REJECT_HEADERS: Final = _headers(
    "Reject headers",
    {
        "reject_reason": _text("Why the hub did not take the message, one sentence"),
        "reject_problems": _text(
            'A JSON array of `{"pointer": …, "detail": …}`, one per field that was wrong '
            "(as in the API's problem details); `[]` when no field is to blame",
            contentMediaType="application/json",
        ),
        "agency": _text("The agency whose intake topic the message came from"),
        "source_topic": _text("The intake topic it came from"),
        "source_partition": _text("Its partition there", pattern=_DIGITS),
        "source_offset": _text("Its offset there", pattern=_DIGITS),
    },
)

#: The disclosures topics (`hub.services.kafka_delivery`): Standard Webhooks signature headers,
#: verified as a webhook's (the signed id is the disclosure id; the signed content is the value).
DISCLOSURE_HEADERS: Final = _headers(
    "Disclosure headers",
    {
        **_cloudevent(
            id_="The disclosure id (also the record's key)",
            source="`urn:pph:hub:disclosures`",
            time="When the hub decided the disclosure (UTC)",
        ),
        "event_type": _text("The notification's `type`, e.g. `custody.admission`"),
        "policy_version": _text("The version of the policy bundle that decided the disclosure"),
        "seq": _text("The disclosure's number in the recipient's feed", pattern=_DIGITS),
        "webhook-id": _text(
            "Standard Webhooks message id: the disclosure id (also the record's key)"
        ),
        "webhook-timestamp": _text(
            "Standard Webhooks timestamp: unix seconds when the page was signed", pattern=_DIGITS
        ),
        "webhook-signature": _text(
            "Standard Webhooks signature: `v1,<base64 HMAC-SHA256>` over "
            '"{webhook-id}.{webhook-timestamp}.{value}" under the recipient\'s channel secret '
            "(`whsec_…`)"
        ),
    },
)
