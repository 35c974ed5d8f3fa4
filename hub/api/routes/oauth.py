"""The OAuth 2.0 token endpoint: `POST /oauth/token`, client-credentials grant (RFC 6749 §4.4).

Authlib's authorization server does the protocol work (client authentication by
`client_secret_basic`, `client_secret_post` or `private_key_jwt` (RFC 7523), grant dispatch,
RFC 6749 §5.2 error responses).
It is synchronous and Authlib ships no FastAPI integration, so this module adapts it: the route
reads the form and fetches the client record asynchronously, then runs the server in a worker
thread (secret checks are deliberately slow scrypt) with that one record as its client store.
Errors here are OAuth JSON (`{"error": ...}`), not problem details, because OAuth clients expect
them. A token requested over a connection with a verified client certificate is bound to that
certificate (RFC 8705 section 3, `cnf`/`x5t#S256`; `hub.api.tls`).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar
from urllib.parse import parse_qsl

from anyio import from_thread
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    InsecureTransportError,
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from hub.api.openapi import problems
from hub.api.security import TOKEN_PATH, AuthServices, auth_services
from hub.api.tls import client_certificate
from hub.auth.binding import certificate_thumbprint
from hub.auth.client_keys import (
    ASSERTION_ALGORITHMS,
    MAX_ASSERTION_LIFETIME_SECONDS,
    client_key_set,
)
from hub.auth.jose_input import MalformedJose, compact_parts, out_of_range_time_claim
from hub.auth.secrets import burn_verification_time, verify_secret
from hub.auth.tokens import TokenService
from hub.services.clients import SCOPES, ClientRepository, RegisteredClient

logger = logging.getLogger("hub.oauth")

router = APIRouter(tags=["oauth"])

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
#: A token request is a handful of short parameters.
MAX_TOKEN_REQUEST_BYTES = 8 * 1024
MAX_TOKEN_REQUEST_FIELDS = 16
MAX_CLIENT_ID_LENGTH = 200
GRANT_TYPE = "client_credentials"
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
KEY_METHOD = "private_key_jwt"
AUTH_METHODS = (*SECRET_METHODS, KEY_METHOD)
#: RFC 7523 section 2.2.
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_LENGTH = 4096
#: Tolerated clock difference on an assertion's `exp`.
ASSERTION_LEEWAY_SECONDS = 10
#: RFC 6749 appendix A.4: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ); also what an error
#: description may safely repeat of the request.
_SCOPE_TOKEN_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F) if c not in (0x22, 0x5C))


class TokenResponse(BaseModel):
    """RFC 6749 §5.1."""

    access_token: str
    token_type: str = Field(examples=["Bearer"])
    expires_in: int
    scope: str


class OAuthErrorResponse(BaseModel):
    """RFC 6749 §5.2."""

    error: str = Field(
        examples=["invalid_client", "invalid_scope", "unsupported_grant_type", "invalid_request"]
    )
    error_description: str | None = None


class _FormPayload(OAuth2Payload):  # type: ignore[misc]
    """The token request's form parameters, each present at most once."""

    def __init__(self, form: dict[str, str]) -> None:
        self._form = form

    @property
    def data(self) -> dict[str, str]:
        return self._form

    @property
    def datalist(self) -> dict[str, list[str]]:
        return {name: [value] for name, value in self._form.items()}


class _TokenRequest(OAuth2Request):  # type: ignore[misc]
    def __init__(self, uri: str, headers: Any, form: dict[str, str]) -> None:
        super().__init__(method="POST", uri=uri, headers=headers)
        self.payload = _FormPayload(form)
        self._form = form

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return {}


class _OAuthClient(ClientMixin):  # type: ignore[misc]
    """A registered client as Authlib sees it; `record` is None for an id that is not registered.

    An unknown or disabled client fails the secret check like a wrong secret, after as much work,
    so neither the answer nor its timing tells which client ids exist.
    """

    client_id: str
    record: RegisteredClient | None

    def __init__(self, client_id: str, record: RegisteredClient | None) -> None:
        self.client_id = client_id
        self.record = record

    def __repr__(self) -> str:
        return f"<client {self.client_id}>"

    def get_client_id(self) -> str:
        return self.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        record = self.record
        if record is None or not record.has_secret:
            burn_verification_time(client_secret)
            return False
        matches = verify_secret(client_secret, record.secret_hash)
        return matches and record.is_enabled

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """A client with registered keys authenticates only with them; one with a secret only
        with the secret."""
        if endpoint != "token" or self.record is None:
            return False
        if self.record.jwks is not None:
            return method == KEY_METHOD and self.record.is_enabled
        return method in SECRET_METHODS

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == GRANT_TYPE


class _PrivateKeyJWT(JWTBearerClientAssertion):  # type: ignore[misc]
    """`private_key_jwt`: an assertion signed by one of the client's registered keys, with
    iss = sub = client_id, `aud` the hub's issuer or token endpoint URL, expiring within
    `MAX_ASSERTION_LIFETIME_SECONDS`, and a `jti` never seen before from that client."""

    CLIENT_AUTH_METHOD = KEY_METHOD

    def __init__(self, audiences: list[str], clients: ClientRepository) -> None:
        super().__init__(validate_jti=True, leeway=ASSERTION_LEEWAY_SECONDS)
        self._audiences = audiences
        self._clients = clients

    def get_audiences(self) -> list[str]:
        return self._audiences

    def resolve_client_public_key(self, client: _OAuthClient) -> KeySet:
        record = client.record
        if record is None or record.jwks is None or not record.is_enabled:
            raise InvalidClientError(description="The client has no registered keys.")
        return client_key_set(record.jwks)

    def extract_assertion(self, assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Header and claims, unverified, read with the hub's bounded parser rather than
        Authlib's (a RecursionError on an assertion nested a thousand deep); joserfc parses
        only what has passed this."""
        try:
            return compact_parts(assertion)
        except MalformedJose as error:
            raise InvalidClientError(description="The client assertion is malformed.") from error

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> dict[str, Any]:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=list(ASSERTION_ALGORITHMS))
        except JoseError as error:
            raise InvalidClientError(description="The client assertion is not valid.") from error
        self.verify_claims(token.claims)
        claims: dict[str, Any] = token.claims
        return claims

    def verify_claims(self, claims: dict[str, Any]) -> None:
        out_of_range = out_of_range_time_claim(claims)
        if out_of_range is not None:
            raise InvalidClientError(
                description=f"The client assertion's {out_of_range} is out of range."
            )
        expires = claims.get("exp")
        if not isinstance(expires, int) or isinstance(expires, bool):
            raise InvalidClientError(description="The client assertion needs a numeric exp.")
        if expires - time.time() > MAX_ASSERTION_LIFETIME_SECONDS + self.leeway:
            raise InvalidClientError(
                description=f"The client assertion may be valid for at most "
                f"{MAX_ASSERTION_LIFETIME_SECONDS} seconds."
            )
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > 200:
            raise InvalidClientError(description="The client assertion needs a jti.")
        super().verify_claims(claims)

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        # Runs in the worker thread Authlib runs in; the store is async, on the event loop.
        used: bool = from_thread.run(
            self._clients.use_assertion_id,
            claims["sub"],
            jti,
            datetime.fromtimestamp(claims["exp"], UTC),
        )
        return used


class _ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)

    def validate_requested_scope(self) -> None:
        """The requested scopes must all be the client's; none requested means all of them."""
        requested = self.request.payload.scope
        if not requested:
            return
        names = requested.split(" ")
        if any(not name or not set(name) <= _SCOPE_TOKEN_CHARS for name in names):
            raise InvalidScopeError("The scope parameter is malformed.")
        unknown = sorted(name for name in names if name not in SCOPES)
        if unknown:
            raise InvalidScopeError(f"Unknown scope: {' '.join(unknown)}.")
        record: RegisteredClient = self.request.client.record
        not_granted = sorted(name for name in names if name not in record.scopes)
        if not_granted:
            raise InvalidScopeError(f"Scope not granted to this client: {' '.join(not_granted)}.")

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        # Authlib's own version logs the token response (the access token itself) at debug level.
        token = self.generate_token(scope=self.request.payload.scope, include_refresh_token=False)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class _TokenEndpoint(AuthorizationServer):  # type: ignore[misc]
    """An Authlib authorization server for one token request, whose client store is the one record
    the route fetched (Authlib looks clients up synchronously)."""

    def __init__(
        self,
        tokens: TokenService,
        client: _OAuthClient,
        key_method: _PrivateKeyJWT,
        certificate_thumbprint: str | None = None,
    ) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self._tokens = tokens
        self._client = client
        self._certificate_thumbprint = certificate_thumbprint
        self.register_grant(_ClientCredentialsGrant)
        self.register_client_auth_method(KEY_METHOD, key_method)
        self.register_token_generator("default", self._generate_token)

    def query_client(self, client_id: str) -> _OAuthClient:
        if client_id == self._client.client_id:
            return self._client
        return _OAuthClient(client_id, None)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Access tokens are self-contained signed JWTs: nothing is stored."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No listeners."""

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(
        self, status: int, body: dict[str, Any], headers: list[tuple[str, str]]
    ) -> JSONResponse:
        return JSONResponse(body, status_code=status, headers=dict(headers))

    def handle_error_response(self, request: OAuth2Request, error: OAuth2Error) -> JSONResponse:
        if isinstance(error, InvalidClientError):
            # One answer for unknown, disabled and wrong-secret clients, always 401 with a
            # WWW-Authenticate challenge (RFC 6749 §5.2).
            error = InvalidClientError(description="Client authentication failed.", status_code=401)
        return super().handle_error_response(request, error)  # type: ignore[no-any-return]

    def _generate_token(
        self,
        grant_type: str,
        client: _OAuthClient,
        user: object = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = False,
    ) -> dict[str, Any]:
        record = client.record
        assert record is not None  # only an authenticated client reaches here
        granted = frozenset(scope.split()) if scope else record.scopes
        issued = self._tokens.issue(
            client_id=record.client_id,
            agency=record.agency,
            scopes=granted,
            certificate_thumbprint=self._certificate_thumbprint,
        )
        logger.info(
            "issued access token %s to client %s (%s) for scope %r%s",
            issued.jti,
            record.client_id,
            record.agency,
            issued.scope,
            f", bound to certificate {self._certificate_thumbprint}"
            if self._certificate_thumbprint
            else "",
        )
        return {
            "access_token": issued.access_token,
            "token_type": issued.token_type,
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        }


def _oauth_error(error: OAuth2Error) -> JSONResponse:
    status, body, headers = error()
    return JSONResponse(body, status_code=status, headers=dict(headers))


async def _read_form(request: Request) -> dict[str, str]:
    """The form parameters, each at most once; parameters with no value count as absent
    (RFC 6749 §3.1)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != FORM_MEDIA_TYPE:
        raise InvalidRequestError(f"Content-Type must be {FORM_MEDIA_TYPE}.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_TOKEN_REQUEST_BYTES:
            raise InvalidRequestError("The request body is too large.")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=False,
            strict_parsing=False,
            max_num_fields=MAX_TOKEN_REQUEST_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidRequestError("The request body is not a valid form.") from error
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:  # RFC 6749 §3.2
            # Error descriptions may hold only printable ASCII without quote or backslash.
            shown = f"The parameter {name}" if set(name) <= _SCOPE_TOKEN_CHARS else "A parameter"
            raise InvalidRequestError(f"{shown} is repeated.")
        form[name] = value
    return form


def _assertion_subject(form: dict[str, str]) -> str | None:
    """The `sub` of a client assertion, read without checking it, to find the client whose
    keys will check it (RFC 7523 section 3)."""
    assertion = form.get("client_assertion")
    if not assertion or len(assertion) > MAX_ASSERTION_LENGTH:
        return None
    try:
        # Not Authlib's reader: it parses unbounded JSON (a RecursionError on deep nesting).
        _, claims = compact_parts(assertion)
    except MalformedJose:
        return None
    subject = claims.get("sub")
    return subject if isinstance(subject, str) else None


def _client_id_presented(request: Request, form: dict[str, str]) -> str | None:
    basic_id, _ = extract_basic_authorization(request.headers)
    client_id = str(basic_id) if basic_id else form.get("client_id")
    if "client_assertion" in form:
        subject = _assertion_subject(form)
        if client_id is not None and subject != client_id:
            return None  # RFC 7523 section 3: client_id, when sent, is the assertion's sub
        client_id = subject
    # Anything that cannot be a client id (a NUL byte, say) is unknown without asking the store.
    if not client_id or len(client_id) > MAX_CLIENT_ID_LENGTH or not client_id.isprintable():
        return None
    return client_id


@router.post(
    TOKEN_PATH,
    response_model=TokenResponse,
    operation_id="issueToken",
    responses={
        **problems(
            {
                429: "Too many token requests from this address; wait for `Retry-After` seconds",
                # Errors of the OAuth protocol itself are OAuth JSON (below), not problems.
            },
            authenticated=False,
        ),
        400: {"model": OAuthErrorResponse, "description": "Invalid request, scope or grant type"},
        401: {"model": OAuthErrorResponse, "description": "Client authentication failed"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                FORM_MEDIA_TYPE: {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["client_credentials"]},
                            "scope": {"type": "string", "description": "space-separated"},
                            "client_id": {"type": "string", "description": "client_secret_post"},
                            "client_secret": {
                                "type": "string",
                                "description": "client_secret_post",
                            },
                            "client_assertion_type": {
                                "type": "string",
                                "enum": [ASSERTION_TYPE],
                                "description": "private_key_jwt",
                            },
                            "client_assertion": {
                                "type": "string",
                                "description": "private_key_jwt: a JWT signed by the client",
                            },
                        },
                    }
                }
            },
        }
    },
)
async def issue_token(
    request: Request, services: Annotated[AuthServices, Depends(auth_services)]
) -> JSONResponse:
    """Get an access token with the client-credentials grant. Authenticate with HTTP Basic
    (`client_secret_basic`), `client_id` and `client_secret` form parameters
    (`client_secret_post`), or, for a client registered with its public keys, a signed
    `client_assertion` (`private_key_jwt`, RFC 7523, which needs no shared secret). `scope`
    defaults to all the client's scopes."""
    try:
        form = await _read_form(request)
        if request.url.scheme != "https" and services.settings.environment == "production":
            raise InvalidRequestError("The token endpoint must be called over HTTPS.")
        presented = [
            "authorization" in request.headers,
            "client_secret" in form,
            "client_assertion" in form,
        ]
        if sum(presented) > 1:
            raise InvalidRequestError("Use one client authentication method, not two.")
        if "client_assertion" in form and form.get("client_assertion_type") != ASSERTION_TYPE:
            raise InvalidRequestError(f"client_assertion_type must be {ASSERTION_TYPE}.")
        if len(form.get("client_assertion", "")) > MAX_ASSERTION_LENGTH:
            raise InvalidRequestError("The client assertion is too long.")
        if "grant_type" not in form:
            raise InvalidRequestError("Missing grant_type.")
        # Authlib refuses plain-HTTP URIs outright; the HTTPS rule is the environment's (above),
        # so it is given the request's URI as https.
        oauth_request = _TokenRequest(
            str(request.url.replace(scheme="https")), request.headers, form
        )
    except (InvalidRequestError, InsecureTransportError) as error:
        if isinstance(error, InsecureTransportError):
            error = InvalidRequestError("The token endpoint must be called over HTTPS.")
        return _oauth_error(error)

    client_id = _client_id_presented(request, form)
    record = await services.clients.get(client_id) if client_id else None
    settings = services.settings
    audiences = [settings.issuer]
    if settings.token_endpoint_url is not None:
        audiences.append(str(settings.token_endpoint_url))
    # RFC 8705 section 3: a token requested over mutual TLS is bound to the client certificate.
    certificate = client_certificate(request.scope)
    endpoint = _TokenEndpoint(
        services.tokens,
        _OAuthClient(client_id or "", record),
        _PrivateKeyJWT(audiences, services.clients),
        certificate_thumbprint(certificate) if certificate is not None else None,
    )
    response: JSONResponse = await run_in_threadpool(endpoint.create_token_response, oauth_request)
    return response


@router.get(
    "/.well-known/jwks.json",
    operation_id="getTokenKeys",
    responses={
        200: {
            "description": "RFC 7517 JWK Set",
            "content": {"application/jwk-set+json": {"schema": {"type": "object"}}},
        },
        **problems(authenticated=False, database=False),
    },
)
async def token_keys(
    services: Annotated[AuthServices, Depends(auth_services)],
) -> JSONResponse:
    """The public keys access tokens are verified with (RFC 7517 JWK Set): the current signing
    key and any previous one still trusted during a rotation, each with its `kid`."""
    return JSONResponse(
        services.tokens.jwks(),
        headers={"Cache-Control": "public, max-age=300"},
        media_type="application/jwk-set+json",
    )
