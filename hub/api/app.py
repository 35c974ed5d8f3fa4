"""The FastAPI application: routes, problem details, and the lifespan that builds the container."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hub import __version__, bootstrap
from hub.api import problems
from hub.api.ratelimit import RateLimitMiddleware
from hub.api.routes import (
    audit,
    deliveries,
    disclosures,
    events,
    feed,
    health,
    metrics,
    oauth,
    policy,
    subscriptions,
)
from hub.bootstrap import Container
from hub.settings import Settings

logger = logging.getLogger("hub")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The hub's API. Settings are read when the app starts, not at import."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with bootstrap.running(settings or Settings()) as container:
            app.state.container = container
            async with _workers(app, container):
                yield

    app = FastAPI(
        title="Public Protection Hub",
        version=__version__,
        description=(
            "Agency systems push notifications about people who pose a high risk of serious "
            "harm; the hub keeps every one, in order, and shares each only with those entitled "
            "to it. Authenticate with an OAuth 2.0 client-credentials token from /oauth/token."
        ),
        lifespan=lifespan,
    )
    problems.install(app)
    app.add_middleware(RateLimitMiddleware)
    app.include_router(health.router)
    app.include_router(oauth.router)
    app.include_router(events.router)
    app.include_router(policy.router)
    app.include_router(subscriptions.router)
    app.include_router(deliveries.router)
    app.include_router(feed.router)
    app.include_router(disclosures.router)
    app.include_router(audit.router)
    app.include_router(metrics.router)
    return app


@asynccontextmanager
async def _workers(app: FastAPI, container: Container) -> AsyncIterator[None]:
    """The in-process workers of the embedded default: the router follows the store, woken
    by every append; the overdue monitor escalates disclosures not acknowledged in time. A
    worker that fails makes `/readyz` say so; it is never silently lost."""
    stop = asyncio.Event()
    tasks: dict[str, asyncio.Task[None]] = {}
    if container.settings.router_enabled:
        router = container.router()
        tasks["router"] = asyncio.create_task(
            router.run(stop, container.appended), name="hub-router"
        )
    if container.settings.delivery_enabled:
        # Polls the outbox every `delivery_poll_interval` seconds (the router cannot wake it).
        worker = container.delivery_worker()
        tasks["delivery"] = asyncio.create_task(worker.run(stop), name="hub-delivery")
        monitor = container.overdue_monitor()
        tasks["overdue"] = asyncio.create_task(monitor.run(stop), name="hub-overdue")
    if container.settings.audit_enabled:
        sequencer = container.audit_sequencer()
        tasks["audit-sequencer"] = asyncio.create_task(
            sequencer.run(stop), name="hub-audit-sequencer"
        )
        checkpointer = container.audit_checkpointer()
        tasks["audit-checkpointer"] = asyncio.create_task(
            checkpointer.run(stop), name="hub-audit-checkpointer"
        )
    app.state.workers = tasks
    try:
        yield
    finally:
        stop.set()
        for name, task in tasks.items():
            try:
                await asyncio.wait_for(task, timeout=30)
            except Exception:
                logger.exception("worker %s ended with an error", name)
