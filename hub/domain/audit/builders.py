"""What each logged operation writes to the audit trail (DPA 2018 s62): one builder per
operation, called by the stores inside the transaction that performs it, so an operation and its
entry commit or roll back together.

Entries are metadata only: names of fields, never their values; the purpose a caller declares is
the only free text, bounded and kept to one line. The hub's own work is logged as actor `hub`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from hub.domain.audit.entries import AuditEntry, AuditKind, JsonValue
from hub.domain.audit.evidence import (
    RememberedDigests,
    RowEvidence,
    column_digest,
    row_evidence,
)
from hub.domain.disclosures import Disclosure, DisclosureDenial
from hub.domain.notifications import Notification, PersonIdentifier, Publisher
from hub.domain.protection import sealed_key_id

__all__ = [
    "HUB_ACTOR",
    "Consulted",
    "DecisionEntries",
    "acknowledgement",
    "collection",
    "combination",
    "conflict_parked",
    "conflict_resolved",
    "consultation",
    "data_fields",
    "delivery",
    "denial",
    "disclosure",
    "erasure",
    "restriction_changed",
]

#: The actor and agency of what the hub does by itself (routing, delivery, retention).
HUB_ACTOR = "hub"

#: How many field names one entry lists before it says "and more" (entries stay small).
_MAX_FIELD_NAMES = 200


def data_fields(data: Mapping[str, Any], prefix: str = "data") -> tuple[str, ...]:
    """The paths of the leaves of a notification's body (`data.release.date`), for the record
    of what was collected: names, never values. Lists are named once with `[]`."""
    names: list[str] = []

    def walk(value: Any, path: str) -> None:
        # A field sealed at rest (`{"$pph.enc": ...}`) is one leaf, named by its own path.
        if isinstance(value, Mapping) and value and sealed_key_id(value) is None:
            for key, item in value.items():
                walk(item, f"{path}.{key}")
        elif isinstance(value, list) and value:
            for item in value:
                walk(item, f"{path}[]")
        else:
            names.append(path)

    walk(data, prefix)
    unique = sorted(set(names))
    if len(unique) > _MAX_FIELD_NAMES:
        unique = [*unique[:_MAX_FIELD_NAMES], f"{prefix}.*"]
    return tuple(unique)


def _identifier_fields(identifiers: Iterable[PersonIdentifier]) -> tuple[str, ...]:
    return tuple(f"identifiers.{i.scheme}" for i in identifiers)


def collection(
    notification: Notification,
    *,
    person_id: str,
    position: int,
    publisher: Publisher,
    at: datetime,
    stored: Mapping[str, Any] | None = None,
    imported: str | None = None,
    digests: RememberedDigests | None = None,
) -> AuditEntry:
    """A notification was taken in and stored (`position`) as one of `person_id`'s events.

    `stored` is the events row as written (every column, `data` sealed as stored): the entry
    carries its digests (`hub.domain.audit.evidence`), and the full digest of `data` so that the
    rest of the row can still be checked once an erasure has emptied it. `imported` says that
    it came in by `hub import`, as `history` (disclosed to no one) or `routed`. `digests`, kept
    for a batch, digests each value the batch's rows repeat once (`CollectionEntries`)."""
    details: dict[str, JsonValue] = {"event_type": notification.type, "position": position}
    if imported is not None:
        details["import"] = imported
    if stored is not None:
        evidence = row_evidence(stored) if digests is None else digests.row_evidence(stored)
        details |= evidence.as_details()
        digest = column_digest if digests is None else digests.column_digest
        details["data_hash"] = digest(stored["data"])
    return AuditEntry(
        kind=AuditKind.COLLECTION,
        occurred_at=at,
        actor=publisher.client_id,
        agency=publisher.agency,
        person_id=person_id,
        event_id=notification.id,
        source=notification.source,
        fields=(*_identifier_fields(notification.identifiers), *data_fields(notification.data)),
        outcome="stored",
        details=details,
    )


def combination(
    notification: Notification,
    *,
    person_id: str,
    linked: Sequence[PersonIdentifier],
    new_person: bool,
    publisher: Publisher,
    at: datetime,
) -> AuditEntry:
    """Identifiers were linked to a person in the subject index (the names of their schemes:
    the identifier values are personal data and stay in the index)."""
    return AuditEntry(
        kind=AuditKind.COMBINATION,
        occurred_at=at,
        actor=publisher.client_id,
        agency=publisher.agency,
        person_id=person_id,
        event_id=notification.id,
        source=notification.source,
        fields=_identifier_fields(linked),
        outcome="new-person" if new_person else "linked",
        details={"event_type": notification.type, "identifiers_linked": len(linked)},
    )


def conflict_parked(
    notification: Notification,
    *,
    review_id: str,
    people: Sequence[str],
    publisher: Publisher,
    at: datetime,
    conflict: str,
) -> list[AuditEntry]:
    """A notification whose identifiers belong to different people, or that would give a person
    a second value of a single-valued scheme (`conflict`: the kind), was refused and kept for
    review: collected (into the review list) and recorded against each person it names."""
    return [
        AuditEntry(
            kind=AuditKind.COLLECTION,
            occurred_at=at,
            actor=publisher.client_id,
            agency=publisher.agency,
            person_id=person_id,
            event_id=notification.id,
            source=notification.source,
            fields=(
                *_identifier_fields(notification.identifiers),
                *data_fields(notification.data),
            ),
            outcome="parked-for-review",
            details={
                "event_type": notification.type,
                "review_id": review_id,
                "conflict": conflict,
            },
        )
        for person_id in sorted(set(people))
    ]


def conflict_resolved(
    *,
    review_id: str,
    people: Sequence[str],
    event_id: str,
    source: str,
    resolved_by: str,
    at: datetime,
) -> list[AuditEntry]:
    """An operator closed an identifier-conflict case (what they wrote stays in the case: it is
    free text and may hold personal data)."""
    return [
        AuditEntry(
            kind=AuditKind.ALTERATION,
            occurred_at=at,
            actor=resolved_by,
            agency=HUB_ACTOR,
            person_id=person_id,
            event_id=event_id,
            source=source,
            outcome="conflict-resolved",
            details={"review_id": review_id},
        )
        for person_id in sorted(set(people))
    ]


def _joined(values: Sequence[str]) -> str | None:
    return "; ".join(sorted(set(values)))[:512] or None


def _citations(values: Sequence[str]) -> str | None:
    """Legal-basis citations (`LegalBasis.citation`, each naming its rule) joined whole, as many
    as an entry's 512 characters hold; the rest are named by count, never cut mid-citation (the
    entry's `rules` and `policy_version` still say exactly which rules and text decided)."""
    ordered = sorted(set(values))
    kept: list[str] = []
    for index, citation in enumerate(ordered):
        left = len(ordered) - index - 1
        more = f" | and {left} more" if left else ""
        if len(" | ".join([*kept, citation])) + len(more) > 512:
            text = " | ".join(kept) + f" | and {len(ordered) - len(kept)} more"
            return text if kept else _joined(ordered)
        kept.append(citation)
    return " | ".join(kept) or None


def disclosure(decided: Disclosure, row: Mapping[str, Any] | None = None) -> AuditEntry:
    """The router decided a recipient may receive these fields of a notification (`row`: the
    disclosures row as written, whose digests the entry carries)."""
    return _disclosure(
        decided,
        None if row is None else row_evidence(row),
        _joined(decided.purposes),
        _citations(decided.legal_bases),
    )


def _disclosure(
    decided: Disclosure, evidence: RowEvidence | None, purpose: str | None, basis: str | None
) -> AuditEntry:
    details: dict[str, JsonValue] = {
        "disclosure_id": decided.disclosure_id,
        "event_type": decided.event_type,
        "event_position": decided.event_position,
        "trigger_position": decided.trigger_position,
        "profile_position": decided.profile_position,
    }
    if decided.acknowledge_within is not None:
        details["acknowledge_within_seconds"] = int(decided.acknowledge_within.total_seconds())
    if evidence is not None:
        details |= evidence.as_details()
    return AuditEntry(
        kind=AuditKind.DISCLOSURE,
        occurred_at=decided.decided_at,
        actor=HUB_ACTOR,
        agency=HUB_ACTOR,
        person_id=decided.person_id,
        event_id=decided.event_id,
        source=decided.source,
        recipient_id=decided.recipient_id,
        fields=decided.fields,
        rules=decided.rules,
        purpose=purpose,
        legal_basis=basis,
        policy_version=decided.policy_version,
        outcome="disclosed",
        state="pending",
        details=details,
    )


def denial(refused: DisclosureDenial, row: Mapping[str, Any] | None = None) -> AuditEntry:
    """The router refused a candidate recipient a notification (the rules considered; the
    reasons are the policy's own words about rules and conditions, not about the person).
    `row`: the disclosure_denials row as written, whose digests the entry carries."""
    return _denial(
        refused,
        None if row is None else row_evidence(row),
        _joined(refused.purposes),
        _citations(refused.legal_bases),
    )


def _denial(
    refused: DisclosureDenial, evidence: RowEvidence | None, purpose: str | None, basis: str | None
) -> AuditEntry:
    details: dict[str, JsonValue] = {
        "denial_id": refused.denial_id,
        "event_type": refused.event_type,
        "event_position": refused.event_position,
        "trigger_position": refused.trigger_position,
        "reasons": [reason[:200] for reason in refused.reasons[:10]],
    }
    if evidence is not None:
        details |= evidence.as_details()
    return AuditEntry(
        kind=AuditKind.DISCLOSURE,
        occurred_at=refused.decided_at,
        actor=HUB_ACTOR,
        agency=HUB_ACTOR,
        person_id=refused.person_id,
        event_id=refused.event_id,
        source=refused.source,
        recipient_id=refused.recipient_id,
        rules=refused.rules,
        purpose=purpose,
        legal_basis=basis,
        policy_version=refused.policy_version,
        outcome="denied",
        details=details,
    )


class DecisionEntries:
    """The entries of many decisions, as `disclosure` and `denial` make them, byte for byte,
    with what decisions repeat worked out once: the digests of the columns they share
    (`RememberedDigests`), and the purposes and citations of the same rules. Keep one per
    batch of decisions (it remembers what it saw)."""

    __slots__ = ("_citations", "_digests", "_joined")

    def __init__(self) -> None:
        self._digests = RememberedDigests()
        self._joined: dict[tuple[str, ...], str | None] = {}
        self._citations: dict[tuple[str, ...], str | None] = {}

    def _purpose(self, purposes: tuple[str, ...]) -> str | None:
        if purposes not in self._joined:
            self._joined[purposes] = _joined(purposes)
        return self._joined[purposes]

    def _basis(self, legal_bases: tuple[str, ...]) -> str | None:
        if legal_bases not in self._citations:
            self._citations[legal_bases] = _citations(legal_bases)
        return self._citations[legal_bases]

    def disclosure(self, decided: Disclosure, row: Mapping[str, Any]) -> AuditEntry:
        """`disclosure(decided, row)`."""
        return _disclosure(
            decided,
            self._digests.row_evidence(row),
            self._purpose(decided.purposes),
            self._basis(decided.legal_bases),
        )

    def denial(self, refused: DisclosureDenial, row: Mapping[str, Any]) -> AuditEntry:
        """`denial(refused, row)`."""
        return _denial(
            refused,
            self._digests.row_evidence(row),
            self._purpose(refused.purposes),
            self._basis(refused.legal_bases),
        )


def delivery(
    *,
    disclosure_id: str,
    person_id: str,
    event_id: str,
    source: str,
    recipient_id: str,
    fields: Sequence[str],
    channel: str,
    state: str,
    at: datetime,
    actor: str = HUB_ACTOR,
    agency: str = HUB_ACTOR,
    details: Mapping[str, JsonValue] | None = None,
) -> AuditEntry:
    """An attempt to transfer a disclosure to its recipient's system, and what became of it
    (`state`: delivered, retrying, failed, cancelled), or a replay someone asked for (`replayed`,
    with that person or client as the actor)."""
    return AuditEntry(
        kind=AuditKind.DELIVERY,
        occurred_at=at,
        actor=actor,
        agency=agency,
        person_id=person_id,
        event_id=event_id,
        source=source,
        recipient_id=recipient_id,
        fields=tuple(fields),
        outcome=channel,
        state=state,
        details={"disclosure_id": disclosure_id, **(details or {})},
    )


def acknowledgement(
    *,
    disclosure_id: str,
    person_id: str,
    event_id: str,
    source: str,
    recipient_id: str,
    client_id: str,
    at: datetime,
    on_time: bool | None,
) -> AuditEntry:
    """The recipient confirmed it received a disclosure."""
    return AuditEntry(
        kind=AuditKind.ACKNOWLEDGEMENT,
        occurred_at=at,
        actor=client_id,
        agency=recipient_id,
        person_id=person_id,
        event_id=event_id,
        source=source,
        recipient_id=recipient_id,
        outcome="acknowledged",
        state="acknowledged",
        details={
            "disclosure_id": disclosure_id,
            "on_time": "unbounded" if on_time is None else ("yes" if on_time else "late"),
        },
    )


class Consulted:
    """A read of personal data the API served: who read what about whom, and why."""

    __slots__ = ("event_id", "fields", "person_id", "recipient_id", "source", "what")

    def __init__(
        self,
        what: str,
        *,
        person_id: str | None = None,
        event_id: str | None = None,
        source: str | None = None,
        recipient_id: str | None = None,
        fields: Sequence[str] = (),
    ) -> None:
        self.what = what
        self.person_id = person_id
        self.event_id = event_id
        self.source = source
        self.recipient_id = recipient_id
        self.fields = tuple(fields)


def consultation(
    consulted: Consulted,
    *,
    client_id: str,
    agency: str,
    purpose: str,
    at: datetime,
    query: Mapping[str, JsonValue] | None = None,
) -> AuditEntry:
    """`client_id` read personal data (`consulted.what`, e.g. `event`, `audit.history`) for the
    purpose it declared."""
    details: dict[str, JsonValue] = {"what": consulted.what}
    if query:
        details["query"] = dict(query)
    return AuditEntry(
        kind=AuditKind.CONSULTATION,
        occurred_at=at,
        actor=client_id,
        agency=agency,
        person_id=consulted.person_id,
        event_id=consulted.event_id,
        source=consulted.source,
        recipient_id=consulted.recipient_id,
        fields=consulted.fields,
        purpose=purpose,
        outcome="read",
        details=details,
    )


def erasure(
    *,
    person_id: str,
    event_id: str,
    source: str,
    event_type: str,
    fields: Sequence[str],
    rule: str,
    actor: str,
    at: datetime,
    recorded_at: datetime,
    row: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Personal data was erased at the end of its retention: which event and which fields
    (names only: the entry never holds what was erased). `row`: the event_erasures row as
    written (its `position` is the event's), whose digests the entry carries."""
    details: dict[str, JsonValue] = {
        "event_type": event_type,
        "recorded_at": recorded_at.isoformat(),
    }
    if row is not None:
        details["position"] = int(row["position"])
        details |= row_evidence(row).as_details()
    return AuditEntry(
        kind=AuditKind.ERASURE,
        occurred_at=at,
        actor=actor,
        agency=HUB_ACTOR,
        person_id=person_id,
        event_id=event_id,
        source=source,
        fields=tuple(fields),
        rules=(rule,),
        outcome="erased",
        details=details,
    )


def restriction_changed(
    *,
    person_id: str,
    restriction_id: str,
    ground: str,
    change: str,
    actor: str,
    agency: str,
    at: datetime,
) -> AuditEntry:
    """A restriction on what a subject access report may disclose was placed or lifted."""
    return AuditEntry(
        kind=AuditKind.ALTERATION,
        occurred_at=at,
        actor=actor,
        agency=agency,
        person_id=person_id,
        outcome=f"restriction-{change}",
        details={"restriction_id": restriction_id, "ground": ground},
    )
