"""The FastAPI application: routes, problem details, and the lifespan that builds the container."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from hub import __version__, bootstrap
from hub.api import api_docs, asyncapi, openapi, problems
from hub.api.checkpoint_header import AuditCheckpointHeader
from hub.api.console import routes as console_routes
from hub.api.console import runtime as console_runtime
from hub.api.delivery_metrics import DeliveryMetricsText
from hub.api.http_metrics import HttpMetrics, HttpMetricsMiddleware
from hub.api.parameters import clean_parameters
from hub.api.ratelimit import RateLimitMiddleware
from hub.api.request_log import RequestLog
from hub.api.routes import (
    admin_clients,
    audit,
    deliveries,
    directory,
    disclosures,
    events,
    feed,
    health,
    metrics,
    oauth,
    policy,
    reviews,
    subscriptions,
    webhook_keys,
)
from hub.api.streams import FeedStreams
from hub.bootstrap import Container, Role
from hub.observability import tracing
from hub.services.clients import OPERATOR_AGENCY
from hub.settings import Settings

logger = logging.getLogger("hub")


def create_app(settings: Settings | None = None, *, role: Role = "all") -> FastAPI:
    """The hub's API, with the workers `role` runs beside it (`hub serve --role`). Settings are
    read when the app starts, not at import."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with bootstrap.running(settings or Settings()) as container:
            app.state.container = container
            app.state.streams = FeedStreams.from_settings(container.settings, container.clients)
            agencies = [*container.policy.directory.recipients, OPERATOR_AGENCY]
            async with console_runtime.running(container.settings, agencies) as console:
                app.state.console = console  # None when no identity provider is configured
                async with _workers(app, container, role):
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
        dependencies=[Depends(clean_parameters)],
        # /docs and /redoc load their scripts from the hub itself (api_docs), not from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    problems.install(app)
    openapi.install(app, settings)
    asyncapi.install(app, settings)  # /asyncapi.json: the Kafka interface (issue 18)
    api_docs.install(app)  # /docs and /redoc with their vendored assets
    # Innermost: it sees the route template the router matched (for /metrics).
    app.state.http_metrics = HttpMetrics()
    app.state.delivery_metrics_text = DeliveryMetricsText()  # /metrics' business series, kept
    app.add_middleware(HttpMetricsMiddleware, metrics=app.state.http_metrics)
    app.add_middleware(RateLimitMiddleware)
    app.add_middleware(AuditCheckpointHeader)
    app.add_middleware(RequestLog)  # outermost: the request id covers everything below
    tracing.instrument_app(app)  # server spans when OTEL_* turn traces on (docs/tracing.md)
    app.include_router(health.router)
    app.include_router(oauth.router)
    app.include_router(events.router)
    app.include_router(policy.router)
    app.include_router(subscriptions.router)
    app.include_router(webhook_keys.router)
    app.include_router(deliveries.router)
    app.include_router(feed.router)
    app.include_router(disclosures.router)
    app.include_router(reviews.router)
    app.include_router(audit.router)
    app.include_router(metrics.router)
    app.include_router(admin_clients.router)
    app.include_router(directory.router)
    if settings is not None and settings.oidc_issuer is not None:
        # The console for people (issue 16): its routes exist only where it is configured.
        app.include_router(console_routes.router)
    return app


@asynccontextmanager
async def _workers(app: FastAPI, container: Container, role: Role = "all") -> AsyncIterator[None]:
    """The workers this process runs beside the API (`bootstrap.workers`); `/readyz` and
    `/metrics` report each one's state and lag."""
    async with bootstrap.workers(container, role) as loops:
        app.state.workers = loops
        yield
