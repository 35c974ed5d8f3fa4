"""Sending webhooks over HTTP (httpcore: the connection pool under httpx, without httpx's client
layer, which cost about as much CPU again per request, on asyncio's streams rather than anyio:
`hub.infra.webhook_transport`), and resolving their hosts.

Every send resolves the URL's host again and checks every address (DNS rebinding: a name that was
public when the subscription was made may point inside later), then connects to the address it
checked — the request goes to that IP, with the `Host` header and TLS server name of the URL — so
that no second lookup can swap it. TLS verifies the receiver's certificate for the URL's name
against the same CA bundle httpx uses (certifi's), whatever the environment says. Redirects are
not followed (a 3xx is a failed attempt), no proxy is used, and at most a few hundred bytes of an
answer are kept (up to 64 KiB are read, so that the connection is kept alive for the next send to
that receiver: one pool of keep-alive connections serves every send).

With tracing on, each POST is a client span of the delivery's, and carries its `traceparent`.
"""

from __future__ import annotations

import asyncio
import functools
import re
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpcore
import httpx
from opentelemetry.trace import SpanKind

from hub import __version__
from hub.adapters import ADAPTERS, Adapter, CannotRender
from hub.infra.webhook_transport import AsyncioBackend
from hub.observability import traces
from hub.services.delivery import WebhookResponse
from hub.services.subscriptions import (
    AddressResolver,
    CannotCarry,
    NativeFormat,
    register_native_format,
)
from hub.services.webhook_rules import (
    RefusedUrl,
    address_problem,
    literal_address,
    parse_webhook_url,
)

__all__ = ["NATIVE_FORMAT_NAMES", "DnsResolver", "HttpWebhookSender", "register_native_formats"]

#: How much of a receiver's answer is kept with a failed attempt.
ANSWER_SNIPPET_BYTES = 200
#: How much of an answer is read (and dropped) to keep its connection for the next send.
DRAINED_BYTES = 64 * 1024
#: How long an idle connection to a receiver is kept (httpx's default).
KEEPALIVE_SECONDS: Final = 5.0
USER_AGENT: Final = f"public-protection-hub/{__version__} (webhooks)".encode("ascii")
_SPACES = re.compile(r"\s+")
#: Failures of the connection or of HTTP itself: the receiver's, answered as an error.
_HTTP_ERRORS: Final = (
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ProxyError,
)


class DnsResolver:
    """`AddressResolver` through the system resolver (`getaddrinfo`)."""

    def __init__(self, timeout: float = 5.0) -> None:
        self._timeout = timeout

    async def resolve(self, host: str, port: int) -> list[str]:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout):
                found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError, UnicodeError):
            return []
        return list(dict.fromkeys(str(info[4][0]) for info in found))


class HttpWebhookSender:
    """`WebhookSender` over httpcore: one POST per call, within `timeout` seconds in all
    (resolution, connection, sending and the answer)."""

    def __init__(
        self,
        *,
        timeout: float,
        resolver: AddressResolver,
        allow_private: bool,
        require_https: bool,
        max_connections: int = 100,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._timeout = timeout
        self._resolver = resolver
        self._allow_private = allow_private
        self._require_https = require_https
        self._timeouts = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
        # As httpx verifies (certifi's CA bundle), never the environment's settings; tests pass a
        # context that trusts their own certificate authority.
        self._ssl_context = ssl_context or httpx.create_ssl_context(trust_env=False)
        self._max_connections = max_connections
        #: A pool keeps connections by the address connected to, so each TLS server name has
        #: its own: a connection verified for one name never carries a webhook for another
        #: that resolves to the same address. Plain http and literal addresses share one.
        self._pools: dict[str | None, httpcore.AsyncConnectionPool] = {}

    def _pool(self, server_name: str | None) -> httpcore.AsyncConnectionPool:
        pool = self._pools.get(server_name)
        if pool is None:
            pool = self._pools[server_name] = httpcore.AsyncConnectionPool(
                ssl_context=self._ssl_context,
                max_connections=self._max_connections,
                max_keepalive_connections=self._max_connections,
                keepalive_expiry=KEEPALIVE_SECONDS,
                http1=True,
                http2=False,
                network_backend=AsyncioBackend(),
            )
        return pool

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.aclose()

    async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> WebhookResponse:
        started = time.perf_counter()

        def elapsed() -> float:
            return (time.perf_counter() - started) * 1000

        try:
            async with asyncio.timeout(self._timeout):
                status, snippet = await self._post(url, headers, body)
        except RefusedUrl as refused:
            return WebhookResponse(None, elapsed(), f"refused: the webhook URL {refused}")
        except (TimeoutError, httpcore.TimeoutException):
            return WebhookResponse(None, elapsed(), f"no answer within {self._timeout:g}s")
        except _HTTP_ERRORS as error:
            return WebhookResponse(None, elapsed(), _describe(error))
        except OSError as error:
            return WebhookResponse(None, elapsed(), _describe(error))
        ok = 200 <= status < 300
        if ok:
            return WebhookResponse(status, elapsed())
        detail = snippet
        if 300 <= status < 400:
            detail = "redirects are not followed" + (f"; {snippet}" if snippet else "")
        return WebhookResponse(status, elapsed(), detail or None)

    async def _post(self, url: str, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        target = _checked_url(
            url, require_https=self._require_https, allow_private=self._allow_private
        )
        literal = _literal_address(target.host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            addresses = await self._resolver.resolve(target.host, target.port)
            if not addresses:
                raise RefusedUrl(f"names a host that does not resolve ({target.host})")
        if not self._allow_private:
            for address in addresses:
                problem = _address_problem(address)
                if problem is not None:
                    raise RefusedUrl(f"names a host ({target.host}) that resolves to {problem}")
        request = _request_parts(url)
        extensions: dict[str, Any] = {"timeout": self._timeouts}
        server_name = None
        if target.scheme == "https" and literal is None:
            extensions["sni_hostname"] = server_name = target.host
        if traces.current_context() is None:
            return await self._post_to(
                self._pool(server_name), request, addresses, headers, body, extensions
            )
        with traces.continued("POST", traces.current_context(), kind=SpanKind.CLIENT):
            carried = traces.current_context()
            if carried is not None:
                headers = {**headers, traces.TRACEPARENT: carried}
            return await self._post_to(
                self._pool(server_name), request, addresses, headers, body, extensions
            )

    async def _post_to(
        self,
        pool: httpcore.AsyncConnectionPool,
        request: _RequestParts,
        addresses: list[str],
        headers: Mapping[str, str],
        body: bytes,
        extensions: dict[str, Any],
    ) -> tuple[int, str]:
        """POST to the first of `addresses` that takes a connection, as a browser would."""
        sent = [
            (b"host", request.host_header),
            (b"user-agent", USER_AGENT),
            (b"accept", b"*/*"),
            *((name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()),
            (b"content-length", str(len(body)).encode("ascii")),
        ]
        last_error: httpcore.ConnectError | None = None
        for address in addresses:
            call = httpcore.Request(
                b"POST",
                httpcore.URL(
                    scheme=request.scheme,
                    host=address.encode("ascii"),
                    port=request.port,
                    target=request.target,
                ),
                headers=sent,
                content=body,
                extensions=extensions,
            )
            try:
                response = await pool.handle_async_request(call)
            except httpcore.ConnectError as error:
                last_error = error
                continue
            try:
                return response.status, await _snippet(response)
            finally:
                await response.aclose()
        assert last_error is not None
        raise last_error


@dataclass(frozen=True, slots=True)
class _RequestParts:
    """What a request to a URL is made of, once the URL is parsed (as httpx parses it)."""

    scheme: bytes
    port: int
    #: The path and query, percent-encoded.
    target: bytes
    #: The URL's host and any port that is not the scheme's own.
    host_header: bytes


@functools.lru_cache(maxsize=4096)
def _request_parts(url: str) -> _RequestParts:
    parsed = httpx.URL(url)
    scheme = parsed.scheme
    port = parsed.port or (443 if scheme == "https" else 80)
    return _RequestParts(
        scheme=scheme.encode("ascii"),
        port=port,
        target=parsed.raw_path,
        host_header=parsed.netloc,
    )


# The checks of a URL's shape and of an address are pure: each URL and address is checked once
# (a refused URL raises, and is never cached). Names are still resolved on every send.
_checked_url = functools.lru_cache(maxsize=4096)(parse_webhook_url)
_literal_address = functools.lru_cache(maxsize=4096)(literal_address)
_address_problem = functools.lru_cache(maxsize=4096)(address_problem)


async def _snippet(response: httpcore.Response) -> str:
    """The start of the answer's body, on one line (empty for a success). The rest is read and
    dropped, up to `DRAINED_BYTES`, so that the connection goes back to the pool for the next
    send (httpcore closes a connection whose answer was not read to its end); a longer answer
    closes it."""
    read = b""
    drained = 0
    async for chunk in response.aiter_stream():
        if len(read) < ANSWER_SNIPPET_BYTES:
            read += chunk
        drained += len(chunk)
        if drained > DRAINED_BYTES:
            break
    if 200 <= response.status < 300:
        return ""
    text = read[:ANSWER_SNIPPET_BYTES].decode("utf-8", errors="replace")
    return _SPACES.sub(" ", text).strip()


def _describe(error: BaseException) -> str:
    message = str(error) or "(no detail)"
    return f"{type(error).__name__}: {message}"


# -- agency systems' native delivery formats -----------------------------------------------------

#: The subscription format each agency adapter renders (`adapters/<name>/README.md`).
NATIVE_FORMAT_NAMES: Final[Mapping[str, str]] = {
    "pr2": "pr2-json",
    "visor": "visor-xml",
    "socialwork": "socialwork-json",
}


def _native_format(name: str, adapter: Adapter) -> NativeFormat:
    def render(envelope: Mapping[str, Any]) -> bytes:
        try:
            return adapter.render(envelope)
        except CannotRender as cannot:
            raise CannotCarry(cannot.message) from cannot

    return NativeFormat(name, adapter.media_type, adapter.renderable_types, render)


def register_native_formats() -> None:
    """Offer every agency adapter's rendering as a webhook format. Done when this module is
    imported (the composition root imports it): services and adapters are independent layers,
    so the infrastructure wires one to the other."""
    for adapter_name, format_name in NATIVE_FORMAT_NAMES.items():
        register_native_format(_native_format(format_name, ADAPTERS[adapter_name]))


register_native_formats()
