"""An independent Standard Webhooks verifier, written from the specification for the tests (not
the hub's code, not the `standardwebhooks` library): HMAC-SHA256 (`v1`) and Ed25519 (`v1a`)
over `{webhook-id}.{webhook-timestamp}.{body}`, with `cryptography` and the standard library."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def signatures(header: str, scheme: str) -> list[bytes]:
    """The decoded signatures of `scheme` in a `webhook-signature` header."""
    return [
        base64.b64decode(value)
        for version, value in (item.split(",", 1) for item in header.split(" "))
        if version == scheme
    ]


def signed_content(headers: Mapping[str, str], body: bytes) -> bytes:
    return f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body


def hmac_verifies(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    """Whether a `v1` signature is the HMAC-SHA256 with `secret` (`whsec_<base64>`)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = hmac.new(key, signed_content(headers, body), hashlib.sha256).digest()
    return any(
        hmac.compare_digest(expected, given)
        for given in signatures(headers["webhook-signature"], "v1")
    )


def ed25519_verifies(public_key: str, headers: Mapping[str, str], body: bytes) -> bool:
    """Whether a `v1a` signature verifies with `public_key` (`whpk_<base64 of 32 bytes>`)."""
    assert public_key.startswith("whpk_"), public_key
    raw = base64.b64decode(public_key.removeprefix("whpk_"), validate=True)
    assert len(raw) == 32
    verifier = Ed25519PublicKey.from_public_bytes(raw)
    content = signed_content(headers, body)
    for given in signatures(headers["webhook-signature"], "v1a"):
        try:
            verifier.verify(given, content)
        except InvalidSignature:
            continue
        return True
    return False
