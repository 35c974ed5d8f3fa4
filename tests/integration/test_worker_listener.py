"""The health and metrics listener of a worker role, over real HTTP on both backends: a
`hub serve --role router` process with HUB_METRICS_PORT answers its probes and exports the
technical metrics (its router's lag going to 0 once it has routed what the API stored while no
router ran); a worker that failed for good makes `/healthz` and `/readyz` say so; a port that
cannot be bound stops the role naming HUB_METRICS_PORT."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from hub import bootstrap
from hub.api.worker_listener import serving
from hub.errors import InvalidInput, StoreError
from hub.services.worker import WorkerLoop
from tests.conftest import Database
from tests.integration.api_helpers import bearer, example, running_hub

pytestmark = pytest.mark.asyncio

PUSHES = 3
#: A ceiling, not a timing: a loaded machine takes a while to start a process and migrate.
WITHIN = 240.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def role_env(database: Database, metrics_port: int) -> dict[str, str]:
    settings = database.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_ENVIRONMENT": "test",
            "HUB_DATA_DIR": str(settings.data_dir),
            "HUB_HOST": "127.0.0.1",
            "HUB_METRICS_PORT": str(metrics_port),
            "HUB_ROUTER_POLL_INTERVAL": "0.1",
            "HUB_LOG_LEVEL": "warning",
        }
    )
    if settings.database_url is not None:
        assert settings.database_schema is not None
        env["HUB_DATABASE_URL"] = settings.database_url.get_secret_value()
        env["HUB_DATABASE_SCHEMA"] = settings.database_schema
    return env


def sample(text: str, series: str) -> float:
    """The value of one series (`name` or `name{labels}`) in Prometheus text."""
    [line] = [line for line in text.splitlines() if line.startswith(f"{series} ")]
    return float(line.rsplit(" ", 1)[1])


async def eventually(
    check: Callable[[], Awaitable[Any]], what: str, process: asyncio.subprocess.Process | None
) -> Any:
    """The first truthy answer of `check` (connection refusals count as not yet)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WITHIN
    while loop.time() < deadline:
        if process is not None and process.returncode is not None:
            pytest.fail(f"the role exited ({process.returncode}) before {what}")
        try:
            if answer := await check():
                return answer
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    pytest.fail(f"not within {WITHIN} s: {what}")


async def test_a_router_process_serves_its_probes_and_metrics(database: Database) -> None:
    port = free_port()
    # The API stores notifications while no router runs anywhere: the router is behind by them.
    settings = database.settings.model_copy(update={"router_enabled": False})
    async with running_hub(settings) as hub:
        token = await hub.token("sps")
        for _ in range(PUSHES):
            notification = example("custody.admission")
            notification["id"] = str(uuid.uuid4())
            answer = await hub.http.post("/v1/events", json=notification, headers=bearer(token))
            assert answer.status_code in (200, 201), answer.text
    assert (await _router_lag(database)) == PUSHES

    role = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub.cli",
        "serve",
        "--role",
        "router",
        env=role_env(database, port),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:

            async def alive() -> httpx.Response | None:
                answer = await http.get("/healthz")
                return answer if answer.status_code == 200 else None

            healthy = await eventually(alive, "/healthz answered", role)
            assert healthy.json() == {"status": "ok", "checks": {}}

            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json() == {
                "status": "ok",
                "checks": {"database": "ok", "schema": "ok", "router": "ok"},
            }

            async def routed() -> str | None:
                text = (await http.get("/metrics")).text
                return text if sample(text, "pph_router_lag_events") == 0 else None

            scraped: str = await eventually(routed, "the router caught up", role)
            assert sample(scraped, "pph_database_up") == 1
            assert sample(scraped, 'pph_worker_state{state="running",worker="router"}') == 1
            assert sample(scraped, 'pph_worker_lag{worker="router"}') == 0
            assert sample(scraped, "pph_delivery_queue_depth") == 0
            assert sample(scraped, "pph_webhook_dead_letters") == 0
            # No sequencer runs in either process: the audit entries wait, counted.
            assert sample(scraped, "pph_audit_sequencer_lag") > 0
            assert sample(scraped, "process_resident_memory_bytes") > 0
            assert "python_info{" in scraped
            assert (await http.get("/metrics")).headers["content-type"].startswith("text/plain")
    finally:
        role.terminate()
        _out, err = await role.communicate()
    assert role.returncode == 0, err.decode()


async def _router_lag(database: Database) -> int:
    async with bootstrap.running(database.settings) as container:
        return (await container.router_lag()).events


async def test_a_failed_worker_makes_the_listener_unhealthy_and_unready(
    database: Database,
) -> None:
    settings = database.settings.model_copy(update={"metrics_port": free_port()})

    async def broken_step() -> bool:
        raise StoreError("a statement the database refused")

    failing = WorkerLoop("router", broken_step, idle_seconds=1.0)
    stop = asyncio.Event()
    async with (
        bootstrap.running(settings) as container,
        serving(settings, container, {"router": failing}) as port,
    ):
        task = failing.start(stop)
        with pytest.raises(StoreError):
            await task
        assert port == settings.metrics_port
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            alive = await http.get("/healthz")
            assert alive.status_code == 503
            assert alive.json() == {
                "status": "unavailable",
                "checks": {"router": "failed: StoreError"},
            }
            ready = await http.get("/readyz")
            assert ready.status_code == 503
            assert ready.headers["retry-after"]
            assert ready.json()["checks"] == {
                "database": "ok",
                "schema": "ok",
                "router": "failed: StoreError",
            }
            scraped = (await http.get("/metrics")).text
            assert sample(scraped, 'pph_worker_state{state="failed",worker="router"}') == 1


async def test_a_port_in_use_stops_the_role_naming_the_setting(database: Database) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = database.settings.model_copy(update={"metrics_port": port})
        async with bootstrap.running(settings) as container:
            with pytest.raises(InvalidInput, match="HUB_METRICS_PORT: cannot listen on"):
                async with serving(settings, container, {}):
                    pytest.fail("the listener started on a port in use")


async def test_without_the_setting_there_is_no_listener(database: Database) -> None:
    async with (
        bootstrap.running(database.settings) as container,
        serving(database.settings, container, {}) as port,
    ):
        assert port is None
