"""Webhook subscriptions in the `subscriptions` table, on PostgreSQL or SQLite:
`hub.services.subscriptions.SubscriptionRepository`.

A change reads the row locked (`FOR UPDATE` on PostgreSQL; `BEGIN IMMEDIATE` on SQLite), so two
concurrent changes (a rotation and a PATCH, say) apply one after the other, never one over the
other; a subscription leaving `active` cancels its pending jobs in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.errors import Conflict, NotFound
from hub.infra.dberrors import translated
from hub.infra.deliveries import cancel_pending
from hub.infra.tables import subscriptions
from hub.services.subscriptions import Subscription

__all__ = ["SqlSubscriptionRepository"]

_WHAT = "the subscription register"


class SqlSubscriptionRepository:
    """`SubscriptionRepository` on the hub's database (either backend)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE")

    async def add(self, subscription: Subscription) -> None:
        try:
            async with translated(_WHAT), self._writer.begin() as connection:
                await connection.execute(subscriptions.insert().values(**_row(subscription)))
        except sa.exc.IntegrityError as error:
            raise Conflict(f"subscription {subscription.subscription_id} already exists") from error

    async def get(self, subscription_id: str) -> Subscription | None:
        query = sa.select(subscriptions).where(subscriptions.c.subscription_id == subscription_id)
        async with translated(_WHAT), self._engine.connect() as connection:
            row = (await connection.execute(query)).mappings().one_or_none()
        return None if row is None else _subscription(row)

    async def list_for(self, recipient_id: str, *, include_deleted: bool) -> list[Subscription]:
        query = sa.select(subscriptions).where(subscriptions.c.recipient_id == recipient_id)
        if not include_deleted:
            query = query.where(subscriptions.c.status != "deleted")
        query = query.order_by(subscriptions.c.created_at, subscriptions.c.subscription_id)
        async with translated(_WHAT), self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [_subscription(row) for row in rows]

    async def change(
        self, subscription_id: str, change: Callable[[Subscription], Subscription]
    ) -> Subscription:
        query = (
            sa.select(subscriptions)
            .where(subscriptions.c.subscription_id == subscription_id)
            .with_for_update()
        )
        async with translated(_WHAT), self._writer.begin() as connection:
            row = (await connection.execute(query)).mappings().one_or_none()
            if row is None:
                raise NotFound(f"there is no subscription {subscription_id}")
            before = _subscription(row)
            after = change(before)
            if after == before:
                return before
            if after.subscription_id != before.subscription_id:
                raise ValueError("a change may not give a subscription another id")
            values = _row(after)
            del values["subscription_id"], values["created_at"]
            await connection.execute(
                subscriptions.update()
                .where(subscriptions.c.subscription_id == subscription_id)
                .values(**values)
            )
            if before.is_active and not after.is_active:
                reason = after.status_reason or f"subscription {after.status}"
                await cancel_pending(connection, subscription_id, reason)
        return after


def _row(subscription: Subscription) -> dict[str, Any]:
    return {
        "subscription_id": subscription.subscription_id,
        "recipient_id": subscription.recipient_id,
        "url": subscription.url,
        "event_types": (
            None if subscription.event_types is None else list(subscription.event_types)
        ),
        "format": subscription.format,
        "secrets": list(subscription.secrets),
        "status": subscription.status,
        "status_reason": subscription.status_reason,
        "created_at": _utc(subscription.created_at),
        "updated_at": _utc(subscription.updated_at),
    }


def _subscription(row: Any) -> Subscription:
    event_types = row["event_types"]
    return Subscription(
        subscription_id=row["subscription_id"],
        recipient_id=row["recipient_id"],
        url=row["url"],
        event_types=None if event_types is None else tuple(event_types),
        format=row["format"],
        secrets=tuple(row["secrets"]),
        status=row["status"],
        status_reason=row["status_reason"],
        created_at=_utc(row["created_at"]),
        updated_at=_utc(row["updated_at"]),
    )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
