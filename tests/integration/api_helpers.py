"""Helpers for API tests: an app running on a test database, clients and tokens, store snapshots."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from hub.api.app import create_app
from hub.auth.secrets import hash_secret
from hub.bootstrap import Container
from hub.services.clients import register_client
from hub.settings import PROJECT_ROOT, Settings

EXAMPLES = PROJECT_ROOT / "events" / "examples"


def example(event_type: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / f"{event_type}.json").read_text())
    return copy.deepcopy(loaded)


@dataclass
class RunningHub:
    http: httpx.AsyncClient
    container: Container

    async def token(self, agency: str = "sps", scopes: str = "events:publish events:read") -> str:
        client, secret = await register_client(
            self.container.clients,
            name=f"test {agency}",
            agency=agency,
            scopes=scopes.split(),
            hash_secret=hash_secret,
        )
        answer = await self.http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client.client_id, secret),
        )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    async def snapshot(self) -> tuple[Any, ...]:
        """Everything a rejected request must leave unchanged: events, people, identifiers."""
        async with self.container.engine.connect() as connection:
            events = (
                await connection.execute(sa.text("SELECT position, source, event_id FROM events"))
            ).all()
            persons = (await connection.execute(sa.text("SELECT person_id FROM persons"))).all()
            links = (
                await connection.execute(sa.text("SELECT scheme, value FROM person_identifiers"))
            ).all()
        return (sorted(events), sorted(persons), sorted(links))


@asynccontextmanager
async def running_hub(settings: Settings) -> AsyncIterator[RunningHub]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
            yield RunningHub(http, app.state.container)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def examples_dir() -> Path:
    return EXAMPLES
