"""How a notification travels as a CloudEvents 1.0 event when the hub hands it on
(docs/cloudevents.md).

A recipient is given only the fields its rules grant (`hub.domain.policy.redaction`), and most
rules do not grant `source`: which prison, council or health board sent a notification about a
person can itself be personal data (where they are held; that a health board knows them). But
CloudEvents requires `source`, and `source` + `id` must identify the event. So a delivered
notification whose `source` was withheld carries an opaque one the hub mints from the event's
place in its store, `urn:pph:hub:event:<position>`: stable (every delivery and every feed read
of the event carry the same), unique with `id`, and saying nothing about the sender. The
attributes that say what the event is and how to read it, `datacontenttype` and `dataschema`,
are always given.

Agencies push notifications with the person's identifiers as one object, `identifiers`
(events/envelope.v1.schema.json). CloudEvents extension attributes must be of the specification's
scalar types and named in lowercase letters and digits, so a delivered notification carries each
granted identifier as a flat string extension instead: `pph` and the scheme's name without its
underscores (`pnc_id` -> `pphpncid`). `to_cloudevent` makes both moves on a redacted envelope;
`identifiers_of` reads the identifiers back from either form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from hub.domain.notifications import IDENTIFIER_SCHEMES, StoredEvent
from hub.domain.schemas import dataschema_urn

__all__ = [
    "ALWAYS_GIVEN",
    "EXTENSION_PREFIX",
    "IDENTIFIER_ATTRIBUTES",
    "KAFKA_CONTENT_TYPE_HEADER",
    "REQUIRED_ATTRIBUTES",
    "WITHHELD_SOURCE_PREFIX",
    "as_envelope",
    "identifier_attribute",
    "identifiers_of",
    "kafka_binary_headers",
    "to_cloudevent",
]

#: The prefix of the hub's extension attributes.
EXTENSION_PREFIX: Final = "pph"
#: CloudEvents 1.0: what every event has.
REQUIRED_ATTRIBUTES: Final = ("specversion", "id", "source", "type")
#: What every delivered notification carries whatever its grant (`source` possibly replaced).
ALWAYS_GIVEN: Final = (*REQUIRED_ATTRIBUTES, "datacontenttype", "dataschema")
#: CloudEvents 1.0 (naming conventions): attribute names are lowercase letters and digits.
_ATTRIBUTE_NAME: Final = re.compile(r"^[a-z0-9]{1,20}$")
#: Kafka binary mode: `datacontenttype` travels as this header, the other attributes as `ce_*`.
KAFKA_CONTENT_TYPE_HEADER: Final = "content-type"
_KAFKA_PREFIX: Final = "ce_"
#: The opaque `source` of a delivered notification whose publisher's `source` was not granted.
WITHHELD_SOURCE_PREFIX: Final = "urn:pph:hub:event:"
#: The envelope's identifier object, which the delivered form spreads into extensions.
_IDENTIFIERS: Final = "identifiers"


def identifier_attribute(scheme: str) -> str:
    """The extension attribute that carries one identifier scheme (`pnc_id` -> `pphpncid`)."""
    name = EXTENSION_PREFIX + scheme.replace("_", "")
    if not _ATTRIBUTE_NAME.match(name):
        raise ValueError(f"identifier scheme {scheme!r} makes no CloudEvents attribute name")
    return name


#: Extension attribute -> identifier scheme, for every scheme the hub knows.
IDENTIFIER_ATTRIBUTES: Final[Mapping[str, str]] = {
    identifier_attribute(scheme): scheme for scheme in IDENTIFIER_SCHEMES
}
if len(IDENTIFIER_ATTRIBUTES) != len(IDENTIFIER_SCHEMES):  # pragma: no cover - a new scheme
    raise ValueError("two identifier schemes map to the same CloudEvents extension attribute")


def to_cloudevent(redacted: Mapping[str, Any], stored: StoredEvent) -> dict[str, Any]:
    """A redacted envelope of `stored`'s notification as a CloudEvents 1.0 structured-mode JSON
    event: every CloudEvents attribute, `specversion`, `id`, `source` (the publisher's if
    granted, else `urn:pph:hub:event:<position>`), `type`, `datacontenttype`, `dataschema`,
    then `time` and `subject` if granted, each granted identifier as a string extension
    attribute, and `data` (the granted part) last."""
    notification = stored.notification
    event: dict[str, Any] = {
        "specversion": notification.specversion,
        "id": notification.id,
        "source": redacted.get("source") or f"{WITHHELD_SOURCE_PREFIX}{stored.position}",
        "type": notification.type,
        "datacontenttype": notification.datacontenttype,
        "dataschema": dataschema_urn(notification.type, notification.version),
    }
    for name, value in redacted.items():
        if name in (_IDENTIFIERS, "data") or name in event:
            continue
        event[name] = value
    identifiers = redacted.get(_IDENTIFIERS)
    if isinstance(identifiers, Mapping):
        for scheme, value in identifiers.items():
            event[identifier_attribute(str(scheme))] = str(value)
    if "data" in redacted:
        event["data"] = redacted["data"]
    return event


def identifiers_of(event: Mapping[str, Any]) -> dict[str, str]:
    """Scheme -> value of the identifiers an event carries, from its `pph*` extension
    attributes (the delivered form) or its `identifiers` object (the pushed form)."""
    found = {
        scheme: str(event[attribute])
        for attribute, scheme in IDENTIFIER_ATTRIBUTES.items()
        if attribute in event
    }
    pushed = event.get(_IDENTIFIERS)
    if isinstance(pushed, Mapping):
        found.update({str(scheme): str(value) for scheme, value in pushed.items()})
    return found


def as_envelope(event: Mapping[str, Any]) -> dict[str, Any]:
    """A delivered notification back in the pushed form: its `pph*` identifier attributes as
    the `identifiers` object (absent when it carries none), everything else as it is."""
    document = {k: v for k, v in event.items() if k not in IDENTIFIER_ATTRIBUTES and k != "data"}
    identifiers = identifiers_of(event)
    if identifiers:
        document[_IDENTIFIERS] = identifiers
    if "data" in event:
        document["data"] = event["data"]
    return document


def kafka_binary_headers(
    attributes: Mapping[str, str], *, datacontenttype: str = "application/json"
) -> list[tuple[str, bytes]]:
    """Kafka binary content mode (CloudEvents Kafka protocol binding 1.0, 3.2): each attribute as
    a `ce_<name>` header, UTF-8, and the data's media type as `content-type`."""
    missing = [name for name in REQUIRED_ATTRIBUTES if not attributes.get(name)]
    if missing:
        raise ValueError(f"a CloudEvent needs {', '.join(missing)}")
    headers = []
    for name, value in attributes.items():
        if not _ATTRIBUTE_NAME.match(name) or name == "datacontenttype":
            raise ValueError(f"{name!r} is not a CloudEvents attribute a header can carry")
        headers.append((_KAFKA_PREFIX + name, value.encode("utf-8")))
    headers.append((KAFKA_CONTENT_TYPE_HEADER, datacontenttype.encode("utf-8")))
    return headers
