"""The console as an OpenID Connect relying party: authorization code flow with PKCE (S256),
Authlib for the protocol's requests, joserfc for the ID token's signature and claims. (Authlib's
own httpx client is deprecated in favour of `httpx2`; the hub's shared httpx client sends them.)

The provider's metadata and keys are read when first needed, not at start, so the hub starts
even while the identity provider is down (sign-in then fails with a clear page, nothing else).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import ClaimsOption

from hub.api.console.sessions import PendingSignIn

#: Signature algorithms accepted on ID tokens (OIDC Core 3.1.3.7: RS256 is the default).
ID_TOKEN_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"]
#: Tolerated clock difference with the provider when checking `exp` and `iat`.
LEEWAY_SECONDS = 30
#: Re-read the provider's keys at most this often when a token names a key we do not know.
KEYS_REFRESH_SECONDS = 60.0


class SignInFailed(Exception):
    """A sign-in could not be completed; the message says why, for the person and the log.
    `provider_down` tells the page whether to blame the identity provider (502) or the request
    (400)."""

    def __init__(self, message: str, *, provider_down: bool = False) -> None:
        super().__init__(message)
        self.provider_down = provider_down


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """What the console needs from the provider's discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None

    @classmethod
    def from_document(cls, issuer: str, document: Mapping[str, Any]) -> ProviderMetadata:
        if document.get("issuer") != issuer:
            raise SignInFailed(
                f"the identity provider at {issuer} names itself {document.get('issuer')!r}",
                provider_down=True,
            )
        try:
            return cls(
                issuer=issuer,
                authorization_endpoint=str(document["authorization_endpoint"]),
                token_endpoint=str(document["token_endpoint"]),
                jwks_uri=str(document["jwks_uri"]),
                end_session_endpoint=(
                    str(document["end_session_endpoint"])
                    if document.get("end_session_endpoint")
                    else None
                ),
            )
        except KeyError as error:
            raise SignInFailed(
                f"the identity provider's discovery document lacks {error.args[0]}",
                provider_down=True,
            ) from error


@dataclass(frozen=True, slots=True)
class IdentityClaims:
    """The verified ID token: its claims and the token itself (for `id_token_hint`)."""

    claims: dict[str, Any]
    id_token: str

    @property
    def subject(self) -> str:
        return str(self.claims["sub"])

    @property
    def display_name(self) -> str:
        """The person's name as the provider gives it, else their username, else `sub`."""
        for claim in ("name", "preferred_username", "email"):
            value = self.claims.get(claim)
            if isinstance(value, str) and value.strip():
                return value.strip()
        return self.subject


class RelyingParty:
    """One OIDC client registration at one issuer."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str | None,
        http: httpx.AsyncClient,
        scope: str = "openid profile email",
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self._http = http
        self._scope = scope
        self._metadata: ProviderMetadata | None = None
        self._keys: KeySet | None = None
        self._keys_read_at = 0.0
        self._lock = asyncio.Lock()

    async def metadata(self) -> ProviderMetadata:
        if self._metadata is None:
            async with self._lock:
                if self._metadata is None:
                    url = f"{self.issuer}/.well-known/openid-configuration"
                    self._metadata = ProviderMetadata.from_document(
                        self.issuer, await self._get_json(url)
                    )
        return self._metadata

    async def authorization_url(self, pending: PendingSignIn) -> str:
        """Where to send the browser: the provider's login, with state, nonce and the PKCE
        challenge (S256) of this pending sign-in."""
        metadata = await self.metadata()
        url: str = prepare_grant_uri(
            metadata.authorization_endpoint,
            client_id=self.client_id,
            response_type="code",
            redirect_uri=pending.redirect_uri,
            scope=self._scope,
            state=pending.state,
            nonce=pending.nonce,
            code_challenge=create_s256_code_challenge(pending.code_verifier),
            code_challenge_method="S256",
        )
        return url

    async def redeem(self, code: str, pending: PendingSignIn) -> IdentityClaims:
        """Exchanges the authorization code (with the PKCE verifier) at the token endpoint and
        returns the verified ID token. A confidential client authenticates with HTTP Basic
        (`client_secret_basic`); a public one names itself in the body and relies on PKCE."""
        metadata = await self.metadata()
        body: str = prepare_token_request(
            "authorization_code",
            redirect_uri=pending.redirect_uri,
            code=code,
            code_verifier=pending.code_verifier,
            client_id=None if self._client_secret else self.client_id,
        )
        auth = (self.client_id, self._client_secret) if self._client_secret else None
        try:
            answer = await self._http.post(
                metadata.token_endpoint,
                content=body,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                },
                auth=auth,  # type: ignore[arg-type]
                timeout=10.0,
            )
        except httpx.HTTPError as error:
            raise SignInFailed(
                f"the identity provider's token endpoint did not answer ({error})",
                provider_down=True,
            ) from error
        try:
            token = answer.json()
        except ValueError:
            token = None
        if not isinstance(token, dict):
            raise SignInFailed(
                f"the identity provider's token endpoint answered {answer.status_code} "
                "without a JSON object",
                provider_down=True,
            )
        if answer.status_code != 200 or "error" in token:
            # An RFC 6749 section 5.2 error answer (invalid_grant, ...).
            reason = str(token.get("error", answer.status_code))
            if token.get("error_description"):
                reason += f": {token['error_description']}"
            raise SignInFailed(f"the identity provider refused the sign-in code: {reason}")
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed("the identity provider's answer has no ID token")
        return await self.verify_id_token(id_token, nonce=pending.nonce)

    async def verify_id_token(self, id_token: str, *, nonce: str) -> IdentityClaims:
        """OIDC Core 3.1.3.7: signature by the provider's key, issuer, audience (and `azp`
        when there are several), expiry, issue time and our nonce."""
        keys = await self._key_set()
        try:
            decoded = jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS)
        except (JoseError, ValueError) as error:
            # A key rotated since we read the set: read it again once, then give up.
            keys = await self._key_set(refresh=True)
            try:
                decoded = jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS)
            except (JoseError, ValueError):
                raise SignInFailed(f"the ID token does not verify: {error}") from error
        claims = decoded.claims
        options: dict[str, ClaimsOption] = {
            "iss": {"essential": True, "value": self.issuer},
            "sub": {"essential": True},
            "aud": {"essential": True, "value": self.client_id},
            "exp": {"essential": True},
            "iat": {"essential": True},
            "nonce": {"essential": True, "value": nonce},
        }
        registry = jwt.JWTClaimsRegistry(now=int(time.time()), leeway=LEEWAY_SECONDS, **options)
        try:
            registry.validate(claims)
        except JoseError as error:
            raise SignInFailed(f"the ID token is not valid for this console: {error}") from error
        audience = claims["aud"]
        if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != self.client_id:
            raise SignInFailed("the ID token was issued to another client (azp)")
        return IdentityClaims(claims=dict(claims), id_token=id_token)

    async def end_session_url(
        self, *, id_token: str | None, post_logout_redirect_uri: str
    ) -> str | None:
        """RP-initiated logout (OIDC RP-Initiated Logout 1.0): the provider's end-session URL,
        or None when the provider has no end-session endpoint. With the ID token as hint the
        provider signs the person out at once; without it, it asks them to confirm."""
        metadata = await self.metadata()
        if metadata.end_session_endpoint is None:
            return None
        parameters = {
            "client_id": self.client_id,
            "post_logout_redirect_uri": post_logout_redirect_uri,
        }
        if id_token is not None:
            parameters["id_token_hint"] = id_token
        query = urlencode(parameters)
        separator = "&" if "?" in metadata.end_session_endpoint else "?"
        return f"{metadata.end_session_endpoint}{separator}{query}"

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        async with self._lock:
            stale = time.monotonic() - self._keys_read_at > KEYS_REFRESH_SECONDS
            if self._keys is None or (refresh and stale):
                metadata = self._metadata or ProviderMetadata.from_document(
                    self.issuer,
                    await self._get_json(f"{self.issuer}/.well-known/openid-configuration"),
                )
                document = await self._get_json(metadata.jwks_uri)
                # Only signing keys: Keycloak also publishes an encryption key (use=enc).
                signing = [key for key in document.get("keys", []) if key.get("use") != "enc"]
                try:
                    self._keys = KeySet.import_key_set({"keys": signing})
                except (JoseError, ValueError) as error:
                    raise SignInFailed(
                        f"the identity provider's keys could not be read: {error}",
                        provider_down=True,
                    ) from error
                self._keys_read_at = time.monotonic()
            return self._keys

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            answer = await self._http.get(url, timeout=10.0)
        except httpx.HTTPError as error:
            raise SignInFailed(
                f"the identity provider at {self.issuer} did not answer ({error})",
                provider_down=True,
            ) from error
        if answer.status_code != 200:
            raise SignInFailed(
                f"the identity provider answered {answer.status_code} for {url}",
                provider_down=True,
            )
        try:
            document = answer.json()
        except ValueError as error:
            raise SignInFailed(f"{url} did not answer JSON", provider_down=True) from error
        if not isinstance(document, dict):
            raise SignInFailed(f"{url} did not answer a JSON object", provider_down=True)
        return document
