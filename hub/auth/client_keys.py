"""Client public keys for `private_key_jwt` (RFC 7523 section 2.2, OpenID Connect Core 9).

A client registered with `hub clients add --jwks FILE` holds no shared secret: it signs a short JWT
(the client assertion) with its private key, and the hub checks it with the public keys
registered here. Only public keys are stored; a file with private key material is refused, so a
private key handed over by mistake is never kept.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey

from hub.errors import InvalidInput

#: Signature algorithms accepted on client assertions: asymmetric only (no `none`, no HMAC).
ASSERTION_ALGORITHMS = ("ES256", "ES384", "ES512", "PS256", "RS256", "Ed25519", "EdDSA")
#: An assertion may be valid for at most this long from now (`exp`), so that one captured in
#: transit is soon worthless; its `jti` is remembered until then.
MAX_ASSERTION_LIFETIME_SECONDS = 300
MAX_KEYS = 10
_MIN_RSA_BITS = 2048
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def public_jwks(document: str | bytes) -> str:
    """The public JWK Set to store for a client, from a JWK Set or a single JWK (JSON).

    Each key gets its RFC 7638 thumbprint as `kid` when it has none. `InvalidInput` for anything
    that is not public EC (P-256/384/521), OKP (Ed25519) or RSA (2048 bits or more) keys.
    """
    try:
        parsed = json.loads(document)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput("the client's keys are not JSON (a JWK Set or a JWK)") from error
    if isinstance(parsed, dict) and "keys" in parsed:
        members = parsed["keys"]
    elif isinstance(parsed, dict):
        members = [parsed]
    else:
        members = None
    if not isinstance(members, list) or not members or len(members) > MAX_KEYS:
        raise InvalidInput(f"the client's keys must be a JWK Set of 1 to {MAX_KEYS} keys")
    keys: list[dict[str, Any]] = []
    for member in members:
        if not isinstance(member, dict):
            raise InvalidInput("each of the client's keys must be a JWK object")
        private = sorted(_PRIVATE_MEMBERS & member.keys())
        if private:
            raise InvalidInput(
                "the client's keys hold private or symmetric key material "
                f"({', '.join(private)}): register only the public keys"
            )
        keys.append(_public_key(member))
    kids = [k["kid"] for k in keys]
    if len(set(kids)) != len(kids):
        raise InvalidInput("the client's keys must have distinct kid values")
    return json.dumps({"keys": keys}, sort_keys=True, separators=(",", ":"))


def _public_key(member: dict[str, Any]) -> dict[str, Any]:
    kty = member.get("kty")
    try:
        key: ECKey | OKPKey | RSAKey
        if kty == "EC":
            key = ECKey.import_key(member)
        elif kty == "OKP":
            key = OKPKey.import_key(member)
            if member.get("crv") != "Ed25519":
                raise InvalidInput("an OKP client key must be an Ed25519 key")
        elif kty == "RSA":
            # Sized before importing: joserfc warns on a small key rather than refusing it.
            modulus = member.get("n")
            bits = (
                len(base64.urlsafe_b64decode(modulus + "==")) * 8 if isinstance(modulus, str) else 0
            )
            if bits < _MIN_RSA_BITS:
                raise InvalidInput(f"an RSA client key needs {_MIN_RSA_BITS} bits, not {bits}")
            key = RSAKey.import_key(member)
        else:
            raise InvalidInput(f"unsupported client key type {kty!r}: use EC, OKP or RSA")
    except (JoseError, ValueError, TypeError, binascii.Error) as error:
        if isinstance(error, InvalidInput):
            raise
        raise InvalidInput(f"a client key is not a valid {kty} JWK") from error
    kid = member.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid or len(kid) > 200):
        raise InvalidInput("a client key's kid must be a short string")
    public: dict[str, Any] = dict(key.as_dict(private=False))
    public["kid"] = kid or key.thumbprint()
    if isinstance(member.get("alg"), str):
        public["alg"] = member["alg"]
    public["use"] = "sig"
    return public


def client_key_set(jwks: str) -> KeySet:
    """The stored public JWK Set, ready to verify assertions with."""
    return KeySet.import_key_set(json.loads(jwks))
