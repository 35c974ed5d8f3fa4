"""The composition root: the one place that builds engines, stores and services.

Nothing connects at import time. `running(settings)` builds a `Container` inside the app's
lifespan (or a CLI command) and disposes of it afterwards; tests call it with their own settings.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth.tokens import TokenService
from hub.domain.schemas import SchemaRegistry
from hub.errors import StoreUnavailable
from hub.infra import db
from hub.infra.clients import SqlClientRepository
from hub.infra.conflicts import SqlConflictReviewList
from hub.infra.store import create_event_store
from hub.services.clients import ClientRepository
from hub.services.conflicts import ConflictReviewList
from hub.services.intake import IntakeService
from hub.services.ports import EventStore
from hub.settings import Settings

logger = logging.getLogger("hub")


@dataclass(frozen=True)
class Container:
    settings: Settings
    engine: AsyncEngine
    store: EventStore
    clients: ClientRepository
    tokens: TokenService
    schemas: SchemaRegistry
    intake: IntakeService
    conflicts: ConflictReviewList


@asynccontextmanager
async def running(settings: Settings, *, migrate: bool | None = None) -> AsyncIterator[Container]:
    """Build everything the hub runs on; dispose of it on exit.

    The embedded default (SQLite) brings its own schema up to date; PostgreSQL must be migrated
    explicitly with `hub db upgrade` (an operator decision), and the hub refuses to start on an
    out-of-date schema rather than run against tables it does not know.
    """
    engine = db.create_engine(settings)
    try:
        if migrate if migrate is not None else settings.is_embedded:
            await db.upgrade(engine, settings)
        elif not await db.is_up_to_date(engine, settings):
            raise StoreUnavailable(
                "the database schema is not at the latest migration: run `hub db upgrade`"
            )
        schemas = SchemaRegistry.load(settings.events_dir)
        store = create_event_store(engine)
        conflicts = SqlConflictReviewList(engine)
        yield Container(
            settings=settings,
            engine=engine,
            store=store,
            clients=SqlClientRepository(engine),
            tokens=TokenService.from_settings(settings),
            schemas=schemas,
            intake=IntakeService(schemas, store, settings.max_batch_size, conflicts),
            conflicts=conflicts,
        )
    finally:
        await engine.dispose()
