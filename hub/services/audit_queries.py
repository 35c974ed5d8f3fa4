"""What data protection officers ask of the audit trail: who received what about a person,
when, under which rule and legal basis, and whether they acknowledged it; a person's whole
history for a subject access request; and restrictions on what such a report may disclose.

Every query is itself logged as a consultation, with the purpose the officer declared, in the
same call that answers it: no answer leaves without its entry.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from hub.domain.audit import builders as audit_records
from hub.domain.audit.entries import AuditEntry, AuditKind, JsonValue, format_timestamp
from hub.domain.notifications import IDENTIFIER_SCHEMES, PersonIdentifier
from hub.domain.schemas import representable_in_utc
from hub.domain.spreadsheet import neutralise_cell
from hub.errors import InvalidInput, NotFound
from hub.services.audit import AuditLog
from hub.services.ports import EventStore

__all__ = [
    "GROUNDS",
    "MAX_PAGE",
    "AuditIndex",
    "AuditQuery",
    "AuditQueryService",
    "AuditRecord",
    "ConsultationLog",
    "HistoryReport",
    "Principal",
    "Restriction",
    "Restrictions",
    "new_restriction_id",
    "records_csv",
]

#: The most entries one query page returns.
MAX_PAGE: Final = 5000
#: The most events one query may name (`AuditQuery.event_ids`).
MAX_EVENT_IDS: Final = 500


def new_restriction_id() -> str:
    """A new restriction's id: `rs_` and 16 random hex digits (the API, CLI and console)."""
    return f"rs_{uuid.uuid4().hex[:16]}"


#: The grounds on which DPA 2018 s45(4) lets a controller restrict a subject's right of access.
GROUNDS: Final[Mapping[str, str]] = {
    "inquiry": "to avoid obstructing an official or legal inquiry, investigation or procedure",
    "crime": (
        "to avoid prejudicing the prevention, detection, investigation or prosecution of "
        "criminal offences or the execution of criminal penalties"
    ),
    "public-security": "to protect public security",
    "national-security": "to protect national security",
    "rights-of-others": "to protect the rights and freedoms of others",
}

#: The kinds of entry that say what was shared, which a restriction may withhold.
_SHARING_KINDS: Final = frozenset(
    {AuditKind.DISCLOSURE, AuditKind.DELIVERY, AuditKind.ACKNOWLEDGEMENT}
)
_PURPOSE = re.compile(r"[^\x00-\x1f\x7f]{3,200}")
#: A purpose is read by people in reports and spreadsheets: nothing that hides or reorders text
#: (controls, format characters such as a zero-width space or a bidi override, line and
#: paragraph separators, surrogates, private use).
_NOT_IN_A_PURPOSE = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: the client and its agency."""

    client_id: str
    agency: str


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Entries matching every criterion given, in log order, after position `after`."""

    person_id: str | None = None
    recipient_id: str | None = None
    rule: str | None = None
    purpose: str | None = None  # case-insensitive substring of the recorded purpose
    event_id: str | None = None
    #: Any of these events (a page of results' follow-ups in one look-up).
    event_ids: tuple[str, ...] = ()
    kinds: tuple[AuditKind, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    after: int = 0
    limit: int = 500

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}, not {self.limit}")
        if self.after < 0:
            raise InvalidInput(f"after must be 0 or more, not {self.after}")
        if len(self.event_ids) > MAX_EVENT_IDS:
            raise InvalidInput(
                f"at most {MAX_EVENT_IDS} event ids in one query, not {len(self.event_ids)}"
            )
        for name in ("since", "until"):
            moment = getattr(self, name)
            if moment is not None and moment.utcoffset() is None:
                raise InvalidInput(f"{name} must include a time zone (e.g. Z)")
            if moment is not None and not representable_in_utc(moment):
                raise InvalidInput(f"{name} is outside the years 1-9999 in UTC")
        if self.since and self.until and self.since > self.until:
            raise InvalidInput("since is after until: the period is empty")

    def as_json(self) -> dict[str, JsonValue]:
        """The criteria as the consultation entry records them (ids and names, no values)."""
        criteria: dict[str, JsonValue] = {}
        for name in ("person_id", "recipient_id", "rule", "event_id"):
            value = getattr(self, name)
            if value is not None:
                criteria[name] = value
        if self.event_ids:
            criteria["event_ids"] = sorted(set(self.event_ids))
        if self.purpose is not None:
            criteria["purpose"] = self.purpose[:200]
        if self.kinds:
            criteria["kinds"] = [k.value for k in self.kinds]
        if self.since is not None:
            criteria["since"] = format_timestamp(self.since)
        if self.until is not None:
            criteria["until"] = format_timestamp(self.until)
        return criteria


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One stored entry: its position, its leaf in the Merkle tree once sequenced, and what it
    says."""

    position: int
    leaf_index: int | None
    entry: AuditEntry

    def as_json(self) -> dict[str, Any]:
        return {"position": self.position, "leaf_index": self.leaf_index, **self.entry_json()}

    def entry_json(self) -> dict[str, Any]:
        document: dict[str, Any] = dict(self.entry.to_json_object())
        document.pop("v", None)
        return document


@dataclass(frozen=True, slots=True)
class Restriction:
    """What a subject access report must withhold about a person, and on which ground."""

    restriction_id: str
    person_id: str
    ground: str
    #: Withhold only what went to these recipients / was about these event types (empty: all
    #: that was shared).
    recipients: tuple[str, ...]
    event_types: tuple[str, ...]
    reference: str | None
    placed_at: datetime
    placed_by: str
    lifted_at: datetime | None = None
    lifted_by: str | None = None

    @property
    def active(self) -> bool:
        return self.lifted_at is None

    def withholds(self, entry: AuditEntry) -> bool:
        if entry.kind not in _SHARING_KINDS:
            return False
        if self.recipients and entry.recipient_id not in self.recipients:
            return False
        if self.event_types:
            event_type = entry.details.get("event_type")
            if event_type is not None and event_type not in self.event_types:
                return False
        return True

    def as_json(self) -> dict[str, Any]:
        return {
            "restriction_id": self.restriction_id,
            "person_id": self.person_id,
            "ground": self.ground,
            "ground_text": GROUNDS[self.ground],
            "recipients": list(self.recipients),
            "event_types": list(self.event_types),
            "reference": self.reference,
            "placed_at": self.placed_at.isoformat(),
            "placed_by": self.placed_by,
            "lifted_at": None if self.lifted_at is None else self.lifted_at.isoformat(),
            "lifted_by": self.lifted_by,
        }


class AuditIndex(Protocol):
    """The audit entries, selected by what DPO queries ask about (`audit_index`)."""

    async def find(self, query: AuditQuery) -> list[AuditRecord]: ...

    async def person_entries(self, person_id: str, after: int = 0) -> list[AuditRecord]:
        """Every entry about the person, in log order (all of them: a report is complete)."""
        ...


class Restrictions(Protocol):
    async def of_person(self, person_id: str) -> list[Restriction]: ...

    async def place(self, restriction: Restriction, entry: AuditEntry) -> None:
        """Store the restriction and its audit entry in one transaction."""
        ...

    async def lift(
        self, restriction_id: str, lifted_by: str, at: datetime, agency: str
    ) -> Restriction:
        """Lift it (`NotFound`; `Conflict` when already lifted), logging the change."""
        ...


class ConsultationLog:
    """Logs each read of personal data the API serves, before the answer leaves."""

    def __init__(self, log: AuditLog) -> None:
        self._log = log

    async def record(
        self,
        consulted: Sequence[audit_records.Consulted],
        principal: Principal,
        purpose: str | None,
        *,
        query: Mapping[str, JsonValue] | None = None,
        queries: Sequence[Mapping[str, JsonValue]] | None = None,
    ) -> None:
        """One entry for each read in `consulted`, with the criteria `query` (the same for all)
        or `queries` (one for each, in order)."""
        if not consulted:
            return
        if queries is not None and len(queries) != len(consulted):
            raise ValueError("queries must give one query for each read")
        now = datetime.now(UTC)
        stated = "undeclared" if purpose is None else purpose
        await self._log.record(
            [
                audit_records.consultation(
                    c,
                    client_id=principal.client_id,
                    agency=principal.agency,
                    purpose=stated,
                    at=now,
                    query=query if queries is None else queries[i],
                )
                for i, c in enumerate(consulted)
            ]
        )


def check_purpose(purpose: str | None, *, required: bool) -> str | None:
    """The purpose a caller declared (the `X-Purpose` header), checked."""
    if purpose is None or not purpose.strip():
        if required:
            raise InvalidInput(
                "declare why you are reading this personal data in the X-Purpose header "
                "(e.g. 'subject access request SAR-2024-0117')"
            )
        return None
    purpose = purpose.strip()
    if not _PURPOSE.fullmatch(purpose) or any(
        unicodedata.category(char) in _NOT_IN_A_PURPOSE for char in purpose
    ):
        raise InvalidInput(
            "X-Purpose must be 3 to 200 printable characters on one line, with no control, "
            "invisible or bidirectional formatting characters"
        )
    return purpose


@dataclass(frozen=True, slots=True)
class HistoryReport:
    """A person's whole record in the audit trail, grouped for a reader."""

    person_id: str
    identifiers: tuple[PersonIdentifier, ...]
    generated_at: datetime
    subject_access: bool
    records: tuple[AuditRecord, ...]
    restrictions: tuple[Restriction, ...]
    withheld: int
    checkpoint: Mapping[str, Any] | None = field(default=None)

    def as_json(self) -> dict[str, Any]:
        collected = [r for r in self.records if r.entry.kind is AuditKind.COLLECTION]
        disclosed = [
            r
            for r in self.records
            if r.entry.kind is AuditKind.DISCLOSURE and r.entry.outcome == "disclosed"
        ]
        denied = [
            r
            for r in self.records
            if r.entry.kind is AuditKind.DISCLOSURE and r.entry.outcome == "denied"
        ]
        followups = _by_disclosure(self.records)
        report: dict[str, Any] = {
            "person_id": self.person_id,
            "identifiers": [str(i) for i in self.identifiers],
            "generated_at": self.generated_at.isoformat(),
            "subject_access": self.subject_access,
            "checkpoint": self.checkpoint,
            "collected": [r.as_json() for r in collected],
            "disclosed": [_disclosure_summary(r, followups) for r in disclosed],
            "denied": [r.as_json() for r in denied],
            "consulted": [
                r.as_json() for r in self.records if r.entry.kind is AuditKind.CONSULTATION
            ],
            "altered": [
                r.as_json()
                for r in self.records
                if r.entry.kind in (AuditKind.ALTERATION, AuditKind.COMBINATION)
            ],
            "erased": [r.as_json() for r in self.records if r.entry.kind is AuditKind.ERASURE],
            "entries": len(self.records),
        }
        active = [r for r in self.restrictions if r.active]
        if self.subject_access:
            report["withheld"] = {
                "entries": self.withheld,
                "statement": _withheld_statement(active) if active else None,
            }
        else:
            report["restrictions"] = [r.as_json() for r in self.restrictions]
        return report

    def as_csv(self) -> str:
        text = records_csv(self.records)
        if self.subject_access and self.withheld:
            active = [r for r in self.restrictions if r.active]
            text += f"# {_withheld_statement(active)}\r\n"
        return text


def _withheld_statement(active: Sequence[Restriction]) -> str:
    grounds = sorted({r.ground for r in active})
    reasons = "; ".join(GROUNDS[g] for g in grounds)
    return (
        "Some information about what was shared has been withheld under section 45(4) of the "
        f"Data Protection Act 2018 ({reasons})."
    )


def _by_disclosure(records: Sequence[AuditRecord]) -> dict[str, list[AuditRecord]]:
    found: dict[str, list[AuditRecord]] = {}
    for record in records:
        if record.entry.kind in (AuditKind.DELIVERY, AuditKind.ACKNOWLEDGEMENT):
            disclosure_id = record.entry.details.get("disclosure_id")
            if isinstance(disclosure_id, str):
                found.setdefault(disclosure_id, []).append(record)
    return found


def _disclosure_summary(
    record: AuditRecord, followups: Mapping[str, Sequence[AuditRecord]]
) -> dict[str, Any]:
    summary = record.as_json()
    disclosure_id = record.entry.details.get("disclosure_id")
    later = followups.get(disclosure_id, ()) if isinstance(disclosure_id, str) else ()
    deliveries = [r for r in later if r.entry.kind is AuditKind.DELIVERY]
    acks = [r for r in later if r.entry.kind is AuditKind.ACKNOWLEDGEMENT]
    summary["deliveries"] = [r.as_json() for r in deliveries]
    summary["delivered"] = any(r.entry.state == "delivered" for r in deliveries)
    summary["acknowledged_at"] = acks[0].entry.to_json_object()["occurred_at"] if acks else None
    return summary


_CSV_COLUMNS: Final = (
    "position",
    "leaf_index",
    "kind",
    "occurred_at",
    "actor",
    "agency",
    "person_id",
    "event_id",
    "source",
    "recipient_id",
    "fields",
    "rules",
    "purpose",
    "legal_basis",
    "policy_version",
    "outcome",
    "state",
    "disclosure_id",
    "event_type",
)


def records_csv(records: Sequence[AuditRecord]) -> str:
    """The records as CSV (RFC 4180), one row each; cells that a spreadsheet would run as a
    formula are prefixed with a quote mark."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_CSV_COLUMNS)
    for record in records:
        entry = record.entry.to_json_object()
        details = record.entry.details
        row = {
            **entry,
            "position": record.position,
            "leaf_index": "" if record.leaf_index is None else record.leaf_index,
            "fields": ";".join(record.entry.fields),
            "rules": ";".join(record.entry.rules),
            "disclosure_id": details.get("disclosure_id") or "",
            "event_type": details.get("event_type") or "",
        }
        writer.writerow([_cell(row.get(column)) for column in _CSV_COLUMNS])
    return out.getvalue()


def _cell(value: object) -> str:
    return neutralise_cell("" if value is None else str(value))


class AuditQueryService:
    """DPO queries and reports, each logged as a consultation."""

    def __init__(
        self,
        index: AuditIndex,
        restrictions: Restrictions,
        store: EventStore,
        consultations: ConsultationLog,
    ) -> None:
        self._index = index
        self._restrictions = restrictions
        self._store = store
        self._consultations = consultations

    async def resolve_person(self, reference: str) -> str:
        """A person id from their id or any identifier (`scheme:value`)."""
        scheme, sep, value = reference.partition(":")
        if sep and scheme in IDENTIFIER_SCHEMES:
            person_id = await self._store.resolve_person([PersonIdentifier(scheme, value)])
            if person_id is None:
                raise NotFound(f"no person is known by the {scheme} identifier given")
            return person_id
        if sep:
            raise InvalidInput(
                f"person: {scheme!r} is not an identifier scheme; use a person id or one of "
                + ", ".join(IDENTIFIER_SCHEMES)
            )
        if not await self._store.identifiers_of(reference):
            raise NotFound(f"there is no person {reference!r}")
        return reference

    async def find(
        self, query: AuditQuery, principal: Principal, purpose: str | None
    ) -> list[AuditRecord]:
        purpose = check_purpose(purpose, required=True)
        records = await self._index.find(query)
        await self._log(records, "audit.query", principal, purpose, query.as_json())
        return records

    async def history(
        self,
        person_id: str,
        principal: Principal,
        purpose: str | None,
        *,
        subject_access: bool = False,
    ) -> HistoryReport:
        purpose = check_purpose(purpose, required=True)
        identifiers = tuple(await self._store.identifiers_of(person_id))
        if not identifiers:
            raise NotFound(f"there is no person {person_id!r}")
        records = await self._index.person_entries(person_id)
        restrictions = tuple(await self._restrictions.of_person(person_id))
        withheld = 0
        if subject_access:
            active = [r for r in restrictions if r.active]
            kept = [r for r in records if not any(x.withholds(r.entry) for x in active)]
            withheld = len(records) - len(kept)
            records = kept
        await self._consultations.record(
            [audit_records.Consulted("audit.history", person_id=person_id)],
            principal,
            purpose,
            query={"subject_access": subject_access, "entries": len(records)},
        )
        return HistoryReport(
            person_id=person_id,
            identifiers=identifiers,
            generated_at=datetime.now(UTC),
            subject_access=subject_access,
            records=tuple(records),
            restrictions=restrictions,
            withheld=withheld,
        )

    async def restrictions(
        self, person_id: str, principal: Principal, purpose: str | None
    ) -> list[Restriction]:
        purpose = check_purpose(purpose, required=True)
        found = await self._restrictions.of_person(person_id)
        await self._consultations.record(
            [audit_records.Consulted("audit.restrictions", person_id=person_id)],
            principal,
            purpose,
        )
        return found

    async def restrict(
        self,
        person_id: str,
        *,
        ground: str,
        recipients: Sequence[str] = (),
        event_types: Sequence[str] = (),
        reference: str | None,
        principal: Principal,
        restriction_id: str,
    ) -> Restriction:
        if ground not in GROUNDS:
            raise InvalidInput(
                f"ground: {ground!r} is not a ground of DPA 2018 s45(4); use one of "
                + ", ".join(GROUNDS)
            )
        if reference is not None and not re.fullmatch(r"[A-Za-z0-9_./:\-]{1,100}", reference):
            raise InvalidInput("reference: a case reference of letters, digits and ._/:-")
        if not await self._store.identifiers_of(person_id):
            raise NotFound(f"there is no person {person_id!r}")
        now = datetime.now(UTC)
        restriction = Restriction(
            restriction_id=restriction_id,
            person_id=person_id,
            ground=ground,
            recipients=tuple(sorted(set(recipients))),
            event_types=tuple(sorted(set(event_types))),
            reference=reference,
            placed_at=now,
            placed_by=principal.client_id,
        )
        entry = audit_records.restriction_changed(
            person_id=person_id,
            restriction_id=restriction_id,
            ground=ground,
            change="placed",
            actor=principal.client_id,
            agency=principal.agency,
            at=now,
        )
        await self._restrictions.place(restriction, entry)
        return restriction

    async def lift(self, restriction_id: str, principal: Principal) -> Restriction:
        return await self._restrictions.lift(
            restriction_id, principal.client_id, datetime.now(UTC), principal.agency
        )

    async def _log(
        self,
        records: Sequence[AuditRecord],
        what: str,
        principal: Principal,
        purpose: str | None,
        query: Mapping[str, JsonValue],
    ) -> None:
        people = sorted({r.entry.person_id for r in records if r.entry.person_id})
        consulted = [audit_records.Consulted(what, person_id=p) for p in people] or [
            audit_records.Consulted(what)
        ]
        details = {**query, "entries": len(records)}
        await self._consultations.record(consulted, principal, purpose, query=details)
