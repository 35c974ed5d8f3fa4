"""The latest signed audit checkpoint, handed to every recipient: each feed response and each
webhook delivery carries it in the `Pph-Audit-Checkpoint` header (base64url of the C2SP note).

A recipient that keeps the last one it received holds a checkpoint no insider with the hub's
database can take back: `hub audit verify --checkpoint FILE` checks the log against it, and a
log rolled back or rewritten under it fails.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

from hub.domain.audit.held import CHECKPOINT_HEADER, encode_header
from hub.errors import StoreError
from hub.services.audit_ports import AuditTree
from hub.services.delivery import WebhookResponse, WebhookSender

__all__ = ["CheckpointHeaderSender", "LatestCheckpoint"]

logger = logging.getLogger("hub.audit")


class LatestCheckpoint:
    """The header value of the latest signed checkpoint, read from the tree at most every
    `max_age` seconds (a checkpoint is signed every few seconds at most, and a response must
    not wait on the database for it)."""

    def __init__(
        self,
        tree: AuditTree,
        *,
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tree = tree
        self._max_age = max_age
        self._clock = clock
        self._value: str | None = None
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    async def header_value(self) -> str | None:
        """base64url of the latest signed note (None: none signed yet, or unreadable so far)."""
        if self._fresh():
            return self._value
        async with self._lock:  # one read for everyone waiting
            if not self._fresh():
                try:
                    latest = await self._tree.latest_checkpoint()
                except StoreError as error:
                    # The header is a courtesy to the recipient: never fail a feed read or a
                    # delivery for it; keep the last value and try again after `max_age`.
                    logger.warning("could not read the latest audit checkpoint: %s", error)
                else:
                    self._value = encode_header(latest.note) if latest is not None else None
                self._read_at = self._clock()
        return self._value

    def _fresh(self) -> bool:
        return self._read_at is not None and self._clock() - self._read_at < self._max_age


class CheckpointHeaderSender:
    """A `WebhookSender` that adds the latest signed checkpoint to every delivery."""

    def __init__(self, sender: WebhookSender, latest: LatestCheckpoint) -> None:
        self._sender = sender
        self._latest = latest

    async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> WebhookResponse:
        value = await self._latest.header_value()
        if value is not None:
            headers = {**headers, CHECKPOINT_HEADER: value}
        return await self._sender.send(url, headers, body)
