"""Short-lived OAuth 2.0 access tokens: signed JWTs in the RFC 9068 profile.

A token says which client (and so which agency) holds it and what it may do (`scope`). It is
self-contained: the hub does not store tokens, it checks the signature, issuer, audience and expiry
of each one presented, and callers re-check that the client is still enabled.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
    UnsupportedAlgorithmError,
)
from joserfc.jwt import ClaimsOption

from hub.auth.binding import CONFIRMATION_CLAIM, THUMBPRINT_MEMBER
from hub.auth.jose_input import MalformedJose, compact_parts, out_of_range_time_claim
from hub.auth.keys import SigningKey, VerificationKey, load_previous_keys, load_signing_key
from hub.errors import AuthenticationFailed
from hub.settings import Settings

#: RFC 9068 section 2.1: the media type of JWT access tokens, in the `typ` header.
TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type, not a secret
_ACCEPTED_TYPES = frozenset({"at+jwt", "application/at+jwt"})
#: Tolerated clock difference when checking `exp` and `iat`.
DEFAULT_LEEWAY_SECONDS = 10
#: A token longer than this is refused before any parsing.
MAX_TOKEN_LENGTH = 4096

#: How many verified tokens a token service remembers (a few MB at most; the oldest go first).
_VERIFIED_KEPT = 1024

_REQUIRED_CLAIMS = ("iss", "aud", "sub", "client_id", "iat", "exp", "jti", "scope", "agency")
_CLAIM_PROBLEMS = {
    "iss": "wrong issuer",
    "aud": "wrong audience",
    "iat": "token issued in the future",
    "nbf": "token not yet valid",
}


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just issued, with what the token response tells the client about it."""

    access_token: str
    expires_in: int
    scope: str
    jti: str
    expires_at: datetime
    token_type: str = "Bearer"  # noqa: S105 - RFC 6750 token type, not a secret


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """What a valid access token says about its holder."""

    client_id: str
    agency: str
    scopes: frozenset[str]
    jti: str
    issued_at: datetime
    expires_at: datetime
    #: RFC 8705: the SHA-256 thumbprint of the client certificate the token is bound to
    #: (its `cnf` claim's `x5t#S256`), or None for a token usable without a certificate.
    certificate_thumbprint: str | None = None


class TokenService:
    """Issues access tokens with the current signing key, and verifies them with it or with a
    previous key still trusted (`previous`), chosen by the token's `kid`."""

    def __init__(
        self,
        key: SigningKey,
        *,
        issuer: str,
        audience: str,
        lifetime_seconds: int,
        leeway_seconds: int = DEFAULT_LEEWAY_SECONDS,
        clock: Callable[[], float] = time.time,
        previous: Sequence[VerificationKey] = (),
    ) -> None:
        if lifetime_seconds <= 0:
            raise ValueError("token lifetime must be positive")
        self._key = key
        self._verifiers: dict[str, VerificationKey] = {k.kid: k for k in previous}
        self._verifiers[key.kid] = key.verification()
        self._issuer = issuer
        self._audience = audience
        self._lifetime = lifetime_seconds
        self._leeway = leeway_seconds
        self._clock = clock
        #: Tokens already verified, with their claims: a client pushes many times on one token,
        #: and the signature and shape of the same bytes under the same keys (fixed for this
        #: service's life) cannot change, so only the time claims are checked again on each use.
        #: What else a push needs (the client still enabled, its scopes) is checked per request.
        self._verified: dict[str, tuple[dict[str, Any], VerifiedToken]] = {}

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Callable[[], float] = time.time
    ) -> TokenService:
        """Issuer, audience, lifetime and key from the settings (see `hub.auth.keys`)."""
        return cls(
            load_signing_key(settings),
            issuer=settings.issuer,
            audience=settings.token_audience,
            lifetime_seconds=settings.token_lifetime_seconds,
            clock=clock,
            previous=load_previous_keys(settings),
        )

    @property
    def lifetime_seconds(self) -> int:
        return self._lifetime

    @property
    def algorithm(self) -> str:
        return self._key.algorithm

    def issue(
        self,
        *,
        client_id: str,
        agency: str,
        scopes: Iterable[str],
        certificate_thumbprint: str | None = None,
    ) -> IssuedToken:
        """A new signed access token for this client, agency and scopes; bound to a client
        certificate (RFC 8705 `cnf`) when given that certificate's thumbprint."""
        now = int(self._clock())
        expires = now + self._lifetime
        scope = " ".join(sorted(set(scopes)))
        jti = secrets.token_urlsafe(16)
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": client_id,
            "client_id": client_id,
            "iat": now,
            "exp": expires,
            "jti": jti,
            "scope": scope,
            "agency": agency,
        }
        if certificate_thumbprint is not None:
            claims[CONFIRMATION_CLAIM] = {THUMBPRINT_MEMBER: certificate_thumbprint}
        header = {"alg": self._key.algorithm, "typ": TOKEN_TYPE, "kid": self._key.kid}
        token = jwt.encode(header, claims, self._key.jwk, algorithms=[self._key.algorithm])
        return IssuedToken(
            access_token=token,
            expires_in=self._lifetime,
            scope=scope,
            jti=jti,
            expires_at=datetime.fromtimestamp(expires, UTC),
        )

    def verify(self, token: str) -> VerifiedToken:
        """The holder of a valid token, or `AuthenticationFailed` saying what is wrong with it."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise AuthenticationFailed("malformed token")
        known = self._verified.get(token)
        if known is not None:
            claims, verified = known
            self._check_claims(claims)
            return verified
        try:
            # Parsed with the bounded parser first, so joserfc never sees unbounded JSON.
            header, _payload = compact_parts(token)
        except MalformedJose as error:
            raise AuthenticationFailed("malformed token") from error
        verifier = self._verifier_of(header)
        try:
            decoded = jwt.decode(token, verifier.jwk, algorithms=[verifier.algorithm])
        except BadSignatureError as error:
            raise AuthenticationFailed("invalid token signature") from error
        except UnsupportedAlgorithmError as error:
            raise AuthenticationFailed("token signed with an unsupported algorithm") from error
        except (JoseError, ValueError) as error:
            raise AuthenticationFailed("malformed token") from error

        header = decoded.header
        if str(header.get("typ", "")).lower() not in _ACCEPTED_TYPES:
            raise AuthenticationFailed("not an access token (typ must be at+jwt)")

        claims = decoded.claims
        self._check_claims(claims)
        client_id, agency, scope = claims["client_id"], claims["agency"], claims["scope"]
        if not all(isinstance(value, str) for value in (client_id, agency, scope)):
            raise AuthenticationFailed("malformed token")
        if claims["sub"] != client_id:
            raise AuthenticationFailed("token subject is not its client")
        verified = VerifiedToken(
            client_id=client_id,
            agency=agency,
            scopes=frozenset(scope.split()),
            jti=claims["jti"],
            issued_at=datetime.fromtimestamp(claims["iat"], UTC),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            certificate_thumbprint=_bound_thumbprint(claims),
        )
        if len(self._verified) >= _VERIFIED_KEPT:
            del self._verified[next(iter(self._verified))]  # the oldest
        self._verified[token] = (claims, verified)
        return verified

    def _check_claims(self, claims: dict[str, Any]) -> None:
        """The registered claims: present, the issuer and audience ours, and the time claims
        (expiry, not-before, issued-at) valid now."""
        out_of_range = out_of_range_time_claim(claims)
        if out_of_range is not None:
            raise AuthenticationFailed(f"token claim {out_of_range} is out of range")
        options: dict[str, ClaimsOption] = {name: {"essential": True} for name in _REQUIRED_CLAIMS}
        options["iss"] = {"essential": True, "value": self._issuer}
        options["aud"] = {"essential": True, "value": self._audience}
        registry = jwt.JWTClaimsRegistry(now=int(self._clock()), leeway=self._leeway, **options)
        try:
            registry.validate(claims)
        except ExpiredTokenError as error:
            raise AuthenticationFailed("token expired") from error
        except MissingClaimError as error:
            raise AuthenticationFailed(f"token lacks claims: {error.claim}") from error
        except InvalidClaimError as error:
            problem = _CLAIM_PROBLEMS.get(error.claim, f"invalid claim {error.claim}")
            raise AuthenticationFailed(problem) from error

    def _verifier_of(self, header: dict[str, Any]) -> VerificationKey:
        """The key named by the token's `kid` (the current key when it names none)."""
        kid = header.get("kid", self._key.kid)
        verifier = self._verifiers.get(kid) if isinstance(kid, str) else None
        if verifier is None:
            raise AuthenticationFailed("token signed by an unknown key")
        return verifier

    def jwks(self) -> dict[str, list[dict[str, str | list[str]]]]:
        """The public verification keys, current first, as a JWK Set (RFC 7517 section 5)."""
        current = self._key.kid
        ordered = [self._verifiers[current]] + [
            k for kid, k in self._verifiers.items() if kid != current
        ]
        return {"keys": [k.public_jwk() for k in ordered]}


def _bound_thumbprint(claims: dict[str, Any]) -> str | None:
    """The certificate thumbprint of a bound token's `cnf` claim; None when it has none. The hub
    issues no other confirmation method, so a `cnf` without `x5t#S256` is refused rather than
    ignored (ignoring it would unbind the token)."""
    if CONFIRMATION_CLAIM not in claims:
        return None
    confirmation = claims[CONFIRMATION_CLAIM]
    thumbprint = confirmation.get(THUMBPRINT_MEMBER) if isinstance(confirmation, dict) else None
    if not isinstance(thumbprint, str) or not thumbprint:
        raise AuthenticationFailed("token bound by an unsupported confirmation method")
    return thumbprint
