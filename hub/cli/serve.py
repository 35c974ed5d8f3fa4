"""`hub serve`: the API and the workers, all in one process or, scaled out, one role a process
(`--role api|relay|router|delivery|all`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

from hub.cli.choices import ROLES
from hub.cli.common import Commands

if TYPE_CHECKING:
    import uvicorn
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from hub.bootstrap import Role
    from hub.settings import Settings

logger = logging.getLogger("hub")


def register(commands: Commands) -> None:
    serve = commands.add_parser("serve", help="run the hub (API and workers)")
    serve.add_argument("--host", help="address to bind (default HUB_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default HUB_PORT or 8000)")
    serve.add_argument(
        "--role",
        choices=ROLES,
        default="all",
        help="what this process runs: the HTTP API (with the audit sequencer and Kafka intake), "
        "the outbox relay to Kafka, routing, webhook delivery, or all of them (default)",
    )
    serve.set_defaults(run=_serve)


async def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from hub.observability import tracing

    tracing.configure()  # traces only when the OTEL_* variables ask (docs/tracing.md)
    role: Role = args.role
    if role not in ("api", "all"):
        return await _serve_workers(settings, role)
    import uvicorn

    from hub.api.app import create_app
    from hub.api.connections import raise_open_file_limit
    from hub.api.tls import ClientCertificateH11Protocol, server_ssl_context

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if overrides:
        settings = settings.model_copy(update=overrides)
    # Built before anything starts, so that an unreadable certificate or key stops the hub
    # with a message naming its setting.
    tls_context = server_ssl_context(settings)
    app = _StartupErrors(create_app(settings, role=role))
    _check_open_file_limit(settings, raise_open_file_limit())

    # The protocol is forced: uvicorn would otherwise pick httptools, which hands the app no
    # client certificate and has no deadline on a slow request's head or body.
    class Protocol(ClientCertificateH11Protocol):
        header_timeout = settings.http_header_timeout_seconds
        body_timeout = settings.http_body_timeout_seconds

    ssl_context_factory = None
    if tls_context is not None:
        logger.info("serving HTTPS (client certificates: %s)", settings.tls_client_certificates)
        # The context carries the files, TLS 1.2 as the minimum and the client-certificate mode
        # (uvicorn's own ssl_* options cannot set a minimum version).
        ssl_context_factory = _always(tls_context)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        # Logging as `hub.cli.logs` configured it; the access lines are `RequestLog`'s.
        log_config=None,
        log_level=settings.log_level,
        access_log=False,
        server_header=False,
        http=Protocol,
        ssl_context_factory=ssl_context_factory,
        # Beyond this many connections or requests in progress, uvicorn answers 503.
        limit_concurrency=settings.http_max_connections,
        h11_max_incomplete_event_size=settings.http_max_header_bytes,
    )
    try:
        await uvicorn.Server(config).serve()
    except SystemExit:
        # uvicorn exits (status 3) when the app fails to start: the reason is told by
        # `hub.cli.running` in one line (an unreachable database: exit 3), not its traceback.
        if app.error is not None:
            raise app.error from None
        raise
    return 0


class _StartupErrors:
    """The app, keeping the exception that stopped its startup (an unreachable database, an
    invalid policy bundle) for `hub serve` to report in one line, where uvicorn would log its
    traceback and exit 0."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.error: Exception | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def without_traceback(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                message = {**message, "message": ""}
            await send(message)

        try:
            await self.app(scope, receive, without_traceback)
        except Exception as error:
            self.error = self.error or error
            raise


#: Descriptors the process needs besides its HTTP connections: the database pool, Kafka,
#: log files, the listening socket.
_OTHER_DESCRIPTORS = 256


def _check_open_file_limit(settings: Settings, limits: tuple[int, int]) -> None:
    soft, _hard = limits
    logger.info("open-file limit %d; at most %d connections", soft, settings.http_max_connections)
    if soft < settings.http_max_connections + _OTHER_DESCRIPTORS:
        logger.warning(
            "the open-file limit (%d) is too low for HUB_HTTP_MAX_CONNECTIONS=%d: the hub would "
            "run out of descriptors before refusing connections; raise the hard limit "
            "(LimitNOFILE=, ulimit -Hn) or lower HUB_HTTP_MAX_CONNECTIONS",
            soft,
            settings.http_max_connections,
        )


def _always(
    context: ssl.SSLContext,
) -> Callable[[uvicorn.Config, Callable[[], ssl.SSLContext]], ssl.SSLContext]:
    """A uvicorn `ssl_context_factory` that gives the context built from the settings."""

    def factory(_config: uvicorn.Config, _default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        return context

    return factory


async def _serve_workers(settings: Settings, role: Role) -> int:
    """A worker role without the HTTP API: runs until SIGTERM or SIGINT (exit 0), or until a
    worker fails (exit 1, so that the process supervisor restarts it). With HUB_METRICS_PORT
    it serves its probes and metrics there (`hub.api.worker_listener`)."""
    from hub import bootstrap
    from hub.api import worker_listener

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with (
        bootstrap.running(settings) as container,
        bootstrap.workers(container, role) as loops,
        # /healthz, /readyz and /metrics on HUB_METRICS_PORT, when it is set.
        worker_listener.serving(settings, container, loops),
    ):
        if not loops:
            logger.error("role %s has no worker enabled by the settings", role)
            return 1
        logger.info("hub serving role %s: %s", role, ", ".join(sorted(loops)))
        tasks = [loop.task for loop in loops.values() if loop.task is not None]
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait([stopping, *tasks], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        failed = [name for name, loop in loops.items() if loop.task and loop.task.done()]
    if failed and not stop.is_set():
        logger.error("worker(s) %s stopped: leaving", ", ".join(failed))
        return 1
    return 0
