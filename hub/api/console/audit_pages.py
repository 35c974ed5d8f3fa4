"""The audit status page: the latest signed checkpoint of the audit log (its tree size, when it
was signed, by which key, where it was published outside the database) and the result of
verifying the log against it, run for the page, with when it ran and how long it took.

Verification results are not stored anywhere, so the page runs the verification itself: the
same `AuditVerifier.verify` that `hub audit verify` runs (every leaf recomputed from the stored
entries, every signed checkpoint checked, then the latest checkpoint published outside the
database). It is bounded: after `VERIFY_BUDGET_SECONDS` it is stopped and the page says it did
not finish, and never says "verified" for a log it did not verify. At about 32 s per million
entries (issue 19's figure for `hub audit verify`) the budget covers some 300,000 entries; a
larger log is verified with the CLI.

The page shows no personal data (sizes, hashes, key ids, and a failure's check and message; the
failing entry itself is left to `hub audit verify`), so it records no consultation. The dpo and
operator roles see it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from hub.api.console.rendering import console_of, page, protect, session_of
from hub.api.console.roles import HubRole
from hub.api.console.runtime import Console
from hub.api.console.sessions import ConsoleSession
from hub.api.deps import ContainerDep
from hub.bootstrap import Container
from hub.domain.audit.checkpoint import SIGNATURE_PREFIX
from hub.domain.audit.verification import VerificationReport

logger = logging.getLogger("hub.console")

router = APIRouter(include_in_schema=False)

#: Who may see the audit status page.
AUDIT_STATUS_ROLES = frozenset({HubRole("dpo"), HubRole("operator")})
#: How long the page lets the verification run before it stops it and says so.
VERIFY_BUDGET_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Verification:
    """One run of the verification for the page: when it began, how long it took, and what it
    found (None: it did not finish within the budget)."""

    began_at: datetime
    seconds: float
    report: VerificationReport | None


def signers_of(note: str) -> list[str]:
    """The key ids (`name+hex key hash`) of a signed note's signature lines, as
    `hub audit public-key` prints the start of a verifier key."""
    split = note.rfind("\n\n")
    found: list[str] = []
    if split < 0:
        return found
    for line in note[split + 2 :].splitlines():
        if not line.startswith(SIGNATURE_PREFIX):
            continue
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        try:
            signature = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(signature) >= 4:
            found.append(f"{name}+{signature[:4].hex()}")
    return found


def _viewer_or_answer(request: Request) -> tuple[Console, ConsoleSession | Response]:
    console = console_of(request)
    session = session_of(request, console)
    if session is None:
        home = RedirectResponse(str(request.url_for("console_home")), status_code=303)
        return console, protect(home, console)
    if not AUDIT_STATUS_ROLES & session.person.roles:
        logger.info("console: subject %s refused the audit status page", session.person.subject)
        return console, page(
            request,
            console,
            "forbidden.html",
            status_code=403,
            person=session.person,
            needed="Data protection officer or Operator",
        )
    return console, session


async def _verify(container: Container) -> Verification:
    began_at = datetime.now(UTC)
    started = time.monotonic()
    try:
        report: VerificationReport | None = await asyncio.wait_for(
            container.audit_verifier().verify(), VERIFY_BUDGET_SECONDS
        )
    except TimeoutError:
        report = None
    seconds = time.monotonic() - started
    if report is None:
        logger.warning("console: the audit verification did not finish in %.0f s", seconds)
    elif report.failure is not None:
        logger.error(
            "console: the audit log FAILED verification (%s): %s",
            report.failure.check,
            report.failure.message,
        )
    return Verification(began_at, seconds, report)


@router.get("/console/audit", name="console_audit_status")
async def audit_status(request: Request, container: ContainerDep) -> Response:
    console, viewer = _viewer_or_answer(request)
    if isinstance(viewer, Response):
        return viewer
    checkpoint = await container.audit_trail.latest_checkpoint()
    verification = await _verify(container)
    return page(
        request,
        console,
        "audit_status.html",
        person=viewer.person,
        checkpoint=checkpoint,
        signers=[] if checkpoint is None else signers_of(checkpoint.note),
        published_to=str(container.audit_checkpoints.path),
        verification=verification,
        budget=VERIFY_BUDGET_SECONDS,
    )
