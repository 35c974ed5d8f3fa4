"""Bulk import for onboarding (`hub import`): an agency's history, one notification a line, into
the event store in chunks, each stored whole or not at all.

Every line is checked as intake checks a push (the same schemas, the hub-written types refused,
the source and the units named in the body the publisher's own), as the registered client the
operator names; every chunk is stored with the store's guarantees (`HistoryWriter`). The first
chunk with a bad line stops the import: nothing of it is stored, every problem of the chunk is
reported by file, line and field, and no later chunk is read, because the router folds a
person's profile in store order, and a later line stored before a corrected earlier one would
fold the history out of order. The chunks before it stay stored; running the corrected file
again stores only what is not there yet (each notification's `source` and `id` are its key).

Imported events are history by default: they build the people's profiles and are disclosed to
no one (`hub.services.routing`). With `route`, they are routed like pushed notifications.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from hub.domain.notifications import HUB_WRITTEN_TYPES, AppendResult, Notification, Publisher
from hub.domain.policy.directory import Directory
from hub.domain.policy.publishers import unbound_fields
from hub.domain.schemas import SchemaRegistry
from hub.errors import (
    AuthenticationFailed,
    Conflict,
    EventIdReused,
    IdentifierConflict,
    InvalidInput,
    InvalidNotification,
    NotFound,
    PermissionDenied,
)
from hub.services.clients import ClientRepository
from hub.services.intake import source_belongs_to

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MAX_CHUNK_SIZE",
    "BulkImportService",
    "HistoryWriter",
    "ImportLine",
    "ImportSummary",
    "LineProblem",
]

#: Lines per transaction: large enough that a chunk's fixed cost (its reads, its commit) is
#: spread thin, small enough that its identifiers fit one statement's parameters.
DEFAULT_CHUNK_SIZE: Final = 1000
MAX_CHUNK_SIZE: Final = 5000
#: The client scope that lets a client publish (`hub.services.clients.SCOPES`).
_PUBLISH_SCOPE: Final = "events:publish"
#: How many problems a dry run lists (it counts them all).
_MAX_LISTED: Final = 100


class HistoryWriter(Protocol):
    """Stores chunks of notifications (`hub.infra.bulk_import`)."""

    async def write(
        self, chunk: Sequence[Notification], publisher: Publisher, *, history: bool
    ) -> list[AppendResult]:
        """Store `chunk` in one transaction, all or nothing, with every guarantee of the event
        store's append; what became of each notification, in order."""
        ...

    async def stored_hashes(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The content hash of each of `keys` (source, id) already stored."""
        ...


@dataclass(frozen=True, slots=True)
class ImportLine:
    """One line of an input file (1-based `line`), as read (bytes: decoded as UTF-8 when it is
    parsed, so that a line that is not UTF-8 is reported, not mangled)."""

    file: str
    line: int
    text: str | bytes


@dataclass(frozen=True, slots=True)
class LineProblem:
    """What is wrong with one line: the field (a JSON Pointer; "" for the whole line) and why.
    Never the field's value: it may be personal data."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f" {self.field}:" if self.field else ""
        return f"{self.file}:{self.line}:{where} {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "field": self.field, "message": self.message}


@dataclass(slots=True)
class ImportSummary:
    """How an import went, so far or in the end."""

    dry_run: bool
    history: bool
    #: Lines read and checked.
    lines: int = 0
    #: Notifications stored by this run (a dry run: that would be).
    stored: int = 0
    #: Notifications already in the store (an earlier run of the same file, a push).
    already_there: int = 0
    #: Lines of the chunk that was refused (none of it stored); in a dry run, the bad lines.
    refused: int = 0
    #: Every problem of the refused chunk (a dry run: the first hundred of the whole input).
    problems: list[LineProblem] = field(default_factory=list)
    #: The positions of the first and last event this run stored.
    first_position: int | None = None
    last_position: int | None = None

    @property
    def complete(self) -> bool:
        return self.refused == 0

    def as_dict(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            "history": self.history,
            "lines": self.lines,
            "stored": self.stored,
            "already_there": self.already_there,
            "refused": self.refused,
            "first_position": self.first_position,
            "last_position": self.last_position,
            "problems": [p.as_dict() for p in self.problems],
        }


class BulkImportService:
    def __init__(
        self,
        schemas: SchemaRegistry,
        writer: HistoryWriter,
        clients: ClientRepository,
        directory: Directory,
    ) -> None:
        self._schemas = schemas
        self._writer = writer
        self._clients = clients
        self._directory = directory

    async def publisher(self, client_id: str) -> Publisher:
        """The registered client an import publishes as, if it may publish: as intake
        authorises a push (an enabled client with `events:publish`, of its agency)."""
        client = await self._clients.get(client_id)
        if client is None:
            raise NotFound(f"no client {client_id!r} is registered (`hub clients list`)")
        if not client.is_enabled:
            raise AuthenticationFailed(f"client {client_id} is disabled")
        if _PUBLISH_SCOPE not in client.scopes:
            raise PermissionDenied(
                f"client {client_id} may not publish: it lacks the scope {_PUBLISH_SCOPE}"
            )
        return Publisher(client_id=client.client_id, agency=client.agency)

    async def run(
        self,
        lines: Iterable[ImportLine],
        publisher: Publisher,
        *,
        route: bool = False,
        dry_run: bool = False,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        progress: Callable[[ImportSummary], None] | None = None,
    ) -> ImportSummary:
        """Import `lines` (in order) as `publisher`; `progress` is called after each chunk."""
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise InvalidInput(f"the chunk size must be 1 to {MAX_CHUNK_SIZE}, not {chunk_size}")
        summary = ImportSummary(dry_run=dry_run, history=not route)
        for chunk in _chunks(lines, chunk_size):
            summary.lines += len(chunk)
            notifications, problems = self._checked(chunk, publisher)
            if dry_run:
                await self._count(chunk, notifications, summary, problems)
            elif problems:
                summary.refused, summary.problems = len(chunk), problems
            else:
                await self._write(chunk, notifications, publisher, route, summary)
            if progress is not None:
                progress(summary)
            if summary.refused and not dry_run:
                break
        return summary

    # -- checking --------------------------------------------------------------------------------

    def _checked(
        self, chunk: Sequence[ImportLine], publisher: Publisher
    ) -> tuple[list[Notification | None], list[LineProblem]]:
        """Each line's notification (None if it is bad), and every problem of the chunk."""
        notifications: list[Notification | None] = []
        problems: list[LineProblem] = []
        for line in chunk:
            found = self._line_problems(line, publisher)
            if isinstance(found, Notification):
                notifications.append(found)
            else:
                notifications.append(None)
                problems.extend(LineProblem(line.file, line.line, p, m) for p, m in found)
        return notifications, problems

    def _line_problems(
        self, line: ImportLine, publisher: Publisher
    ) -> Notification | list[tuple[str, str]]:
        try:
            raw = json.loads(line.text)
        except ValueError as error:
            return [("", f"not JSON ({error})")]
        try:
            notification = self._schemas.validate(raw)
        except InvalidNotification as error:
            return [(p.pointer, p.message) for p in error.problems] or [("", error.message)]
        if notification.type in HUB_WRITTEN_TYPES:
            return [("/type", f"{notification.type} notifications are written only by the hub")]
        if not source_belongs_to(notification.source, publisher.agency, self._directory):
            return [
                (
                    "/source",
                    f"agency {publisher.agency} may not publish from this source: a source "
                    "belongs to the agency it names",
                )
            ]
        unbound = unbound_fields(
            notification.type, notification.data, publisher.agency, self._directory
        )
        if unbound:
            return [(p.pointer, f"{p.message} (agency {publisher.agency})") for p in unbound]
        return notification

    # -- writing ---------------------------------------------------------------------------------

    async def _write(
        self,
        chunk: Sequence[ImportLine],
        notifications: Sequence[Notification | None],
        publisher: Publisher,
        route: bool,
        summary: ImportSummary,
    ) -> None:
        valid = [n for n in notifications if n is not None]
        try:
            results = await self._writer.write(valid, publisher, history=not route)
        except (Conflict, InvalidInput) as refusal:
            summary.refused = len(chunk)
            summary.problems = [_refusal_problem(chunk, valid, refusal)]
            return
        for result in results:
            if result.duplicate:
                summary.already_there += 1
                continue
            summary.stored += 1
            if summary.first_position is None:
                summary.first_position = result.position
            summary.last_position = result.position

    async def _count(
        self,
        chunk: Sequence[ImportLine],
        notifications: Sequence[Notification | None],
        summary: ImportSummary,
        problems: list[LineProblem],
    ) -> None:
        """A dry run's chunk: what would be stored, what is already there, what is wrong."""
        keys = [n.key for n in notifications if n is not None]
        stored = await self._writer.stored_hashes(keys)
        seen: dict[tuple[str, str], str] = {}
        for line, notification in zip(chunk, notifications, strict=True):
            if notification is None:
                continue
            digest = notification.content_hash()
            earlier = stored.get(notification.key) or seen.get(notification.key)
            if earlier is None:
                seen[notification.key] = digest
                summary.stored += 1
            elif earlier == digest:
                summary.already_there += 1
            else:
                problems.append(
                    LineProblem(
                        line.file,
                        line.line,
                        "/id",
                        "this source and id are already used by "
                        "another notification with different content",
                    )
                )
        summary.refused += len({(p.file, p.line) for p in problems})
        summary.problems.extend(problems[: max(_MAX_LISTED - len(summary.problems), 0)])


def _chunks(lines: Iterable[ImportLine], size: int) -> Iterator[list[ImportLine]]:
    chunk: list[ImportLine] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _refusal_problem(
    chunk: Sequence[ImportLine], valid: Sequence[Notification], refusal: Conflict | InvalidInput
) -> LineProblem:
    """The store's refusal of a chunk, named by the line it is about (its first line when the
    refusal names none)."""
    by_key = {n.key: line for line, n in zip(chunk, valid, strict=True)}
    line = chunk[0]
    pointer = ""
    if isinstance(refusal, IdentifierConflict) and refusal.event_key in by_key:
        line, pointer = by_key[refusal.event_key], "/identifiers"
    elif isinstance(refusal, EventIdReused):
        for notification in valid:
            if f"event id {notification.id} from {notification.source} " in refusal.message:
                line, pointer = by_key[notification.key], "/id"
                break
    return LineProblem(line.file, line.line, pointer, refusal.message)
