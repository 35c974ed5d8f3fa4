"""The OpenAPI 3.1 document agencies build clients from: FastAPI's, completed with the contract of
`events/` (`hub.api.openapi_events`), RFC 9457 problem details for every error, `servers`, an
explicit security requirement on every operation, and the webhook deliveries
(`hub.api.openapi_webhooks`).

Routes declare what they read and answer with `problems`, `json_body` and the `NOTIFICATION`
and `NOTIFICATION_BATCH` schema references; `install` builds the document from them once, on the
first request for it (schemas are read then, not at import).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from hub.api.openapi_events import (
    COMPONENTS,
    NOTIFICATION,
    NOTIFICATION_BATCH,
    PUSHED_NOTIFICATION,
    EventContract,
)
from hub.api.openapi_webhooks import WEBHOOK_SCHEMAS, WEBHOOKS
from hub.api.problems import PROBLEM_BASE, PROBLEM_JSON
from hub.resources import resource_dir
from hub.settings import Settings

__all__ = [
    "ANY_OF_SECURITY",
    "NOTIFICATION",
    "NOTIFICATION_BATCH",
    "PUSHED_NOTIFICATION",
    "install",
    "json_body",
    "problems",
]

PROBLEM = "Problem"
#: An operation's `openapi_extra` key for alternative security requirements (any one will do),
#: which replace the all-scopes-at-once requirement FastAPI derives from `Security(scopes=…)`.
ANY_OF_SECURITY = "x-pph-security-any-of"
#: FastAPI's own validation-error schemas: the hub answers problem details instead.
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
DEFAULT_EVENTS_DIR = resource_dir("events")

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
            if ANY_OF_SECURITY in operation:
                operation["security"] = operation.pop(ANY_OF_SECURITY)
            operation.setdefault("security", [])
            _add_examples(operation, contract)
    schemas.update(WEBHOOK_SCHEMAS)
    document["webhooks"] = WEBHOOKS
    return document


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
    {"name": "directory", "description": "The recipients, their roles and areas"},
    {"name": "admin", "description": "Administering agency clients (the hub operator)"},
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
        if schema in (NOTIFICATION, PUSHED_NOTIFICATION):
            media["examples"] = {
                name: {"$ref": f"#/components/examples/{name}"}
                for name in contract.publishable_examples()
            }
        elif schema == NOTIFICATION_BATCH:
            media["examples"] = {"batch": {"$ref": "#/components/examples/batch"}}
