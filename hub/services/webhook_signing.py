"""Signing webhooks as Standard Webhooks specifies, with the schemes a subscription chooses:

    v1   HMAC-SHA256 with each of the subscription's secrets (`whsec_…`, shared with it)
    v1a  Ed25519 with the hub's own signing keys, whose public halves (`whpk_…`) anyone may
         fetch from GET /v1/webhook-keys: a receiver holds no secret of ours

Both sign `"{webhook-id}.{webhook-timestamp}.{body}"`; every signature goes into the one
`webhook-signature` header, space separated. During a rotation of the hub's keys the active key
and each retiring one sign, so that a receiver holding either verifies.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from standardwebhooks import Webhook

__all__ = [
    "DEFAULT_SIGNATURE_SCHEMES",
    "LEGACY_SIGNATURE_SCHEMES",
    "PUBLIC_KEY_PREFIX",
    "SIGNATURE_SCHEMES",
    "KeyStatus",
    "WebhookSigner",
    "WebhookSigningKey",
    "public_key_text",
    "sign",
    "signed_content",
]

#: Every scheme a subscription may choose.
SIGNATURE_SCHEMES: Final = ("v1", "v1a")
#: What a new subscription gets unless it asks otherwise: both, so a receiver may verify either.
DEFAULT_SIGNATURE_SCHEMES: Final = ("v1", "v1a")
#: What subscriptions made before v1a existed keep (migration 0017).
LEGACY_SIGNATURE_SCHEMES: Final = ("v1",)
#: How Standard Webhooks writes an Ed25519 public key.
PUBLIC_KEY_PREFIX: Final = "whpk_"

KeyStatus = Literal["active", "retiring"]


def signed_content(message_id: str, timestamp: datetime, body: bytes) -> bytes:
    """What every scheme signs: `{webhook-id}.{webhook-timestamp}.{body}`."""
    return f"{message_id}.{int(timestamp.timestamp())}.".encode() + body


def public_key_text(raw: bytes) -> str:
    """A raw 32-byte Ed25519 public key as Standard Webhooks writes it: `whpk_<base64>`."""
    return PUBLIC_KEY_PREFIX + base64.b64encode(raw).decode("ascii")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


@dataclass(frozen=True, slots=True)
class WebhookSigningKey:
    """One of the hub's Ed25519 webhook signing keys: `active` (the one in force) or
    `retiring` (still signing and published while receivers move to the active one)."""

    private_key: Ed25519PrivateKey = field(repr=False)
    status: KeyStatus

    @property
    def public_raw(self) -> bytes:
        return self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def public_key(self) -> str:
        """`whpk_<base64 of the raw 32-byte public key>`."""
        return public_key_text(self.public_raw)

    @property
    def kid(self) -> str:
        """The key id: the RFC 7638 thumbprint of its public JWK (stable across restarts)."""
        members = {"crv": "Ed25519", "kty": "OKP", "x": _b64url(self.public_raw)}
        canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode("ascii")
        return _b64url(hashlib.sha256(canonical).digest())

    def public_jwk(self) -> dict[str, str]:
        """The public key as a JWK (RFC 8037), for receivers that read keys as JWKs."""
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64url(self.public_raw),
            "kid": self.kid,
            "alg": "Ed25519",
            "use": "sig",
        }

    def sign(self, content: bytes) -> str:
        """A `v1a,<base64 Ed25519 signature>` of `content`."""
        return "v1a," + base64.b64encode(self.private_key.sign(content)).decode("ascii")


class WebhookSigner:
    """Makes the Standard Webhooks headers of a delivery, with the hub's Ed25519 keys (the
    active one first, then those retiring) and the subscription's own secrets."""

    def __init__(self, keys: Sequence[WebhookSigningKey]) -> None:
        active = [key for key in keys if key.status == "active"]
        if len(active) != 1:
            raise ValueError(f"one webhook signing key must be active, not {len(active)}")
        kids = [key.kid for key in keys]
        if len(set(kids)) != len(kids):
            raise ValueError("a webhook signing key is listed twice (as active and retiring?)")
        self._keys = (*active, *(key for key in keys if key.status != "active"))

    @property
    def keys(self) -> tuple[WebhookSigningKey, ...]:
        """The keys that sign v1a signatures, the active one first: what is published."""
        return self._keys

    def headers(
        self,
        message_id: str,
        timestamp: datetime,
        body: bytes,
        *,
        secrets: Sequence[str],
        schemes: Sequence[str],
    ) -> dict[str, str]:
        """`webhook-id`, `webhook-timestamp` and `webhook-signature` (and the JSON
        Content-Type, which a native format replaces): for `v1`, one signature per secret; for
        `v1a`, one per hub key."""
        unknown = sorted(set(schemes) - set(SIGNATURE_SCHEMES))
        if unknown or not schemes:
            raise ValueError(f"unknown or no signature schemes: {', '.join(unknown) or '(none)'}")
        signatures: list[str] = []
        if "v1" in schemes:
            data = body.decode("utf-8")
            signatures += [Webhook(secret).sign(message_id, timestamp, data) for secret in secrets]
        if "v1a" in schemes:
            content = signed_content(message_id, timestamp, body)
            signatures += [key.sign(content) for key in self._keys]
        if not signatures:
            raise ValueError("nothing to sign with: v1 alone, and the subscription has no secret")
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": " ".join(signatures),
            "content-type": "application/json",
        }


def sign(
    message_id: str, timestamp: datetime, body: bytes, secrets: Sequence[str]
) -> dict[str, str]:
    """The Standard Webhooks headers with `v1` signatures only, one per secret (for callers
    that sign with a subscription's secrets alone, as the Kafka channel does)."""
    data = body.decode("utf-8")
    signatures = [Webhook(secret).sign(message_id, timestamp, data) for secret in secrets]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
    }
