"""`GET /v1/webhook-keys`: the hub's public Ed25519 keys that `v1a` webhook signatures verify
with. Public keys, so no token: a receiver may fetch them from anywhere, or be given a `whpk_…`
string out of band."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from hub.api.deps import ContainerDep
from hub.api.openapi import problems

router = APIRouter(tags=["subscriptions"])


class WebhookKeyJWK(BaseModel):
    """The same public key as an RFC 8037 JWK."""

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str = Field(description="The raw public key, base64url without padding")
    kid: str
    alg: Literal["Ed25519"]
    use: Literal["sig"]


class WebhookKey(BaseModel):
    kid: str = Field(
        description="The key id: the RFC 7638 thumbprint of the public JWK (stable across restarts)"
    )
    public_key: str = Field(
        description="`whpk_` and the base64 of the raw 32-byte Ed25519 public key, as Standard "
        "Webhooks writes it",
        pattern=r"^whpk_[A-Za-z0-9+/]{43}=$",
    )
    status: Literal["active", "retiring"] = Field(
        description="`active`: signs every v1a delivery. `retiring`: still signs beside the "
        "active key during a rotation, and will be removed: switch to the active key"
    )
    algorithm: Literal["Ed25519"] = "Ed25519"
    jwk: WebhookKeyJWK


class WebhookKeyList(BaseModel):
    keys: list[WebhookKey] = Field(description="The active key first, then any retiring")


@router.get(
    "/v1/webhook-keys",
    response_model=WebhookKeyList,
    operation_id="listWebhookKeys",
    responses=problems(authenticated=False, database=False),
)
async def list_webhook_keys(container: ContainerDep, response: Response) -> WebhookKeyList:
    """The public keys `v1a` webhook signatures are made with: the active key, and during a
    rotation the retiring one(s), each of which signs every delivery until removed. A receiver
    accepts a delivery when any `v1a` signature verifies with a key it trusts."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return WebhookKeyList(
        keys=[
            WebhookKey(
                kid=key.kid,
                public_key=key.public_key,
                status=key.status,
                jwk=WebhookKeyJWK.model_validate(key.public_jwk()),
            )
            for key in container.webhook_signer.keys
        ]
    )
