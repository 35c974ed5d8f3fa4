"""Which unit a publisher may speak for: an establishment's client only about its own
establishment, a health board only about what it shares itself, a council's social work service
or MAPPA coordinator only for an area it serves. The `source` check binds the sender's name; this
binds what the body says, because routing follows the body (an admission is routed to the
establishment it names, whoever sent it).

Roles not bound here are national (SPS headquarters, `prison-service`; Police Scotland,
`police-national`; the Scottish Ministers, `licensing-authority`; the Parole Board; the courts,
`court-service`) or publish no event whose body names their own unit; their `source` alone
binds them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from hub.domain.policy.directory import Directory, Recipient
from hub.errors import FieldProblem


@dataclass(frozen=True, slots=True)
class Binding:
    """Publishers of `role` must be named by at least one of `fields` of the body that are
    present: by their id, or for `by_area`, by a council area they serve."""

    role: str
    fields: tuple[str, ...]
    by_area: bool = False


_SUPERVISING: Final = Binding("social-work", ("supervising_council_area",), by_area=True)

#: Per event type, the body fields naming the unit that records the occurrence. A transfer may
#: be recorded at either end; the other establishment fields (an admission's
#: `previous_establishment`, a recall's `liberating_establishment`) name someone else by design.
BINDINGS: Final[Mapping[str, tuple[Binding, ...]]] = {
    "custody.admission": (Binding("establishment", ("establishment",)),),
    "custody.liberation": (Binding("establishment", ("establishment",)),),
    "custody.temporary-release": (Binding("establishment", ("establishment",)),),
    "custody.transfer": (Binding("establishment", ("from_establishment", "to_establishment")),),
    "release.schedule1-notification": (Binding("establishment", ("notifying_establishment",)),),
    "health.information-shared": (Binding("health-board", ("health_board",)),),
    "mappa.referral": (Binding("social-work", ("referring_council_area",), by_area=True),),
    "mappa.level-changed": (Binding("mappa-coordinator", ("mappa_area",), by_area=True),),
    # A council's justice social work service speaks for the supervision it holds: either end of
    # a transfer, like an establishment's; a move (person.address-changed) may be to anywhere.
    "supervision.started": (_SUPERVISING,),
    "supervision.ended": (_SUPERVISING,),
    "supervision.transferred": (
        Binding("social-work", ("from_council_area", "to_council_area"), by_area=True),
    ),
    "licence.breach-reported": (_SUPERVISING,),
    "licence.expired": (_SUPERVISING,),
    "licence.varied": (_SUPERVISING,),
}


def unbound_fields(
    event_type: str, data: Mapping[str, Any], agency: str, directory: Directory
) -> list[FieldProblem]:
    """The body fields (JSON Pointers under `/data`) that name a unit other than the
    publishing agency's, when its role binds it for this event type; empty when it may publish."""
    recipient = directory.get(agency)
    if recipient is None:
        return []
    problems: list[FieldProblem] = []
    for binding in BINDINGS.get(event_type, ()):
        if binding.role != recipient.role:
            continue
        named = [(name, data[name]) for name in binding.fields if isinstance(data.get(name), str)]
        if not named or any(_names(value, recipient, binding, directory) for _, value in named):
            continue
        problems.extend(
            FieldProblem(f"/data/{name}", _why(recipient, binding)) for name, _ in named
        )
    return problems


def _names(value: str, recipient: Recipient, binding: Binding, directory: Directory) -> bool:
    if binding.by_area:
        return recipient in directory.serving(binding.role, value)
    return value == recipient.id


def _why(recipient: Recipient, binding: Binding) -> str:
    if binding.by_area:
        areas = ", ".join(sorted(recipient.areas))
        return f"names an area that {recipient.id} does not serve ({areas})"
    return f"must name {recipient.id}, the publishing {binding.role.replace('-', ' ')}"


def describe(problems: Sequence[FieldProblem], agency: str) -> str:
    fields = ", ".join(p.pointer for p in problems)
    return (
        f"agency {agency} may publish only about its own unit: {fields} "
        f"{problems[0].message}; nothing was stored"
    )
