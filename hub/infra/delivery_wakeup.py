"""Waking the delivery workers as soon as webhook jobs are queued, instead of at their next poll.

Across processes (PostgreSQL): migration 0016's trigger notifies the channel `hub_deliveries`
when a transaction inserting jobs commits; `DeliveryListener` keeps one connection listening on
it and sets the worker's wake-up event. In one process (either backend): `SignallingRoutingStore`
sets the same event after a routing batch that decided disclosures commits. Both only shorten
the wait: the worker still polls, so a notification lost while the listener reconnects (or a
job queued some other way) is sent at the next poll; and the listener sets the event each time
it (re)connects, for the jobs queued while nobody listened.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.domain.disclosures import RoutedBatch
from hub.infra.dberrors import translated
from hub.infra.routing import SqlRoutingStore
from hub.services.kafka_router import RoutedEvents

__all__ = ["DELIVERY_CHANNEL", "LISTENER_NAME", "DeliveryListener", "SignallingRoutingStore"]

logger = logging.getLogger("hub.delivery")

#: The channel migration 0016's trigger notifies; the payload is the jobs' schema.
DELIVERY_CHANNEL: Final = "hub_deliveries"
#: The listening connection's `application_name` (followed by its schema).
LISTENER_NAME: Final = "hub delivery listener"


class DeliveryListener:
    """`hub.services.delivery.JobNotifications` on PostgreSQL: one connection listening for the
    webhook jobs queued in its schema, setting `due` on each notification and when the
    connection is lost (so that the worker reconnects at once, through `keep_listening`)."""

    def __init__(self, engine: AsyncEngine, due: asyncio.Event, *, check_seconds: float) -> None:
        self._engine = engine
        self._due = due
        self._check_seconds = check_seconds
        self._connection: AsyncConnection | None = None
        self._driver: Any = None
        self._schema: str | None = None
        self._checked = 0.0

    @property
    def wakeup(self) -> asyncio.Event:
        return self._due

    @property
    def listening(self) -> bool:
        return self._driver is not None and not self._driver.is_closed()

    async def keep_listening(self) -> None:
        """Listen if not listening (and set `due`: jobs may have been queued meanwhile); else,
        every `check_seconds`, check that the connection still answers (a connection dropped
        without a word is only found out by using it). `StoreUnavailable` while the database
        cannot be reached."""
        async with translated("the delivery notifications"):
            if not self.listening:
                await self.close()
                await self._listen()
                self._due.set()
            elif time.monotonic() - self._checked >= self._check_seconds:
                await self._driver.execute("SELECT 1")
                self._checked = time.monotonic()

    async def _listen(self) -> None:
        connection = await self._engine.connect()
        try:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection  # asyncpg's Connection
            self._schema = await driver.fetchval("SELECT current_schema()")
            # Named in pg_stat_activity, so that an operator can tell what holds it open.
            await driver.fetchval(
                "SELECT set_config('application_name', $1, false)",
                f"{LISTENER_NAME} {self._schema}"[:63],
            )
            driver.add_termination_listener(self._on_lost)
            await driver.add_listener(DELIVERY_CHANNEL, self._on_notification)
        except BaseException:
            await connection.invalidate()
            await connection.close()
            raise
        self._connection, self._driver = connection, driver
        self._checked = time.monotonic()
        logger.info("listening for webhook jobs on %s", DELIVERY_CHANNEL)

    def _on_notification(self, _driver: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload == self._schema:
            self._due.set()

    def _on_lost(self, _driver: Any) -> None:
        logger.warning("the delivery notifications connection was lost; reconnecting")
        self._due.set()

    async def close(self) -> None:
        """Stop listening; the connection is discarded, not returned to the pool (it listens)."""
        connection, driver = self._connection, self._driver
        self._connection = self._driver = None
        if connection is None:
            return
        try:
            if not driver.is_closed():
                driver.remove_termination_listener(self._on_lost)
            await connection.invalidate()
            await connection.close()
        except Exception as error:  # a connection already gone: nothing left to release
            logger.debug("closing the delivery notifications connection: %s", error)


class SignallingRoutingStore(SqlRoutingStore):
    """The routing store that, once a batch that decided disclosures has committed, sets
    `deliveries_due`: the in-process delivery worker then claims their webhook jobs at once."""

    def __init__(self, *args: Any, deliveries_due: asyncio.Event, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deliveries_due = deliveries_due

    async def record(self, consumer: str, batch: RoutedBatch) -> bool:
        recorded = await super().record(consumer, batch)
        if recorded and batch.disclosures:
            self._deliveries_due.set()
        return recorded

    async def record_routed(self, batch: RoutedEvents) -> bool:
        recorded = await super().record_routed(batch)
        if recorded:
            self._deliveries_due.set()
        return recorded
