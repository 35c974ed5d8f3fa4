"""Who may see a MAPPA region's oversight pages: a co-ordinator of that region (the role
`mappa-coordinator:<region>`, a directory recipient id), nobody else; and which agencies a
region's figures cover."""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from hub.api.console.rendering import console_of, page, protect, session_of
from hub.api.console.runtime import Console
from hub.api.console.sessions import ConsoleSession, SignedInPerson
from hub.domain.policy.directory import Directory

logger = logging.getLogger("hub.console")

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
    console = console_of(request)
    session = session_of(request, console)
    if session is None:
        home = RedirectResponse(str(request.url_for("console_home")), status_code=303)
        return console, protect(home, console)
    if region not in regions_of(session.person):
        logger.info(
            "console: subject %s refused the MAPPA pages of a region", session.person.subject
        )
        return console, page(
            request,
            console,
            "forbidden.html",
            status_code=403,
            person=session.person,
            needed="MAPPA co-ordinator of this region",
        )
    return console, session


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
