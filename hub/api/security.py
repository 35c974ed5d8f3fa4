"""Who is calling: FastAPI dependencies that turn a bearer token into a `Caller` and check scopes.

Every failure raises `hub.errors.AuthenticationFailed` (401) or `PermissionDenied` (403); the
problem-details handler (`hub.api.problems`) turns AuthenticationFailed into a 401 with
`WWW-Authenticate: Bearer error="invalid_token", error_description=<message>` (RFC 6750).

A token bound to a client certificate (RFC 8705 section 3) is honoured only on a mutual-TLS
connection presenting that certificate (`hub.api.tls` gives it to the request).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2

from hub.api.tls import client_certificate
from hub.auth.binding import certificate_thumbprint, thumbprints_match
from hub.auth.tokens import TokenService, VerifiedToken
from hub.errors import AuthenticationFailed, PermissionDenied
from hub.services.clients import SCOPES, ClientRepository
from hub.settings import Settings

TOKEN_PATH = "/oauth/token"  # noqa: S105 - a URL path, not a secret


class AuthServices(Protocol):
    """What authentication needs from the container on `app.state.container`."""

    @property
    def settings(self) -> Settings: ...

    @property
    def clients(self) -> ClientRepository: ...

    @property
    def tokens(self) -> TokenService: ...


async def auth_services(request: Request) -> AuthServices:
    # `async`: FastAPI runs a plain `def` dependency in a worker thread.
    services: AuthServices = request.app.state.container
    return services


AuthServicesDep = Annotated[AuthServices, Depends(auth_services)]

_FLOWS = OAuthFlows(
    clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_PATH, scopes=dict(SCOPES))
)
_SCHEME_NAME = "agency_client"
_DESCRIPTION = "An agency system, with an access token from the client-credentials grant."
#: Declares the client-credentials flow and its scopes in the OpenAPI document; it only reads the
#: Authorization header (checking it is `authenticated_caller`'s job).
agency_client = OAuth2(
    flows=_FLOWS, scheme_name=_SCHEME_NAME, description=_DESCRIPTION, auto_error=False
)


@dataclass(frozen=True, slots=True)
class Caller:
    """The agency client making this request, as its access token and registration say."""

    client_id: str
    agency: str
    scopes: frozenset[str]
    #: When the caller's token expires: a long-lived response (a feed stream) ends then.
    expires_at: datetime | None = None


def _bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header (RFC 6750 section 2.1)."""
    if not authorization:
        raise AuthenticationFailed("missing bearer token")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise AuthenticationFailed("the Authorization header must be: Bearer <token>")
    return token


def _check_certificate_binding(
    verified: VerifiedToken, certificate: bytes | None, settings: Settings
) -> None:
    """RFC 8705 section 3: a bound token only with its certificate; under
    `HUB_TLS_CLIENT_CERTIFICATES=required`, only bound tokens (an unbound one was issued
    without a certificate, so not by this hub's mutual-TLS endpoint)."""
    bound = verified.certificate_thumbprint
    if bound is None:
        if settings.tls_client_certificates == "required":
            raise AuthenticationFailed(
                "the token is not bound to a client certificate, which this hub requires"
            )
        return
    if certificate is None:
        raise AuthenticationFailed(
            "the token is bound to a client certificate that this request did not present"
        )
    if not thumbprints_match(bound, certificate_thumbprint(certificate)):
        raise AuthenticationFailed(
            "the token is bound to a different client certificate than this request presented"
        )


#: Where `remember_verified` leaves a verified token in the request's ASGI scope.
_VERIFIED = "hub.verified_token"


def remember_verified(scope: MutableMapping[str, Any], token: str, verified: VerifiedToken) -> None:
    """Keep `token`, just verified (by the rate-limit middleware), with the request, so that
    `authenticated_caller` does not verify its signature a second time."""
    scope[_VERIFIED] = (token, verified)


def _verified(request: Request, token: str, tokens: TokenService) -> VerifiedToken:
    remembered = request.scope.get(_VERIFIED)
    if remembered is not None and remembered[0] == token:
        verified: VerifiedToken = remembered[1]
        return verified
    return tokens.verify(token)


async def authenticated_caller(
    request: Request,
    authorization: Annotated[str | None, Depends(agency_client)],
    services: AuthServicesDep,
) -> Caller:
    """The caller of a valid token whose client is still registered and enabled, over a
    connection with the client certificate the token is bound to, if it is."""
    return await _caller(request, authorization, services)


async def _caller(request: Request, authorization: str | None, services: AuthServices) -> Caller:
    verified = _verified(request, _bearer_token(authorization), services.tokens)
    _check_certificate_binding(verified, client_certificate(request.scope), services.settings)
    client = await services.clients.get(verified.client_id)
    if client is None:
        raise AuthenticationFailed("the token's client is not registered")
    if not client.is_enabled:
        raise AuthenticationFailed("the token's client is disabled")
    if client.agency != verified.agency:
        raise AuthenticationFailed("the token's agency is not its client's")
    # A scope withdrawn from the client since the token was issued is not honoured.
    return Caller(
        client.client_id, client.agency, verified.scopes & client.scopes, verified.expires_at
    )


def require_scopes(*scopes: str) -> Callable[..., Awaitable[Caller]]:
    """A dependency giving the authenticated caller, provided its token grants every scope."""
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(unknown)}")

    # A default, not `Annotated`: with postponed annotations FastAPI resolves annotation strings
    # in the module's namespace, where the local `scopes` does not exist.
    async def caller_with_scopes(
        caller: Caller = Security(authenticated_caller, scopes=list(scopes)),  # noqa: B008
    ) -> Caller:
        for scope in scopes:
            if scope not in caller.scopes:
                raise PermissionDenied(f"this needs the scope {scope}, which the token lacks")
        return caller

    return caller_with_scopes


class ScopedCaller(OAuth2):
    """`require_scopes` as one dependency instead of a chain of four (the scheme, the
    container, the caller, the scope check): FastAPI resolves each dependency of a request in
    turn, which on the push path cost more than the check itself. As an `OAuth2` scheme of the
    name `agency_client`, declared with `Security(..., scopes=...)` (`scoped`), it still
    declares the client-credentials flow and the scopes in the OpenAPI document."""

    def __init__(self, scopes: Sequence[str]) -> None:
        unknown = [scope for scope in scopes if scope not in SCOPES]
        if unknown:
            raise ValueError(f"unknown scopes: {', '.join(unknown)}")
        super().__init__(
            flows=_FLOWS, scheme_name=_SCHEME_NAME, description=_DESCRIPTION, auto_error=False
        )
        self._scopes = tuple(scopes)

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        services: AuthServices = request.app.state.container
        caller = await _caller(request, request.headers.get("authorization"), services)
        for scope in self._scopes:
            if scope not in caller.scopes:
                raise PermissionDenied(f"this needs the scope {scope}, which the token lacks")
        return caller


def scoped(*scopes: str) -> Any:
    """A dependency (for `Annotated[Caller, scoped(...)]`) giving the authenticated caller,
    provided its token grants every scope: `require_scopes` in one step."""
    return Security(ScopedCaller(scopes), scopes=list(scopes))
