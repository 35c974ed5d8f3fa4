"""The OpenAPI 3.1 document agencies build clients from: FastAPI's, completed with the contract of
`events/` (one schema per event type, discriminated by `type`, with the examples of
`events/examples/`), RFC 9457 problem details for every error, `servers`, and an explicit
security requirement on every operation.

Routes declare what they read and answer with `problems`, `json_body` and the `NOTIFICATION`
and `NOTIFICATION_BATCH` schema references; `install` builds the document from them once, on the
first request for it (schemas are read then, not at import).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from hub.api.problems import PROBLEM_BASE, PROBLEM_JSON
from hub.domain.notifications import HUB_WRITTEN_TYPES
from hub.domain.schemas import ENVELOPE_FILE, dataschema_urn
from hub.settings import PROJECT_ROOT, Settings

COMPONENTS = "#/components/schemas/"
PROBLEM = "Problem"
#: The envelope of `events/envelope.v1.schema.json` less what differs by type (`type`,
#: `dataschema`, `data`), which each type's schema adds.
CONTEXT = "NotificationContext"
_BY_TYPE = ("type", "dataschema", "data")
#: Every notification the hub validates: one schema per event type, discriminated by `type`.
NOTIFICATION_NAME = "Notification"
NOTIFICATION_BATCH_NAME = "NotificationBatch"
NOTIFICATION: dict[str, Any] = {"$ref": COMPONENTS + NOTIFICATION_NAME}
NOTIFICATION_BATCH: dict[str, Any] = {"$ref": COMPONENTS + NOTIFICATION_BATCH_NAME}
#: FastAPI's own validation-error schemas: the hub answers problem details instead.
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
DEFAULT_EVENTS_DIR = PROJECT_ROOT / "events"

_SCHEMA_FILE = re.compile(r"(?P<type>[a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)+)\.v(?P<v>[1-9][0-9]*)")
_LOCAL_DEF = re.compile(r"#/\$defs/(?P<name>[A-Za-z0-9_-]+)")

#: What each status means wherever a route does not say more precisely.
DESCRIPTIONS: dict[int, str] = {
    400: "The body is not strict JSON, or a parameter or header is malformed",
    401: "Missing, invalid or expired token (`WWW-Authenticate` says why)",
    403: "The token lacks the needed scope",
    404: "Not found, or not the caller's to see",
    409: "Conflicts with what is stored; nothing was changed",
    413: "The body is over the size limit",
    415: "The body is not JSON (`Content-Type` must be application/json)",
    422: "A parameter is invalid; `errors` names each one (JSON Pointer) and nothing was changed",
    429: "Too many requests from this client; wait for `Retry-After` seconds",
    500: "The hub failed to handle the request; nothing is said about why",
    503: "The database or broker is unavailable for now; nothing was changed, retry after "
    "`Retry-After` seconds",
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details. Field-level problems are listed in `errors`.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {
            "type": "string",
            "description": f"The problem type, a URN under `{PROBLEM_BASE}`",
            "examples": [PROBLEM_BASE + "invalid-notification"],
        },
        "title": {"type": "string", "description": "Short, the same for every problem of a type"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What was wrong with this request"},
        "instance": {"type": "string", "description": "The path that was requested"},
        "errors": {
            "type": "array",
            "description": "Each field that was wrong",
            "items": {
                "type": "object",
                "required": ["pointer", "detail"],
                "properties": {
                    "pointer": {
                        "type": "string",
                        "description": "JSON Pointer (RFC 6901) to the field; in a batch it "
                        "starts with the item's index",
                    },
                    "detail": {"type": "string"},
                    "index": {"type": "integer", "description": "The item of a batch"},
                },
            },
        },
        "conflict": {
            "type": "string",
            "description": "For an identifier conflict: what kind of conflict it is",
        },
        "review_id": {
            "type": "string",
            "description": "For an identifier conflict held for review: the review's id",
        },
    },
    # RFC 9457 section 3.2: problem types may define extension members.
    "additionalProperties": True,
}

Responses = dict[int | str, dict[str, Any]]


def problem_response(description: str) -> dict[str, Any]:
    """One error response: problem details, described."""
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": COMPONENTS + PROBLEM}}},
    }


def problems(
    described: Mapping[int, str] | None = None,
    *,
    authenticated: bool = True,
    database: bool = True,
) -> Responses:
    """The problem responses of a route: those it `described`, and those every route of its kind
    can give — 422 (any route: the app-wide parameter check), 500; 401, 403 and 429 when it
    needs a token; 503 when it uses the database."""
    statuses = set(described or {}) | {422, 500}
    if authenticated:
        statuses |= {401, 403, 429}
    if database:
        statuses.add(503)
    given = dict(described or {})
    return {
        status: problem_response(given.get(status, DESCRIPTIONS[status]))
        for status in sorted(statuses)
    }


def json_body(
    schema: Mapping[str, Any],
    *,
    media_types: tuple[str, ...] = ("application/json",),
    examples: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """`openapi_extra` declaring a required JSON request body (for a route that reads its body
    itself, with `hub.api.body.read_json`: its size limit and strict JSON); `examples` by name,
    each `{"summary": …, "value": …}`."""
    media: dict[str, Any] = {"schema": dict(schema)}
    if examples:
        media["examples"] = dict(examples)
    content = {media_type: dict(media) for media_type in media_types}
    body: dict[str, Any] = {"required": True, "content": content}
    if description is not None:
        body["description"] = description
    return {"requestBody": body}


def install(app: FastAPI, settings: Settings | None) -> None:
    """Serve the completed document at /openapi.json (built once, when first asked for)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            container = getattr(app.state, "container", None)
            current: Settings | None = container.settings if container is not None else settings
            app.openapi_schema = build_document(
                app,
                events_dir=current.events_dir if current is not None else DEFAULT_EVENTS_DIR,
                token_endpoint_url=(
                    None
                    if current is None or current.token_endpoint_url is None
                    else str(current.token_endpoint_url)
                ),
            )
        return app.openapi_schema

    setattr(app, "openapi", openapi)  # noqa: B010 - FastAPI's documented override point


def build_document(
    app: FastAPI, *, events_dir: Path, token_endpoint_url: str | None = None
) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version="3.1.0",
        description=app.description,
        routes=app.routes,
        tags=TAGS,
    )
    document["servers"] = _servers(token_endpoint_url)
    components = document.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    for name in FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    schemas[PROBLEM] = PROBLEM_SCHEMA
    contract = EventContract.load(events_dir)
    schemas.update(contract.schemas())
    components["examples"] = contract.examples()
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation.setdefault("security", [])
            _add_examples(operation, contract)
    schemas[WEBHOOK_DISCLOSURE] = WEBHOOK_DISCLOSURE_SCHEMA
    document["webhooks"] = WEBHOOKS
    return document


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


TAGS: list[dict[str, Any]] = [
    {"name": "oauth", "description": "Access tokens (OAuth 2.0 client credentials)"},
    {"name": "events", "description": "Pushing notifications, as `events/` defines them"},
    {"name": "feed", "description": "What was disclosed to the caller's agency"},
    {"name": "disclosures", "description": "One disclosure, and acknowledging it"},
    {"name": "subscriptions", "description": "Webhook subscriptions"},
    {"name": "deliveries", "description": "Webhook deliveries, dead letters and replays"},
    {"name": "reviews", "description": "Proposed disclosures held for case-by-case review"},
    {"name": "policy", "description": "Why a notification is or would be shared"},
    {"name": "audit", "description": "The signed audit trail and the DPO's queries"},
    {"name": "health", "description": "Liveness and readiness"},
    {"name": "metrics", "description": "Prometheus metrics"},
]


def _servers(token_endpoint_url: str | None) -> list[dict[str, str]]:
    servers = [{"url": "/", "description": "The hub serving this document"}]
    if token_endpoint_url is not None:
        parts = urlsplit(token_endpoint_url)
        servers.insert(
            0, {"url": f"{parts.scheme}://{parts.netloc}", "description": "This hub's public URL"}
        )
    return servers


def _add_examples(operation: dict[str, Any], contract: EventContract) -> None:
    """Every request body of notifications gets the examples of `events/examples/`."""
    content = operation.get("requestBody", {}).get("content", {})
    for media in content.values():
        schema = media.get("schema", {})
        if schema == NOTIFICATION:
            media["examples"] = {
                name: {"$ref": f"#/components/examples/{name}"}
                for name in contract.publishable_examples()
            }
        elif schema == NOTIFICATION_BATCH:
            media["examples"] = {"batch": {"$ref": "#/components/examples/batch"}}


class EventContract:
    """The schemas and examples of `events/`, as OpenAPI components: the envelope, each body
    schema (its `$defs` lifted to components of their own, so that every reference resolves
    within the document), one notification schema per type, and `Notification`, their union."""

    def __init__(
        self,
        envelope: dict[str, Any],
        bodies: dict[tuple[str, int], dict[str, Any]],
        examples: dict[str, dict[str, Any]],
    ) -> None:
        self._envelope = envelope
        self._bodies = bodies
        self._examples = examples

    @classmethod
    def load(cls, events_dir: Path) -> EventContract:
        envelope = _read(events_dir / ENVELOPE_FILE)
        bodies: dict[tuple[str, int], dict[str, Any]] = {}
        for path in sorted(events_dir.glob("*.schema.json")):
            match = _SCHEMA_FILE.fullmatch(path.name.removesuffix(".schema.json"))
            if path.name != ENVELOPE_FILE and match is not None:
                bodies[(match["type"], int(match["v"]))] = _read(path)
        examples = {
            path.stem: _read(path) for path in sorted((events_dir / "examples").glob("*.json"))
        }
        return cls(envelope, bodies, examples)

    def event_types(self) -> list[str]:
        return sorted({event_type for event_type, _ in self._bodies})

    def schemas(self) -> dict[str, Any]:
        schemas: dict[str, Any] = {CONTEXT: _context(self._envelope)}
        mapping: dict[str, str] = {}
        for (event_type, version), body in sorted(self._bodies.items()):
            schemas.update(_lifted(body_schema_name(event_type, version), body))
        for event_type in self.event_types():
            versions = sorted(v for t, v in self._bodies if t == event_type)
            refs = [{"$ref": COMPONENTS + body_schema_name(event_type, v)} for v in versions]
            name = notification_schema_name(event_type)
            pushed_by = (
                "the hub itself; agencies cannot push it"
                if event_type in HUB_WRITTEN_TYPES
                else "agency systems"
            )
            schemas[name] = {
                "title": f"{event_type} notification",
                "description": f"A `{event_type}` notification, pushed by {pushed_by}.",
                "allOf": [
                    {"$ref": COMPONENTS + CONTEXT},
                    {
                        "type": "object",
                        "required": list(_BY_TYPE),
                        "properties": {
                            "type": {"type": "string", "const": event_type},
                            "dataschema": {
                                "type": "string",
                                "enum": [dataschema_urn(event_type, v) for v in versions],
                                "description": "Names the body schema and its version",
                            },
                            "data": refs[0] if len(refs) == 1 else {"oneOf": refs},
                        },
                    },
                ],
                # The envelope's `additionalProperties: false`, across both parts.
                "unevaluatedProperties": False,
            }
            mapping[event_type] = COMPONENTS + name
        schemas[NOTIFICATION_NAME] = {
            "title": "Notification",
            "description": "A notification (CloudEvents 1.0, JSON structured mode) of any event "
            "type: its `type` says which schema applies.",
            "oneOf": [{"$ref": ref} for ref in mapping.values()],
            "discriminator": {"propertyName": "type", "mapping": mapping},
        }
        schemas[NOTIFICATION_BATCH_NAME] = {
            "title": "Notification batch",
            "description": "Notifications stored all or nothing, in order.",
            "type": "array",
            "minItems": 1,
            "items": NOTIFICATION,
        }
        return schemas

    def publishable_examples(self) -> list[str]:
        return [name for name in self._examples if name not in HUB_WRITTEN_TYPES]

    def examples(self) -> dict[str, Any]:
        examples: dict[str, Any] = {
            name: {"summary": f"A {name} notification", "value": value}
            for name, value in self._examples.items()
        }
        sps = [
            value
            for name, value in self._examples.items()
            if value.get("source", "").startswith("urn:pph:sps:")
        ][:2]
        examples["batch"] = {"summary": "Two notifications from one source", "value": sps}
        return examples


def body_schema_name(event_type: str, version: int) -> str:
    """`custody.admission`, 1 -> `CustodyAdmissionV1`."""
    return f"{_pascal(event_type)}V{version}"


def notification_schema_name(event_type: str) -> str:
    """`custody.admission` -> `CustodyAdmissionNotification`."""
    return f"{_pascal(event_type)}Notification"


def _pascal(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[.\-]", text))


def _without_identity(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A schema as a component: no `$schema` or `$id` of its own (its references are rewritten
    to the document's components instead)."""
    return {k: v for k, v in schema.items() if k not in ("$schema", "$id", "$defs")}


def _context(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The envelope's members that every type shares (its per-type `if`/`then` rules on
    `dataschema` become each type's own `dataschema` enum)."""
    context = {
        key: value
        for key, value in _without_identity(envelope).items()
        if key not in ("allOf", "additionalProperties")
    }
    context["title"] = "Notification context"
    context["properties"] = {k: v for k, v in envelope["properties"].items() if k not in _BY_TYPE}
    context["required"] = [k for k in envelope["required"] if k not in _BY_TYPE]
    return context


def _lifted(name: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """`name` and each of its `$defs` as components, with `#/$defs/x` references pointing at
    them."""
    definitions: dict[str, Any] = dict(schema.get("$defs", {}))

    def rename(definition: str) -> str:
        return f"{name}{_pascal(definition)}"

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            rewritten = {key: rewrite(value) for key, value in node.items()}
            ref = node.get("$ref")
            if isinstance(ref, str):
                match = _LOCAL_DEF.fullmatch(ref)
                if match is None or match["name"] not in definitions:
                    raise ValueError(f"{name}: cannot resolve $ref {ref!r} in the document")
                rewritten["$ref"] = COMPONENTS + rename(match["name"])
            return rewritten
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    lifted = {name: rewrite(_without_identity(schema))}
    for definition, value in definitions.items():
        lifted[rename(definition)] = rewrite(value)
    return lifted


def _read(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded
