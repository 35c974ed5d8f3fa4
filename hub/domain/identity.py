"""One identity per scheme: which new identifiers would give a person a second value of a
single-valued scheme (`hub.domain.notifications.SCHEMES`), and which of the person's identifiers
a record that follows them carries. The subject index refuses a second value the way it refuses
identifiers of two people: a second SPS number is a duplicate record or a wrong identifier, and
linking it would send the person's records to whoever holds it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from hub.domain.notifications import SCHEMES, Notification, PersonIdentifier
from hub.domain.policy.redaction import covers

__all__ = [
    "SecondValue",
    "schemes_of",
    "second_values",
    "supplied_identifiers",
    "with_supplied",
]


@dataclass(frozen=True, slots=True, order=True)
class SecondValue:
    """A new identifier, and the value the person already holds in the same slot."""

    new: PersonIdentifier
    held: PersonIdentifier

    @property
    def scheme(self) -> str:
        return self.new.scheme

    def describe(self) -> str:
        """The scheme, as a conflict may name it to the publisher (no value: the held one is
        another record's)."""
        declared = SCHEMES.get(self.scheme)
        return self.scheme if declared is None else declared.describe()


def second_values(
    new: Iterable[PersonIdentifier], held: Iterable[PersonIdentifier]
) -> list[SecondValue]:
    """Each identifier of `new` that a person holding `held` may not be given, because they (or
    an earlier identifier of `new`) already fill its slot with another value; sorted.

    Identifiers in `new` that are already in `held` are not new and never conflict, so a
    person who (from before schemes were single-valued) holds two values keeps them."""
    slots: dict[str, PersonIdentifier] = {}
    held_set = set(held)
    for identifier in sorted(held_set):
        slot = identifier.slot
        if slot is not None:
            slots.setdefault(slot, identifier)
    found: list[SecondValue] = []
    for identifier in dict.fromkeys(new):
        if identifier in held_set:
            continue
        slot = identifier.slot
        if slot is None:
            continue
        taken = slots.get(slot)
        if taken is not None and taken != identifier:
            found.append(SecondValue(identifier, taken))
        else:
            slots[slot] = identifier
    return sorted(found)


def schemes_of(found: Sequence[SecondValue]) -> tuple[str, ...]:
    """The schemes `found` names, once each, in order."""
    return tuple(sorted({f.scheme for f in found}))


def supplied_identifiers(
    notification: Notification, fields: Sequence[str], held: Iterable[PersonIdentifier]
) -> dict[str, str]:
    """The identifiers the hub adds, from the person index (`held`: what it holds for the
    person), to a record that follows the person: each single-valued scheme whose field
    (`identifiers.<scheme>`) the disclosure grants and the notification lacks, so that the
    receiving establishment can match it (a social work risk assessment carries no SPS number).

    A qualified scheme (one social work client id per council) is never supplied: which
    council's id would be the recipient's to match is not the router's to guess. Nor is a
    scheme the person holds two values of (from before schemes were single-valued)."""
    sent = {i.scheme for i in notification.identifiers}
    values: dict[str, set[str]] = {}
    for identifier in held:
        values.setdefault(identifier.scheme, set()).add(identifier.value)
    supplied: dict[str, str] = {}
    for name, scheme in SCHEMES.items():
        if not scheme.single_valued or scheme.qualified or name in sent:
            continue
        found = values.get(name, set())
        if len(found) != 1:
            continue
        if any(covers(granted, f"identifiers.{name}") for granted in fields):
            supplied[name] = next(iter(found))
    return supplied


def with_supplied(notification: Notification, supplied: Mapping[str, str]) -> Notification:
    """`notification` carrying the identifiers a disclosure supplied (`supplied_identifiers`)
    besides its own: what the payload builders redact for the recipient."""
    if not supplied:
        return notification
    own = {i.scheme for i in notification.identifiers}
    added = tuple(
        PersonIdentifier(scheme, value)
        for scheme, value in sorted(supplied.items())
        if scheme not in own
    )
    return replace(notification, identifiers=(*notification.identifiers, *added))
