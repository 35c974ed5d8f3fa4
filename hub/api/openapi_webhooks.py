"""The `webhooks` section of the OpenAPI document: what a subscription's URL receives."""

from __future__ import annotations

from typing import Any

from hub.api.openapi_events import COMPONENTS

#: Why and on what terms a notification was shared (`hub.services.webhook_payload`).
DISCLOSURE_TERMS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "recipient_seq",
        "event_type",
        "person_id",
        "purposes",
        "legal_bases",
        "rules",
        "policy_version",
        "decided_at",
        "acknowledge_by",
    ],
    "properties": {
        "id": {
            "type": "string",
            "description": "The disclosure's id (also `webhook-id`): acknowledge it "
            "with POST /v1/disclosures/{id}/ack",
        },
        "recipient_seq": {
            "type": ["integer", "null"],
            "description": "Its number in the recipient's feed",
        },
        "event_type": {"type": "string"},
        "person_id": {"type": "string"},
        "purposes": {"type": "array", "items": {"type": "string"}},
        "legal_bases": {"type": "array", "items": {"type": "string"}},
        "rules": {"type": "array", "items": {"type": "string"}},
        "policy_version": {"type": "string"},
        "decided_at": {"type": "string", "format": "date-time"},
        "acknowledge_by": {"type": ["string", "null"], "format": "date-time"},
    },
}

_NOTIFICATION: dict[str, Any] = {
    "type": "object",
    "description": "Version 1's notification: the envelope as pushed (identifiers as an "
    "object) with only the granted fields, so not every required field is there",
}

#: Version 2's notification: a CloudEvents 1.0 event (`hub.domain.cloudevents.to_cloudevent`).
_CLOUDEVENT: dict[str, Any] = {
    "type": "object",
    "description": "The notification as a CloudEvents 1.0 structured event with only the "
    "granted fields (docs/cloudevents.md): always the required attributes (`source` is the "
    "publisher's when granted, else `urn:pph:hub:event:<n>`); `time`, `subject`, `data` and "
    "each identifier (a string extension `pph<scheme>`, e.g. `pphpncid`) only when granted.",
    "required": ["specversion", "id", "source", "type", "datacontenttype", "dataschema"],
    "properties": {
        "specversion": {"type": "string", "const": "1.0"},
        "id": {"type": "string"},
        "source": {"type": "string", "format": "uri-reference"},
        "type": {"type": "string"},
        "datacontenttype": {"type": "string", "const": "application/json"},
        "dataschema": {"type": "string", "description": "urn:pph:events:<type>:v<N>"},
        "time": {"type": "string", "format": "date-time"},
        "subject": {"type": "string"},
        "data": {
            "type": "object",
            "description": "The granted part of the body `dataschema` names",
        },
    },
    "patternProperties": {"^pph[a-z0-9]+$": {"type": "string"}},
    "additionalProperties": False,
}

#: Each part of a webhook body is a component of its own, referenced where it is used: a
#: generator then makes one model of each (inline copies made it generate duplicates).
TERMS_NAME = "WebhookDisclosureTerms"
CLOUDEVENT_NAME = "WebhookNotification"
NOTIFICATION_V1_NAME = "WebhookNotificationV1"
PAYLOAD_V2_NAME = "WebhookPayloadV2"
PAYLOAD_V1_NAME = "WebhookPayloadV1"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": COMPONENTS + name}


#: The body of a webhook in the `json` format, by the subscription's `payload_version`.
WEBHOOK_DISCLOSURE = "WebhookDisclosure"
WEBHOOK_SCHEMAS: dict[str, Any] = {
    TERMS_NAME: DISCLOSURE_TERMS,
    CLOUDEVENT_NAME: _CLOUDEVENT,
    NOTIFICATION_V1_NAME: _NOTIFICATION,
    PAYLOAD_V2_NAME: {
        "title": "Payload version 2 (Standard Webhooks)",
        "type": "object",
        "required": ["type", "timestamp", "data"],
        "additionalProperties": False,
        "properties": {
            "type": {
                "type": "string",
                "description": "The notification's type, e.g. `custody.release`",
            },
            "timestamp": {
                "type": "string",
                "format": "date-time",
                "description": "When the disclosure was decided (RFC 3339, UTC)",
            },
            "data": {
                "type": "object",
                "required": ["disclosure", "notification"],
                "additionalProperties": False,
                "properties": {
                    "disclosure": _ref(TERMS_NAME),
                    "notification": _ref(CLOUDEVENT_NAME),
                },
            },
        },
    },
    PAYLOAD_V1_NAME: {
        "title": "Payload version 1",
        "type": "object",
        "required": ["disclosure", "notification"],
        "additionalProperties": False,
        "properties": {
            "disclosure": _ref(TERMS_NAME),
            "notification": _ref(NOTIFICATION_V1_NAME),
        },
    },
    WEBHOOK_DISCLOSURE: {
        "title": "Webhook disclosure",
        "description": "A disclosure pushed to a subscription of format `json`: why and on "
        "what terms it was shared, and the notification with only the fields the recipient was "
        "granted. Payload version 2 (the default for new subscriptions) is the Standard "
        "Webhooks envelope; version 1 is the body from before it, kept for subscriptions that "
        "chose it (and every subscription made before version 2 existed). docs/webhooks.md "
        "says how to move.",
        "oneOf": [_ref(PAYLOAD_V2_NAME), _ref(PAYLOAD_V1_NAME)],
    },
}


def _header(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }


WEBHOOKS: dict[str, Any] = {
    "disclosure": {
        "post": {
            "operationId": "receiveDisclosure",
            "tags": ["subscriptions"],
            "summary": "A disclosure, pushed to a subscription's URL",
            "description": "Signed as Standard Webhooks specifies, over "
            "`{webhook-id}.{webhook-timestamp}.{body}`, with the schemes the subscription chose "
            "(`signature_schemes`): `v1`, HMAC-SHA256 with the subscription's secret(s) "
            "(`whsec_…`); `v1a`, Ed25519 with the hub's key(s) published at GET "
            "/v1/webhook-keys (`whpk_…`; during a key rotation the retiring key signs too). "
            "The body is as below for format `json`, in the subscription's `payload_version`; "
            "a native format (`pr2-json`, `visor-xml`, `socialwork-json`) is sent with its own "
            "Content-Type. Reject a timestamp too far from now (Standard Webhooks suggests "
            "five minutes) and de-duplicate on `webhook-id`.",
            "parameters": [
                _header(
                    "webhook-id",
                    "The disclosure's id: the same on every retry and replay, so de-duplicate "
                    "on it",
                ),
                _header("webhook-timestamp", "When it was signed, in Unix seconds"),
                _header(
                    "webhook-signature",
                    "Space-separated signatures: `v1,<base64 HMAC-SHA256>`, one per signing "
                    "secret (two during a rotation of the subscription's secret), and/or "
                    "`v1a,<base64 Ed25519>`, one per hub key listed at GET /v1/webhook-keys "
                    "(two during a rotation of the hub's keys). Accept the delivery when any "
                    "signature of a scheme you verify checks out; ignore schemes you do not "
                    "know",
                ),
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": COMPONENTS + WEBHOOK_DISCLOSURE}}
                },
            },
            "responses": {
                "2XX": {"description": "Received: it is recorded as delivered"},
                "410": {
                    "description": "Gone: the hub disables the subscription and cancels its "
                    "pending deliveries"
                },
                "default": {
                    "description": "Anything else (or a timeout): sent again on the retry "
                    "schedule, then dead (see GET /v1/deliveries?status=dead)"
                },
            },
            "security": [],
        }
    }
}
