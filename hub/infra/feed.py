"""Recipient feeds, receipts and acknowledgements in the hub's database:
`hub.services.feed.FeedStore` on PostgreSQL or SQLite.

The router numbers each recipient's feed in its own transaction, serialised by its checkpoint
(`hub.infra.routing`), so a recipient's numbers become visible in order: a reader that sees 7
has seen (or can see) 1 to 6. Receipts and acknowledgements are append-only and written
insert-if-absent, so the first one stands and a repeat changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.domain.audit import builders as audit_records
from hub.domain.notifications import StoredEvent
from hub.infra.audit import SqlAuditLog
from hub.infra.metric_counters import count_acknowledged, count_received
from hub.infra.protection import FieldProtection
from hub.infra.sqltools import Database, utc
from hub.infra.store import stored_events  # the one row -> StoredEvent mapping
from hub.infra.tables import (
    disclosure_acks,
    disclosure_receipts,
    disclosures,
    events,
    recipient_counters,
    recipient_feed,
)
from hub.services.feed import Acknowledgement, DisclosureRecord, FeedEntry

__all__ = ["SqlFeedStore", "disclosure_record"]

#: The disclosure columns a feed entry needs (none of them share a name with an events column).
DISCLOSURE_COLUMNS = (
    disclosures.c.disclosure_id,
    disclosures.c.recipient_id,
    disclosures.c.event_type,
    disclosures.c.fields,
    disclosures.c.rules,
    disclosures.c.purposes,
    disclosures.c.legal_bases,
    disclosures.c.policy_version,
    disclosures.c.decided_at,
    disclosures.c.acknowledge_within_seconds,
    disclosures.c.supplied_identifiers,
)


class SqlFeedStore:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        audit: SqlAuditLog,
        protection: FieldProtection | None = None,
    ) -> None:
        self._db = Database(engine, "feed store")
        #: Logs first receipts (transfers through the feed) and acknowledgements.
        self._audit = audit
        #: Opens the events' sealed fields (none without).
        self._protection = protection

    async def last_seq(self, recipient_id: str) -> int:
        query = sa.select(recipient_counters.c.last_seq).where(
            recipient_counters.c.recipient_id == recipient_id
        )
        async with self._db.connect() as connection:
            last = (await connection.execute(query)).scalar_one_or_none()
        return 0 if last is None else int(last)

    async def entries(self, recipient_id: str, after: int, limit: int) -> list[FeedEntry]:
        query = (
            _entries()
            .where(recipient_feed.c.recipient_id == recipient_id, recipient_feed.c.seq > after)
            .order_by(recipient_feed.c.seq)
            .limit(limit)
        )
        async with self._db.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
            found = await stored_events(connection, rows, self._protection)
        return [_entry(row, event) for row, event in zip(rows, found, strict=True)]

    async def entry(self, recipient_id: str, disclosure_id: str) -> FeedEntry | None:
        query = _entries().where(
            recipient_feed.c.recipient_id == recipient_id,
            recipient_feed.c.disclosure_id == disclosure_id,
        )
        async with self._db.connect() as connection:
            row = (await connection.execute(query)).mappings().first()
            if row is None:
                return None
            (event,) = await stored_events(connection, [row], self._protection)
        return _entry(row, event)

    async def record_receipts(
        self, disclosure_ids: Sequence[str], channel: str, at: datetime
    ) -> int:
        if not disclosure_ids:
            return 0
        at = at.astimezone(UTC)
        rows = [
            {"disclosure_id": d, "first_delivered_at": at, "channel": channel}
            for d in dict.fromkeys(disclosure_ids)
        ]
        statement = (
            self._db.insert(disclosure_receipts)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[disclosure_receipts.c.disclosure_id])
            .returning(disclosure_receipts.c.disclosure_id)
        )
        async with self._db.connect(write=True) as connection, connection.begin():
            received = list((await connection.execute(statement)).scalars())
            await count_received(connection, received, channel, at)
            if received:
                found = await connection.execute(
                    _disclosed().where(disclosures.c.disclosure_id.in_(received))
                )
                await self._audit.append(
                    connection,
                    [
                        audit_records.delivery(
                            disclosure_id=row.disclosure_id,
                            person_id=row.person_id,
                            event_id=row.event_id,
                            source=row.source,
                            recipient_id=row.recipient_id,
                            fields=row.fields,
                            channel=f"feed:{channel}",
                            state="delivered",
                            at=at,
                        )
                        for row in sorted(found, key=lambda r: received.index(r.disclosure_id))
                    ],
                )
            return len(received)

    async def acknowledge(
        self, recipient_id: str, disclosure_id: str, client_id: str, at: datetime
    ) -> Acknowledgement | None:
        find = sa.select(disclosures.c.decided_at, disclosures.c.acknowledge_within_seconds).where(
            disclosures.c.disclosure_id == disclosure_id,
            disclosures.c.recipient_id == recipient_id,
        )
        insert = (
            self._db.insert(disclosure_acks)
            .values(
                disclosure_id=disclosure_id,
                recipient_id=recipient_id,
                client_id=client_id,
                acknowledged_at=at.astimezone(UTC),
            )
            .on_conflict_do_nothing(index_elements=[disclosure_acks.c.disclosure_id])
            .returning(disclosure_acks.c.disclosure_id)
        )
        standing = sa.select(disclosure_acks.c.client_id, disclosure_acks.c.acknowledged_at).where(
            disclosure_acks.c.disclosure_id == disclosure_id
        )
        async with self._db.connect(write=True) as connection, connection.begin():
            disclosure = (await connection.execute(find)).first()
            if disclosure is None:
                return None
            recorded = (await connection.execute(insert)).first() is not None
            # Of two acknowledgements at once on PostgreSQL, the second's insert waits for the
            # first to commit and then inserts nothing; this statement then sees the first.
            first = (await connection.execute(standing)).one()
            within = disclosure.acknowledge_within_seconds
            acknowledgement = Acknowledgement(
                disclosure_id=disclosure_id,
                recipient_id=recipient_id,
                client_id=first.client_id,
                acknowledged_at=utc(first.acknowledged_at),
                acknowledge_by=(
                    None
                    if within is None
                    else utc(disclosure.decided_at) + timedelta(seconds=within)
                ),
                recorded=recorded,
            )
            if recorded:
                await count_acknowledged(connection, disclosure_id, acknowledgement.acknowledged_at)
                row = (
                    await connection.execute(
                        _disclosed().where(disclosures.c.disclosure_id == disclosure_id)
                    )
                ).one()
                await self._audit.append(
                    connection,
                    [
                        audit_records.acknowledgement(
                            disclosure_id=disclosure_id,
                            person_id=row.person_id,
                            event_id=row.event_id,
                            source=row.source,
                            recipient_id=recipient_id,
                            client_id=client_id,
                            at=acknowledgement.acknowledged_at,
                            on_time=acknowledgement.on_time,
                        )
                    ],
                )
        return acknowledgement


def _disclosed() -> sa.Select[Any]:
    """A disclosure with the event facts its audit entries name."""
    return sa.select(
        disclosures.c.disclosure_id,
        disclosures.c.recipient_id,
        disclosures.c.fields,
        events.c.person_id,
        events.c.event_id,
        events.c.source,
    ).select_from(disclosures.join(events, events.c.position == disclosures.c.event_position))


def _entries() -> sa.Select[Any]:
    return sa.select(
        recipient_feed.c.seq,
        *DISCLOSURE_COLUMNS,
        disclosure_receipts.c.disclosure_id.label("receipt"),
        *events.c,
    ).select_from(
        recipient_feed.join(
            disclosures, disclosures.c.disclosure_id == recipient_feed.c.disclosure_id
        )
        .join(events, events.c.position == disclosures.c.event_position)
        .outerjoin(
            disclosure_receipts,
            disclosure_receipts.c.disclosure_id == recipient_feed.c.disclosure_id,
        )
    )


def disclosure_record(row: sa.RowMapping) -> DisclosureRecord:
    """A disclosure from a row holding `DISCLOSURE_COLUMNS` and the event's `person_id`."""
    return DisclosureRecord(
        disclosure_id=row["disclosure_id"],
        recipient_id=row["recipient_id"],
        event_type=row["event_type"],
        person_id=row["person_id"],
        fields=tuple(row["fields"]),
        rules=tuple(row["rules"]),
        purposes=tuple(row["purposes"]),
        legal_bases=tuple(row["legal_bases"]),
        policy_version=row["policy_version"],
        decided_at=utc(row["decided_at"]),
        acknowledge_within_seconds=row["acknowledge_within_seconds"],
        supplied_identifiers=dict(row["supplied_identifiers"] or {}),
    )


def _entry(row: sa.RowMapping, event: StoredEvent) -> FeedEntry:
    return FeedEntry(
        seq=int(row["seq"]),
        disclosure=disclosure_record(row),
        event=event,
        received=row["receipt"] is not None,
    )
