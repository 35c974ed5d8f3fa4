"""`POST /v1/policy/explain`: why each candidate recipient would or would not receive a
notification, stored or hypothetical."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from hub.api.body import read_json
from hub.api.deps import ContainerDep, Purpose, principal
from hub.api.security import Caller, require_scopes
from hub.services.audit_records import Consulted

router = APIRouter(prefix="/v1/policy", tags=["policy"])

Explainer = Annotated[Caller, Depends(require_scopes("policy:explain"))]


@router.post("/explain")
async def explain(
    request: Request, container: ContainerDep, caller: Explainer, purpose: Purpose
) -> dict[str, Any]:
    """Body: `{"stored": {"source": …, "id": …}}` to explain the decision the hub made (with the
    profile as it stood at that notification), or `{"notification": {…}}` to ask what would
    happen to a notification that is not stored (nothing is stored by asking). The answer lists
    every candidate recipient, every rule on that event type — matched or not, and which
    condition failed — and the fields each candidate would be granted and withheld."""
    raw = await read_json(request, container.settings.max_request_bytes)
    answer = await container.explain.explain(raw)
    person_id = answer.get("person_id")
    if isinstance(person_id, str):
        # The answer shows the person's profile (and, for a stored notification, what it said).
        notification = answer.get("notification") or {}
        hypothetical = bool(answer.get("hypothetical"))
        await container.consultations.record(
            [
                Consulted(
                    "policy.explain",
                    person_id=person_id,
                    event_id=None if hypothetical else notification.get("id"),
                    source=None if hypothetical else notification.get("source"),
                    fields=("profile",),
                )
            ],
            principal(caller),
            purpose,
        )
    return answer
