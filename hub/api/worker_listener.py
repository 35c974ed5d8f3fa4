"""The health and metrics listener of a worker role (`hub serve --role relay|router|delivery`
with `HUB_METRICS_PORT`): `/healthz`, `/readyz` and `/metrics` on a small ASGI app served by
uvicorn in the role's own event loop, for the kubelet's probes and Prometheus.

- `/healthz`: 200 while none of the role's workers has stopped or failed (a worker retrying a
  transient fault is alive); 503 naming the ones that did.
- `/readyz`: 200 when the database answers, its schema is one this code runs on (the API's
  check: `Container.schema_verdict`) and every worker runs or retries; else 503 with
  `Retry-After`. Both answer JSON: `{"status": ..., "checks": {...}}`, no identifiers.
- `/metrics`: `hub.api.role_metrics` (process, workers, lags, outbox, audit), Prometheus text.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.api.problems import RETRY_AFTER_SECONDS
from hub.api.role_metrics import technical_registry
from hub.errors import InvalidInput
from hub.services.worker import WorkerLoop, WorkerStatus

if TYPE_CHECKING:
    from hub.bootstrap import Container
    from hub.settings import Settings

__all__ = ["listener_app", "serving"]

logger = logging.getLogger("hub")


def listener_app(container: Container, loops: Mapping[str, WorkerLoop]) -> Starlette:
    """The probes and metrics of one worker role's process."""

    async def healthz(_request: Request) -> Response:
        stopped = {
            name: f"{status.state}: {status.last_error}" if status.last_error else status.state
            for name, loop in loops.items()
            if (status := loop.status()).state in ("stopped", "failed")
        }
        if stopped:
            return JSONResponse({"status": "unavailable", "checks": stopped}, status_code=503)
        return JSONResponse({"status": "ok", "checks": {}})

    async def readyz(_request: Request) -> Response:
        checks: dict[str, str] = {}
        ready = True
        try:
            await container.ping_database()
            checks["database"] = "ok"
            verdict = await container.schema_verdict()
            checks["schema"] = (
                "ok" if verdict.state == "current" else f"{verdict.state}: {verdict.reason}"
            )
            ready = verdict.runnable
        except Exception as error:  # any failure to answer is "not ready", named by its class
            checks.setdefault("database", f"unreachable: {type(error).__name__}")
            ready = False
        for name, loop in loops.items():
            status = loop.status()
            checks[name] = _worker_check(status)
            ready = ready and status.state in ("starting", "running", "retrying")
        if ready:
            return JSONResponse({"status": "ok", "checks": checks})
        return JSONResponse(
            {"status": "unavailable", "checks": checks},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    async def metrics(_request: Request) -> Response:
        registry, _database_up = await technical_registry(container, loops)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ]
    )


def _worker_check(status: WorkerStatus) -> str:
    if status.state in ("starting", "running"):
        return "ok"
    if status.state == "retrying":
        return f"retrying after {status.failures} failures: {status.last_error}"
    return f"{status.state}: {status.last_error}" if status.last_error else status.state


@asynccontextmanager
async def serving(
    settings: Settings, container: Container, loops: Mapping[str, WorkerLoop]
) -> AsyncIterator[int | None]:
    """Serve the listener on HUB_HOST:HUB_METRICS_PORT while the block runs; the port it
    listens on (None: HUB_METRICS_PORT is unset, no listener). A port that cannot be bound
    stops the role with a message naming the setting."""
    if settings.metrics_port is None:
        yield None
        return
    import uvicorn

    try:
        sock = socket.create_server(
            (settings.host, settings.metrics_port),
            family=socket.AF_INET6 if ":" in settings.host else socket.AF_INET,
        )
    except OSError as error:
        raise InvalidInput(
            f"HUB_METRICS_PORT: cannot listen on {settings.host}:{settings.metrics_port}: "
            f"{error.strerror or error}"
        ) from None
    port: int = sock.getsockname()[1]
    config = uvicorn.Config(
        listener_app(container, loops),
        log_config=None,
        log_level=settings.log_level,
        access_log=False,
        server_header=False,
        lifespan="off",
        http="h11",
    )
    server = uvicorn.Server(config)
    # `_serve`, not `serve`: the latter installs its own SIGTERM/SIGINT handlers over the
    # role's (which stop the workers and then this listener).
    task = asyncio.create_task(server._serve(sockets=[sock]), name="hub-metrics-listener")
    logger.info("health and metrics on %s:%d", settings.host, port)
    try:
        yield port
    finally:
        server.should_exit = True
        try:
            await task
        finally:
            sock.close()
