"""The `webhooks` section of the OpenAPI document: what a subscription's URL receives."""

from __future__ import annotations

from typing import Any

from hub.api.openapi_events import COMPONENTS

#: The body of a webhook in the `json` format (`hub.services.delivery.render_json`).
WEBHOOK_DISCLOSURE = "WebhookDisclosure"
WEBHOOK_DISCLOSURE_SCHEMA: dict[str, Any] = {
    "title": "Webhook disclosure",
    "description": "A disclosure pushed to a subscription of format `json`: why and on what "
    "terms it was shared, and the notification with only the fields the recipient was granted.",
    "type": "object",
    "required": ["disclosure", "notification"],
    "additionalProperties": False,
    "properties": {
        "disclosure": {
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
        },
        "notification": {
            "type": "object",
            "description": "The notification (CloudEvents structured JSON) with only the "
            "granted fields: a redacted `Notification`, so not every required field is there",
        },
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
            "description": "Signed as Standard Webhooks specifies, with the subscription's "
            "secret(s). The body is as below for format `json`; a native format (`pr2-json`, "
            "`visor-xml`, `socialwork-json`) is sent with its own Content-Type.",
            "parameters": [
                _header(
                    "webhook-id",
                    "The disclosure's id: the same on every retry and replay, so de-duplicate "
                    "on it",
                ),
                _header("webhook-timestamp", "When it was signed, in Unix seconds"),
                _header(
                    "webhook-signature",
                    "`v1,<base64 HMAC-SHA256>`, one per signing secret, space separated "
                    "(two during a rotation)",
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
