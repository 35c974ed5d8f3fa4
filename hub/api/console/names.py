"""Human-readable names for the ids the audit trail records: agencies and recipients by the
policy bundle's directory, agency clients by the name they were registered with, people who
used the console by the name their identity provider gave, the hub itself as "the hub"."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hub.api.console.officer import console_person_name
from hub.domain.audit.builders import HUB_ACTOR
from hub.services.clients import ClientRepository

HUB_NAME = "The hub (automatic)"


@dataclass(frozen=True, slots=True)
class Names:
    """Names for the agencies and actors of a set of audit entries."""

    agencies: Mapping[str, str]
    actors: Mapping[str, str]

    def agency(self, agency_id: str | None) -> str:
        if not agency_id:
            return ""
        if agency_id == HUB_ACTOR:
            return HUB_NAME
        return self.agencies.get(agency_id, agency_id)

    def actor(self, actor: str) -> str:
        if actor == HUB_ACTOR:
            return HUB_NAME
        return self.actors.get(actor, actor)


async def names_for(
    actors: Iterable[str],
    recipients: Mapping[str, str],
    clients: ClientRepository,
) -> Names:
    """Names for these actors; `recipients` maps the directory's ids to their names. An id with
    no name (a client since removed) is shown as it is."""
    found: dict[str, str] = {}
    for actor in set(actors) - {HUB_ACTOR}:
        person = console_person_name(actor)
        if person is not None:
            found[actor] = f"{person} (console)"
            continue
        client = await clients.get(actor)
        if client is not None:
            agency = recipients.get(client.agency, client.agency)
            found[actor] = f"{client.name} ({agency})"
    return Names(agencies=recipients, actors=found)
