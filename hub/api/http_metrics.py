"""HTTP request metrics of the API: how many requests, by method, route template and status,
and how long they took, by method and route template.

The route is the template the request matched (`/v1/persons/{person_id}/...`), never the raw
path, which may hold an identifier; a request that matched no route is `unmatched`. The counts
live for the process (a counter per series, in memory): `/metrics` adds them to its registry.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HttpMetrics", "HttpMetricsMiddleware"]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


class HttpMetrics(Collector):
    """The request counter and latency histogram of one app (a collector for `/metrics`)."""

    def __init__(self) -> None:
        self._registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "pph_api_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self._registry,
        )
        self.duration = Histogram(
            "pph_api_request_duration_seconds",
            "Time to answer an HTTP request (to the end of its body), by method and route template",
            ["method", "route"],
            registry=self._registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in _METHODS else "other"
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)

    def collect(self) -> Iterator[Metric]:
        yield from self._registry.collect()


class HttpMetricsMiddleware:
    """Counts and times every HTTP request (pure ASGI: streamed bodies are not buffered).

    Installed inside the routing middlewares, so that the scope it sees is the one the router
    writes the matched route into."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app starts a response: an exception became a 500 above

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None)
            self.metrics.observe(
                scope["method"],
                route if isinstance(route, str) and route else UNMATCHED,
                status,
                time.perf_counter() - started,
            )
