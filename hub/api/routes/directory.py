"""The agency directory: `GET /v1/directory`, the recipients the hub can disclose to, their
roles and the council areas they serve, as the policy bundle's `directory.yaml` declares them,
so that an integrator need not parse the YAML. Any authenticated client may read it: it names
organisations, never people."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Security
from pydantic import BaseModel, Field

from hub.api.deps import ContainerDep
from hub.api.openapi import problems
from hub.api.security import Caller, authenticated_caller
from hub.errors import PermissionDenied
from hub.services.clients import SCOPES

router = APIRouter(prefix="/v1/directory", tags=["directory"])

#: Any scope will do: the directory is for every integrator.
ANY_SCOPE: dict[str, Any] = {"security": [{"agency_client": [scope]} for scope in SCOPES]}


class AreaView(BaseModel):
    gss: str = Field(description="The council area's GSS code, e.g. S12000049")
    name: str
    former_gss: list[str] = Field(description="Codes it was known by before")
    valid_from: date | None
    valid_to: date | None = Field(description="Exclusive; null: open")


class RecipientView(BaseModel):
    id: str = Field(description="What clients, rules and disclosures call it, e.g. `sps`")
    name: str
    role: str = Field(description="Its role, e.g. `social-work`, `police-division`")
    areas: list[str] = Field(description="GSS codes of the council areas it serves")
    valid_from: date | None
    valid_to: date | None = Field(description="Exclusive; null: open")


class DirectoryView(BaseModel):
    policy_version: str
    recipients: list[RecipientView]
    areas: list[AreaView]


async def any_client(
    # FastAPI lists these scopes as one requirement too, beside ANY_SCOPE's alternatives.
    caller: Caller = Security(authenticated_caller, scopes=list(SCOPES)),  # noqa: B008
) -> Caller:
    if not caller.scopes:
        raise PermissionDenied("the token grants no scope the client still holds")
    return caller


@router.get(
    "",
    response_model=DirectoryView,
    operation_id="getDirectory",
    responses=problems({403: "The token grants no scope the client still holds"}),
    openapi_extra=ANY_SCOPE,
)
async def get_directory(
    container: ContainerDep,
    caller: Caller = Security(any_client),  # noqa: B008
) -> DirectoryView:
    """Every recipient (id, name, role, areas served) and every council area, sorted by id."""
    directory = container.policy.directory
    return DirectoryView(
        policy_version=container.policy.version,
        recipients=[
            RecipientView(
                id=r.id,
                name=r.name,
                role=r.role,
                areas=sorted(r.areas),
                valid_from=r.validity.valid_from,
                valid_to=r.validity.valid_to,
            )
            for r in directory.recipients.values()
        ],
        areas=[
            AreaView(
                gss=a.gss,
                name=a.name,
                former_gss=sorted(a.former_gss),
                valid_from=a.validity.valid_from,
                valid_to=a.validity.valid_to,
            )
            for a in directory.areas.values()
        ],
    )
