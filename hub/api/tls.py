"""HTTPS and mutual TLS for `hub serve`: the server's TLS context, and the client certificate of
each connection handed to the app as the ASGI TLS extension.

Uvicorn does not fill in the TLS extension (https://asgi.readthedocs.io/en/latest/specs/tls.html),
so `ClientCertificateH11Protocol` does: once the handshake is done it reads the connection's
verified client certificate and every request on that connection gets
`scope["extensions"]["tls"]`. Only the TLS layer writes it; nothing a client sends (a header, say)
can, so the app may trust it as the certificate the connection proved it holds the key of.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from typing import Any, cast

from cryptography import x509
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.api.connections import DeadlineH11Protocol
from hub.errors import InvalidInput
from hub.settings import Settings

#: The ASGI TLS extension's key in `scope["extensions"]`.
TLS_EXTENSION = "tls"
#: TLS 1.2 is the oldest version offered (RFC 9325 section 3.1.1).
MINIMUM_TLS_VERSION = ssl.TLSVersion.TLSv1_2
#: `SSLObject.version()` to the protocol number the TLS extension's `tls_version` holds.
_TLS_VERSIONS = {"TLSv1": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303, "TLSv1.3": 0x0304}
_CLIENT_CERTIFICATE_MODES = {"optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


def server_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context `hub serve` listens with, or None for plain HTTP (no server certificate).

    Client certificates are asked for under `HUB_TLS_CLIENT_CERTIFICATES=optional|required` and
    must chain to `HUB_TLS_CLIENT_CA_FILE`; one that does not fails the handshake. A file that
    cannot be read is an `InvalidInput` naming its setting (`hub serve` then exits 2)."""
    if settings.tls_cert_file is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MINIMUM_TLS_VERSION
    # The certificate is read once per connection, after the handshake: a TLS 1.2
    # renegotiation must not be able to change it under a connection's later requests.
    context.options |= ssl.OP_NO_RENEGOTIATION
    try:
        context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    except (OSError, ssl.SSLError) as error:
        raise InvalidInput(
            f"HUB_TLS_CERT_FILE/HUB_TLS_KEY_FILE ({settings.tls_cert_file}, "
            f"{settings.tls_key_file}): not a readable PEM certificate and matching key: {error}"
        ) from error
    mode = settings.tls_client_certificates
    if mode != "off":
        assert settings.tls_client_ca_file is not None  # the settings refuse it otherwise
        try:
            context.load_verify_locations(cafile=settings.tls_client_ca_file)
        except (OSError, ssl.SSLError) as error:
            raise InvalidInput(
                f"HUB_TLS_CLIENT_CA_FILE ({settings.tls_client_ca_file}): not a readable PEM "
                f"bundle of CA certificates: {error}"
            ) from error
        context.verify_mode = _CLIENT_CERTIFICATE_MODES[mode]
    return context


def connection_tls(ssl_object: ssl.SSLObject) -> dict[str, Any]:
    """The ASGI TLS extension's contents for one established TLS connection.

    `client_cert_chain` holds only the client's own certificate: Python 3.11 does not expose
    the rest of the chain it verified. A certificate that failed verification never gets here
    (the handshake fails), so `client_cert_error` is always None."""
    der = ssl_object.getpeercert(binary_form=True)
    chain = [ssl.DER_cert_to_PEM_cert(der)] if der else []
    return {
        "server_cert": None,
        "client_cert_chain": chain,
        "client_cert_name": _subject(der) if der else None,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(version) if (version := ssl_object.version()) else None,
        "cipher_suite": _cipher_suite(ssl_object),
    }


def _subject(der: bytes) -> str | None:
    """The certificate's subject as an RFC 4514 string (informative only: binding uses the
    whole certificate's thumbprint)."""
    try:
        return x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except ValueError:  # OpenSSL accepted what `cryptography` will not parse: no name then
        return None


def _cipher_suite(ssl_object: ssl.SSLObject) -> int | None:
    """The IANA number of the negotiated cipher suite (OpenSSL's id keeps it in its low 16
    bits)."""
    negotiated = ssl_object.cipher()
    if negotiated is None:
        return None
    for cipher in ssl_object.context.get_ciphers():
        if cipher["name"] == negotiated[0]:
            return int(cipher["id"]) & 0xFFFF
    return None


def client_certificate(scope: Mapping[str, Any]) -> bytes | None:
    """The DER of the verified client certificate of the connection a request came over, or
    None when it came without one (or not over TLS)."""
    extensions = scope.get("extensions") or {}
    tls = extensions.get(TLS_EXTENSION)
    if not isinstance(tls, Mapping):
        return None
    chain = tls.get("client_cert_chain") or []
    if not chain:
        return None
    return ssl.PEM_cert_to_DER_cert(chain[0])


class TLSExtension:
    """ASGI middleware for one connection: adds that connection's TLS extension to each scope."""

    def __init__(self, app: ASGIApp, tls: Mapping[str, Any]) -> None:
        self._app = app
        self._tls = tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            extensions = dict(scope.get("extensions") or {})
            extensions[TLS_EXTENSION] = dict(self._tls)
            scope = {**scope, "extensions": extensions}
        await self._app(scope, receive, send)


class ClientCertificateH11Protocol(DeadlineH11Protocol):
    """Uvicorn's h11 HTTP/1.1 protocol (with deadlines on slow requests), giving the app each
    connection's TLS extension.

    Uvicorn makes one protocol instance per connection, and `self.app` is what it runs each
    request of that connection with, so wrapping it here scopes the certificate to its
    connection. `hub serve` always uses this class, HTTPS or not (instead of httptools,
    uvicorn's default when installed, which has neither the certificate nor the deadlines);
    on a plain connection there is no certificate to give."""

    def connection_made(  # type: ignore[override]
        self, transport: asyncio.Transport
    ) -> None:
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if isinstance(ssl_object, ssl.SSLObject):
            app = TLSExtension(cast(ASGIApp, self.app), connection_tls(ssl_object))
            self.app = cast(Any, app)
