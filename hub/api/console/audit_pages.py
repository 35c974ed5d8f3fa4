"""The audit status page: the latest signed checkpoint of the audit log (its tree size, when it
was signed, by which key, where it was published outside the database) and the latest recorded
run of `hub audit verify` (when and where it ran, how far it checked, what it found).

The page never verifies the log itself: a verification of the whole log takes about 32 s per
million entries (issue 19's figure), far too long for a request on the API's event loop. It is
run on a schedule instead (deploy/kubernetes's CronJob, or cron on the hub's host), and each run
is recorded (`hub.services.audit_verification_runs`). The page says plainly when no run has been
recorded, when the latest is older than `STALE_AFTER`, and when it FAILED.

The page shows no personal data (sizes, positions, hashes, key ids, and a failure's check and
message; the failing entry itself is left to `hub audit verify`), so it records no consultation.
The dpo and operator roles see it.
"""

from __future__ import annotations

import base64
import binascii
import logging
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from hub.api.console.rendering import page, signed_in_or_answer
from hub.api.console.roles import HubRole
from hub.api.deps import ContainerDep
from hub.domain.audit.checkpoint import SIGNATURE_PREFIX

logger = logging.getLogger("hub.console")

router = APIRouter(include_in_schema=False)

#: Who may see the audit status page.
AUDIT_STATUS_ROLES = frozenset({HubRole("dpo"), HubRole("operator")})
#: A run older than this is shown as out of date (the CronJob runs every hour).
STALE_AFTER = timedelta(days=1)


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


@router.get("/console/audit", name="console_audit_status")
async def audit_status(request: Request, container: ContainerDep) -> Response:
    console, viewer = signed_in_or_answer(
        request, AUDIT_STATUS_ROLES, "Data protection officer or Operator", "the audit status page"
    )
    if isinstance(viewer, Response):
        return viewer
    checkpoint = await container.audit_trail.latest_checkpoint()
    run = await container.audit_verification_runs().latest()
    return page(
        request,
        console,
        "audit_status.html",
        person=viewer.person,
        checkpoint=checkpoint,
        signers=[] if checkpoint is None else signers_of(checkpoint.note),
        published_to=str(container.audit_checkpoints.path),
        run=run,
        stale=run is not None and run.older_than(STALE_AFTER, datetime.now(UTC)),
        stale_after_hours=STALE_AFTER.total_seconds() / 3600,
    )
