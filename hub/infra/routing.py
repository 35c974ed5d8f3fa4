"""The router's tables (`person_profiles`, `disclosures`, `disclosure_denials`,
`consumer_checkpoints`) on PostgreSQL or SQLite: `hub.services.ports.RoutingStore`.

Every write transaction begins by moving the consumer's checkpoint, guarded by its expected
value (`hub.infra.checkpoints`). That statement is also the lock that serialises routers: the
loser has written nothing before it finds out.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.domain.audit import builders as audit_records
from hub.domain.audit.entries import AuditEntry
from hub.domain.disclosures import Disclosure, DisclosureDenial, RoutedBatch
from hub.domain.person import PersonProfile
from hub.infra.audit import SqlAuditLog
from hub.infra.checkpoints import advance_checkpoint, read_checkpoint
from hub.infra.dberrors import translated
from hub.infra.metric_counters import count_decided
from hub.infra.review_records import record_proposals
from hub.infra.tables import (
    deliveries,
    disclosure_denials,
    disclosures,
    person_profiles,
    recipient_counters,
    recipient_feed,
    routed_events,
    subscriptions,
)
from hub.infra.unnest_insert import unnest_insert
from hub.services.kafka_router import RoutedEvents

__all__ = ["SqlRoutingStore"]


class SqlRoutingStore:
    """`RoutingStore` on the hub's database (either backend)."""

    def __init__(self, engine: AsyncEngine, *, audit: SqlAuditLog) -> None:
        self._engine = engine
        #: Logs every decision, permitted or denied, in the batch's own transaction.
        self._audit = audit
        # SQLite: take the write lock when the transaction begins (see `hub.infra.db`); the
        # option means nothing to PostgreSQL.
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE")
        self._dialect = engine.dialect.name

    # -- reading ---------------------------------------------------------------------------------

    async def checkpoint(self, consumer: str) -> int:
        async with self._connection() as connection:
            return await read_checkpoint(connection, consumer)

    async def profiles(self, person_ids: Collection[str]) -> dict[str, PersonProfile]:
        if not person_ids:
            return {}
        query = sa.select(person_profiles.c.profile).where(
            person_profiles.c.person_id.in_(sorted(person_ids))
        )
        async with self._connection() as connection:
            documents = (await connection.execute(query)).scalars().all()
        found = [PersonProfile.from_json(document) for document in documents]
        return {profile.person_id: profile for profile in found}

    async def all_profiles(self) -> list[PersonProfile]:
        return [PersonProfile.from_json(document) for document in await self.stored_profiles()]

    async def stored_profile(self, person_id: str) -> Mapping[str, Any] | None:
        query = sa.select(person_profiles.c.profile).where(person_profiles.c.person_id == person_id)
        async with self._connection() as connection:
            document: Mapping[str, Any] | None = (await connection.execute(query)).scalar()
        return document

    async def stored_profiles(self) -> list[Mapping[str, Any]]:
        query = sa.select(person_profiles.c.profile).order_by(person_profiles.c.person_id)
        async with self._connection() as connection:
            documents = (await connection.execute(query)).scalars().all()
        return list(documents)

    # -- writing ---------------------------------------------------------------------------------

    async def record(self, consumer: str, batch: RoutedBatch) -> bool:
        now = datetime.now(UTC)
        async with self._connection(write=True) as connection, connection.begin():
            if not await advance_checkpoint(connection, consumer, batch.after, batch.through, now):
                return False
            await self._write_batch(connection, batch, now)
        return True

    async def routed(self, positions: Collection[int]) -> set[int]:
        """Those of `positions` a router worker has recorded (`routed_events`)."""
        if not positions:
            return set()
        query = sa.select(routed_events.c.position).where(
            routed_events.c.position.in_(sorted(positions))
        )
        async with self._connection() as connection:
            return {int(p) for p in (await connection.execute(query)).scalars()}

    async def profiles_at(
        self, person_ids: Collection[str]
    ) -> dict[str, tuple[PersonProfile, int | None]]:
        """Each stored profile of those people, with the stream version of the event it was
        last brought up to when a router worker routed that event (None when it was not: say,
        the router that follows the store did)."""
        if not person_ids:
            return {}
        query = (
            sa.select(person_profiles.c.profile, routed_events.c.stream_version)
            .select_from(
                person_profiles.outerjoin(
                    routed_events, routed_events.c.position == person_profiles.c.position
                )
            )
            .where(person_profiles.c.person_id.in_(sorted(person_ids)))
        )
        async with self._connection() as connection:
            rows = (await connection.execute(query)).all()
        found = {}
        for document, version in rows:
            profile = PersonProfile.from_json(document)
            found[profile.person_id] = (profile, None if version is None else int(version))
        return found

    async def record_routed(self, batch: RoutedEvents) -> bool:
        """In one transaction: mark the batch's events routed and store its decisions and
        profiles. False, with nothing written, when another worker routed any of them first.

        The positions are inserted first, in order: on PostgreSQL a second worker inserting a
        position the first holds waits for it to commit and then conflicts; on SQLite writers
        take turns (`BEGIN IMMEDIATE`). Either way the loser has written nothing else yet."""
        now = datetime.now(UTC)
        rows = [
            {
                "position": e.position,
                "person_id": e.person_id,
                "stream_version": e.stream_version,
                "routed_at": now,
            }
            for e in sorted(batch.events, key=lambda e: e.position)
        ]
        try:
            async with self._connection(write=True) as connection, connection.begin():
                inserted = await connection.execute(
                    self._upsert(routed_events)
                    .values(rows)
                    .on_conflict_do_nothing(index_elements=[routed_events.c.position])
                    .returning(routed_events.c.position)
                )
                if len(inserted.all()) != len(rows):
                    raise _RoutedElsewhere
                await self._write_batch(connection, batch, now)
        except _RoutedElsewhere:
            return False
        return True

    async def _write_batch(
        self, connection: AsyncConnection, batch: RoutedBatch | RoutedEvents, now: datetime
    ) -> None:
        """Everything a routed batch writes, in its decision transaction on `connection` (the
        router's and router workers' alike, once the checkpoint or positions are claimed): its
        disclosures, feed numbers, webhook jobs, denials, profiles and their audit entries, then
        its proposals for review and theirs. Whatever must commit with a batch's decisions goes
        here, at the end."""
        await self._write_decisions(
            connection, batch.disclosures, batch.denials, batch.profiles, now
        )
        await record_proposals(connection, self._audit, batch.proposals, now)

    async def _write_decisions(
        self,
        connection: AsyncConnection,
        decided: Sequence[Disclosure],
        denied: Sequence[DisclosureDenial],
        profiles: Sequence[PersonProfile],
        now: datetime,
    ) -> None:
        # Each row is built once: written, and bound by its audit entry's digests.
        disclosure_rows = [_disclosure_row(d) for d in decided]
        denial_rows = [_denial_row(d) for d in denied]
        if decided:
            await self._insert(connection, disclosures, disclosure_rows)
            await self._number_in_feeds(connection, decided, now)
            await self._queue_webhooks(connection, decided, now)
        if denied:
            await self._insert(connection, disclosure_denials, denial_rows)
        if profiles:
            await self._upsert_profiles(connection, profiles, now)
        await self._audit.append(
            connection, _audit_entries(decided, disclosure_rows, denied, denial_rows)
        )
        # `/metrics`' running totals and the awaiting-acknowledgement list, in this transaction.
        await count_decided(connection, decided)

    async def disclose(
        self, connection: AsyncConnection, decided: Sequence[Disclosure], now: datetime
    ) -> None:
        """In the caller's write transaction: record `decided` as disclosures, number them in
        their recipients' feeds, queue their webhooks and log them, as the router does (an
        approved proposal, `hub.infra.reviews`)."""
        if not decided:
            return
        await self._write_decisions(connection, decided, (), (), now)

    async def _number_in_feeds(
        self, connection: AsyncConnection, decided: Sequence[Disclosure], now: datetime
    ) -> None:
        """Number each recipient's new disclosures after its last number, in decision order.

        The numbers have no gaps and never repeat, so a recipient that sees 7 after 5 knows it
        missed 6 (as FHIR R5 subscription notifications number their events). Router workers
        record concurrently, so the counters are locked (PostgreSQL: created if missing, then
        `FOR UPDATE` in recipient order, the one order every writer takes them in, so no two
        wait for each other); on SQLite the transaction already holds the write lock."""
        recipients = sorted({d.recipient_id for d in decided})
        await connection.execute(
            _NEW_COUNTERS[self._dialect], [{"recipient_id": r, "last_seq": 0} for r in recipients]
        )
        rows = await connection.execute(
            sa.select(recipient_counters.c.recipient_id, recipient_counters.c.last_seq)
            .where(recipient_counters.c.recipient_id.in_(recipients))
            .order_by(recipient_counters.c.recipient_id)
            .with_for_update()
        )
        last = {recipient: int(seq) for recipient, seq in rows}
        feed = []
        for disclosure in decided:
            seq = last.get(disclosure.recipient_id, 0) + 1
            last[disclosure.recipient_id] = seq
            feed.append(
                {
                    "recipient_id": disclosure.recipient_id,
                    "seq": seq,
                    "disclosure_id": disclosure.disclosure_id,
                    "added_at": now,
                }
            )
        await self._insert(connection, recipient_feed, feed)
        # One statement for every counter, executed for each (asyncpg pipelines the lot).
        await connection.execute(
            recipient_counters.update()
            .where(recipient_counters.c.recipient_id == sa.bindparam("counter"))
            .values(last_seq=sa.bindparam("seq")),
            [{"counter": r, "seq": last[r]} for r in recipients],
        )

    async def _queue_webhooks(
        self, connection: AsyncConnection, decided: Sequence[Disclosure], now: datetime
    ) -> None:
        """The transactional outbox: one delivery job per disclosure and active webhook
        subscription of its recipient that wants its event type, in the router's transaction,
        so that a disclosure is never decided without its jobs or queued without its decision."""
        recipients = sorted({d.recipient_id for d in decided})
        rows = await connection.execute(
            sa.select(
                subscriptions.c.subscription_id,
                subscriptions.c.recipient_id,
                subscriptions.c.event_types,
            )
            .where(
                subscriptions.c.recipient_id.in_(recipients),
                subscriptions.c.status == "active",
            )
            .order_by(subscriptions.c.subscription_id)
        )
        wanted: dict[str, list[tuple[str, frozenset[str] | None]]] = {}
        for subscription_id, recipient_id, event_types in rows:
            types = frozenset(event_types) if event_types is not None else None
            wanted.setdefault(recipient_id, []).append((subscription_id, types))
        jobs = [
            {
                "delivery_id": f"dl_{uuid.uuid4().hex}",
                "disclosure_id": disclosure.disclosure_id,
                "subscription_id": subscription_id,
                "recipient_id": disclosure.recipient_id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for disclosure in decided
            for subscription_id, types in wanted.get(disclosure.recipient_id, ())
            if types is None or disclosure.event_type in types
        ]
        if jobs:
            await self._insert(connection, deliveries, jobs)

    async def replace_profiles(
        self, consumer: str, checkpoint: int, profiles: Sequence[PersonProfile]
    ) -> bool:
        now = datetime.now(UTC)
        async with self._connection(write=True) as connection, connection.begin():
            # Moving the checkpoint to where it is: the same guard and lock as a router's batch.
            if not await advance_checkpoint(connection, consumer, checkpoint, checkpoint, now):
                return False
            await connection.execute(person_profiles.delete())
            if profiles:
                await connection.execute(
                    person_profiles.insert(), [_profile_row(p, now) for p in profiles]
                )
        return True

    async def _upsert_profiles(
        self, connection: AsyncConnection, profiles: Sequence[PersonProfile], now: datetime
    ) -> None:
        await connection.execute(
            _UPSERT_PROFILES[self._dialect], [_profile_row(p, now) for p in profiles]
        )

    def _upsert(self, table: sa.Table) -> Any:
        """The backend's INSERT, which knows ON CONFLICT."""
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    async def _insert(
        self, connection: AsyncConnection, table: sa.Table, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        """`rows` (each with the same columns) in one statement: on PostgreSQL unnested from one
        array per column (`hub.infra.unnest_insert`), on SQLite SQLAlchemy's executemany."""
        if self._dialect == "postgresql":
            await unnest_insert(table, tuple(rows[0])).execute(connection, rows)
        else:
            await connection.execute(table.insert(), rows)

    # -- the boundary ----------------------------------------------------------------------------

    @asynccontextmanager
    async def _connection(self, *, write: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection whose driver errors leave as `StoreError`s (the cause kept)."""
        engine = self._writer if write else self._engine
        async with translated("the routing store"), engine.connect() as connection:
            yield connection


def _profile_upsert(insert: Any) -> Any:
    return insert.on_conflict_do_update(
        index_elements=[person_profiles.c.person_id],
        set_={
            "position": insert.excluded.position,
            "profile": insert.excluded.profile,
            "updated_at": insert.excluded.updated_at,
        },
    )


# The batch's statements built once per backend (executed for many rows each): a statement
# built per batch costs SQLAlchemy its construction and cache key every time, and a multi-row
# VALUES list a compilation of all its bind parameters.
_NEW_COUNTERS = {
    name: insert(recipient_counters).on_conflict_do_nothing(
        index_elements=[recipient_counters.c.recipient_id]
    )
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
_UPSERT_PROFILES = {
    name: _profile_upsert(insert(person_profiles))
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


class _RoutedElsewhere(Exception):
    """Another worker recorded one of the batch's events first: roll the batch back."""


def _profile_row(profile: PersonProfile, now: datetime) -> dict[str, Any]:
    return {
        "person_id": profile.person_id,
        "position": profile.position,
        "profile": profile.to_json(),
        "updated_at": now,
    }


def _disclosure_row(disclosure: Disclosure) -> dict[str, Any]:
    within = disclosure.acknowledge_within
    return {
        "disclosure_id": disclosure.disclosure_id,
        "event_position": disclosure.event_position,
        "event_id": disclosure.event_id,
        "source": disclosure.source,
        "event_type": disclosure.event_type,
        "person_id": disclosure.person_id,
        "recipient_id": disclosure.recipient_id,
        "fields": list(disclosure.fields),
        "rules": list(disclosure.rules),
        "purposes": list(disclosure.purposes),
        "legal_bases": list(disclosure.legal_bases),
        "policy_version": disclosure.policy_version,
        "profile_position": disclosure.profile_position,
        "trigger_position": disclosure.trigger_position,
        "acknowledge_within_seconds": None if within is None else round(within.total_seconds()),
        "decided_at": disclosure.decided_at.astimezone(UTC),
        # Bound by the disclosure's audit entry with every other column (`row_evidence`).
        "supplied_identifiers": dict(disclosure.supplied_identifiers) or None,
    }


def _denial_row(denial: DisclosureDenial) -> dict[str, Any]:
    return {
        "denial_id": denial.denial_id,
        "event_position": denial.event_position,
        "event_id": denial.event_id,
        "source": denial.source,
        "event_type": denial.event_type,
        "person_id": denial.person_id,
        "recipient_id": denial.recipient_id,
        "rules": list(denial.rules),
        "reasons": list(denial.reasons),
        "purposes": list(denial.purposes),
        "legal_bases": list(denial.legal_bases),
        "policy_version": denial.policy_version,
        "profile_position": denial.profile_position,
        "trigger_position": denial.trigger_position,
        "decided_at": denial.decided_at.astimezone(UTC),
    }


def _audit_entries(
    disclosed: Sequence[Disclosure],
    disclosure_rows: Sequence[Mapping[str, Any]],
    denied: Sequence[DisclosureDenial],
    denial_rows: Sequence[Mapping[str, Any]],
) -> list[AuditEntry]:
    """Each decision in the order the router made it: disclosures, then denials, per event
    (each with its row as written)."""
    entries = audit_records.DecisionEntries()
    decided: list[tuple[int, int, AuditEntry]] = [
        (d.trigger_position, 0, entries.disclosure(d, row))
        for d, row in zip(disclosed, disclosure_rows, strict=True)
    ]
    decided += [
        (d.trigger_position, 1, entries.denial(d, row))
        for d, row in zip(denied, denial_rows, strict=True)
    ]
    decided.sort(key=lambda item: (item[0], item[1]))
    return [entry for _, _, entry in decided]
