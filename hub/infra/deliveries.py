"""The webhook outbox (`deliveries`, `delivery_attempts`, `disclosure_receipts`) on PostgreSQL or
SQLite: `hub.services.delivery.DeliveryQueue`.

Claiming is a short transaction of its own, committed before anything is sent. On PostgreSQL
the due rows are selected `FOR UPDATE SKIP LOCKED`: concurrent claimers lock disjoint rows
without waiting for each other, and a row another claimer committed in the meantime is re-read
(READ COMMITTED) and no longer matches, its claim being live. On SQLite the claim runs under
`BEGIN IMMEDIATE`: one writer at a time, each seeing the claims of the one before.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.domain.audit import builders as audit_records
from hub.domain.audit.entries import AuditEntry, JsonValue
from hub.errors import Conflict, NotFound, StoreUnavailable
from hub.infra.audit import SqlAuditLog
from hub.infra.dberrors import translated
from hub.infra.metric_counters import count_delivered
from hub.infra.protection import FieldProtection
from hub.infra.store import stored_events  # the one row -> StoredEvent mapping
from hub.infra.store_driver import driver_connection
from hub.infra.tables import (
    deliveries,
    delivery_attempts,
    disclosure_receipts,
    disclosures,
    events,
    recipient_feed,
    subscriptions,
)
from hub.infra.visibility import hold_xid
from hub.services.audit_queries import Principal
from hub.services.delivery import Delivery, DeliveryAttempt, DeliveryJob, Finish

__all__ = ["SqlDeliveryQueue", "cancel_pending"]


class SqlDeliveryQueue:
    """`DeliveryQueue` on the hub's database (either backend)."""

    def __init__(
        self, engine: AsyncEngine, *, audit: SqlAuditLog, protection: FieldProtection | None
    ) -> None:
        self._engine = engine
        #: Opens the sealed fields of the events read with a claim (None: stored in plaintext).
        self._protection = protection
        #: Logs each attempt's outcome in the transaction that records it.
        self._audit = audit
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE")
        self._dialect = engine.dialect.name
        #: Outcomes waiting to be recorded, and the task recording them (`finish`).
        self._outcomes: list[_Outcome] = []
        self._recorder: asyncio.Task[None] | None = None

    # -- the worker ------------------------------------------------------------------------------

    async def claim(
        self,
        worker_id: str,
        *,
        now: datetime,
        until: datetime,
        limit: int,
        per_subscription: int | None = None,
        skip: Collection[str] = (),
        room: Mapping[str, int] | None = None,
    ) -> list[DeliveryJob]:
        now, until = _utc(now), _utc(until)
        claimable: tuple[sa.ColumnElement[bool], ...] = (
            deliveries.c.status == "pending",
            deliveries.c.next_attempt_at <= now,
            sa.or_(deliveries.c.claimed_until.is_(None), deliveries.c.claimed_until <= now),
        )
        if skip:
            claimable = (*claimable, deliveries.c.subscription_id.not_in(sorted(skip)))
        # An idle worker polls: look first without a write transaction (on SQLite, the one
        # database lock intake and the router need too).
        if not await self._anything_due(claimable, now, skip):
            return []
        if per_subscription is not None and per_subscription < limit:
            # Each subscription's oldest due jobs (ranked without locking; the locking select
            # below checks each again, so a job claimed meanwhile is skipped).
            ranked = (
                sa.select(
                    deliveries.c.delivery_id,
                    deliveries.c.subscription_id,
                    sa.func.row_number()
                    .over(
                        partition_by=deliveries.c.subscription_id,
                        order_by=(deliveries.c.next_attempt_at, deliveries.c.delivery_id),
                    )
                    .label("rank"),
                )
                .where(*claimable)
                .subquery()
            )
            most: sa.ColumnElement[int] | int = per_subscription
            if room:
                # A receiver that answers quickly is claimed for in bigger batches.
                most = sa.case(
                    {s: n for s, n in sorted(room.items())},
                    value=ranked.c.subscription_id,
                    else_=per_subscription,
                )
            oldest = sa.select(ranked.c.delivery_id).where(ranked.c.rank <= most)
            claimable = (*claimable, deliveries.c.delivery_id.in_(oldest))
        due = (
            sa.select(deliveries.c.delivery_id)
            .where(*claimable)
            .order_by(deliveries.c.next_attempt_at, deliveries.c.delivery_id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # PostgreSQL; nothing on SQLite (BEGIN IMMEDIATE)
        )
        async with translated("the delivery queue"), self._writer.begin() as connection:
            ids = list((await connection.execute(due)).scalars())
            if not ids:
                return []
            await connection.execute(
                deliveries.update()
                .where(deliveries.c.delivery_id.in_(ids))
                .values(claimed_by=worker_id, claimed_until=until)
            )
            rows = (await connection.execute(_job_query(ids))).mappings().all()
        order = {delivery_id: n for n, delivery_id in enumerate(ids)}
        jobs = sorted((_job(row) for row in rows), key=lambda job: order[job.delivery_id])
        positions = {row["delivery_id"]: int(row["event_position"]) for row in rows}
        return await self._with_events(jobs, positions)

    async def _anything_due(
        self, claimable: Sequence[sa.ColumnElement[bool]], now: datetime, skip: Collection[str]
    ) -> bool:
        """Whether any job is claimable. On PostgreSQL one statement on asyncpg's connection,
        outside a transaction (SQLAlchemy's would be BEGIN, the SELECT and ROLLBACK: this runs
        each time a worker with a free slot looks for work)."""
        async with translated("the delivery queue"), self._engine.connect() as connection:
            if self._dialect == "postgresql":
                driver = await driver_connection(connection)
                found = await driver.fetchval(_ANYTHING_DUE, now, sorted(skip))
                return found is not None
            anything = await connection.execute(
                sa.select(deliveries.c.delivery_id).where(*claimable).limit(1)
            )
            return anything.first() is not None

    async def _with_events(
        self, jobs: list[DeliveryJob], positions: Mapping[str, int]
    ) -> list[DeliveryJob]:
        """The jobs with their disclosed notifications, read and opened in one go after the
        claim committed (the claim's transaction is kept short: on SQLite it holds the lock)."""
        query = sa.select(events).where(events.c.position.in_(sorted(set(positions.values()))))
        async with translated("the delivery queue"), self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
            found = await stored_events(connection, rows, self._protection)
        by_position = {event.position: event for event in found}
        return [replace(job, event=by_position.get(positions[job.delivery_id])) for job in jobs]

    async def finish(self, job: DeliveryJob, worker_id: str, finish: Finish) -> bool:
        """Recorded with the outcomes other senders finish meanwhile, in one transaction (a
        group commit): answered once that transaction is committed."""
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._outcomes.append(_Outcome(job, worker_id, finish, answer))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_outcomes(), name="hub-outcomes")
        return await asyncio.shield(answer)

    async def _record_outcomes(self) -> None:
        """Record waiting outcomes a group at a time until none waits. A group whose
        transaction fails for anything but an unavailable database is recorded one outcome at a
        time, so that one job's fault is that job's alone."""
        while self._outcomes:
            group = _one_per_job(self._outcomes, MAX_OUTCOMES_PER_COMMIT)
            try:
                changed = await self._record(group)
            except StoreUnavailable as error:
                _answer(group, error=error)
                continue
            except Exception as error:
                if len(group) == 1:
                    _answer(group, error=error)
                    continue
                for outcome in group:
                    try:
                        (one,) = await self._record([outcome])
                    except Exception as its_error:
                        _answer([outcome], error=its_error)
                    else:
                        _answer([outcome], changed=[one])
                continue
            _answer(group, changed=changed)

    async def _record(self, group: Sequence[_Outcome]) -> list[bool]:
        """In one transaction: every attempt, each job's new status (the delivered ones at
        once), the audit entries of the jobs changed, the first receipts (counted for
        `/metrics` from the jobs, not read again) and any subscription a 410 disables. Whether
        each job's status changed."""
        now = datetime.now(UTC)
        delivered = [o for o in group if o.finish.status == "delivered"]
        async with translated("the delivery queue"), self._writer.begin() as connection:
            if self._dialect == "postgresql":
                changed, received = await _record_on_postgres(connection, group, delivered, now)
            else:
                changed, received = await _record_on_sqlite(connection, group, delivered, now)
            for outcome in group:
                if outcome.finish.status != "delivered" and await self._settle(
                    connection, outcome, now
                ):
                    changed.add(outcome.job.delivery_id)
            entries = [
                _audit_entry(o.job, o.finish, now) for o in group if o.job.delivery_id in changed
            ]
            if entries:
                await self._audit.append(connection, entries)
            if received:
                # Only the receipts inserted now: a disclosure already received is not counted.
                jobs = {o.job.disclosure_id: o.job for o in delivered}
                await count_delivered(
                    connection,
                    [
                        (jobs[d].recipient_id, jobs[d].event_type, jobs[d].decided_at)
                        for d in received
                    ],
                    "webhook",
                    now,
                )
        return [o.job.delivery_id in changed for o in group]

    async def _settle(self, connection: AsyncConnection, outcome: _Outcome, now: datetime) -> bool:
        """Record an outcome other than a delivery: only while the job is still pending and
        claimed by the worker (else another worker's outcome stands)."""
        job, finish = outcome.job, outcome.finish
        values: dict[str, Any] = {
            "status": finish.status,
            "claimed_by": None,
            "claimed_until": None,
            "last_error": finish.last_error,
        }
        if finish.attempt is not None:
            number = finish.attempt.attempt
            values["attempts"] = sa.case(
                (deliveries.c.attempts < number, number), else_=deliveries.c.attempts
            )
        if finish.next_attempt_at is not None:
            values["next_attempt_at"] = _utc(finish.next_attempt_at)
        found = await connection.execute(
            deliveries.update()
            .where(
                deliveries.c.delivery_id == job.delivery_id,
                deliveries.c.status == "pending",
                deliveries.c.claimed_by == outcome.worker_id,
            )
            .values(**values)
        )
        if finish.disable_subscription is not None:
            await connection.execute(
                subscriptions.update()
                .where(
                    subscriptions.c.subscription_id == job.subscription_id,
                    subscriptions.c.status == "active",
                )
                .values(
                    status="disabled",
                    status_reason=finish.disable_subscription,
                    updated_at=now,
                )
            )
            await cancel_pending(connection, job.subscription_id, finish.disable_subscription)
        return bool(found.rowcount)

    async def next_claim_expiry(self, now: datetime) -> datetime | None:
        now = _utc(now)
        query = sa.select(sa.func.min(deliveries.c.claimed_until)).where(
            deliveries.c.status == "pending",
            deliveries.c.next_attempt_at <= now,
            deliveries.c.claimed_until > now,
        )
        async with translated("the delivery queue"), self._engine.connect() as connection:
            found = (await connection.execute(query)).scalar_one_or_none()
        return None if found is None else _utc(found)

    # -- reading and replaying -------------------------------------------------------------------

    async def find(
        self,
        *,
        recipient_id: str | None,
        status: str | None,
        limit: int,
        after: str | None,
    ) -> list[Delivery]:
        query = sa.select(deliveries)
        if recipient_id is not None:
            query = query.where(deliveries.c.recipient_id == recipient_id)
        if status is not None:
            query = query.where(deliveries.c.status == status)
        async with translated("the delivery queue"), self._engine.connect() as connection:
            if after is not None:
                cursor = (
                    await connection.execute(
                        sa.select(deliveries.c.created_at).where(deliveries.c.delivery_id == after)
                    )
                ).scalar_one_or_none()
                if cursor is None:
                    return []
                query = query.where(
                    sa.or_(
                        deliveries.c.created_at > cursor,
                        sa.and_(
                            deliveries.c.created_at == cursor, deliveries.c.delivery_id > after
                        ),
                    )
                )
            query = query.order_by(deliveries.c.created_at, deliveries.c.delivery_id).limit(limit)
            rows = (await connection.execute(query)).mappings().all()
        return [_delivery(row) for row in rows]

    async def get(self, delivery_id: str) -> Delivery | None:
        query = sa.select(deliveries).where(deliveries.c.delivery_id == delivery_id)
        async with translated("the delivery queue"), self._engine.connect() as connection:
            row = (await connection.execute(query)).mappings().one_or_none()
        return None if row is None else _delivery(row)

    async def attempts(self, delivery_id: str) -> list[DeliveryAttempt]:
        query = (
            sa.select(delivery_attempts)
            .where(delivery_attempts.c.delivery_id == delivery_id)
            .order_by(delivery_attempts.c.attempt, delivery_attempts.c.attempted_at)
        )
        async with translated("the delivery queue"), self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [
            DeliveryAttempt(
                attempt=row["attempt"],
                attempted_at=_utc(row["attempted_at"]),
                status_code=row["status_code"],
                latency_ms=row["latency_ms"],
                outcome=row["outcome"],
                error=row["error"],
            )
            for row in rows
        ]

    async def replay(self, delivery_id: str, now: datetime, by: Principal) -> Delivery:
        query = (
            sa.select(
                deliveries.c.status,
                deliveries.c.subscription_id,
                deliveries.c.recipient_id,
                subscriptions.c.status.label("subscription_status"),
                subscriptions.c.format,
                disclosures.c.disclosure_id,
                disclosures.c.person_id,
                disclosures.c.event_id,
                disclosures.c.source,
                disclosures.c.fields,
            )
            .select_from(
                deliveries.join(
                    subscriptions,
                    subscriptions.c.subscription_id == deliveries.c.subscription_id,
                ).join(disclosures, disclosures.c.disclosure_id == deliveries.c.disclosure_id)
            )
            .where(deliveries.c.delivery_id == delivery_id)
            .with_for_update(of=deliveries)
        )
        async with translated("the delivery queue"), self._writer.begin() as connection:
            row = (await connection.execute(query)).mappings().one_or_none()
            if row is None:
                raise NotFound(f"there is no delivery {delivery_id}")
            status, subscription_status = row["status"], row["subscription_status"]
            if status not in ("dead", "cancelled"):
                raise Conflict(
                    f"delivery {delivery_id} is {status}: only dead or cancelled deliveries are "
                    "replayed"
                )
            if subscription_status != "active":
                raise Conflict(
                    f"the subscription of delivery {delivery_id} is {subscription_status}: "
                    "enable it again first"
                )
            await connection.execute(
                deliveries.update()
                .where(deliveries.c.delivery_id == delivery_id)
                .values(
                    status="pending",
                    next_attempt_at=_utc(now),
                    claimed_by=None,
                    claimed_until=None,
                )
            )
            await self._audit.append(connection, [_replay_entry(delivery_id, row, now, by)])
            replayed = (
                (
                    await connection.execute(
                        sa.select(deliveries).where(deliveries.c.delivery_id == delivery_id)
                    )
                )
                .mappings()
                .one()
            )
        return _delivery(replayed)


def _audit_entry(job: DeliveryJob, finish: Finish, now: datetime) -> AuditEntry:
    """The transfer attempt to the recipient's system and its outcome."""
    details: dict[str, JsonValue] = {
        "delivery_id": job.delivery_id,
        "subscription_id": job.subscription_id,
    }
    attempt = finish.attempt
    if attempt is not None:
        details["attempt"] = attempt.attempt
        details["attempt_outcome"] = attempt.outcome
        if attempt.status_code is not None:
            details["status_code"] = attempt.status_code
    state = "retrying" if finish.status == "pending" else finish.status
    return audit_records.delivery(
        disclosure_id=job.disclosure_id,
        person_id=job.person_id,
        event_id=job.event_id,
        source=job.source,
        recipient_id=job.recipient_id,
        fields=job.fields,
        channel=f"webhook:{job.format}",
        state=state,
        at=now if attempt is None else attempt.attempted_at,
        details=details,
    )


def _replay_entry(delivery_id: str, row: Any, now: datetime, by: Principal) -> AuditEntry:
    """A dead or cancelled job put back to be sent again: who asked for another transfer of
    the disclosure to the recipient's system (the attempts that follow log their own)."""
    return audit_records.delivery(
        disclosure_id=row["disclosure_id"],
        person_id=row["person_id"],
        event_id=row["event_id"],
        source=row["source"],
        recipient_id=row["recipient_id"],
        fields=tuple(row["fields"]),
        channel=f"webhook:{row['format']}",
        state="replayed",
        at=now,
        actor=by.client_id,
        agency=by.agency,
        details={
            "delivery_id": delivery_id,
            "subscription_id": row["subscription_id"],
            "previous_status": row["status"],
        },
    )


async def cancel_pending(connection: AsyncConnection, subscription_id: str, reason: str) -> None:
    """Cancel the subscription's pending jobs (claimed ones too: their senders' outcomes no
    longer count, unless they delivered)."""
    await connection.execute(
        deliveries.update()
        .where(deliveries.c.subscription_id == subscription_id, deliveries.c.status == "pending")
        .values(status="cancelled", last_error=reason, claimed_by=None, claimed_until=None)
    )


def _job_query(ids: Sequence[str]) -> sa.Select[Any]:
    return (
        sa.select(
            deliveries.c.delivery_id,
            deliveries.c.subscription_id,
            deliveries.c.recipient_id,
            deliveries.c.attempts,
            subscriptions.c.url,
            subscriptions.c.format,
            subscriptions.c.secrets,
            subscriptions.c.payload_version,
            subscriptions.c.signature_schemes,
            subscriptions.c.status.label("subscription_status"),
            disclosures.c.disclosure_id,
            disclosures.c.source,
            disclosures.c.event_id,
            disclosures.c.event_type,
            disclosures.c.person_id,
            disclosures.c.fields,
            disclosures.c.rules,
            disclosures.c.purposes,
            disclosures.c.legal_bases,
            disclosures.c.policy_version,
            disclosures.c.decided_at,
            disclosures.c.acknowledge_within_seconds,
            disclosures.c.supplied_identifiers,
            disclosures.c.event_position,
            recipient_feed.c.seq.label("recipient_seq"),
        )
        .select_from(
            deliveries.join(disclosures, disclosures.c.disclosure_id == deliveries.c.disclosure_id)
            .join(subscriptions, subscriptions.c.subscription_id == deliveries.c.subscription_id)
            .outerjoin(recipient_feed, recipient_feed.c.disclosure_id == deliveries.c.disclosure_id)
        )
        .where(deliveries.c.delivery_id.in_(ids))
    )


def _job(row: Any) -> DeliveryJob:
    return DeliveryJob(
        delivery_id=row["delivery_id"],
        subscription_id=row["subscription_id"],
        recipient_id=row["recipient_id"],
        attempts=int(row["attempts"]),
        url=row["url"],
        format=row["format"],
        secrets=tuple(row["secrets"]),
        payload_version=int(row["payload_version"]),
        signature_schemes=tuple(row["signature_schemes"]),
        subscription_status=row["subscription_status"],
        disclosure_id=row["disclosure_id"],
        source=row["source"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        person_id=row["person_id"],
        fields=tuple(row["fields"]),
        rules=tuple(row["rules"]),
        purposes=tuple(row["purposes"]),
        legal_bases=tuple(row["legal_bases"]),
        policy_version=row["policy_version"],
        decided_at=_utc(row["decided_at"]),
        acknowledge_within_seconds=row["acknowledge_within_seconds"],
        recipient_seq=None if row["recipient_seq"] is None else int(row["recipient_seq"]),
        supplied_identifiers=dict(row["supplied_identifiers"] or {}),
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        delivery_id=row["delivery_id"],
        disclosure_id=row["disclosure_id"],
        subscription_id=row["subscription_id"],
        recipient_id=row["recipient_id"],
        status=row["status"],
        attempts=int(row["attempts"]),
        next_attempt_at=_utc(row["next_attempt_at"]),
        last_error=row["last_error"],
        created_at=_utc(row["created_at"]),
        delivered_at=None if row["delivered_at"] is None else _utc(row["delivered_at"]),
    )


def _attempt_row(delivery_id: str, attempt: DeliveryAttempt) -> dict[str, Any]:
    return {
        "attempt_id": f"da_{uuid.uuid4().hex}",
        "delivery_id": delivery_id,
        "attempt": attempt.attempt,
        "attempted_at": _utc(attempt.attempted_at),
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "outcome": attempt.outcome,
        "error": attempt.error,
    }


def _utc(value: datetime) -> datetime:
    """In UTC. SQLite keeps no offset, so everything is stored in UTC and read back as such."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: The most outcomes recorded in one transaction.
MAX_OUTCOMES_PER_COMMIT: Final = 500


@dataclass(frozen=True, slots=True)
class _Outcome:
    """A sender's outcome waiting to be recorded, and where its answer goes."""

    job: DeliveryJob
    worker_id: str
    finish: Finish
    answer: asyncio.Future[bool]


async def _record_on_sqlite(
    connection: AsyncConnection,
    group: Sequence[_Outcome],
    delivered: Sequence[_Outcome],
    now: datetime,
) -> tuple[set[str], list[str]]:
    """Every attempt, the delivered jobs (one statement per attempt number) and their first
    receipts, with SQLAlchemy Core: the jobs changed and the receipts inserted."""
    attempts = [
        _attempt_row(o.job.delivery_id, o.finish.attempt)
        for o in group
        if o.finish.attempt is not None
    ]
    if attempts:
        await connection.execute(delivery_attempts.insert(), attempts)
    changed: set[str] = set()
    for number, ids in _by_attempt(delivered).items():
        # The receiver has it, whoever holds the job now: that is never undone.
        found = await connection.execute(
            deliveries.update()
            .where(deliveries.c.delivery_id.in_(ids), deliveries.c.status != "delivered")
            .values(
                status="delivered",
                claimed_by=None,
                claimed_until=None,
                delivered_at=now,
                attempts=sa.case(
                    (deliveries.c.attempts < number, number), else_=deliveries.c.attempts
                ),
            )
            .returning(deliveries.c.delivery_id)
        )
        changed.update(found.scalars())
    receipts = _receipts(delivered)
    if not receipts:
        return changed, []
    received = await connection.execute(
        sqlite.insert(disclosure_receipts)
        .values(
            [
                {"disclosure_id": d, "first_delivered_at": now, "channel": "webhook"}
                for d in receipts
            ]
        )
        .on_conflict_do_nothing(index_elements=[disclosure_receipts.c.disclosure_id])
        .returning(disclosure_receipts.c.disclosure_id)
    )
    return changed, list(received.scalars())


#: `claim`'s probe on PostgreSQL: the claimable condition, as `claim` builds it.
_ANYTHING_DUE: Final = """
SELECT 1 FROM deliveries
WHERE status = 'pending' AND next_attempt_at <= $1
  AND (claimed_until IS NULL OR claimed_until <= $1)
  AND subscription_id <> ALL($2::text[])
LIMIT 1
"""

#: Every attempt, the delivered jobs and their first receipts in one statement (PostgreSQL),
#: each column one array: what the jobs changed (`d`) and the receipts inserted (`r`).
_RECORD_ON_POSTGRES: Final = """
WITH attempted AS (
    INSERT INTO delivery_attempts
        (attempt_id, delivery_id, attempt, attempted_at, status_code, latency_ms, outcome, error)
    SELECT * FROM unnest(
        $1::text[], $2::text[], $3::integer[], $4::timestamptz[], $5::integer[],
        $6::double precision[], $7::text[], $8::text[]
    )
), delivered AS (
    UPDATE deliveries AS d
    SET status = 'delivered', claimed_by = NULL, claimed_until = NULL, delivered_at = $9,
        attempts = GREATEST(d.attempts, sent.attempt)
    FROM unnest($10::text[], $11::integer[]) AS sent(delivery_id, attempt)
    WHERE d.delivery_id = sent.delivery_id AND d.status <> 'delivered'
    RETURNING d.delivery_id
), received AS (
    INSERT INTO disclosure_receipts (disclosure_id, first_delivered_at, channel)
    SELECT disclosure_id, $9, 'webhook' FROM unnest($12::text[]) AS r(disclosure_id)
    ON CONFLICT (disclosure_id) DO NOTHING
    RETURNING disclosure_id
)
SELECT 'd', delivery_id FROM delivered
UNION ALL
SELECT 'r', disclosure_id FROM received
"""


async def _record_on_postgres(
    connection: AsyncConnection,
    group: Sequence[_Outcome],
    delivered: Sequence[_Outcome],
    now: datetime,
) -> tuple[set[str], list[str]]:
    """`_record_on_sqlite` as one statement on asyncpg's own connection, after the xid the
    audit append needs anyway (which begins the transaction on the driver)."""
    rows = [
        _attempt_row(o.job.delivery_id, o.finish.attempt)
        for o in group
        if o.finish.attempt is not None
    ]
    sent = sorted(
        (o.job.delivery_id, 0 if o.finish.attempt is None else o.finish.attempt.attempt)
        for o in delivered
    )
    await hold_xid(connection)
    driver = await driver_connection(connection)
    found = await driver.fetch(
        _RECORD_ON_POSTGRES,
        *([row[column] for row in rows] for column in _ATTEMPT_COLUMNS),
        now,
        [delivery_id for delivery_id, _ in sent],
        [number for _, number in sent],
        _receipts(delivered),
    )
    changed = {value for kind, value in found if kind == "d"}
    return changed, [value for kind, value in found if kind == "r"]


_ATTEMPT_COLUMNS: Final = (
    "attempt_id",
    "delivery_id",
    "attempt",
    "attempted_at",
    "status_code",
    "latency_ms",
    "outcome",
    "error",
)


def _by_attempt(delivered: Sequence[_Outcome]) -> dict[int, list[str]]:
    by_number: dict[int, list[str]] = {}
    for outcome in delivered:
        number = 0 if outcome.finish.attempt is None else outcome.finish.attempt.attempt
        by_number.setdefault(number, []).append(outcome.job.delivery_id)
    return by_number


def _receipts(delivered: Sequence[_Outcome]) -> list[str]:
    """The disclosures delivered, each once, in order."""
    return list(dict.fromkeys(o.job.disclosure_id for o in delivered))


def _one_per_job(waiting: list[_Outcome], limit: int) -> list[_Outcome]:
    """Take up to `limit` outcomes off `waiting`, in order, at most one per job (a second
    outcome of a job, from a worker whose claim lapsed, waits for the next group so that the
    two are judged one after the other, as they would be alone)."""
    group: list[_Outcome] = []
    seen: set[str] = set()
    kept: list[_Outcome] = []
    for outcome in waiting:
        if len(group) < limit and outcome.job.delivery_id not in seen:
            seen.add(outcome.job.delivery_id)
            group.append(outcome)
        else:
            kept.append(outcome)
    waiting[:] = kept
    return group


def _answer(
    group: Sequence[_Outcome],
    *,
    changed: Sequence[bool] | None = None,
    error: BaseException | None = None,
) -> None:
    for n, outcome in enumerate(group):
        if outcome.answer.done():
            continue
        if error is not None:
            outcome.answer.set_exception(error)
        elif changed is not None:
            outcome.answer.set_result(changed[n])
