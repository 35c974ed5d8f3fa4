"""A real webhook receiver for tests: an HTTP server (uvicorn, Starlette) on 127.0.0.1 that records
every request and answers as its script says — per path, a list of status codes (the last one
repeats) and a delay before answering."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    path: str
    headers: dict[str, str]
    body: bytes
    #: `time.monotonic()` on arrival.
    at: float
    #: The sender's end of the connection (`host:port`): one per connection it opened.
    client: str = ""

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Script:
    statuses: list[int] = field(default_factory=lambda: [200])
    delay: float = 0.0
    #: Up to this many seconds more, at random, so that answers do not all come at once.
    jitter: float = 0.0


class _QuietServer(uvicorn.Server):
    """Leaves the test process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answered: list[Received] = []
        self._scripts: dict[str, Script] = {}
        self.port = 0
        #: Requests being answered now, and the most there ever were at once, per path.
        self.in_flight: Counter[str] = Counter()
        self.most_in_flight: Counter[str] = Counter()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, *statuses: int, delay: float = 0.0, jitter: float = 0.0) -> None:
        """Answer requests to `path` with these statuses in turn (the last one repeats), each
        after `delay` seconds and up to `jitter` more."""
        self._scripts[path] = Script(list(statuses) or [200], delay, jitter)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def wait_for(
        self, condition: Callable[[], bool], within: float = 30.0, what: str = "requests"
    ) -> float:
        """Wait until `condition()` holds; how many seconds it took."""
        started = time.monotonic()
        while not condition():
            if time.monotonic() - started > within:
                raise AssertionError(
                    f"timed out after {within}s waiting for {what}; received: "
                    f"{[(r.path, r.webhook_id) for r in self.received]}"
                )
            await asyncio.sleep(0.01)
        return time.monotonic() - started

    async def _endpoint(self, request: Request) -> Response:
        arrived = Received(
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.body(),
            at=time.monotonic(),
            client="" if request.client is None else f"{request.client.host}:{request.client.port}",
        )
        self.received.append(arrived)
        path = request.url.path
        self.in_flight[path] += 1
        self.most_in_flight[path] = max(self.most_in_flight[path], self.in_flight[path])
        script = self._scripts.setdefault(path, Script())
        status = script.statuses.pop(0) if len(script.statuses) > 1 else script.statuses[0]
        try:
            if script.delay or script.jitter:
                await asyncio.sleep(script.delay + random.uniform(0, script.jitter))
        finally:
            self.in_flight[path] -= 1
        self.answered.append(arrived)
        body = "" if status in (204, 304) else f"answered {status}"  # no body allowed
        return Response(body, status_code=status)


@contextlib.asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/{path:path}", receiver._endpoint, methods=["POST"])])
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=1,
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        sockets: Any = server.servers[0].sockets
        receiver.port = int(sockets[0].getsockname()[1])
        yield receiver
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
