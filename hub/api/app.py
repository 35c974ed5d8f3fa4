"""The FastAPI application: routes, problem details, and the lifespan that builds the container."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hub import __version__, bootstrap
from hub.api import problems
from hub.api.routes import events, health, oauth
from hub.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """The hub's API. Settings are read when the app starts, not at import."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with bootstrap.running(settings or Settings()) as container:
            app.state.container = container
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
    app.include_router(health.router)
    app.include_router(oauth.router)
    app.include_router(events.router)
    return app
