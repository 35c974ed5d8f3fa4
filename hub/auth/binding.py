"""Certificate-bound access tokens (RFC 8705 section 3): the thumbprint that ties a token to the
client certificate of the mutual-TLS connection it was issued over.

A bound token carries `"cnf": {"x5t#S256": <thumbprint>}`; it is honoured only on a connection
whose client certificate has the same thumbprint, so a stolen token is useless without the
certificate's private key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

#: RFC 8705 section 3.1: the confirmation method naming the certificate's SHA-256 thumbprint.
CONFIRMATION_CLAIM = "cnf"
THUMBPRINT_MEMBER = "x5t#S256"


def certificate_thumbprint(der: bytes) -> str:
    """The base64url (unpadded) SHA-256 of a certificate's DER encoding (RFC 8705 section 3.1)."""
    if not der:
        raise ValueError("a certificate thumbprint needs the certificate's DER bytes")
    digest = hashlib.sha256(der).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def thumbprints_match(bound: str, presented: str) -> bool:
    """Whether a token's bound thumbprint is the presented certificate's, compared in constant
    time so that timing says nothing about how much of it matched."""
    return hmac.compare_digest(bound.encode(), presented.encode())
