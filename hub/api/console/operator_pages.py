"""The operator's pages: the registered API clients, each agency's webhook subscriptions and the
policy bundle in force (`/console/operator`), and the dead deliveries with a replay of one
(`/console/operator/deliveries`). Only the operator role sees them.

They read through the services the API's own routes use: `ClientAdministration.list_clients`
(`/v1/admin/clients`), `SubscriptionService.list_for` (`/v1/subscriptions`) and
`DeliveryService.find` and `.replay` (`/v1/deliveries`, as an operator with `admin` sees them).
Nothing here is personal data: no client secret or key (only how a client authenticates), a
receiver's host but not its URL's path or query, and of a dead delivery its ids, recipient,
notification type (from `LatencyService`, as the MAPPA pages read it), attempts and the kind of
its last error, never the notification it carries. So no page records a
consultation. A replay changes the outbox exactly as the API's replay does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from hub.api.console.officer import principal_of
from hub.api.console.rendering import page, signed_in_or_answer
from hub.api.console.roles import HubRole
from hub.api.console.runtime import Console
from hub.api.console.sessions import ConsoleSession, csrf_matches
from hub.api.deps import ContainerDep
from hub.bootstrap import Container
from hub.errors import Conflict, NotFound
from hub.services.client_admin import auth_method, key_ids
from hub.services.clients import RegisteredClient
from hub.services.delivery import Delivery
from hub.services.subscriptions import Subscription

logger = logging.getLogger("hub.console")

router = APIRouter(include_in_schema=False)

OPERATOR = HubRole("operator")
#: How many dead deliveries the page lists (oldest first); the CLI and API page through more.
DEAD_SHOWN = 100

Text = Annotated[str, Form()]


@dataclass(frozen=True, slots=True)
class ClientRow:
    client_id: str
    name: str
    agency: str
    agency_name: str
    scopes: list[str]
    enabled: bool
    key_kind: str
    created_at: str
    disabled_at: str | None


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    subscription_id: str
    recipient_id: str
    recipient_name: str
    host: str
    event_types: tuple[str, ...] | None
    payload_version: int
    signature_schemes: tuple[str, ...]
    status: str
    status_reason: str | None


@dataclass(frozen=True, slots=True)
class DeadRow:
    delivery_id: str
    disclosure_id: str
    subscription_id: str
    recipient_id: str
    recipient_name: str
    event_type: str
    attempts: int
    error_class: str
    created_at: str


def _when(value: object) -> str:
    return value.strftime("%d %b %Y %H:%M UTC") if hasattr(value, "strftime") else ""


def key_kind(client: RegisteredClient) -> str:
    """How the client authenticates, never its secret or keys: a secret, or how many keys."""
    if auth_method(client) == "client_secret_basic":
        return "Client secret"
    count = len(key_ids(client))
    return f"Private key JWT ({count} key{'s' if count != 1 else ''})"


def receiver_host(url: str) -> str:
    """A subscription's receiver as its host (and port), without the path or query, which may
    carry a token."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def error_class(last_error: str | None) -> str:
    """The kind of a delivery's last error: `HTTP 503`, or the text before its first colon
    (`ConnectError`), never what a receiver said in its answer."""
    if not last_error:
        return "None recorded"
    return last_error.split(":", 1)[0].strip()[:60] or "Unknown"


def operator_or_answer(request: Request) -> tuple[Console, ConsoleSession | Response]:
    """The console and the signed-in operator, or the answer to send instead: to the sign-in
    page when nobody is signed in, the refused page to anyone else."""
    return signed_in_or_answer(request, {OPERATOR}, "Operator", "the operator pages")


def _recipient_names(container: Container) -> dict[str, str]:
    return {r.id: r.name for r in container.policy.directory.recipients.values()}


async def _clients(container: Container, names: dict[str, str]) -> list[ClientRow]:
    return [
        ClientRow(
            client_id=c.client_id,
            name=c.name,
            agency=c.agency,
            agency_name=names.get(c.agency, c.agency),
            scopes=sorted(c.scopes),
            enabled=c.is_enabled,
            key_kind=key_kind(c),
            created_at=_when(c.created_at),
            disabled_at=_when(c.disabled_at) if c.disabled_at else None,
        )
        for c in await container.client_administration().list_clients()
    ]


def _subscription_row(subscription: Subscription, names: dict[str, str]) -> SubscriptionRow:
    return SubscriptionRow(
        subscription_id=subscription.subscription_id,
        recipient_id=subscription.recipient_id,
        recipient_name=names.get(subscription.recipient_id, subscription.recipient_id),
        host=receiver_host(subscription.url),
        event_types=subscription.event_types,
        payload_version=subscription.payload_version,
        signature_schemes=subscription.signature_schemes,
        status=subscription.status,
        status_reason=subscription.status_reason,
    )


async def _subscriptions(container: Container, names: dict[str, str]) -> list[SubscriptionRow]:
    found: list[SubscriptionRow] = []
    for recipient_id in sorted(names):
        for subscription in await container.subscriptions.list_for(recipient_id):
            found.append(_subscription_row(subscription, names))
    return found


async def _event_type(container: Container, delivery: Delivery) -> str:
    """The notification type a delivery carries, from the disclosure's recorded moments (the
    latency service's, which hold no personal data), not from the notification itself."""
    try:
        times = await container.latency.of_disclosure(delivery.recipient_id, delivery.disclosure_id)
    except NotFound:
        return "Unknown"
    return times.event_type


async def _dead_row(container: Container, delivery: Delivery, names: dict[str, str]) -> DeadRow:
    return DeadRow(
        delivery_id=delivery.delivery_id,
        disclosure_id=delivery.disclosure_id,
        subscription_id=delivery.subscription_id,
        recipient_id=delivery.recipient_id,
        recipient_name=names.get(delivery.recipient_id, delivery.recipient_id),
        event_type=await _event_type(container, delivery),
        attempts=delivery.attempts,
        error_class=error_class(delivery.last_error),
        created_at=_when(delivery.created_at),
    )


@router.get("/console/operator", name="console_operator")
async def overview(request: Request, container: ContainerDep) -> Response:
    """Clients, subscriptions per agency and the policy bundle in force."""
    console, operator = operator_or_answer(request)
    if isinstance(operator, Response):
        return operator
    names = _recipient_names(container)
    bundle = container.policy
    return page(
        request,
        console,
        "operator_overview.html",
        person=operator.person,
        clients=await _clients(container, names),
        subscriptions=await _subscriptions(container, names),
        bundle=bundle,
        rule_count=len(bundle.rules),
    )


async def _deliveries_page(
    request: Request,
    console: Console,
    operator: ConsoleSession,
    container: Container,
    *,
    status_code: int = 200,
    error: str | None = None,
    replayed: Delivery | None = None,
) -> Response:
    names = _recipient_names(container)
    found = await container.deliveries.find(None, status="dead", limit=DEAD_SHOWN + 1)
    return page(
        request,
        console,
        "operator_deliveries.html",
        status_code=status_code,
        fragment="partials/operator_dead_deliveries.html",
        person=operator.person,
        csrf_token=operator.csrf_token,
        dead=[await _dead_row(container, d, names) for d in found[:DEAD_SHOWN]],
        more=len(found) > DEAD_SHOWN,
        shown=DEAD_SHOWN,
        error=error,
        replayed=replayed,
        replayed_name=names.get(replayed.recipient_id, replayed.recipient_id) if replayed else "",
    )


@router.get("/console/operator/deliveries", name="console_operator_deliveries")
async def dead_deliveries(request: Request, container: ContainerDep) -> Response:
    """Every recipient's dead deliveries, oldest first, each with a replay button."""
    console, operator = operator_or_answer(request)
    if isinstance(operator, Response):
        return operator
    return await _deliveries_page(request, console, operator, container)


@router.post("/console/operator/deliveries/replay", name="console_operator_replay")
async def replay(
    request: Request, container: ContainerDep, delivery_id: Text = "", csrf_token: Text = ""
) -> Response:
    """Send a dead (or cancelled) delivery again, now, with the same `webhook-id`: the API's
    `POST /v1/deliveries/{id}/replay` as an operator, through the same service, audited under
    the signed-in operator's name."""
    console, operator = operator_or_answer(request)
    if isinstance(operator, Response):
        return operator
    if not csrf_matches(operator, csrf_token):
        return page(
            request,
            console,
            "error.html",
            status_code=403,
            title="Replay refused",
            message="The form did not come from this console (its CSRF token is missing or "
            "wrong). Nothing was replayed; use the replay button on the dead deliveries page.",
        )
    delivery_id = delivery_id.strip()
    if not delivery_id or len(delivery_id) > 100:
        return await _deliveries_page(
            request,
            console,
            operator,
            container,
            status_code=400,
            error="Give the id of the delivery to replay (the replay button on its row does). "
            "Nothing was replayed.",
        )
    try:
        replayed = await container.deliveries.replay(
            None, delivery_id, principal_of(operator.person)
        )
    except (NotFound, Conflict) as failure:
        return await _deliveries_page(
            request,
            console,
            operator,
            container,
            status_code=404 if isinstance(failure, NotFound) else 409,
            error=f"Not replayed: {failure}.",
        )
    logger.info("console: operator %s replayed delivery %s", operator.person.subject, delivery_id)
    return await _deliveries_page(request, console, operator, container, replayed=replayed)
