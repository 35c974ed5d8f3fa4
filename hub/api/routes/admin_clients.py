"""Client administration: `/v1/admin/clients`, for the hub operator (scope `clients:manage`,
which only a client of `hub-operator` may hold). The same use cases as `hub clients`
(`hub.services.client_admin`); every change is in the audit trail, and a secret is shown once,
in the answer that made it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from hub.api.body import parse_body, read_json
from hub.api.deps import ContainerDep
from hub.api.openapi import json_body, problems
from hub.api.security import Caller, require_scopes
from hub.auth.client_keys import public_jwks
from hub.errors import FieldProblem, InvalidRequest
from hub.services.client_admin import Operator, auth_method, field, key_ids
from hub.services.clients import CLIENTS_MANAGE, RegisteredClient

router = APIRouter(prefix="/v1/admin/clients", tags=["admin"])


ClientManager = Annotated[Caller, Depends(require_scopes(CLIENTS_MANAGE))]

FORBIDDEN = {403: f"The token lacks {CLIENTS_MANAGE}"}
NOT_FOUND = {404: "No such client"}
BODY = {
    400: "Not strict JSON",
    413: "The body is over the size limit",
    415: "The body is not JSON",
    422: "Invalid; `errors` names each field; nothing was changed",
}


class NewClient(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="The system, e.g. `PR2 HMP Barlinnie`", max_length=200)
    agency: str = Field(
        description="The directory entry it acts for (`GET /v1/directory`), or `hub-operator` "
        "or `hub-dpo`"
    )
    scopes: list[str] = Field(description="The scopes it may use (at least one)", min_length=1)
    jwks: dict[str, Any] | None = Field(
        default=None,
        description="Its public key(s), a JWK Set or one JWK: it authenticates with "
        "private_key_jwt (RFC 7523) and gets no secret. Leave out for a client secret",
    )


class ClientChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["active", "disabled"] | None = Field(
        default=None,
        description="`disabled`: its tokens are refused at once; `active` enables it again",
    )
    scopes: list[str] | None = Field(
        default=None, description="Replace its scopes (each one its agency may hold)"
    )


class NewCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jwks: dict[str, Any] | None = Field(
        default=None,
        description="A private_key_jwt client's new public key(s), which replace the old at "
        "once. Leave out for a secret's client: it gets a new secret",
    )


class ClientView(BaseModel):
    """A registered client, without its secret (the hub keeps only its hash)."""

    id: str
    name: str
    agency: str
    scopes: list[str]
    auth_method: Literal["client_secret_basic", "private_key_jwt"]
    key_ids: list[str] = Field(description="The `kid` of each public key (private_key_jwt)")
    status: Literal["active", "disabled"]
    created_at: datetime
    disabled_at: datetime | None

    @classmethod
    def of(cls, client: RegisteredClient) -> ClientView:
        return cls(
            id=client.client_id,
            name=client.name,
            agency=client.agency,
            scopes=sorted(client.scopes),
            auth_method=auth_method(client),
            key_ids=key_ids(client),
            status="active" if client.is_enabled else "disabled",
            created_at=client.created_at,
            disabled_at=client.disabled_at,
        )


class ClientWithCredentials(ClientView):
    client_secret: str | None = Field(
        description="The new client secret, shown only now (null for a private_key_jwt client)"
    )


class ClientList(BaseModel):
    clients: list[ClientView]


def _operator(caller: Caller) -> Operator:
    return Operator(caller.client_id, caller.agency)


def _jwks(value: dict[str, Any] | None) -> str | None:
    """The public JWK Set to store, checked; the problem names `/jwks`."""
    if value is None:
        return None
    with field("/jwks"):
        return public_jwks(json.dumps(value))


@router.post(
    "",
    status_code=201,
    response_model=ClientWithCredentials,
    operation_id="registerClient",
    responses=problems(FORBIDDEN | BODY | {409: "A key is already another client's"}),
    openapi_extra=json_body(NewClient.model_json_schema()),
)
async def register_client(
    request: Request, response: Response, container: ContainerDep, caller: ClientManager
) -> ClientWithCredentials:
    """Register an agency client. A secret's client gets its secret in this answer only."""
    body = parse_body(NewClient, await read_json(request, container.settings.max_request_bytes))
    added = await container.client_administration().register(
        name=body.name,
        agency=body.agency,
        scopes=body.scopes,
        jwks=_jwks(body.jwks),
        by=_operator(caller),
    )
    response.headers["Location"] = f"/v1/admin/clients/{quote(added.client.client_id)}"
    return ClientWithCredentials(
        **ClientView.of(added.client).model_dump(), client_secret=added.secret
    )


@router.get(
    "",
    response_model=ClientList,
    operation_id="listClients",
    responses=problems(FORBIDDEN),
)
async def list_clients(
    container: ContainerDep,
    caller: ClientManager,
    agency: Annotated[str | None, Query(description="Only this agency's", max_length=200)] = None,
    status: Annotated[
        Literal["active", "disabled"] | None, Query(description="Only active or disabled ones")
    ] = None,
) -> ClientList:
    """Every registered client, oldest first."""
    found = await container.client_administration().list_clients(
        agency=agency, enabled=None if status is None else status == "active"
    )
    return ClientList(clients=[ClientView.of(c) for c in found])


@router.get(
    "/{client_id}",
    response_model=ClientView,
    operation_id="getClient",
    responses=problems(FORBIDDEN | NOT_FOUND),
)
async def get_client(client_id: str, container: ContainerDep, caller: ClientManager) -> ClientView:
    return ClientView.of(await container.client_administration().get(client_id))


@router.patch(
    "/{client_id}",
    response_model=ClientView,
    operation_id="changeClient",
    responses=problems(FORBIDDEN | NOT_FOUND | BODY),
    openapi_extra=json_body(ClientChanges.model_json_schema()),
)
async def change_client(
    client_id: str, request: Request, container: ContainerDep, caller: ClientManager
) -> ClientView:
    """Disable or enable it, or replace its scopes; only the fields given change."""
    body = parse_body(ClientChanges, await read_json(request, container.settings.max_request_bytes))
    nulls = [
        FieldProblem(f"/{name}", "must not be null")
        for name in ("status", "scopes")
        if name in body.model_fields_set and getattr(body, name) is None
    ]
    if nulls:
        raise InvalidRequest("the changes are invalid: null where a value is needed", nulls)
    changed = await container.client_administration().update(
        client_id,
        enabled=None if body.status is None else body.status == "active",
        scopes=body.scopes,
        by=_operator(caller),
    )
    return ClientView.of(changed)


@router.post(
    "/{client_id}/credentials",
    response_model=ClientWithCredentials,
    operation_id="rotateClientCredentials",
    responses=problems(
        FORBIDDEN | NOT_FOUND | BODY | {409: "The client is disabled, or a key is another client's"}
    ),
    openapi_extra=json_body(
        NewCredentials.model_json_schema(),
        description='`{}` for a new secret; `{"jwks": …}` for a private_key_jwt client',
    ),
)
async def rotate_credentials(
    client_id: str, request: Request, container: ContainerDep, caller: ClientManager
) -> ClientWithCredentials:
    """New credentials: a secret's client gets a new secret (in this answer only), a
    private_key_jwt client the keys sent. The old secret or keys stop working at once; tokens
    already issued live out their lifetime."""
    body = parse_body(
        NewCredentials, await read_json(request, container.settings.max_request_bytes)
    )
    rotated = await container.client_administration().rotate(
        client_id, jwks=_jwks(body.jwks), by=_operator(caller)
    )
    return ClientWithCredentials(
        **ClientView.of(rotated.client).model_dump(), client_secret=rotated.secret
    )
