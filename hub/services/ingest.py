"""Ingesting an agency system's native file through its adapter: every record ends accepted
(with its event id and position), duplicate, or rejected (with where, which field and why).

The adapter parses (`hub.adapters`, pure; the caller passes it in, as `NativeParser`: services
and adapters are independent layers); this service publishes what parsed through the intake
service, as the agency the records' source belongs to, and accounts for every record. It does no
I/O beyond its ports: the CLI reads the files and writes the quarantine.

Publishing is in batches (one store transaction each, all or nothing), in file order (a batch
holding records of several councils' social work services is published council by council). A
batch the store refuses for one record's sake (an identifier that belongs to someone else, a
second value of a single-valued identifier scheme such as a second SPS number, a reused event
id, a source the agency does not own) is published again record by record, so that only that
record is rejected, with the hub's reason. If the database fails midway, publishing stops: the
report says exactly which records were stored (every batch before the failure), and every other
record is reported as not stored. Ids are deterministic, so ingesting the file again is safe:
what was stored comes back as duplicates.

`dry_run` publishes nothing: it parses, checks each record's source, and asks the store (reading
only) whether the record is already there (a duplicate, or an id reused with other content) or
names identifiers that belong to different people or would give a person a second value of a
single-valued scheme.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

from hub.domain.notifications import AppendResult, Publisher
from hub.domain.policy.directory import Directory
from hub.domain.schemas import SchemaRegistry
from hub.errors import (
    Conflict,
    EventIdReused,
    HubError,
    IdentifierConflict,
    InvalidInput,
    InvalidNotification,
    PermissionDenied,
)
from hub.services.intake import IntakeService, source_belongs_to
from hub.services.ports import EventStore

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "IngestReport",
    "IngestService",
    "NativeParser",
    "NativeProblem",
    "NativeRecord",
    "RecordOutcome",
    "RecordProblem",
    "publishing_agency",
]

logger = logging.getLogger("hub.ingest")


# -- what the service needs of an adapter (`hub.adapters` provides it; the CLI passes it in) ----


class NativeProblem(Protocol):
    """One thing wrong with a native record: the native field ("" for all of it) and why."""

    @property
    def field(self) -> str: ...

    @property
    def reason(self) -> str: ...


class NativeRecord(Protocol):
    """One native record as an adapter parsed it (`hub.adapters.AdapterRecord`)."""

    @property
    def location(self) -> str: ...

    @property
    def original(self) -> bytes: ...

    @property
    def envelope(self) -> dict[str, Any] | None: ...

    @property
    def problems(self) -> Sequence[NativeProblem]: ...

    @property
    def native_type(self) -> str | None: ...

    @property
    def native_id(self) -> str | None: ...


class NativeParser(Protocol):
    """An agency adapter, as far as ingesting goes (`hub.adapters.Adapter`)."""

    @property
    def name(self) -> str: ...

    @property
    def parse(self) -> Callable[[bytes, SchemaRegistry], Sequence[NativeRecord]]: ...


@dataclass(frozen=True, slots=True)
class RecordProblem:
    """A problem the hub found with a parsed record (a store refusal, a database failure)."""

    field: str
    reason: str


Outcome = Literal["accepted", "duplicate", "rejected"]
OUTCOMES: Final = ("accepted", "duplicate", "rejected")

#: Records per store transaction. Larger is faster; a failure loses (and reports) at most one.
DEFAULT_BATCH_SIZE: Final = 200

#: The agency each adapter's records are published as, where one agency owns all its sources
#: (`hub.services.intake.source_belongs_to`): PR2's sources are `urn:pph:sps:pr2:…`, ViSOR's
#: `urn:pph:police-scotland:visor`. Social work sources name a council (`urn:pph:socialwork:
#: <GSS code>`): the council's social work service in the directory publishes them.
_FIXED_AGENCIES: Final[Mapping[str, str]] = {"pr2": "sps", "visor": "police-scotland"}
_SOCIAL_WORK_ROLE: Final = "social-work"


def publishing_agency(
    adapter: str, source: str, directory: Directory
) -> tuple[str | None, str | None]:
    """The directory id of the agency that publishes `source` for `adapter`, or why none can:
    SPS for PR2, Police Scotland for ViSOR, and for a social work record the social work service
    of the council its source names."""
    agency = _FIXED_AGENCIES.get(adapter)
    if agency is not None:
        return agency, None
    if adapter == "socialwork":
        council = source.rsplit(":", 1)[-1]
        serving = directory.serving(_SOCIAL_WORK_ROLE, council)
        if not serving:
            return None, (
                f"no social work service in the policy bundle's directory serves council "
                f"{council}, so no agency can publish this record"
            )
        return serving[0].id, None
    return None, f"the hub does not know which agency publishes {adapter} records"


def publisher_for(adapter: str, agency: str) -> Publisher:
    """The client an adapter's records are published by: `adapter:<name>`, of `agency`."""
    return Publisher(client_id=f"adapter:{adapter}", agency=agency)


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """What became of one native record of a file."""

    #: Its place among the file's records (0-based) and in the file (`line 7`, a JSON pointer…).
    index: int
    location: str
    outcome: Outcome
    record: NativeRecord
    #: The event (source, id, type) it was parsed into, if it was.
    event: Mapping[str, str] | None = None
    #: Its position in the store (accepted: new; duplicate: the first's). None on a dry run.
    position: int | None = None
    #: Why it was rejected: the adapter's problems, or the hub's refusal (field "" for a whole
    #: record, "identifiers", "id" or "source" for a store refusal).
    problems: tuple[NativeProblem, ...] = ()
    #: The agency it was (or would be) published as.
    agency: str | None = None

    @property
    def original(self) -> bytes:
        return self.record.original

    def as_dict(self) -> dict[str, Any]:
        """Machine-readable; no personal values, no bytes."""
        entry: dict[str, Any] = {
            "index": self.index,
            "location": self.location,
            "outcome": self.outcome,
        }
        if self.record.native_type is not None:
            entry["native_type"] = self.record.native_type
        if self.record.native_id is not None:
            entry["native_id"] = self.record.native_id
        if self.event is not None:
            entry["event"] = dict(self.event)
        if self.position is not None:
            entry["position"] = self.position
        if self.agency is not None and self.outcome != "rejected":
            entry["agency"] = self.agency
        if self.problems:
            entry["problems"] = [{"field": p.field, "reason": p.reason} for p in self.problems]
        return entry


@dataclass
class IngestReport:
    """Every record of one input and its outcome, in input order."""

    adapter: str
    dry_run: bool
    records: list[RecordOutcome] = field(default_factory=list)
    #: False when publishing stopped on a database failure: `error` says why; every record
    #: marked accepted or duplicate is stored, every other one is not.
    complete: bool = True
    error: str | None = None

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOMES, 0)
        for record in self.records:
            counts[record.outcome] += 1
        return counts

    @property
    def rejected(self) -> list[RecordOutcome]:
        return [r for r in self.records if r.outcome == "rejected"]

    @property
    def stored(self) -> list[RecordOutcome]:
        """The records that are in the store (new or already there); none on a dry run."""
        if self.dry_run:
            return []
        return [r for r in self.records if r.outcome != "rejected"]

    def summary(self) -> str:
        counts = self.counts()
        verb = "would be accepted" if self.dry_run else "accepted"
        text = (
            f"{len(self.records)} records: {counts['accepted']} {verb}, "
            f"{counts['duplicate']} duplicate, {counts['rejected']} rejected"
        )
        if not self.complete:
            text += (
                f"; INCOMPLETE: the database failed ({self.error}); only the accepted and "
                "duplicate records are stored: ingest the file again"
            )
        elif self.dry_run:
            text += " (dry run: nothing was stored)"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "adapter": self.adapter,
            "dry_run": self.dry_run,
            "complete": self.complete,
            "error": self.error,
            "counts": self.counts(),
            "records": [r.as_dict() for r in self.records],
        }


@dataclass
class _Pending:
    """A parsed record waiting to be published."""

    index: int
    record: NativeRecord
    envelope: dict[str, Any]
    agency: str

    @property
    def event(self) -> dict[str, str]:
        return {
            "source": self.envelope["source"],
            "id": self.envelope["id"],
            "type": self.envelope["type"],
        }


class _DatabaseFailed(Exception):
    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class IngestService:
    """Publishes an adapter's records through intake, accounting for each."""

    def __init__(
        self,
        intake: IntakeService,
        store: EventStore,
        schemas: SchemaRegistry,
        directory: Directory,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        if batch_size < 1:
            raise InvalidInput(f"batch_size must be at least 1, not {batch_size}")
        self._intake = intake
        self._store = store
        self._schemas = schemas
        self._directory = directory
        self._batch_size = batch_size

    async def ingest(
        self, adapter: NativeParser, data: bytes, *, dry_run: bool = False
    ) -> IngestReport:
        """Parse `data` with `adapter` and publish (or, dry, check) every parsed record."""
        records = adapter.parse(data, self._schemas)
        return await self.ingest_records(adapter.name, records, dry_run=dry_run)

    async def ingest_records(
        self, adapter: str, records: Sequence[NativeRecord], *, dry_run: bool = False
    ) -> IngestReport:
        report = IngestReport(adapter, dry_run)
        outcomes: dict[int, RecordOutcome] = {}
        pending: list[_Pending] = []
        for index, record in enumerate(records):
            if record.envelope is None:
                outcomes[index] = _rejected(index, record, record.problems)
                continue
            agency, why = publishing_agency(adapter, record.envelope["source"], self._directory)
            if agency is None:
                assert why is not None
                outcomes[index] = _rejected(
                    index, record, (RecordProblem("source", why),), _event_of(record.envelope)
                )
                continue
            pending.append(_Pending(index, record, record.envelope, agency))
        if dry_run:
            for item in pending:
                outcomes[item.index] = await self._check(adapter, item)
        else:
            try:
                for batch in _batches(pending, self._batch_size):
                    for outcome in await self._publish_batch(adapter, batch):
                        outcomes[outcome.index] = outcome
            except _DatabaseFailed as failed:
                report.complete = False
                report.error = _describe(failed.error)
                reason = (
                    f"not stored: the database failed before this record was ({report.error}); "
                    "ingest the file again (records already stored come back as duplicates)"
                )
                for item in pending:
                    if item.index not in outcomes:
                        outcomes[item.index] = _rejected(
                            item.index, item.record, (RecordProblem("", reason),), item.event
                        )
        report.records = [outcomes[i] for i in range(len(records))]
        return report

    # -- publishing --------------------------------------------------------------------------

    async def _publish_batch(self, adapter: str, batch: list[_Pending]) -> list[RecordOutcome]:
        """Publish `batch` (one agency) in one transaction; if the store refuses it for one
        record's sake, again record by record, so that only that record is rejected."""
        publisher = publisher_for(adapter, batch[0].agency)
        done: list[RecordOutcome] = []
        remaining = list(batch)
        while remaining:
            try:
                results = await self._intake.publish_batch(
                    [item.envelope for item in remaining], publisher, self._directory
                )
            except IdentifierConflict as conflict:
                # Already held for review by intake: reject that record, publish the others.
                culprit = next(
                    (
                        item
                        for item in remaining
                        if conflict.event_key == (item.envelope["source"], item.envelope["id"])
                    ),
                    None,
                )
                if culprit is None:
                    return done + await self._one_by_one(publisher, remaining)
                done.append(_refused(culprit, conflict))
                remaining.remove(culprit)
                continue
            except (Conflict, InvalidInput, PermissionDenied):
                return done + await self._one_by_one(publisher, remaining)
            except Exception as error:
                raise _DatabaseFailed(error) from error
            return done + [
                _published(item, result) for item, result in zip(remaining, results, strict=True)
            ]
        return done

    async def _one_by_one(
        self, publisher: Publisher, items: Sequence[_Pending]
    ) -> list[RecordOutcome]:
        done: list[RecordOutcome] = []
        for item in items:
            try:
                result = await self._intake.publish(item.envelope, publisher, self._directory)
            except (Conflict, InvalidInput, PermissionDenied) as refusal:
                done.append(_refused(item, refusal))
            except Exception as error:
                raise _DatabaseFailed(error) from error
            else:
                done.append(_published(item, result))
        return done

    # -- dry run -----------------------------------------------------------------------------

    async def _check(self, adapter: str, item: _Pending) -> RecordOutcome:
        """What publishing would do with `item`, reading the store only."""
        source = item.envelope["source"]
        if not source_belongs_to(source, item.agency, self._directory):
            return _refused(
                item,
                PermissionDenied(f"agency {item.agency} may not publish from source {source}"),
            )
        try:
            notification = self._schemas.validate(item.envelope)
        except InvalidNotification as invalid:
            return _refused(item, invalid)
        stored = await self._store.get(source, notification.id)
        if stored is not None:
            if stored.notification.content_hash() != notification.content_hash():
                return _refused(
                    item,
                    EventIdReused(
                        f"event id {notification.id} from {source} is already used by the "
                        f"event at position {stored.position} with different content"
                    ),
                )
            return RecordOutcome(
                item.index,
                item.record.location,
                "duplicate",
                item.record,
                item.event,
                stored.position,
                agency=item.agency,
            )
        try:
            await self._store.resolve_person(notification.identifiers)
        except IdentifierConflict as conflict:
            return _refused(item, conflict)
        return RecordOutcome(
            item.index, item.record.location, "accepted", item.record, item.event, None,
            agency=item.agency,
        )  # fmt: skip


def _batches(items: Sequence[_Pending], size: int) -> Iterable[list[_Pending]]:
    """The items in chunks of at most `size`, in file order; a chunk with records of several
    agencies (a social work file of several councils) is published agency by agency, each
    agency's records in file order."""
    for start in range(0, len(items), size):
        by_agency: dict[str, list[_Pending]] = {}
        for item in items[start : start + size]:
            by_agency.setdefault(item.agency, []).append(item)
        yield from by_agency.values()


def _event_of(envelope: Mapping[str, Any]) -> dict[str, str]:
    return {"source": envelope["source"], "id": envelope["id"], "type": envelope["type"]}


def _rejected(
    index: int,
    record: NativeRecord,
    problems: Sequence[NativeProblem],
    event: Mapping[str, str] | None = None,
) -> RecordOutcome:
    return RecordOutcome(
        index, record.location, "rejected", record, event, None, tuple(problems)
    )  # fmt: skip


def _published(item: _Pending, result: AppendResult) -> RecordOutcome:
    return RecordOutcome(
        item.index,
        item.record.location,
        "duplicate" if result.duplicate else "accepted",
        item.record,
        item.event,
        result.position,
        agency=item.agency,
    )


#: The envelope field a store refusal is about.
_REFUSAL_FIELDS: Final[tuple[tuple[type[HubError], str], ...]] = (
    (IdentifierConflict, "identifiers"),
    (EventIdReused, "id"),
    (PermissionDenied, "source"),
)


def _refused(item: _Pending, refusal: HubError) -> RecordOutcome:
    """The hub refused a parsed record: rejected, with the hub's own reason."""
    field_name = next((name for kind, name in _REFUSAL_FIELDS if isinstance(refusal, kind)), "")
    problems: list[NativeProblem]
    if isinstance(refusal, InvalidNotification) and refusal.problems:
        problems = [RecordProblem(p.pointer, p.message) for p in refusal.problems]
    else:
        problems = [RecordProblem(field_name, f"refused by the hub: {refusal.message}")]
    return _rejected(item.index, item.record, problems, item.event)


def _describe(error: BaseException) -> str:
    if isinstance(error, HubError):
        return error.message
    return f"{type(error).__name__}: {error}"
