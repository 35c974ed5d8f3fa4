"""The composition root: the one place that builds engines, stores and services.

Nothing connects at import time. `running(settings)` builds a `Container` inside the app's
lifespan (or a CLI command) and disposes of it afterwards; tests call it with their own settings.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth.tokens import TokenService
from hub.domain.policy import PolicyBundle
from hub.domain.schemas import SchemaRegistry
from hub.errors import StoreUnavailable
from hub.infra import db
from hub.infra.clients import SqlClientRepository
from hub.infra.conflicts import SqlConflictReviewList
from hub.infra.routing import SqlRoutingStore
from hub.infra.store import create_event_store
from hub.services.clients import ClientRepository
from hub.services.conflicts import ConflictReviewList
from hub.services.explain import ExplainService
from hub.services.intake import IntakeService
from hub.services.ports import EventStore, RoutingStore
from hub.services.routing import Router
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
    policy: PolicyBundle
    routing: RoutingStore
    explain: ExplainService
    #: Set whenever notifications are appended, so that the in-process router wakes at once.
    appended: asyncio.Event = field(default_factory=asyncio.Event)

    def router(self) -> Router:
        """A router over this container's store and policy (each caller runs its own)."""
        return Router(
            self.store,
            self.routing,
            lambda: self.policy,
            batch_size=self.settings.router_batch_size,
            poll_interval=self.settings.router_poll_interval,
        )


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
        # An invalid bundle stops the hub here, with every problem as file:line.
        policy = PolicyBundle.load(settings.policy_bundle_dir, schemas)
        logger.info("policy bundle %s version %s", policy.name, policy.version)
        store = create_event_store(engine)
        conflicts = SqlConflictReviewList(engine)
        appended = asyncio.Event()
        yield Container(
            settings=settings,
            engine=engine,
            store=store,
            clients=SqlClientRepository(engine),
            tokens=TokenService.from_settings(settings),
            schemas=schemas,
            intake=IntakeService(
                schemas, store, settings.max_batch_size, conflicts, on_appended=appended.set
            ),
            conflicts=conflicts,
            policy=policy,
            routing=SqlRoutingStore(engine),
            explain=ExplainService(store, schemas, policy),
            appended=appended,
        )
    finally:
        await engine.dispose()
