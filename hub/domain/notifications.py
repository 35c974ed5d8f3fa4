"""Canonical notifications: the CloudEvents-style envelope every agency system sends, and the
stored form the event store gives back with its global position and per-person stream version."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class IdentifierScheme:
    """One agency's way of numbering a person, and how many values one person may hold.

    A single-valued scheme gives a person one value (one SPS number, one PNC ID): a second is a
    duplicate record or a wrong identifier, never a link. A qualified scheme's values are
    `<qualifier>:<id>` and a person holds one per qualifier (one social work client id per
    council, qualified by the council's GSS code)."""

    name: str
    title: str
    #: Whether a person holds one value (per qualifier, if `qualified`).
    single_valued: bool = True
    #: Whether values are `<qualifier>:<id>`, one per qualifier when single-valued.
    qualified: bool = False

    def slot(self, value: str) -> str | None:
        """What one person holds one value of (`sps_number`, `sw_client_id S12000049`); None
        for a multi-valued scheme, whose values never compete."""
        if not self.single_valued:
            return None
        if self.qualified:
            qualifier, _, _ = value.partition(":")
            return f"{self.name} {qualifier}"
        return self.name

    def describe(self) -> str:
        """The scheme as a conflict names it."""
        if self.qualified:
            return f"{self.name} ({self.title}; one per qualifier, the part before ':')"
        return f"{self.name} ({self.title})"


#: The identifier schemes the subject index links, declared as data. Each agency knows the same
#: person by its own number: SPS number (PR2), PNC ID, CRO number and ViSOR reference (police), a
#: council's social work client id (qualified by the council's GSS code), CHI number (NHS).
SCHEMES: Mapping[str, IdentifierScheme] = {
    scheme.name: scheme
    for scheme in (
        IdentifierScheme("sps_number", "SPS prisoner number"),
        IdentifierScheme("pnc_id", "Police National Computer ID"),
        IdentifierScheme("cro_number", "Criminal Records Office number"),
        IdentifierScheme("visor_ref", "ViSOR nominal reference"),
        IdentifierScheme("sw_client_id", "council social work client id", qualified=True),
        IdentifierScheme("chi_number", "NHS Scotland CHI number"),
    )
}

IDENTIFIER_SCHEMES: tuple[str, ...] = tuple(SCHEMES)

JsonObject = Mapping[str, Any]

#: Event types only the hub itself writes, never an agency: the escalation of a disclosure that
#: was not acknowledged in time (`hub.services.overdue`).
HUB_WRITTEN_TYPES: frozenset[str] = frozenset({"disclosure.overdue"})


@dataclass(frozen=True, slots=True, order=True)
class PersonIdentifier:
    scheme: str
    value: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.value}"

    @property
    def slot(self) -> str | None:
        """What a person holds one value of (`IdentifierScheme.slot`); None when a person may
        hold several values of this scheme (or the scheme is not declared)."""
        scheme = SCHEMES.get(self.scheme)
        return None if scheme is None else scheme.slot(self.value)


@dataclass(frozen=True, slots=True)
class Publisher:
    """The authenticated agency client that pushed a notification into the hub."""

    client_id: str
    agency: str


@dataclass(frozen=True, slots=True)
class Notification:
    """One validated notification, as pushed: the envelope attributes and the typed body."""

    id: str
    source: str
    type: str
    version: int
    time: datetime
    identifiers: tuple[PersonIdentifier, ...]
    data: JsonObject
    subject: str | None = None
    specversion: str = "1.0"
    datacontenttype: str = "application/json"
    #: The notification exactly as received (after JSON parsing), kept for the record.
    raw: JsonObject = field(default_factory=dict, compare=False, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        """The idempotency key: CloudEvents says `source` + `id` identify an event."""
        return (self.source, self.id)

    def to_envelope(self) -> dict[str, Any]:
        """The notification as CloudEvents structured JSON, as agencies send it."""
        envelope: dict[str, Any] = {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": self.time.isoformat(),
            "datacontenttype": self.datacontenttype,
            "dataschema": f"urn:pph:events:{self.type}:v{self.version}",
        }
        if self.subject is not None:
            envelope["subject"] = self.subject
        envelope["identifiers"] = {i.scheme: i.value for i in self.identifiers}
        envelope["data"] = dict(self.data)
        return envelope

    def content_hash(self) -> str:
        """SHA-256 over the canonical JSON of what the notification says (not how it was spelt),
        so that a re-push of the same notification is recognised and a reused id is not."""
        canonical = {
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "version": self.version,
            "time": self.time.astimezone(UTC).isoformat(),
            "subject": self.subject,
            "identifiers": sorted([i.scheme, i.value] for i in self.identifiers),
            "data": self.data,
        }
        encoded = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A notification as the event store holds it: in global order and in its person's stream."""

    position: int
    person_id: str
    stream_version: int
    notification: Notification
    recorded_at: datetime
    publisher: Publisher
    #: The W3C `traceparent` of the span that stored it (`hub.observability.traces`), for the
    #: router and the delivery worker to continue its trace; None when tracing was off.
    trace_context: str | None = None
    #: Imported as an agency's history (`hub import` without `--route`): the router folds it
    #: into the person's profile and decides nothing on it.
    history: bool = False


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What the store did with one notification: stored it, or recognised it as already stored."""

    source: str
    id: str
    position: int
    person_id: str
    stream_version: int
    duplicate: bool
