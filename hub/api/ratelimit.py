"""Request rate limits: a token bucket per agency client, and per network address for the token
endpoint, answering 429 problem details with `Retry-After` when a bucket is empty.

An authenticated request is counted against its client (the token is verified here, so nobody
can spend another client's allowance with a made-up token, and the verified token is handed on
to `hub.api.security`, which then does not verify it again); a token request is counted against
the caller's address, which slows down guessing of client secrets. Requests without a valid token
are not counted: they are refused anyway. The buckets live in this process: a scaled-out hub
allows each process its own rate, so configure `HUB_RATE_LIMIT_*` per process.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.api.problems import problem_response
from hub.api.security import TOKEN_PATH, AuthServices, remember_verified
from hub.errors import AuthenticationFailed

#: Beyond this many buckets, idle (full) ones are forgotten, so memory stays bounded.
MAX_BUCKETS = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """One bucket per key, holding up to `burst` requests and refilled at `rate` per second."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one request from `key`'s bucket: 0 if allowed, else the seconds until one
        request will be (nothing is spent then)."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_BUCKETS:
                    self._forget_idle(now)
                bucket = self._buckets[key] = _Bucket(self._burst, now)
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self._rate

    def _forget_idle(self, now: float) -> None:
        full = [
            key
            for key, b in self._buckets.items()
            if b.tokens + (now - b.updated) * self._rate >= self._burst
        ]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= MAX_BUCKETS:  # all busy: forget the longest-idle half
            by_age = sorted(self._buckets, key=lambda k: self._buckets[k].updated)
            for key in by_age[: len(by_age) // 2]:
                del self._buckets[key]


class RateLimitMiddleware:
    """ASGI middleware applying the limits of the app's settings (read on first use, since the
    settings are known only once the lifespan has built the container)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._clients: TokenBuckets | None = None
        self._addresses: TokenBuckets | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        container: AuthServices | None = getattr(request.app.state, "container", None)
        if container is None:
            await self.app(scope, receive, send)
            return
        key, buckets, what = self._key_of(request, container)
        if key is not None and buckets is not None:
            wait = buckets.take(key)
            if wait > 0:
                retry_after = max(1, math.ceil(wait))
                response = problem_response(
                    request,
                    429,
                    "too-many-requests",
                    "Too many requests",
                    f"{what} is over its request rate; retry after {retry_after} seconds",
                    headers={"Retry-After": str(retry_after)},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _key_of(
        self, request: Request, container: AuthServices
    ) -> tuple[str | None, TokenBuckets | None, str]:
        settings = container.settings
        if self._clients is None or self._addresses is None:
            self._clients = TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst)
            self._addresses = TokenBuckets(
                settings.token_rate_limit_per_second, settings.token_rate_limit_burst
            )
        if request.scope["path"] == TOKEN_PATH:  # not `request.url`: it builds the whole URL
            host = request.client.host if request.client else "unknown"
            return f"address:{host}", self._addresses, "this address"
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None, None, ""
        try:
            verified = container.tokens.verify(token.strip())
        except AuthenticationFailed:
            return None, None, ""  # refused by the route; not counted against anyone
        remember_verified(request.scope, token.strip(), verified)
        return f"client:{verified.client_id}", self._clients, f"client {verified.client_id}"
