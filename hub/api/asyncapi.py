"""The AsyncAPI 3.0 document of the hub's Kafka interface, generated from the code (topic names
and partitions from the settings, payloads by reference to the JSON Schemas of `events/`, headers
from `hub.api.asyncapi_headers`, the disclosure payload from the feed's response model), so that
it cannot drift from what the hub produces and consumes.

It is written from an agency system's point of view: an agency **sends** notifications to its
intake topic, **receives** its disclosures on its own topic and (where the broker's ACLs let it)
the rejects. The events topic is the hub's own (relay to router workers): described, with no
operation for an agency.

Payload schemas are not copied: each message refers to the files of `events/` by relative URL
(`events/<type>.v<N>.schema.json`). The document is served at `GET /asyncapi.json` and the
schemas beside it at `GET /events/<file>`, so the references resolve against the hub that served
it; the copy kept at the repository's root (`asyncapi.json`, the settings' defaults) resolves them
against the checkout. Regenerate that copy with `python -m hub.api.asyncapi > asyncapi.json`; a
test keeps it equal.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse

from hub import __version__
from hub.api.asyncapi_headers import DISCLOSURE_HEADERS, EVENT_HEADERS, REJECT_HEADERS
from hub.api.routes.feed import FeedItemModel
from hub.domain.notifications import HUB_WRITTEN_TYPES
from hub.domain.schemas import ENVELOPE_FILE
from hub.errors import NotFound
from hub.resources import resource_dir
from hub.settings import PROJECT_ROOT, Settings

__all__ = [
    "DOCUMENT_PATH",
    "SCHEMA_BASE",
    "TOPIC_SETTINGS",
    "KafkaInterface",
    "build_document",
    "install",
]

ASYNCAPI_VERSION: Final = "3.0.0"
#: Where the payloads' schemas are, relative to the document.
SCHEMA_BASE: Final = "events/"
#: The copy of the document for the settings' defaults, kept equal by a test.
DOCUMENT_PATH: Final = PROJECT_ROOT / "asyncapi.json"
JSON_SCHEMA_2020_12: Final = "application/schema+json;version=draft-2020-12"
KAFKA_BINDING: Final = "0.5.0"

#: Every setting that names a Kafka topic (or a family of topics), and the channel that
#: describes it. A test fails when a setting naming a topic is missing here.
TOPIC_SETTINGS: Final = {
    "kafka_events_topic": "events",
    "kafka_intake_topic_prefix": "intake",
    "kafka_rejects_topic": "rejects",
    "kafka_delivery_topic_prefix": "disclosures",
}

_SCHEMA_FILE = re.compile(r"(?P<type>[a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)+)\.v(?P<v>[1-9][0-9]*)")


@dataclass(frozen=True, slots=True)
class KafkaInterface:
    """What the document says about the brokers and topics: the hub's Kafka settings."""

    bootstrap: str | None
    security_protocol: str
    sasl_mechanism: str | None
    replication_factor: int
    events_topic: str
    events_partitions: int
    intake_topic_prefix: str
    intake_partitions: int
    rejects_topic: str
    delivery_topic_prefix: str

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaInterface:
        return cls(
            bootstrap=settings.kafka_bootstrap,
            security_protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            replication_factor=settings.kafka_replication_factor,
            events_topic=settings.kafka_events_topic,
            events_partitions=settings.kafka_events_partitions,
            intake_topic_prefix=settings.kafka_intake_topic_prefix,
            intake_partitions=settings.kafka_intake_partitions,
            rejects_topic=settings.kafka_rejects_topic,
            delivery_topic_prefix=settings.kafka_delivery_topic_prefix,
        )

    @classmethod
    def defaults(cls) -> KafkaInterface:
        """The settings' defaults, whatever the environment says (for the kept copy)."""
        fields = Settings.model_fields
        return cls(**{name: fields[f"kafka_{name}"].default for name in cls.__dataclass_fields__})

    def intake_topic(self, agency: str) -> str:
        return f"{self.intake_topic_prefix}{agency}"

    def disclosure_topic(self, recipient: str) -> str:
        return f"{self.delivery_topic_prefix}{recipient}"


def build_document(interface: KafkaInterface, events_dir: Path) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of `interface`, its payloads referring to `events_dir`."""
    bodies = _body_schemas(events_dir)
    pushable = sorted(t for t in bodies if t not in HUB_WRITTEN_TYPES)
    messages: dict[str, Any] = {
        _notification_message(t): _notification(t, bodies[t]) for t in pushable
    }
    messages["IntakeReject"] = _reject_message()
    messages["StoredEvent"] = _stored_event_message()
    messages["Disclosure"] = _disclosure_message()
    ref = "#/components/messages/"
    channels = {
        "intake": {
            "address": interface.intake_topic("{agency}"),
            "title": "An agency's intake topic",
            "description": "An agency already on Kafka produces its notifications here, one "
            "notification (CloudEvents 1.0, JSON structured mode, as `POST /v1/events` takes "
            "it) per record. The hub takes each as if the agency had pushed it to the API: "
            "validated against its schema, its `source` checked against the agency, stored. "
            "The broker authenticates the producer and its ACLs let each agency's principal "
            "write only to its own intake topic. Read by the hub's intake consumer group "
            "(`HUB_KAFKA_INTAKE_GROUP`), which commits only what it stored or rejected.",
            "parameters": {"agency": _id_parameter("The agency's id in the directory")},
            "messages": {
                _notification_message(t): {"$ref": ref + _notification_message(t)} for t in pushable
            },
            "bindings": _topic_binding(interface.intake_partitions, interface.replication_factor),
        },
        "rejects": {
            "address": interface.rejects_topic,
            "title": "Rejected intake messages",
            "description": "Each intake record the hub could not take (not UTF-8, not JSON, "
            "invalid, a `source` that is not the agency's, an id reused for different content, "
            "an identifier conflict), with its original key and bytes and headers saying why "
            "and where it came from. One topic for every agency: it holds every agency's "
            "rejected records, so grant read access to operators (and to an agency only with "
            "that in mind). A reject may appear twice after a crash, never not at all.",
            "messages": {"IntakeReject": {"$ref": ref + "IntakeReject"}},
            "bindings": _topic_binding(interface.intake_partitions, interface.replication_factor),
        },
        "events": {
            "address": interface.events_topic,
            "title": "The hub's events topic (internal)",
            "description": "The hub's own: the outbox relay publishes every stored event to "
            "it, keyed by person, and the router workers consume it as one group "
            "(`HUB_KAFKA_ROUTER_GROUP`). At least once: de-duplicate on `position`. Sensitive "
            "fields travel sealed. No agency reads or writes it.",
            "messages": {"StoredEvent": {"$ref": ref + "StoredEvent"}},
            "bindings": _topic_binding(interface.events_partitions, interface.replication_factor),
        },
        "disclosures": {
            "address": interface.disclosure_topic("{recipient}"),
            "title": "A recipient's disclosures",
            "description": "A recipient configured for the Kafka delivery channel "
            "(`HUB_KAFKA_DELIVERY_CHANNELS`) receives here, in its feed's gap-free order, each "
            "disclosure as `GET /v1/feed` gives it: the notification cut to the fields it was "
            "granted. At least once: de-duplicate on the key (the disclosure id).",
            "parameters": {"recipient": _id_parameter("The recipient's id in the directory")},
            "messages": {"Disclosure": {"$ref": ref + "Disclosure"}},
        },
    }
    operations = {
        "sendNotification": {
            "action": "send",
            "channel": {"$ref": "#/channels/intake"},
            "title": "Push notifications (the agency sends)",
            "summary": "The agency produces notifications to its own intake topic.",
            "messages": [
                {"$ref": f"#/channels/intake/messages/{_notification_message(t)}"} for t in pushable
            ],
        },
        "receiveRejects": {
            "action": "receive",
            "channel": {"$ref": "#/channels/rejects"},
            "title": "Read rejected notifications (the agency or operator receives)",
            "summary": "What the intake could not take, and why.",
            "messages": [{"$ref": "#/channels/rejects/messages/IntakeReject"}],
        },
        "receiveDisclosure": {
            "action": "receive",
            "channel": {"$ref": "#/channels/disclosures"},
            "title": "Receive disclosures (the recipient receives)",
            "summary": "The recipient consumes its own disclosures topic.",
            "messages": [{"$ref": "#/channels/disclosures/messages/Disclosure"}],
        },
    }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:pph:asyncapi:kafka",
        "info": {
            "title": "Public Protection Hub: Kafka interface",
            "version": __version__,
            "description": "The hub's Apache Kafka topics, from an agency system's point of view: "
            "`send` is what the agency produces, `receive` what it consumes. Payload schemas "
            "are the JSON Schemas (draft 2020-12) of `events/`, referred to relative to this "
            "document. The HTTP API is described by `/openapi.json`.",
        },
        "defaultContentType": "application/json",
        "servers": {"broker": _server(interface)},
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


#: Every way the hub's Kafka clients can authenticate (`hub.infra.kafka_security`): the broker
#: authenticates agencies the same ways.
SECURITY_SCHEMES: Final[dict[str, Any]] = {
    "mutualTls": {
        "type": "X509",
        "description": "Mutual TLS (`security.protocol=SSL`): the client's certificate names "
        "its principal.",
    },
    "scramSha256": {
        "type": "scramSha256",
        "description": "SASL/SCRAM-SHA-256, over TLS (`SASL_SSL`) in production.",
    },
    "scramSha512": {
        "type": "scramSha512",
        "description": "SASL/SCRAM-SHA-512, over TLS (`SASL_SSL`) in production.",
    },
    "saslPlain": {
        "type": "plain",
        "description": "SASL/PLAIN: only over TLS (`SASL_SSL`).",
    },
}
_BY_MECHANISM: Final = {
    "SCRAM-SHA-256": "scramSha256",
    "SCRAM-SHA-512": "scramSha512",
    "PLAIN": "saslPlain",
}


def _server(interface: KafkaInterface) -> dict[str, Any]:
    protocol = interface.security_protocol
    if protocol == "SSL":
        schemes = ["mutualTls"]
    elif protocol.startswith("SASL_"):
        chosen = _BY_MECHANISM.get(interface.sasl_mechanism or "")
        schemes = [chosen] if chosen else sorted(_BY_MECHANISM.values())
    else:
        schemes = []
    first = (interface.bootstrap or "127.0.0.1:9092").split(",")[0].strip()
    description = (
        f"The brokers (`security.protocol={protocol}`)."
        if schemes
        else f"The brokers (`security.protocol={protocol}`: no authentication, for "
        "development only; production brokers use SASL_SSL or SSL, see securitySchemes)."
    )
    return {
        "host": "{bootstrap}",
        "protocol": "kafka-secure" if protocol in ("SSL", "SASL_SSL") else "kafka",
        "description": description,
        "variables": {
            "bootstrap": {
                "default": first,
                "description": "A bootstrap broker, `host:port` (`HUB_KAFKA_BOOTSTRAP`).",
            }
        },
        "security": [{"$ref": f"#/components/securitySchemes/{s}"} for s in schemes],
    }


def _id_parameter(description: str) -> dict[str, Any]:
    return {"description": f"{description} (letters, digits, `.`, `_`, `-`)."}


def _topic_binding(partitions: int, replicas: int) -> dict[str, Any]:
    return {
        "kafka": {"partitions": partitions, "replicas": replicas, "bindingVersion": KAFKA_BINDING}
    }


def _key(schema: dict[str, Any]) -> dict[str, Any]:
    return {"kafka": {"key": schema, "bindingVersion": KAFKA_BINDING}}


def _body_schemas(events_dir: Path) -> dict[str, list[str]]:
    """Each event type's body schema files, oldest version first."""
    found: dict[str, list[tuple[int, str]]] = {}
    for path in sorted(events_dir.glob("*.schema.json")):
        match = _SCHEMA_FILE.fullmatch(path.name.removesuffix(".schema.json"))
        if path.name != ENVELOPE_FILE and match is not None:
            found.setdefault(match["type"], []).append((int(match["v"]), path.name))
    return {t: [name for _, name in sorted(files)] for t, files in found.items()}


def _notification_message(event_type: str) -> str:
    pascal = "".join(p[:1].upper() + p[1:] for p in re.split(r"[.\-]", event_type))
    return f"{pascal}Notification"


def _notification(event_type: str, files: list[str]) -> dict[str, Any]:
    refs = [{"$ref": SCHEMA_BASE + name} for name in files]
    return {
        "name": _notification_message(event_type),
        "title": f"A {event_type} notification",
        "contentType": "application/json",
        "payload": {
            "schemaFormat": JSON_SCHEMA_2020_12,
            "schema": {
                "allOf": [
                    {"$ref": SCHEMA_BASE + ENVELOPE_FILE},
                    {
                        "properties": {
                            "type": {"const": event_type},
                            "data": refs[0] if len(refs) == 1 else {"oneOf": refs},
                        }
                    },
                ]
            },
        },
        "bindings": _key(
            {
                "type": "string",
                "description": "Not read by the hub (a reject keeps it). Key by person, so "
                "that one person's notifications stay in order on one partition.",
            }
        ),
    }


def _reject_message() -> dict[str, Any]:
    return {
        "name": "IntakeReject",
        "title": "A rejected intake record",
        "summary": "The record's original bytes and key; the headers say why.",
        "contentType": "application/octet-stream",
        "headers": {"schemaFormat": JSON_SCHEMA_2020_12, "schema": REJECT_HEADERS},
        "payload": {
            "schemaFormat": JSON_SCHEMA_2020_12,
            "schema": {"description": "The record's value, byte for byte as it arrived."},
        },
        "bindings": _key({"description": "The record's key as it arrived (may be absent)."}),
    }


def _stored_event_message() -> dict[str, Any]:
    return {
        "name": "StoredEvent",
        "title": "A stored event",
        "contentType": "application/json",
        "headers": {"schemaFormat": JSON_SCHEMA_2020_12, "schema": EVENT_HEADERS},
        "payload": {
            "schemaFormat": JSON_SCHEMA_2020_12,
            "schema": {
                "type": "object",
                "description": "The event as the store holds it (`hub.services.bus.encode_event`)"
                ': sensitive fields of `notification.data` as `{"$pph.enc": …}` ciphertexts.',
                "required": [
                    "position",
                    "person_id",
                    "stream_version",
                    "recorded_at",
                    "publisher",
                    "notification",
                ],
                "additionalProperties": False,
                "properties": {
                    "position": {"type": "integer", "minimum": 1},
                    "person_id": {"type": "string"},
                    "stream_version": {"type": "integer", "minimum": 1},
                    "recorded_at": {"type": "string", "format": "date-time"},
                    "publisher": {
                        "type": "object",
                        "required": ["client_id", "agency"],
                        "additionalProperties": False,
                        "properties": {
                            "client_id": {"type": "string"},
                            "agency": {"type": "string"},
                        },
                    },
                    "notification": {"$ref": SCHEMA_BASE + ENVELOPE_FILE},
                },
            },
        },
        "bindings": _key({"type": "string", "description": "The hub's person id."}),
    }


def _disclosure_message() -> dict[str, Any]:
    schema = FeedItemModel.model_json_schema()
    return {
        "name": "Disclosure",
        "title": "A disclosure",
        "summary": "The feed item: the notification with only the granted fields.",
        "contentType": "application/json",
        "headers": {"schemaFormat": JSON_SCHEMA_2020_12, "schema": DISCLOSURE_HEADERS},
        "payload": {"schemaFormat": JSON_SCHEMA_2020_12, "schema": schema},
        "bindings": _key({"type": "string", "description": "The disclosure id."}),
    }


def install(app: FastAPI, settings: Settings | None) -> None:
    """Serve the document at `/asyncapi.json` (built once, when first asked for) and the event
    schemas it refers to at `/events/<file>`."""
    built: dict[str, Any] = {}

    def current(request: Request) -> Settings:
        container = getattr(request.app.state, "container", None)
        if container is not None:
            found: Settings = container.settings
            return found
        return settings if settings is not None else Settings()

    async def asyncapi(request: Request) -> JSONResponse:
        if "document" not in built:
            chosen = current(request)
            built["document"] = build_document(
                KafkaInterface.from_settings(chosen), chosen.events_dir
            )
        return JSONResponse(built["document"])

    async def event_schema(request: Request, name: str) -> FileResponse:
        match = _SCHEMA_FILE.fullmatch(name.removesuffix(".schema.json"))
        if name == ENVELOPE_FILE or (match is not None and name.endswith(".schema.json")):
            path = current(request).events_dir / name
            if path.is_file():
                return FileResponse(path, media_type="application/schema+json")
        raise NotFound(f"there is no event schema {name!r} (see /asyncapi.json)")

    app.add_api_route("/asyncapi.json", asyncapi, methods=["GET"], include_in_schema=False)
    app.add_api_route(
        "/" + SCHEMA_BASE + "{name}", event_schema, methods=["GET"], include_in_schema=False
    )


def render(interface: KafkaInterface, events_dir: Path) -> str:
    """The document as the kept copy holds it."""
    return json.dumps(build_document(interface, events_dir), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(KafkaInterface.defaults(), resource_dir("events")))
