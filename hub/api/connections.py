"""Slow clients: deadlines on a request's head and body for `hub serve`'s HTTP/1.1 connections,
and the process's open-file limit.

Uvicorn closes a connection that stays idle after a response (`timeout_keep_alive`) but sets no
deadline while a request is arriving: a client that sends its headers a byte every few seconds,
or announces a body it never sends, holds a connection (and a file descriptor) for as long as it
likes, and a thousand of them take the hub down (slowloris). `DeadlineH11Protocol` gives each
request's head `header_timeout` seconds from its first byte (from the connection, for the first
request) and its body `body_timeout` seconds from its head; a request that misses its deadline
gets `408 Request Timeout` if no response was started, and the connection is closed. A response
in progress (a feed stream) has no deadline: its own guards end it.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any, ClassVar, Literal

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger("hub.api")

__all__ = ["DeadlineH11Protocol", "raise_open_file_limit"]

_Phase = Literal["head", "body"]

_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\n"
    b"content-length: 37\r\n\r\n"
    b"the request did not arrive in time.\r\n"
)


class DeadlineH11Protocol(H11Protocol):
    """Uvicorn's h11 protocol with deadlines on each request's head and body (seconds, set by
    `hub serve` from the settings on a subclass: uvicorn makes the instances)."""

    header_timeout: ClassVar[float] = 10.0
    body_timeout: ClassVar[float] = 60.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._phase: _Phase | None = None

    def connection_made(  # type: ignore[override]
        self, transport: asyncio.Transport
    ) -> None:
        super().connection_made(transport)
        self._enter("head")

    def connection_lost(self, exc: Exception | None) -> None:
        self._enter(None)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow_request()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Between requests uvicorn's keep-alive timer is the deadline; the next request's head
        # starts its own at its first byte (or now, if it is already buffered).
        if self.conn.their_state is h11.IDLE and not self.conn.trailing_data[0]:
            self._enter(None)
        else:
            self._follow_request()

    def _follow_request(self) -> None:
        """Start, keep or stop the deadline as the request moves from head to body to done."""
        state = self.conn.their_state
        if state is h11.IDLE:
            # Bytes of a head have come (or the connection is new): its deadline runs on.
            self._enter(self._phase or "head")
        elif state is h11.SEND_BODY:
            self._enter("body")
        else:
            self._enter(None)

    def _enter(self, phase: _Phase | None) -> None:
        if phase == self._phase and (phase is None or self._deadline is not None):
            return
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = phase
        if phase is not None and self.transport is not None and not self.transport.is_closing():
            seconds = self.header_timeout if phase == "head" else self.body_timeout
            self._deadline = self.loop.call_later(seconds, self._expired, phase)

    def _expired(self, phase: _Phase) -> None:
        self._deadline = None
        if self.transport is None or self.transport.is_closing():
            return
        logger.info(
            "closing a connection from %s: the request's %s did not arrive in time",
            f"{self.client[0]}:{self.client[1]}" if self.client else "?",
            phase,
        )
        if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE) and (
            self.cycle is None or not self.cycle.response_started
        ):
            self.transport.write(_TIMEOUT_RESPONSE)
        # The application waiting for the body is told the client went away (uvicorn's
        # connection_lost sets the request cycle's `disconnected`).
        self.transport.close()


def raise_open_file_limit() -> tuple[int, int]:
    """Raise this process's soft limit on open files to its hard limit (every connection is one;
    distributions often start services at 1,024); the (soft, hard) limits now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as error:
            logger.warning(
                "could not raise the open-file limit from %d to %d: %s", soft, hard, error
            )
    return soft, hard
