"""Who may see a MAPPA region's oversight pages: a co-ordinator of that region (the role
`mappa-coordinator:<region>`, a directory recipient id), nobody else; and which agencies a
region's figures cover."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from hub.api.console.rendering import signed_in_or_answer
from hub.api.console.roles import HubRole
from hub.api.console.runtime import Console
from hub.api.console.sessions import ConsoleSession, SignedInPerson
from hub.domain.policy.directory import Directory

COORDINATOR = "mappa-coordinator"


def regions_of(person: SignedInPerson) -> list[str]:
    """The regions the person co-ordinates, sorted."""
    return sorted(role.region for role in person.roles if role.name == COORDINATOR and role.region)


def coordinator_or_answer(
    request: Request, region: str
) -> tuple[Console, ConsoleSession | Response]:
    """The console and the signed-in co-ordinator of `region`, or the answer to send instead:
    the sign-in page when nobody is signed in, the refused page to anyone else (a co-ordinator
    of another region included; nothing about `region` is read)."""
    return signed_in_or_answer(
        request,
        {HubRole("mappa-coordinator", region)},
        "MAPPA co-ordinator of this region",
        "the MAPPA pages of a region",
    )


def region_agencies(directory: Directory, region: str) -> dict[str, str]:
    """The agencies (id: name) whose figures a region's co-ordinator sees: the region's own
    recipient and every recipient that serves council areas of the region only. A body that
    also serves areas outside the region (a national one) is left out: its figures are not
    per area, so they would show other regions' work."""
    own = directory.get(region)
    if own is None or own.role != COORDINATOR:
        return {}
    found = {own.id: own.name}
    for recipient in directory.recipients.values():
        if recipient.areas and recipient.areas <= own.areas:
            found[recipient.id] = recipient.name
    return dict(sorted(found.items(), key=lambda item: item[1]))
