"""The event store's last word on who may append: a registered client disabled (or stripped of
`events:publish`) since its token was checked stores nothing, decided in the append's own
transaction.

The API authenticates a caller from a client state cached for a moment
(`hub.services.client_cache`); a client disabled by another process (the `hub clients` CLI) is
therefore refused here, on its next push, at the cost of one statement on the append's own
connection instead of a checkout and a transaction of its own.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.domain.notifications import Publisher
from hub.errors import AuthenticationFailed, PermissionDenied
from hub.infra.tables import clients

#: The scope a client needs to push notifications (`hub.services.clients.SCOPES`).
PUBLISH_SCOPE = "events:publish"


#: Built once: executed on every push (`hub.infra.store`'s note on prebuilt statements).
_CLIENT = sa.select(clients.c.disabled_at, clients.c.agency, clients.c.scopes).where(
    clients.c.client_id == sa.bindparam("client_id")
)


async def check_publisher(connection: AsyncConnection, publisher: Publisher) -> None:
    """`AuthenticationFailed` if `publisher` is a registered client now disabled or of another
    agency, `PermissionDenied` if it no longer holds `events:publish`. Publishers that are no
    registered client (the hub itself, an adapter, the Kafka intake) pass."""
    row = (await connection.execute(_CLIENT, {"client_id": publisher.client_id})).one_or_none()
    if row is None:
        return
    if row.disabled_at is not None:
        raise AuthenticationFailed("the token's client is disabled")
    if row.agency != publisher.agency:
        raise AuthenticationFailed("the token's agency is not its client's")
    if PUBLISH_SCOPE not in row.scopes.split():
        raise PermissionDenied(f"this needs the scope {PUBLISH_SCOPE}, which the client lost")
