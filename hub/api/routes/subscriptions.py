"""Webhook subscriptions: `/v1/subscriptions`. A recipient manages only its own (another's are
404, as if they did not exist); signing secrets are shown only when made (create, rotate)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, cast
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from hub.api.body import parse_body, read_json
from hub.api.deps import ContainerDep
from hub.api.openapi import json_body, problems
from hub.api.security import Caller, require_scopes
from hub.errors import FieldProblem, InvalidRequest
from hub.services.subscriptions import UNSET, Subscription
from hub.services.webhook_payload import DEFAULT_PAYLOAD_VERSION
from hub.services.webhook_signing import DEFAULT_SIGNATURE_SCHEMES

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"])


PayloadVersion = Literal[1, 2]
SignatureScheme = Literal["v1", "v1a"]
PAYLOAD_VERSION_HELP = (
    "The body of the `json` format: 2, Standard Webhooks `{type, timestamp, data: {disclosure, "
    "notification}}`; 1, `{disclosure, notification}` (the body before version 2, kept for "
    "existing receivers). See docs/webhooks.md"
)
SIGNATURE_SCHEMES_HELP = (
    "How each delivery is signed (`webhook-signature`): `v1`, HMAC-SHA256 with the "
    "subscription's secret; `v1a`, Ed25519 with the hub's keys published at GET /v1/webhook-keys"
)

Manager = Annotated[Caller, Depends(require_scopes("subscriptions:manage"))]

FORBIDDEN = {403: "The token lacks subscriptions:manage"}
NOT_FOUND = {404: "No such subscription of the caller's"}
DELETED = {409: "The subscription is deleted"}
BODY = {
    400: "Not strict JSON",
    413: "The body is over the size limit",
    415: "The body is not JSON",
    422: "Invalid; `errors` names each field; nothing was changed",
}
PROBLEMS = problems(FORBIDDEN | NOT_FOUND | DELETED)


def _default_schemes() -> list[SignatureScheme]:
    return cast(list[SignatureScheme], list(DEFAULT_SIGNATURE_SCHEMES))


class NewSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="Where to POST each disclosure: https, on a public address")
    event_types: list[str] | None = Field(
        default=None,
        description="Only these event types (each one the recipient can be entitled to); "
        "leave out for every type it is entitled to",
    )
    format: str = Field(
        default="json",
        description="How a disclosure is rendered: `json` (the redacted CloudEvent), or a "
        "native format: `pr2-json`, `visor-xml`, `socialwork-json` (types a native format "
        "cannot carry are sent as `json`)",
    )
    payload_version: PayloadVersion = Field(
        default=DEFAULT_PAYLOAD_VERSION, description=PAYLOAD_VERSION_HELP
    )
    signature_schemes: list[SignatureScheme] = Field(
        default_factory=_default_schemes,
        min_length=1,
        description=SIGNATURE_SCHEMES_HELP,
    )


class SubscriptionChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    event_types: list[str] | None = Field(default=None, description="null: every type")
    format: str | None = None
    status: Literal["active", "disabled"] | None = Field(
        default=None, description="`active` enables a disabled subscription again"
    )
    drop_previous_secrets: bool = Field(
        default=False, description="End a rotation: keep only the newest signing secret"
    )
    payload_version: PayloadVersion | None = Field(default=None, description=PAYLOAD_VERSION_HELP)
    signature_schemes: list[SignatureScheme] | None = Field(
        default=None, min_length=1, description=SIGNATURE_SCHEMES_HELP
    )


class SubscriptionView(BaseModel):
    """A subscription, without its secrets."""

    id: str
    recipient_id: str
    url: str
    event_types: list[str] | None
    format: str
    payload_version: int = Field(description=PAYLOAD_VERSION_HELP)
    signature_schemes: list[str] = Field(description=SIGNATURE_SCHEMES_HELP)
    status: str
    status_reason: str | None
    #: How many secrets sign each delivery (2 during a rotation).
    signing_secrets: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, subscription: Subscription) -> SubscriptionView:
        return cls(
            id=subscription.subscription_id,
            recipient_id=subscription.recipient_id,
            url=subscription.url,
            event_types=(
                None if subscription.event_types is None else list(subscription.event_types)
            ),
            format=subscription.format,
            payload_version=subscription.payload_version,
            signature_schemes=list(subscription.signature_schemes),
            status=subscription.status,
            status_reason=subscription.status_reason,
            signing_secrets=len(subscription.secrets),
            created_at=subscription.created_at,
            updated_at=subscription.updated_at,
        )


class SubscriptionWithSecret(SubscriptionView):
    secret: str = Field(
        description="The new Standard Webhooks signing secret (`whsec_…`): shown only now"
    )


class SubscriptionList(BaseModel):
    subscriptions: list[SubscriptionView]


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    """The request body's schema for the OpenAPI document (the body is read by `read_json`,
    with its size limit and strict JSON, then validated)."""
    return json_body(model.model_json_schema())


@router.post(
    "",
    status_code=201,
    response_model=SubscriptionWithSecret,
    operation_id="createSubscription",
    responses=problems(FORBIDDEN | BODY),
    openapi_extra=_json_body(NewSubscription),
)
async def create_subscription(
    request: Request, response: Response, container: ContainerDep, caller: Manager
) -> SubscriptionWithSecret:
    """Subscribe a URL to the caller's disclosures. The answer carries the signing secret, which
    is never shown again."""
    raw = await read_json(request, container.settings.max_request_bytes)
    body = parse_body(NewSubscription, raw)
    subscription, secret = await container.subscriptions.create(
        caller.agency,
        url=body.url,
        event_types=body.event_types,
        format=body.format,
        payload_version=body.payload_version,
        signature_schemes=body.signature_schemes,
    )
    response.headers["Location"] = f"/v1/subscriptions/{quote(subscription.subscription_id)}"
    return SubscriptionWithSecret(**SubscriptionView.of(subscription).model_dump(), secret=secret)


@router.get(
    "",
    response_model=SubscriptionList,
    operation_id="listSubscriptions",
    responses=problems(FORBIDDEN),
)
async def list_subscriptions(
    container: ContainerDep,
    caller: Manager,
    include_deleted: Annotated[bool, Query(description="Also those deleted")] = False,
) -> SubscriptionList:
    """The caller's subscriptions, oldest first."""
    found = await container.subscriptions.list_for(caller.agency, include_deleted=include_deleted)
    return SubscriptionList(subscriptions=[SubscriptionView.of(s) for s in found])


@router.get(
    "/{subscription_id}",
    response_model=SubscriptionView,
    operation_id="getSubscription",
    responses=problems(FORBIDDEN | NOT_FOUND),
)
async def get_subscription(
    subscription_id: str, container: ContainerDep, caller: Manager
) -> SubscriptionView:
    return SubscriptionView.of(await container.subscriptions.get(caller.agency, subscription_id))


@router.patch(
    "/{subscription_id}",
    response_model=SubscriptionView,
    operation_id="changeSubscription",
    responses=problems(FORBIDDEN | NOT_FOUND | DELETED | BODY),
    openapi_extra=_json_body(SubscriptionChanges),
)
async def change_subscription(
    subscription_id: str, request: Request, container: ContainerDep, caller: Manager
) -> SubscriptionView:
    """Change only the fields given. Pending deliveries go to the new URL."""
    raw = await read_json(request, container.settings.max_request_bytes)
    body = parse_body(SubscriptionChanges, raw)
    given = body.model_fields_set
    problems = [
        FieldProblem(f"/{name}", "must not be null")
        for name in ("url", "format", "status", "payload_version", "signature_schemes")
        if name in given and getattr(body, name) is None
    ]
    if problems:
        raise InvalidRequest("the changes are invalid: null where a value is needed", problems)
    changed = await container.subscriptions.update(
        caller.agency,
        subscription_id,
        url=body.url if body.url is not None else UNSET,
        event_types=body.event_types if "event_types" in given else UNSET,
        format=body.format if body.format is not None else UNSET,
        status=body.status if body.status is not None else UNSET,
        drop_previous_secrets=body.drop_previous_secrets,
        payload_version=body.payload_version if body.payload_version is not None else UNSET,
        signature_schemes=(body.signature_schemes if body.signature_schemes is not None else UNSET),
    )
    return SubscriptionView.of(changed)


@router.delete(
    "/{subscription_id}",
    status_code=204,
    operation_id="deleteSubscription",
    responses=PROBLEMS,
)
async def delete_subscription(
    subscription_id: str, container: ContainerDep, caller: Manager
) -> Response:
    """Delete it: nothing more is pushed to it, and its pending deliveries are cancelled. The
    record stays (status `deleted`), for the audit."""
    await container.subscriptions.delete(caller.agency, subscription_id)
    return Response(status_code=204)


@router.post(
    "/{subscription_id}/disable",
    response_model=SubscriptionView,
    operation_id="disableSubscription",
    responses=PROBLEMS,
)
async def disable_subscription(
    subscription_id: str, container: ContainerDep, caller: Manager
) -> SubscriptionView:
    """Stop pushing to it; its pending deliveries are cancelled (replay them once it is enabled
    again with `PATCH {"status": "active"}`)."""
    disabled = await container.subscriptions.disable(
        caller.agency, subscription_id, reason=f"disabled by client {caller.client_id}"
    )
    return SubscriptionView.of(disabled)


@router.post(
    "/{subscription_id}/rotate-secret",
    response_model=SubscriptionWithSecret,
    operation_id="rotateSubscriptionSecret",
    responses=PROBLEMS,
)
async def rotate_secret(
    subscription_id: str, container: ContainerDep, caller: Manager
) -> SubscriptionWithSecret:
    """A new signing secret, shown only now. Deliveries are signed with it and with the previous
    one until `PATCH {"drop_previous_secrets": true}`."""
    subscription, secret = await container.subscriptions.rotate_secret(
        caller.agency, subscription_id
    )
    return SubscriptionWithSecret(**SubscriptionView.of(subscription).model_dump(), secret=secret)
