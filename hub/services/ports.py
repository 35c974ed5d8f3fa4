"""The narrow interfaces application services need from infrastructure.

Each port has one implementation per backend (PostgreSQL, SQLite) that passes one shared contract
test suite (`tests/integration/store_contract.py`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import timedelta
from typing import Any, Protocol

from hub.domain.disclosures import RoutedBatch
from hub.domain.notifications import (
    AppendResult,
    Notification,
    PersonIdentifier,
    Publisher,
    StoredEvent,
)
from hub.domain.person import Authorities, PersonProfile
from hub.domain.policy.review import ReviewRequest


class EventStore(Protocol):
    """The append-only event store: every notification, forever, in one global order."""

    async def append(
        self,
        notifications: Sequence[Notification],
        *,
        publisher: Publisher,
        expected_version: int | None = None,
    ) -> list[AppendResult]:
        """Store the notifications in one transaction, all or nothing, with the subject index.

        Each notification's person is resolved from its identifiers (a new person when none is
        known; `IdentifierConflict` when they belong to different people, or when linking them
        would give the person a second value of a single-valued scheme, `kind` saying which) and
        its identifiers are linked. A notification whose (source, id) is already stored with the
        same content is not stored again: its result has `duplicate=True` and the first's
        position. The same key with
        different content raises `EventIdReused`. With `expected_version`, every notification
        must resolve to one person whose stream is at that version (0: no events yet), else
        `StreamVersionConflict`. Results are in input order.
        """
        ...

    async def read_all(
        self, after: int = 0, limit: int = 1000, *, sealed: bool = False
    ) -> list[StoredEvent]:
        """Events with position > `after`, in position order, at most `limit`.

        Never skips: an event that commits later never appears at a position at or below one
        this call has already returned. Followers keep the last position they processed.

        Sensitive fields are opened (plaintext; those under destroyed keys left out), unless
        `sealed`: then they stay as stored, `{"$pph.enc": ...}`, for whatever carries events
        out of the hub's database (the outbox relay) and must not carry plaintext.
        """
        ...

    async def read_stream(self, person_id: str, after_version: int = 0) -> list[StoredEvent]:
        """One person's events with stream version > `after_version`, in version order."""
        ...

    async def read_streams(self, person_ids: Collection[str]) -> dict[str, list[StoredEvent]]:
        """Each of these people's events in version order, read at once (a person with no
        events is left out)."""
        ...

    async def get(self, source: str, event_id: str) -> StoredEvent | None:
        """The event stored under (source, id), if any."""
        ...

    async def find_published(self, event_id: str, agency: str) -> list[StoredEvent]:
        """Events with this id that clients of `agency` published (ids are unique per source)."""
        ...

    async def resolve_person(self, identifiers: Sequence[PersonIdentifier]) -> str | None:
        """The person id that any of these identifiers is linked to, if one is known;
        `IdentifierConflict` where `append` would refuse them (two people, or a second value of
        a single-valued scheme)."""
        ...

    async def identifiers_of(self, person_id: str) -> list[PersonIdentifier]:
        """Every identifier linked to this person."""
        ...

    async def last_position(self) -> int:
        """The highest position a follower may read up to now (0 when the store is empty)."""
        ...

    async def count(self) -> int:
        """How many events are stored."""
        ...


class PolicyDecision(Protocol):
    """The policy engine's decision for one recipient of one notification (what
    `hub.domain.policy.RecipientDecision` holds)."""

    @property
    def recipient_id(self) -> str: ...
    @property
    def permitted(self) -> bool: ...
    @property
    def fields(self) -> Sequence[str]: ...
    @property
    def rules(self) -> Sequence[str]: ...
    @property
    def purposes(self) -> Sequence[str]: ...
    @property
    def legal_bases(self) -> Sequence[str]: ...
    @property
    def acknowledge_within(self) -> timedelta | None: ...
    @property
    def reasons(self) -> Sequence[str]: ...
    @property
    def review(self) -> ReviewRequest | None:
        """Permitted under a reviewed rule: who must approve it first (a proposal)."""
        ...


class PolicyEvaluation(Protocol):
    """Every candidate recipient's decision on one notification, and the policy that made them."""

    @property
    def policy_version(self) -> str: ...
    @property
    def decisions(self) -> Sequence[PolicyDecision]: ...


class PolicyEngine(Protocol):
    """The sharing rules in force (`hub.domain.policy.PolicyBundle`): who may receive what."""

    @property
    def version(self) -> str:
        """The content hash of the policy bundle, recorded with every decision."""
        ...

    @property
    def statuses(self) -> Authorities:
        """Which sources may begin, lower and end each status (the bundle's statuses.yaml)."""
        ...

    def evaluate(
        self,
        notification: Notification,
        profile: Mapping[str, Any],
        *,
        follows_person_to: str | None = None,
    ) -> PolicyEvaluation:
        """Decide every candidate recipient of `notification`, judged with `profile` (the
        person's profile attributes once it was applied). With `follows_person_to`, only the
        rules whose records follow the person, for that receiving establishment."""
        ...


class RoutingStore(Protocol):
    """Where the router keeps person profiles, disclosures, denials and how far it got.

    Everything one batch decided is recorded in one transaction together with the consumer's
    checkpoint, and only if the checkpoint is still where the batch started: two routers never
    both record the same events, and a crash leaves either all of a batch or none of it.
    """

    async def checkpoint(self, consumer: str) -> int:
        """The position of the last event `consumer` recorded (0 before the first)."""
        ...

    async def profiles(self, person_ids: Collection[str]) -> dict[str, PersonProfile]:
        """The stored profiles of those people that have one."""
        ...

    async def all_profiles(self) -> list[PersonProfile]:
        """Every stored profile, by person id."""
        ...

    async def stored_profiles(self) -> list[Mapping[str, Any]]:
        """Every stored profile as stored (JSON, of any format), by person id: what a rebuild
        carries over (`hub.domain.person.survival`)."""
        ...

    async def record(self, consumer: str, batch: RoutedBatch) -> bool:
        """In one transaction: move `consumer`'s checkpoint from `batch.after` to
        `batch.through`, store the batch's profiles, disclosures and denials. False, with
        nothing written, when the checkpoint is no longer at `batch.after`."""
        ...

    async def replace_profiles(
        self, consumer: str, checkpoint: int, profiles: Sequence[PersonProfile]
    ) -> bool:
        """Replace every stored profile with `profiles` (folded up to `checkpoint`), in one
        transaction, if `consumer`'s checkpoint is still `checkpoint`; False otherwise."""
        ...
