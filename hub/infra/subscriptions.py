"""Webhook subscriptions in the `subscriptions` table, on PostgreSQL or SQLite:
`hub.services.subscriptions.SubscriptionRepository`.

A change reads the row locked (`FOR UPDATE` on PostgreSQL; `BEGIN IMMEDIATE` on SQLite), so two
concurrent changes (a rotation and a PATCH, say) apply one after the other, never one over the
other; a subscription leaving `active` cancels its pending jobs in the same transaction.

Signing secrets are stored sealed (`SubscriptionSecrets`): each is wrapped by the key-encryption
key that wraps the persons' data keys (`hub.infra.protection.KekRing`), bound to its
subscription, with the key's id beside it so that `hub keys rotate` can rewrap it. Rows written
before migration 0010 (`secrets_format` "plain") are still read, and are sealed when the hub
starts (`seal_plaintext_secrets`) or the keys are rotated (`rewrap_secrets`). The webhook outbox
reads the sealed form with its jobs; `SecretOpeningDeliveryQueue` opens it for the sender.
"""

from __future__ import annotations

import base64
import binascii
import logging
import random
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.domain.protection import UnreadableField
from hub.errors import Conflict, NotFound, StoreError
from hub.infra.dberrors import translated
from hub.infra.deliveries import cancel_pending
from hub.infra.protection import KekRing
from hub.infra.tables import subscriptions
from hub.services.audit_queries import Principal
from hub.services.delivery import (
    Delivery,
    DeliveryAttempt,
    DeliveryJob,
    DeliveryQueue,
    Finish,
)
from hub.services.subscriptions import Subscription
from hub.services.webhook_rules import retry_delay

__all__ = [
    "PLAIN_FORMAT",
    "SEALED_FORMAT",
    "SecretOpeningDeliveryQueue",
    "SecretsReport",
    "SqlSubscriptionRepository",
    "SubscriptionSecrets",
]

logger = logging.getLogger(__name__)

_WHAT = "the subscription register"
#: `subscriptions.secrets_format`: the rows migration 0010 found hold plaintext secrets ...
PLAIN_FORMAT: Final = "plain"
#: ... and every row the hub writes holds `[{"kek_id": …, "sealed": …}, …]`.
SEALED_FORMAT: Final = "sealed-v1"
#: What a secret's wrapping is bound to besides its subscription (the KEK's `key_id`), so that
#: it can never be taken for a person's data key.
_SECRET_PURPOSE: Final = "webhook-signing-secret"  # noqa: S105 - a label, not a secret


# -- sealing and opening the secrets -------------------------------------------------------------


class SubscriptionSecrets:
    """Seals Standard Webhooks signing secrets under the current key-encryption key (AES-256-GCM,
    `hub.domain.protection.AesGcmKek`, bound to the subscription id) and opens them with the
    key each names. A secret that does not open is a `StoreError` naming its subscription."""

    def __init__(self, keks: KekRing) -> None:
        self._keks = keks

    def seal(self, subscription_id: str, secrets: Sequence[str]) -> list[dict[str, str]]:
        kek = self._keks.current
        return [
            {
                "kek_id": kek.kek_id,
                "sealed": _b64(
                    kek.wrap(
                        secret.encode("utf-8"), person_id=subscription_id, key_id=_SECRET_PURPOSE
                    )
                ),
            }
            for secret in secrets
        ]

    def open(
        self, subscription_id: str, stored: Sequence[object], *, sealed: bool
    ) -> tuple[str, ...]:
        """The plaintext secrets of `stored` (a `secrets` column); `sealed` says the row's format
        is `SEALED_FORMAT` (else plaintext strings, written before migration 0010)."""
        if not sealed:
            if not all(isinstance(entry, str) for entry in stored):
                raise StoreError(
                    f"subscription {subscription_id} has signing secrets in an unknown format"
                )
            return tuple(str(entry) for entry in stored)
        return tuple(self._open_one(subscription_id, entry) for entry in stored)

    def open_entries(self, subscription_id: str, stored: Sequence[object]) -> tuple[str, ...]:
        """As `open`, each entry by its own shape (a plaintext string written before migration
        0010, or a sealed one): for readers that do not see the row's `secrets_format`."""
        return tuple(
            entry if isinstance(entry, str) else self._open_one(subscription_id, entry)
            for entry in stored
        )

    def rewrap(self, subscription_id: str, entry: object) -> dict[str, str] | None:
        """`entry` sealed under the current key, or None if it already is."""
        kek_id, _ = _sealed_parts(subscription_id, entry)
        if kek_id == self._keks.current.kek_id:
            return None
        [rewrapped] = self.seal(subscription_id, [self._open_one(subscription_id, entry)])
        return rewrapped

    def _open_one(self, subscription_id: str, entry: object) -> str:
        kek_id, wrapped = _sealed_parts(subscription_id, entry)
        kek = self._keks.get(kek_id)
        if kek is None:
            raise StoreError(
                f"subscription {subscription_id}'s signing secret is sealed under "
                f"key-encryption key {kek_id!r}, which this hub is not given (set it in "
                "HUB_DATA_PREVIOUS_KEKS until `hub keys rotate` has run)"
            )
        try:
            secret = kek.unwrap(wrapped, person_id=subscription_id, key_id=_SECRET_PURPOSE)
        except UnreadableField as error:
            raise StoreError(
                f"subscription {subscription_id}'s signing secret does not open under "
                f"key-encryption key {kek_id!r}: tampered with, moved from another subscription, "
                "or HUB_DATA_KEK is not the right key"
            ) from error
        return secret.decode("utf-8")


def _sealed_parts(subscription_id: str, entry: object) -> tuple[str, bytes]:
    if isinstance(entry, Mapping):
        kek_id, text = entry.get("kek_id"), entry.get("sealed")
        if isinstance(kek_id, str) and isinstance(text, str):
            try:
                return kek_id, base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            except (binascii.Error, ValueError):
                pass
    raise StoreError(
        f"subscription {subscription_id} has a sealed signing secret that is malformed"
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class SecretsReport:
    """What sealing or rewrapping the subscriptions' signing secrets did."""

    #: Subscriptions whose plaintext secrets (written before migration 0010) were sealed.
    sealed: int
    #: Secrets rewrapped under the current key-encryption key.
    rewrapped: int
    #: Secrets already under it.
    already_current: int


# -- the repository ---------------------------------------------------------------------------


class SqlSubscriptionRepository:
    """`SubscriptionRepository` on the hub's database (either backend)."""

    def __init__(self, engine: AsyncEngine, secrets: SubscriptionSecrets) -> None:
        self._engine = engine
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE")
        self._secrets = secrets

    async def add(self, subscription: Subscription) -> None:
        try:
            async with translated(_WHAT), self._writer.begin() as connection:
                await connection.execute(subscriptions.insert().values(**self._row(subscription)))
        except sa.exc.IntegrityError as error:
            raise Conflict(f"subscription {subscription.subscription_id} already exists") from error

    async def get(self, subscription_id: str) -> Subscription | None:
        query = sa.select(subscriptions).where(subscriptions.c.subscription_id == subscription_id)
        async with translated(_WHAT), self._engine.connect() as connection:
            row = (await connection.execute(query)).mappings().one_or_none()
        return None if row is None else self._subscription(row)

    async def list_for(self, recipient_id: str, *, include_deleted: bool) -> list[Subscription]:
        query = sa.select(subscriptions).where(subscriptions.c.recipient_id == recipient_id)
        if not include_deleted:
            query = query.where(subscriptions.c.status != "deleted")
        query = query.order_by(subscriptions.c.created_at, subscriptions.c.subscription_id)
        async with translated(_WHAT), self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [self._subscription(row) for row in rows]

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
            before = self._subscription(row)
            after = change(before)
            if after == before:
                return before
            if after.subscription_id != before.subscription_id:
                raise ValueError("a change may not give a subscription another id")
            values = self._row(after)
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

    # -- keeping the secrets sealed --------------------------------------------------------------

    async def seal_plaintext_secrets(self) -> SecretsReport:
        """Seal the secrets of every row still in plaintext (written before migration 0010),
        under the current key-encryption key. The hub does this as it starts."""
        plaintext = sa.select(subscriptions.c.subscription_id).where(
            subscriptions.c.secrets_format != SEALED_FORMAT
        )
        # Look first without a write transaction (on SQLite, the one database lock).
        async with translated(_WHAT), self._engine.connect() as connection:
            if (await connection.execute(plaintext.limit(1))).first() is None:
                return SecretsReport(sealed=0, rewrapped=0, already_current=0)
        report = await self._reseal(rewrap=False)
        if report.sealed:
            logger.info("sealed the plaintext signing secrets of %d subscription(s)", report.sealed)
        return report

    async def rewrap_secrets(self) -> SecretsReport:
        """Seal any plaintext secrets, and rewrap every sealed one that is not under the current
        key-encryption key (`hub keys rotate`). StoreError naming the subscription when a
        secret's key is not given or it does not open: nothing is changed then."""
        return await self._reseal(rewrap=True)

    async def _reseal(self, *, rewrap: bool) -> SecretsReport:
        query = sa.select(
            subscriptions.c.subscription_id, subscriptions.c.secrets, subscriptions.c.secrets_format
        ).order_by(subscriptions.c.subscription_id)
        if not rewrap:
            query = query.where(subscriptions.c.secrets_format != SEALED_FORMAT)
        sealed = rewrapped = already = 0
        async with translated(_WHAT), self._writer.begin() as connection:
            rows = (await connection.execute(query.with_for_update())).mappings().all()
            for row in rows:
                subscription_id = row["subscription_id"]
                stored: list[object] = list(row["secrets"])
                if row["secrets_format"] != SEALED_FORMAT:
                    plain = self._secrets.open(subscription_id, stored, sealed=False)
                    new: list[object] = list(self._secrets.seal(subscription_id, plain))
                    sealed += 1 if plain else 0
                else:
                    new = []
                    for entry in stored:
                        again = self._secrets.rewrap(subscription_id, entry)
                        if again is None:
                            already += 1
                            new.append(entry)
                        else:
                            rewrapped += 1
                            new.append(again)
                    if new == stored:
                        continue
                await connection.execute(
                    subscriptions.update()
                    .where(subscriptions.c.subscription_id == subscription_id)
                    .values(secrets=new, secrets_format=SEALED_FORMAT)
                )
        return SecretsReport(sealed=sealed, rewrapped=rewrapped, already_current=already)

    # -- rows ------------------------------------------------------------------------------------

    def _row(self, subscription: Subscription) -> dict[str, Any]:
        return {
            "subscription_id": subscription.subscription_id,
            "recipient_id": subscription.recipient_id,
            "url": subscription.url,
            "event_types": (
                None if subscription.event_types is None else list(subscription.event_types)
            ),
            "format": subscription.format,
            "secrets": self._secrets.seal(subscription.subscription_id, subscription.secrets),
            "secrets_format": SEALED_FORMAT,
            "status": subscription.status,
            "status_reason": subscription.status_reason,
            "created_at": _utc(subscription.created_at),
            "updated_at": _utc(subscription.updated_at),
            "payload_version": subscription.payload_version,
            "signature_schemes": list(subscription.signature_schemes),
        }

    def _subscription(self, row: Any) -> Subscription:
        event_types = row["event_types"]
        subscription_id = row["subscription_id"]
        return Subscription(
            subscription_id=subscription_id,
            recipient_id=row["recipient_id"],
            url=row["url"],
            event_types=None if event_types is None else tuple(event_types),
            format=row["format"],
            secrets=self._secrets.open(
                subscription_id,
                list(row["secrets"]),
                sealed=row["secrets_format"] == SEALED_FORMAT,
            ),
            status=row["status"],
            status_reason=row["status_reason"],
            created_at=_utc(row["created_at"]),
            updated_at=_utc(row["updated_at"]),
            payload_version=int(row["payload_version"]),
            signature_schemes=tuple(row["signature_schemes"]),
        )


# -- the outbox, with its secrets opened ---------------------------------------------------------


class SecretOpeningDeliveryQueue:
    """A `DeliveryQueue` whose claimed jobs carry their subscriptions' secrets opened.

    The outbox reads each job's secrets as stored, sealed. A job whose secrets do not open
    (tampered with, moved from another subscription, under a key this hub is not given) is never
    sent with a wrong signature: it is recorded as a failed attempt whose error names the
    subscription, retried on the webhook schedule, and dead in the end, as a job the hub cannot
    render is."""

    def __init__(
        self,
        queue: DeliveryQueue,
        secrets: SubscriptionSecrets,
        *,
        retry_schedule: Sequence[float],
        rng: random.Random | None = None,
    ) -> None:
        self._queue = queue
        self._secrets = secrets
        self._schedule = tuple(retry_schedule)
        self._rng = rng or random.Random()  # noqa: S311 - retry jitter, not a secret

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
        jobs = await self._queue.claim(
            worker_id,
            now=now,
            until=until,
            limit=limit,
            per_subscription=per_subscription,
            skip=skip,
            room=room,
        )
        opened = []
        # One subscription's jobs in one claim carry the same secrets (read in one query):
        # opened once for all of them.
        by_subscription: dict[str, tuple[str, ...]] = {}
        for job in jobs:
            secrets = by_subscription.get(job.subscription_id)
            if secrets is None:
                try:
                    secrets = self._secrets.open_entries(job.subscription_id, job.secrets)
                except StoreError as error:
                    logger.error("delivery %s not sent: %s", job.delivery_id, error.message)
                    await self._queue.finish(job, worker_id, self._unsent(job, now, error.message))
                    continue
                by_subscription[job.subscription_id] = secrets
            opened.append(replace(job, secrets=secrets))
        return opened

    def _unsent(self, job: DeliveryJob, now: datetime, error: str) -> Finish:
        attempt = job.attempts + 1
        delay = retry_delay(self._schedule, attempt, self._rng)
        if delay is None:
            record = DeliveryAttempt(attempt, now, None, None, "dead", error)
            return Finish(status="dead", attempt=record, last_error=error)
        record = DeliveryAttempt(attempt, now, None, None, "retry", error)
        return Finish(
            status="pending", attempt=record, next_attempt_at=now + delay, last_error=error
        )

    async def finish(self, job: DeliveryJob, worker_id: str, finish: Finish) -> bool:
        return await self._queue.finish(job, worker_id, finish)

    async def next_claim_expiry(self, now: datetime) -> datetime | None:
        return await self._queue.next_claim_expiry(now)

    async def find(
        self,
        *,
        recipient_id: str | None,
        status: str | None,
        limit: int,
        after: str | None,
    ) -> list[Delivery]:
        return await self._queue.find(
            recipient_id=recipient_id, status=status, limit=limit, after=after
        )

    async def get(self, delivery_id: str) -> Delivery | None:
        return await self._queue.get(delivery_id)

    async def attempts(self, delivery_id: str) -> list[DeliveryAttempt]:
        return await self._queue.attempts(delivery_id)

    async def replay(self, delivery_id: str, now: datetime, by: Principal) -> Delivery:
        return await self._queue.replay(delivery_id, now, by)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
