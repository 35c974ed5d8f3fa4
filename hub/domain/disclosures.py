"""The router's records, shared by the routing service and the stores that keep them: a
disclosure (a recipient entitled to a notification), a denial (a candidate refused), and the
batch of both that one routing transaction records with the person profiles it advanced."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from hub.domain.person import PersonProfile

if TYPE_CHECKING:
    from hub.domain.reviews import Proposal

__all__ = ["Disclosure", "DisclosureDenial", "RoutedBatch"]


@dataclass(frozen=True, slots=True)
class Disclosure:
    """A recipient is entitled to (these fields of) a notification, by these rules."""

    disclosure_id: str
    event_position: int
    event_id: str
    source: str
    event_type: str
    person_id: str
    recipient_id: str
    fields: tuple[str, ...]
    rules: tuple[str, ...]
    purposes: tuple[str, ...]
    legal_bases: tuple[str, ...]
    policy_version: str
    #: The position of the profile the decision was judged with.
    profile_position: int
    #: The event that caused the decision: the notification itself, or, when its record
    #: followed the person, the admission or transfer that received them.
    trigger_position: int
    acknowledge_within: timedelta | None
    decided_at: datetime
    #: Identifiers the hub supplied from its person index for a record that follows the person
    #: (`hub.domain.identity.supplied_identifiers`): scheme -> value, beside the notification's.
    supplied_identifiers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DisclosureDenial:
    """A candidate recipient was refused a notification: the rules considered, and why."""

    denial_id: str
    event_position: int
    event_id: str
    source: str
    event_type: str
    person_id: str
    recipient_id: str
    rules: tuple[str, ...]
    reasons: tuple[str, ...]
    #: Refused by forbid rules: their purposes and legal-basis citations (the grounds of the
    #: refusal); () when no rule applied and the default denial decided.
    purposes: tuple[str, ...]
    legal_bases: tuple[str, ...]
    policy_version: str
    profile_position: int
    trigger_position: int
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class RoutedBatch:
    """What routing the events after `after` up to `through` decided, to be recorded at once."""

    after: int
    through: int
    #: The profiles of the people the batch's events are about, as of `through`.
    profiles: tuple[PersonProfile, ...]
    disclosures: tuple[Disclosure, ...]
    denials: tuple[DisclosureDenial, ...]
    #: Permitted decisions held for case-by-case review (`hub.domain.reviews`): not delivered.
    proposals: tuple[Proposal, ...] = ()
