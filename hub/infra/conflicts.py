"""The identifier-conflict review list in the hub's database (`hub.services.conflicts`).

A parked notification is kept with its sensitive fields (`hub.domain.protection.SensitiveFields`)
sealed under a data key of the conflict's own (key id: the review id), stored beside it wrapped
by the key-encryption key. A conflict names several people, so no one person's key fits: this
key is destroyed when the case is resolved (the resolution returns the notification whole, once)
and when any person it names is crypto-shredded (`hub.infra.protection.SqlPersonKeys.erase`);
the parked copy then keeps only its non-sensitive fields. Rows from before migration 0010
(`notification_format` "plain") are sealed when the hub starts and by `hub keys rotate`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.domain.audit import builders as audit_records
from hub.domain.notifications import Notification, Publisher
from hub.domain.protection import (
    SensitiveFields,
    UnreadableField,
    new_data_key,
    open_fields,
    seal_fields,
)
from hub.errors import Conflict, NotFound, StoreError
from hub.infra.audit import SqlAuditLog
from hub.infra.dberrors import translated
from hub.infra.protection import KekRing
from hub.infra.tables import identifier_conflicts
from hub.services.conflicts import IdentifierConflictCase

__all__ = ["CONFLICT_KEY_OWNER", "ConflictKeysReport", "SqlConflictReviewList"]

logger = logging.getLogger(__name__)

#: `identifier_conflicts.notification_format`: rows from before migration 0010 ...
PLAIN_FORMAT: Final = "plain"
#: ... and those whose sensitive fields are sealed under the conflict's data key.
SEALED_FORMAT: Final = "sealed-v1"
#: What a conflict key's wrapping is bound to besides its review id (the KEK's `person_id`), so
#: that it can never be taken for a person's data key.
CONFLICT_KEY_OWNER: Final = "identifier-conflict"
_WHAT = "the identifier-conflict review list"


@dataclass(frozen=True, slots=True)
class ConflictKeysReport:
    """What sealing or rewrapping the parked notifications' keys did."""

    #: Parked notifications from before migration 0010 that were sealed.
    sealed: int
    #: Conflict keys rewrapped under the current key-encryption key.
    rewrapped: int
    already_current: int
    #: Keys destroyed (resolved cases, erased people): left as they are.
    destroyed: int


class SqlConflictReviewList:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        keks: KekRing,
        fields: SensitiveFields,
        audit: SqlAuditLog,
    ) -> None:
        self._engine = engine
        self._audit = audit
        self._keks = keks
        self._fields = fields
        # SQLite: writers take the write lock as they begin (see `hub.infra.db`), so a read
        # followed by a write never fails with "database is locked" under other writers.
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE")

    async def record(
        self,
        notification: Notification,
        publisher: Publisher,
        claims: Mapping[str, str],
        *,
        kind: str,
    ) -> str:
        review_id = f"ic_{uuid.uuid4().hex[:16]}"
        now = datetime.now(UTC)
        row = {
            "review_id": review_id,
            "raised_at": now,
            "source": notification.source,
            "event_id": notification.id,
            "event_type": notification.type,
            "publisher_client_id": publisher.client_id,
            "publisher_agency": publisher.agency,
            "claims": dict(claims),
            "kind": kind,
        } | self._sealed(review_id, notification.to_envelope())
        async with translated(_WHAT), self._writer.begin() as connection:
            await connection.execute(identifier_conflicts.insert(), row)
            await self._audit.append(
                connection,
                audit_records.conflict_parked(
                    notification,
                    review_id=review_id,
                    people=list(claims.values()),
                    publisher=publisher,
                    at=now,
                    conflict=kind,
                ),
            )
        return review_id

    async def list_cases(self, *, include_resolved: bool = False) -> list[IdentifierConflictCase]:
        query = sa.select(identifier_conflicts).order_by(identifier_conflicts.c.raised_at)
        if not include_resolved:
            query = query.where(identifier_conflicts.c.resolved_at.is_(None))
        async with translated(_WHAT), self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [_case(row, self._opened(row)) for row in rows]

    async def resolve(
        self, review_id: str, *, resolution: str, resolved_by: str
    ) -> IdentifierConflictCase:
        if not resolution.strip():
            raise Conflict("say how the conflict was resolved (a non-empty resolution)")
        table = identifier_conflicts
        async with translated(_WHAT), self._writer.begin() as connection:
            found = (
                (
                    await connection.execute(
                        sa.select(table).where(table.c.review_id == review_id).with_for_update()
                    )
                )
                .mappings()
                .first()
            )
            if found is None:
                raise NotFound(f"there is no identifier conflict {review_id!r}")
            if found["resolved_at"] is not None:
                raise Conflict(f"identifier conflict {review_id} was already resolved")
            # The whole notification, for the one who resolves it; the parked copy keeps only
            # what is not sensitive once the key is destroyed below.
            whole = self._opened(found)
            now = datetime.now(UTC)
            await self._audit.append(
                connection,
                audit_records.conflict_resolved(
                    review_id=review_id,
                    people=list(found["claims"].values()),
                    event_id=found["event_id"],
                    source=found["source"],
                    resolved_by=resolved_by,
                    at=now,
                ),
            )
            await connection.execute(
                table.update()
                .where(table.c.review_id == review_id, table.c.resolved_at.is_(None))
                .values(
                    resolved_at=now,
                    resolved_by=resolved_by,
                    resolution=resolution.strip(),
                    **self._destroyed(found, now),
                )
            )
            row = (
                (await connection.execute(sa.select(table).where(table.c.review_id == review_id)))
                .mappings()
                .one()
            )
        return _case(row, whole)

    # -- keeping the parked notifications sealed ---------------------------------------------------

    async def seal_plaintext(self) -> ConflictKeysReport:
        """Seal the parked notifications still in plaintext (from before migration 0010): an
        open case under a key of its own; a resolved one under a key destroyed at once. The hub
        does this as it starts."""
        table = identifier_conflicts
        plaintext = sa.select(table.c.review_id).where(table.c.notification_format != SEALED_FORMAT)
        # Look first without a write transaction (on SQLite, the one database lock).
        async with translated(_WHAT), self._engine.connect() as connection:
            if (await connection.execute(plaintext.limit(1))).first() is None:
                return ConflictKeysReport(sealed=0, rewrapped=0, already_current=0, destroyed=0)
        report = await self._reseal(rewrap=False)
        if report.sealed:
            logger.info("sealed %d parked identifier-conflict notification(s)", report.sealed)
        return report

    async def rewrap_keys(self) -> ConflictKeysReport:
        """Seal any plaintext parked notification, and rewrap every live conflict key that is not
        under the current key-encryption key (`hub keys rotate`). StoreError naming the conflict
        when its key's KEK is not given or it does not unwrap: nothing is changed then."""
        return await self._reseal(rewrap=True)

    async def _reseal(self, *, rewrap: bool) -> ConflictKeysReport:
        table = identifier_conflicts
        query = sa.select(table).order_by(table.c.review_id)
        if not rewrap:
            query = query.where(table.c.notification_format != SEALED_FORMAT)
        sealed = rewrapped = already = destroyed = 0
        current = self._keks.current
        async with translated(_WHAT), self._writer.begin() as connection:
            rows = (await connection.execute(query.with_for_update())).mappings().all()
            for row in rows:
                review_id = row["review_id"]
                if row["notification_format"] != SEALED_FORMAT:
                    if row["resolved_at"] is None:
                        values = self._sealed(review_id, dict(row["notification"]))
                    else:
                        values = self._destroyed(row, row["resolved_at"])
                    sealed += 1
                elif row["wrapped_key"] is None:
                    destroyed += 1
                    continue
                elif row["kek_id"] == current.kek_id:
                    already += 1
                    continue
                else:
                    key = self._unwrap(row)
                    values = {
                        "kek_id": current.kek_id,
                        "wrapped_key": current.wrap(
                            key, person_id=CONFLICT_KEY_OWNER, key_id=review_id
                        ),
                    }
                    rewrapped += 1
                await _update(connection, review_id, values)
        return ConflictKeysReport(
            sealed=sealed, rewrapped=rewrapped, already_current=already, destroyed=destroyed
        )

    # -- sealing and opening ---------------------------------------------------------------------

    def _sealed(self, review_id: str, envelope: Mapping[str, Any]) -> dict[str, Any]:
        """The columns holding `envelope` with its sensitive fields sealed under a new key."""
        key = new_data_key()
        kek = self._keks.current
        stored = dict(envelope)
        paths = self._fields.of(str(envelope.get("type")))
        if paths and isinstance(envelope.get("data"), Mapping):
            stored["data"] = seal_fields(
                envelope["data"],
                sorted(paths),
                source=str(envelope.get("source")),
                event_id=str(envelope.get("id")),
                key_id=review_id,
                key=key,
            )
        return {
            "notification": stored,
            "notification_format": SEALED_FORMAT,
            "kek_id": kek.kek_id,
            "wrapped_key": kek.wrap(key, person_id=CONFLICT_KEY_OWNER, key_id=review_id),
            "key_destroyed_at": None,
        }

    def _destroyed(self, row: sa.RowMapping, at: datetime) -> dict[str, Any]:
        """The columns that leave the row's parked notification unreadable: its key destroyed
        (a plaintext row, from before migration 0010, is sealed first)."""
        if row["notification_format"] != SEALED_FORMAT:
            sealed = self._sealed(row["review_id"], dict(row["notification"]))
            return sealed | {"wrapped_key": None, "key_destroyed_at": at}
        if row["wrapped_key"] is None:
            return {}
        return {"wrapped_key": None, "key_destroyed_at": at}

    def _opened(self, row: sa.RowMapping) -> dict[str, Any]:
        """The parked notification with its sealed fields opened; without them once its key is
        destroyed. StoreError naming the conflict if they do not open."""
        notification = dict(row["notification"])
        if row["notification_format"] != SEALED_FORMAT or not isinstance(
            notification.get("data"), Mapping
        ):
            return notification
        review_id = row["review_id"]
        key = None if row["wrapped_key"] is None else self._unwrap(row)
        try:
            notification["data"] = open_fields(
                notification["data"],
                source=str(notification.get("source")),
                event_id=str(notification.get("id")),
                keys={review_id: key},
            )
        except UnreadableField as error:
            raise StoreError(
                f"identifier conflict {review_id} has a sealed field that does not authenticate "
                f"(tampered with?): {error}"
            ) from error
        return notification

    def _unwrap(self, row: sa.RowMapping) -> bytes:
        review_id, kek_id = row["review_id"], row["kek_id"]
        kek = self._keks.get(kek_id)
        if kek is None:
            raise StoreError(
                f"identifier conflict {review_id}'s data key is wrapped by key-encryption key "
                f"{kek_id!r}, which this hub is not given (set it in HUB_DATA_PREVIOUS_KEKS until "
                "`hub keys rotate` has run)"
            )
        try:
            return kek.unwrap(
                bytes(row["wrapped_key"]), person_id=CONFLICT_KEY_OWNER, key_id=review_id
            )
        except UnreadableField as error:
            raise StoreError(
                f"cannot unwrap identifier conflict {review_id}'s data key: {error} (is "
                "HUB_DATA_KEK the right key?)"
            ) from error


async def _update(connection: AsyncConnection, review_id: str, values: Mapping[str, Any]) -> None:
    table = identifier_conflicts
    await connection.execute(table.update().where(table.c.review_id == review_id).values(**values))


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _case(row: sa.RowMapping, notification: Mapping[str, Any]) -> IdentifierConflictCase:
    raised_at = _aware(row["raised_at"])
    assert raised_at is not None
    return IdentifierConflictCase(
        review_id=row["review_id"],
        raised_at=raised_at,
        source=row["source"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        publisher=Publisher(row["publisher_client_id"], row["publisher_agency"]),
        claims=dict(row["claims"]),
        notification=dict(notification),
        resolved_at=_aware(row["resolved_at"]),
        resolved_by=row["resolved_by"],
        resolution=row["resolution"],
        kind=row["kind"],
    )
