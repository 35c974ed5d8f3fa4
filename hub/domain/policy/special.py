"""The engine's one generic guard on special-category data (DPA 2018 s35(8), UK GDPR Art 9):
whatever a rule grants, a special-category value reaches a recipient only with the person's
recorded consent or a justification recorded in the legal basis of a rule granting it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from hub.domain.policy.categories import CategoryIndex, special_values, without
from hub.domain.policy.redaction import covers

#: The categories the person's recorded consent (`profile.health_consent`) covers.
CONSENTED: Final = frozenset({"health"})


@dataclass(frozen=True, slots=True)
class Grant:
    """What one permit rule grants this recipient, and whether its basis justifies special
    categories (`categories.justifies_special`)."""

    rule_id: str
    fields: tuple[str, ...]
    justified: bool


@dataclass(frozen=True, slots=True)
class Guarded:
    """The fields the recipient may have, and the special-category paths withheld from it,
    each as `path (categories)`."""

    fields: tuple[str, ...]
    withheld: tuple[str, ...]

    @property
    def data_left(self) -> bool:
        return any(f == "data" or f.startswith("data.") for f in self.fields)


def guard(
    index: CategoryIndex,
    event_type: str,
    document: Mapping[str, Any],
    grants: Sequence[Grant],
    *,
    health_consent: bool,
    special: Mapping[str, frozenset[str]] | None = None,
) -> Guarded:
    """The fields of `grants` less the special-category values of `document` (an envelope)
    that neither consent nor a justified grant covers. `special`: the document's
    `special_values`, when the caller has them already."""
    granted = sorted({f for grant in grants for f in grant.fields})
    consented = CONSENTED if health_consent else frozenset()
    withheld: dict[str, frozenset[str]] = {}
    if special is None:
        special = special_values(index, event_type, document)
    for path, categories in special.items():
        if not any(covers(field, path) for field in granted):
            continue
        if not categories - consented:
            continue
        if any(g.justified and any(covers(f, path) for f in g.fields) for g in grants):
            continue
        withheld[path] = categories
    if not withheld:
        return Guarded(tuple(granted), ())
    return Guarded(
        without(index, event_type, granted, withheld),
        tuple(f"{path} ({', '.join(sorted(c))})" for path, c in sorted(withheld.items())),
    )
