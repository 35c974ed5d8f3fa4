"""The signed-in person as the audit trail records them when they consult personal data through
the console: the same `Principal` an API client is, with their OpenID subject and name as the
actor and the agency their ID token names (`hub.api.console.agencies`) as the agency."""

from __future__ import annotations

import re

from hub.api.console.sessions import SignedInPerson
from hub.services.audit_queries import Principal

#: Where an actor in the trail is a person signed in to the console, not an agency's client.
CONSOLE_ACTOR_PREFIX = "console:"
_ACTOR = re.compile(r"console:(?P<subject>[^ ]+) \((?P<name>.*)\)", re.DOTALL)
_NOT_TEXT = re.compile(r"[\x00-\x1f\x7f]")


def principal_of(person: SignedInPerson) -> Principal:
    """`console:<subject> (<name>)` acting for their agency: the subject identifies the person
    for good, the name lets a reader of the raw trail or its CSV see who it was without looking
    the subject up."""
    name = _NOT_TEXT.sub(" ", person.name)[:200]
    subject = _NOT_TEXT.sub("", person.subject).replace(" ", "_")[:200]
    return Principal(client_id=f"{CONSOLE_ACTOR_PREFIX}{subject} ({name})", agency=person.agency)


def console_person_name(actor: str) -> str | None:
    """The name of the console user an actor string records, or None if not a console user."""
    found = _ACTOR.fullmatch(actor)
    return None if found is None else found["name"]
