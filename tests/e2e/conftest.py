"""End-to-end fixtures: the real `hub` command, run as a client would run it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import POSTGRES_OWNER_URL, POSTGRES_URL

HUB = [sys.executable, "-m", "hub.cli"]


def eventually(check: Callable[[], Any], what: str, seconds: float = 30) -> Any:
    """What `check` returns once it is truthy; `AssertionError` naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"never happened: {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class HubProcess:
    """A `hub serve` process and the environment it was started with."""

    env: dict[str, str]
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    #: The exit code of the last process `stop()` ended (negative: the signal that ended it).
    last_exit_code: int | None = None
    clients: list[dict[str, Any]] = field(default_factory=list)
    #: PostgreSQL: the owner role's URL (never in `env`): for tests that play an insider who
    #: holds the owner's rights.
    owner_url: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, **env: str) -> str:
        done = subprocess.run(
            [*HUB, *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self, preexec_fn: Callable[[], None] | None = None) -> None:
        assert self.process is None
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*HUB, "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=log,
                preexec_fn=preexec_fn,
            )
        # Generous: on a loaded machine importing the hub and its policy bundle alone takes 20 s.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"hub serve exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"hub serve did not become ready:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, as in a crash."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.last_exit_code = self.process.returncode
            self.process = None

    def register(self, agency: str, scopes: str) -> dict[str, Any]:
        out = self.cli(
            "clients",
            "add",
            "--name",
            f"e2e {agency}",
            "--agency",
            agency,
            "--scope",
            scopes,
            "--json",
        )
        client: dict[str, Any] = json.loads(out)
        return client

    def token(self, client: dict[str, Any]) -> str:
        answer = httpx.post(
            f"{self.url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client["client_id"], client["client_secret"]),
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def hub_process(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HubProcess]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update({"HUB_ENVIRONMENT": "development", "HUB_DATA_DIR": str(tmp_path / "data")})
    schema = None
    if request.param == "postgres":
        schema = f"e2e_{uuid.uuid4().hex[:12]}"
        _admin(f'CREATE SCHEMA "{schema}"')
        env["HUB_DATABASE_URL"] = POSTGRES_URL
        env["HUB_DATABASE_SCHEMA"] = schema
    hub = HubProcess(env=env, port=free_port(), log=tmp_path / "hub.log")
    if schema is not None:
        # As a deployment does it: the migration job alone holds the owner's URL; the hub and
        # every other command run as the restricted runtime role (HUB_DATABASE_URL).
        hub.owner_url = POSTGRES_OWNER_URL
        hub.cli("db", "upgrade", HUB_DATABASE_MIGRATION_URL=POSTGRES_OWNER_URL)
    try:
        yield hub
    finally:
        hub.stop()
        if schema is not None:
            _admin(f'DROP SCHEMA "{schema}" CASCADE')


def _admin(statement: str) -> None:
    async def run() -> None:
        admin = create_async_engine(POSTGRES_OWNER_URL)
        try:
            async with admin.begin() as connection:
                await connection.execute(sa.text(statement))
        finally:
            await admin.dispose()

    asyncio.run(run())
