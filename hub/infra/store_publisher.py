"""The event store's last word on who may append: a registered client disabled (or stripped of
`events:publish`) since its token was checked stores nothing, decided in the append's own
transaction.

The API authenticates a caller from a client state cached for a moment
(`hub.services.client_cache`); a client disabled by another process (the `hub clients` CLI) is
therefore refused here, on its next push, at the cost of one more part of the append's first
statement, instead of a checkout and a transaction of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.domain.notifications import Publisher
from hub.errors import AuthenticationFailed, PermissionDenied

#: The scope a client needs to push notifications (`hub.services.clients.SCOPES`).
PUBLISH_SCOPE = "events:publish"


@dataclass(frozen=True, slots=True)
class ClientState:
    """What the append reads of the publisher's client row (in its own first statement)."""

    disabled: bool
    agency: str
    scopes: str


def check_publisher(state: ClientState | None, publisher: Publisher) -> None:
    """`AuthenticationFailed` if `publisher` is a registered client (whose row is `state`) now
    disabled or of another agency, `PermissionDenied` if it no longer holds `events:publish`.
    Publishers that are no registered client (`state` None: the hub itself, an adapter, the
    Kafka intake) pass."""
    if state is None:
        return
    if state.disabled:
        raise AuthenticationFailed("the token's client is disabled")
    if state.agency != publisher.agency:
        raise AuthenticationFailed("the token's agency is not its client's")
    if PUBLISH_SCOPE not in state.scopes.split():
        raise PermissionDenied(f"this needs the scope {PUBLISH_SCOPE}, which the client lost")
