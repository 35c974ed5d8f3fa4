"""FastAPI dependencies, as `Annotated` aliases routes can declare."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, Request

from hub.api.security import Caller, scoped
from hub.api.streams import FeedStreams
from hub.bootstrap import Container
from hub.errors import InvalidInput
from hub.services.audit_queries import Principal, check_purpose
from hub.services.feed import NOTIFICATION_VERSIONS

# The dependencies that only read something are `async def`: FastAPI runs a plain `def`
# dependency in a worker thread, a thread hop per dependency per request for nothing.


async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def get_streams(request: Request) -> FeedStreams:
    streams: FeedStreams = request.app.state.streams
    return streams


#: This process's open feed streams: their per-client limit and their guards.
StreamsDep = Annotated[FeedStreams, Depends(get_streams)]
Publisher = Annotated[Caller, scoped("events:publish")]
EventReader = Annotated[Caller, scoped("events:read")]
#: An agency reading what was disclosed to it (its feed, its disclosures, acknowledgements).
FeedReader = Annotated[Caller, scoped("feed:read")]
#: A data protection officer (or auditor) querying the audit trail.
AuditReader = Annotated[Caller, scoped("audit:read")]
#: Anyone verifying the audit trail: signed checkpoints and Merkle proofs (hashes only).
AuditVerifier = Annotated[Caller, scoped("audit:verify")]
#: A data protection officer restricting what a subject access report discloses.
AuditRestricter = Annotated[Caller, scoped("audit:restrict")]


async def declared_purpose(
    x_purpose: Annotated[
        str | None,
        Header(
            description="Why the caller reads this personal data; recorded in the audit trail "
            "with the read (required for audit queries)",
            max_length=200,
        ),
    ] = None,
) -> str | None:
    return check_purpose(_utf8_header(x_purpose, "X-Purpose"), required=False)


def _utf8_header(value: str | None, name: str) -> str | None:
    """A header's text as the client wrote it in UTF-8. The ASGI server hands header bytes over
    as Latin-1 (RFC 9110 keeps them opaque), which would store "Sìne" as "SÃ¬ne"; bytes that are
    not UTF-8 are refused rather than guessed at."""
    if value is None:
        return None
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"{name} is not UTF-8 text (byte {error.start + 1})") from error


#: The purpose the caller declares for a read of personal data (the `X-Purpose` header).
Purpose = Annotated[str | None, Depends(declared_purpose)]


def principal(caller: Caller) -> Principal:
    return Principal(caller.client_id, caller.agency)


#: The shape of each delivered `notification` the reader asks for (`hub.services.feed`): 2, a
#: CloudEvents 1.0 event; 1, the redacted envelope of readers written before it.
NotificationVersion = Annotated[
    int,
    Query(
        ge=min(NOTIFICATION_VERSIONS),
        le=max(NOTIFICATION_VERSIONS),
        description="The notification's shape: 2 (default), a CloudEvents 1.0 structured event; "
        "1, the redacted envelope (`identifiers` as one object), kept for readers written "
        "against it (docs/cloudevents.md)",
    ),
]
