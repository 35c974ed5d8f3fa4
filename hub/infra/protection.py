"""Encryption at rest of sensitive fields in the hub's database (`hub.domain.protection`).

The key-encryption key comes from the settings (or, outside production, from a file generated
once into `<data_dir>/keys/data-kek.key`, mode 0600); each person's data keys live wrapped in
`person_keys`. `FieldProtection` seals fields as the event store writes them and opens them as
every reader maps rows to events; `SqlPersonKeys` destroys a person's keys (crypto-shredding)
and rewraps keys under a new key-encryption key (rotation).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import stat
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from uuid import uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.domain.audit.entries import AuditEntry, AuditKind
from hub.domain.notifications import Notification
from hub.domain.protection import (
    CRYPTO_SHRED_RULE,
    AesGcmKek,
    KeyEncryptionKey,
    SensitiveFields,
    UnreadableField,
    key_ids_in,
    new_data_key,
    open_fields,
    seal_fields,
)
from hub.domain.schemas import SchemaRegistry
from hub.errors import InvalidInput, StoreError
from hub.infra.audit import SqlAuditLog
from hub.infra.dberrors import translated
from hub.infra.tables import events, identifier_conflicts, person_keys, persons
from hub.settings import Settings

__all__ = [
    "FieldProtection",
    "KekRing",
    "RotationReport",
    "SqlPersonKeys",
    "load_field_protection",
    "load_kek_ring",
    "sensitive_fields",
]

KEK_FILE: Final = Path("keys") / "data-kek.key"
_KEK_BYTES: Final = 32


# -- the key-encryption keys ------------------------------------------------------------------


@dataclass(frozen=True)
class KekRing:
    """The current key-encryption key (wraps new data keys) and the previous ones (only unwrap,
    until `hub keys rotate` has rewrapped everything under the current one)."""

    current: KeyEncryptionKey
    previous: Mapping[str, KeyEncryptionKey]

    def get(self, kek_id: str) -> KeyEncryptionKey | None:
        if kek_id == self.current.kek_id:
            return self.current
        return self.previous.get(kek_id)


def _decode_kek(name: str, text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidInput(f"{name} is not base64") from error
    if len(key) != _KEK_BYTES:
        raise InvalidInput(f"{name} must be the base64 of {_KEK_BYTES} bytes, not {len(key)}")
    return key


def load_kek_ring(settings: Settings) -> KekRing:
    """`HUB_DATA_KEK` (id `HUB_DATA_KEK_ID`) and `HUB_DATA_PREVIOUS_KEKS`; outside production
    only, without `HUB_DATA_KEK`, the key generated once into `<data_dir>/keys/data-kek.key`."""
    if settings.data_kek is not None:
        current = _decode_kek("HUB_DATA_KEK", settings.data_kek.get_secret_value())
    elif settings.environment == "production":
        raise InvalidInput("HUB_DATA_KEK must be set in production: it is never generated")
    else:
        current = _load_or_create_kek(settings.data_dir / KEK_FILE)
    previous: dict[str, KeyEncryptionKey] = {
        kek_id: AesGcmKek(
            kek_id, _decode_kek(f"HUB_DATA_PREVIOUS_KEKS[{kek_id}]", secret.get_secret_value())
        )
        for kek_id, secret in settings.data_previous_keks.items()
        if kek_id != settings.data_kek_id
    }
    return KekRing(AesGcmKek(settings.data_kek_id, current), previous)


def _load_or_create_kek(path: Path) -> bytes:
    """The key in `path`, created (mode 0600, written whole then linked into place) if absent."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(base64.b64encode(os.urandom(_KEK_BYTES)) + b"\n")
                f.flush()
                os.fsync(f.fileno())
            # If another process got there first, use its key.
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise InvalidInput(
            f"{path} can be read by other users (mode {mode:o}): run `chmod 600 {path}`"
        )
    return _decode_kek(str(path), path.read_text(encoding="ascii"))


def sensitive_fields(events_dir: Path, schemas: SchemaRegistry) -> SensitiveFields:
    """The sensitive fields of every body schema the registry knows (read from `events_dir`)."""
    pairs: list[tuple[str, Mapping[str, Any]]] = []
    for event_type in schemas.event_types():
        for version in schemas.versions(event_type):
            path = events_dir / f"{event_type}.v{version}.schema.json"
            pairs.append((event_type, json.loads(path.read_text(encoding="utf-8"))))
    return SensitiveFields.from_schemas(pairs)


def load_field_protection(settings: Settings, schemas: SchemaRegistry) -> FieldProtection:
    return FieldProtection(load_kek_ring(settings), sensitive_fields(settings.events_dir, schemas))


# -- sealing and opening in the stores' transactions ---------------------------------------------


@dataclass(frozen=True, slots=True)
class _KeyRow:
    key_id: str
    person_id: str
    kek_id: str
    wrapped_key: bytes | None


class FieldProtection:
    """Seals the sensitive fields of what the store writes; opens them for every reader."""

    def __init__(self, keks: KekRing, fields: SensitiveFields, *, cache_size: int = 4096) -> None:
        self._keks = keks
        self.fields = fields
        #: Unwrapped data keys by key id (bounded). Only a key the table still holds wrapped is
        #: ever taken from here, so a destroyed key is gone at once for every reader.
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_size = cache_size

    async def seal(
        self,
        connection: AsyncConnection,
        items: Sequence[tuple[Notification, str]],
        now: datetime,
    ) -> list[dict[str, Any]]:
        """The `data` to store for each `(notification, person id)`, sealed under the person's
        live data key (created in this transaction if the person has none)."""
        people = sorted({p for n, p in items if self.fields.of(n.type)})
        live = await self._live_keys(connection, people, now) if people else {}
        sealed = []
        for notification, person_id in items:
            paths = self.fields.of(notification.type)
            if not paths:
                sealed.append(dict(notification.data))
                continue
            key_id, key = live[person_id]
            sealed.append(
                seal_fields(
                    notification.data,
                    sorted(paths),
                    source=notification.source,
                    event_id=notification.id,
                    key_id=key_id,
                    key=key,
                )
            )
        return sealed

    async def open(
        self, connection: AsyncConnection, items: Sequence[tuple[str, str, Mapping[str, Any]]]
    ) -> list[dict[str, Any]]:
        """The plaintext `data` of each `(source, event id, stored data)`; erased fields left
        out. StoreError naming the event if a sealed field does not authenticate."""
        sealed_with = [key_ids_in(data) for _, _, data in items]
        wanted = set().union(*sealed_with)
        keys = await self._keys(connection, sorted(wanted)) if wanted else {}
        opened = []
        for (source, event_id, data), key_ids in zip(items, sealed_with, strict=True):
            if key_ids:
                try:
                    opened.append(open_fields(data, source=source, event_id=event_id, keys=keys))
                except UnreadableField as error:
                    raise StoreError(
                        f"event {event_id} from {source} has a sealed field that does not "
                        f"authenticate (tampered with?): {error}"
                    ) from error
            else:
                opened.append(dict(data))
        return opened

    async def _keys(
        self, connection: AsyncConnection, key_ids: Sequence[str]
    ) -> dict[str, bytes | None]:
        query = sa.select(person_keys).where(person_keys.c.key_id.in_(key_ids))
        rows = [_key_row(row) for row in (await connection.execute(query)).mappings()]
        found: dict[str, bytes | None] = {row.key_id: self._unwrap(row) for row in rows}
        missing = sorted(set(key_ids) - set(found))
        if missing:
            raise StoreError(f"sealed fields name data keys that do not exist: {missing}")
        return found

    async def _live_keys(
        self, connection: AsyncConnection, people: Sequence[str], now: datetime
    ) -> dict[str, tuple[str, bytes]]:
        query = (
            sa.select(person_keys)
            .where(person_keys.c.person_id.in_(people), person_keys.c.destroyed_at.is_(None))
            .order_by(person_keys.c.created_at, person_keys.c.key_id)
        )
        live: dict[str, tuple[str, bytes]] = {}
        for row in (await connection.execute(query)).mappings():
            key_row = _key_row(row)
            key = self._unwrap(key_row)
            if key is not None:
                live[key_row.person_id] = (key_row.key_id, key)  # the newest wins
        created = []
        for person_id in people:
            if person_id in live:
                continue
            key_id = f"dk_{uuid4().hex}"
            key = new_data_key()
            wrapped = self._keks.current.wrap(key, person_id=person_id, key_id=key_id)
            created.append(
                {
                    "key_id": key_id,
                    "person_id": person_id,
                    "kek_id": self._keks.current.kek_id,
                    "wrapped_key": wrapped,
                    "created_at": now,
                    "destroyed_at": None,
                }
            )
            live[person_id] = (key_id, key)
            self._remember(key_id, key)
        if created:
            await connection.execute(person_keys.insert(), created)
        return live

    def _unwrap(self, row: _KeyRow) -> bytes | None:
        if row.wrapped_key is None:
            self._cache.pop(row.key_id, None)
            return None
        cached = self._cache.get(row.key_id)
        if cached is not None:
            self._cache.move_to_end(row.key_id)
            return cached
        kek = self._keks.get(row.kek_id)
        if kek is None:
            raise StoreError(
                f"data key {row.key_id} is wrapped by key-encryption key {row.kek_id!r}, which "
                "this hub is not given (set it in HUB_DATA_PREVIOUS_KEKS until "
                "`hub keys rotate` has run)"
            )
        try:
            key = kek.unwrap(bytes(row.wrapped_key), person_id=row.person_id, key_id=row.key_id)
        except UnreadableField as error:
            raise StoreError(
                f"cannot unwrap data key {row.key_id}: {error} (is HUB_DATA_KEK the right key?)"
            ) from error
        self._remember(row.key_id, key)
        return key

    def _remember(self, key_id: str, key: bytes) -> None:
        self._cache[key_id] = key
        self._cache.move_to_end(key_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _key_row(row: sa.RowMapping) -> _KeyRow:
    wrapped = row["wrapped_key"]
    return _KeyRow(
        row["key_id"], row["person_id"], row["kek_id"], None if wrapped is None else bytes(wrapped)
    )


# -- crypto-shredding and rotation ---------------------------------------------------------------


def _shredding_entry(
    person_id: str,
    fields: Sequence[str],
    key: Mapping[str, str],
    *,
    reason: str,
    actor: str,
    at: datetime,
) -> AuditEntry:
    """The erasure entry of one key destroyed by crypto-shredding. `key` identifies it in the
    details (`key_id`, or a conflict's `review_id`); `fields` are those it sealed ("data key"
    when none are known)."""
    return AuditEntry(
        kind=AuditKind.ERASURE,
        occurred_at=at,
        actor=actor,
        agency="hub",
        person_id=person_id,
        fields=tuple(fields) or ("data key",),
        rules=(CRYPTO_SHRED_RULE,),
        outcome="erased",
        details={**key, "reason": reason},
    )


@dataclass(frozen=True, slots=True)
class RotationReport:
    rewrapped: int
    already_current: int
    destroyed: int


class SqlPersonKeys:
    """Destroys a person's data keys (logged) and rewraps keys under the current KEK."""

    def __init__(
        self,
        engine: AsyncEngine,
        keks: KekRing,
        audit: SqlAuditLog,
        fields: SensitiveFields | None = None,
    ) -> None:
        self._engine = engine
        self._fields = fields or SensitiveFields({})
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE")
        self._keks = keks
        self._audit = audit

    async def erase(
        self, person_id: str, *, reason: str, actor: str, at: datetime | None = None
    ) -> list[str]:
        """Destroy every live data key of the person, and the key of every identifier conflict
        naming them (`hub.infra.conflicts`), with an erasure entry per key in the same
        transaction; the ids of the keys destroyed (none if all were already destroyed)."""
        at = (at or datetime.now(UTC)).astimezone(UTC)
        async with translated("the key store"), self._writer.begin() as connection:
            # The lock an append to this person takes (`PostgresEventStore._lock_people`): an
            # append either seals before the keys are destroyed or after, under a new key.
            await connection.execute(
                sa.select(persons.c.person_id)
                .where(persons.c.person_id == person_id)
                .with_for_update()
            )
            rows = (
                await connection.execute(
                    sa.select(person_keys.c.key_id)
                    .where(
                        person_keys.c.person_id == person_id,
                        person_keys.c.destroyed_at.is_(None),
                    )
                    .order_by(person_keys.c.key_id)
                    .with_for_update()
                )
            ).scalars()
            key_ids = list(rows)
            # The parked notifications of identifier conflicts naming the person are sealed
            # under keys of their own (`hub.infra.conflicts`): destroyed with the person's.
            conflict_ids = await self._destroy_conflict_keys(
                connection, person_id, reason=reason, actor=actor, at=at
            )
            if not key_ids:
                return conflict_ids
            types = (
                await connection.execute(
                    sa.select(events.c.type).where(events.c.person_id == person_id).distinct()
                )
            ).scalars()
            erased = sorted(set().union(*(self._fields.of(t) for t in types)))
            await connection.execute(
                person_keys.update()
                .where(person_keys.c.key_id.in_(key_ids))
                .values(wrapped_key=None, destroyed_at=at)
            )
            await self._audit.append(
                connection,
                [
                    _shredding_entry(
                        person_id, erased, {"key_id": key_id}, reason=reason, actor=actor, at=at
                    )
                    for key_id in key_ids
                ],
            )
        return key_ids + conflict_ids

    async def _destroy_conflict_keys(
        self, connection: AsyncConnection, person_id: str, *, reason: str, actor: str, at: datetime
    ) -> list[str]:
        """Destroy the live keys of the identifier conflicts that name the person, with an
        erasure entry each; their review ids (which are their key ids)."""
        table = identifier_conflicts
        rows = (
            await connection.execute(
                sa.select(table.c.review_id, table.c.claims, table.c.event_type)
                .where(table.c.wrapped_key.is_not(None))
                .order_by(table.c.review_id)
                .with_for_update()
            )
        ).mappings()
        named = [row for row in rows if person_id in dict(row["claims"]).values()]
        if not named:
            return []
        review_ids = [row["review_id"] for row in named]
        await connection.execute(
            table.update()
            .where(table.c.review_id.in_(review_ids))
            .values(wrapped_key=None, key_destroyed_at=at)
        )
        await self._audit.append(
            connection,
            [
                _shredding_entry(
                    person_id,
                    sorted(self._fields.of(row["event_type"])),
                    {"review_id": row["review_id"]},
                    reason=reason,
                    actor=actor,
                    at=at,
                )
                for row in named
            ],
        )
        return review_ids

    async def rotate(self) -> RotationReport:
        """Rewrap every live data key not under the current KEK; events are not touched."""
        current = self._keks.current
        rewrapped = already = 0
        async with translated("the key store"), self._writer.begin() as connection:
            destroyed = int(
                (
                    await connection.execute(
                        sa.select(sa.func.count())
                        .select_from(person_keys)
                        .where(person_keys.c.wrapped_key.is_(None))
                    )
                ).scalar_one()
            )
            rows = (
                await connection.execute(
                    sa.select(person_keys)
                    .where(person_keys.c.wrapped_key.is_not(None))
                    .order_by(person_keys.c.key_id)
                    .with_for_update()
                )
            ).mappings()
            for row in [_key_row(r) for r in rows]:
                if row.kek_id == current.kek_id:
                    already += 1
                    continue
                kek = self._keks.get(row.kek_id)
                if kek is None:
                    raise InvalidInput(
                        f"data key {row.key_id} is wrapped by key-encryption key "
                        f"{row.kek_id!r}: give it in HUB_DATA_PREVIOUS_KEKS to rotate"
                    )
                assert row.wrapped_key is not None
                try:
                    key = kek.unwrap(row.wrapped_key, person_id=row.person_id, key_id=row.key_id)
                except UnreadableField as error:
                    raise InvalidInput(str(error)) from error
                await connection.execute(
                    person_keys.update()
                    .where(person_keys.c.key_id == row.key_id)
                    .values(
                        kek_id=current.kek_id,
                        wrapped_key=current.wrap(key, person_id=row.person_id, key_id=row.key_id),
                    )
                )
                rewrapped += 1
        return RotationReport(rewrapped=rewrapped, already_current=already, destroyed=destroyed)
