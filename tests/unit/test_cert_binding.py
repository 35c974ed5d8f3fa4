"""Certificate-bound tokens (RFC 8705 section 3): the thumbprint, the `cnf` claim, the check of
a token against the presented certificate, and the TLS settings that turn mutual TLS on.

The certificate helpers here (`certificate_authority`, `issue_certificate`) also serve the
end-to-end mutual-TLS test (`tests/e2e/test_mtls.py`)."""

from __future__ import annotations

import base64
import datetime
import ssl
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import ValidationError

from hub.api.security import _check_certificate_binding
from hub.api.tls import (
    MINIMUM_TLS_VERSION,
    client_certificate,
    connection_tls,
    server_ssl_context,
)
from hub.auth.binding import certificate_thumbprint, thumbprints_match
from hub.auth.tokens import VerifiedToken
from hub.errors import AuthenticationFailed, InvalidInput
from hub.settings import Settings

#: A self-signed certificate whose thumbprint was computed with OpenSSL, not with the hub's code:
#: `openssl x509 -outform DER | openssl dgst -sha256 -binary | basenc --base64url | tr -d =`.
VECTOR_PEM = """-----BEGIN CERTIFICATE-----
MIIBlDCCATugAwIBAgIUO8TYg4t8x/8IeiQH7jKW09qHygEwCgYIKoZIzj0EAwIw
HzEdMBsGA1UEAwwUUkZDIDg3MDUgdGVzdCB2ZWN0b3IwIBcNMjYxMTI2MTYzMzAz
WhgPMjEyNjExMDIxNjMzMDNaMB8xHTAbBgNVBAMMFFJGQyA4NzA1IHRlc3QgdmVj
dG9yMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1FXlPJTRJPwo0OPEfafopgtK
21Q25aG1oqu90L7Zh3jNIeb9QtN5F6Buju+G+8z9jlrwd3MeyXh2VzIcZ+bU36NT
MFEwHQYDVR0OBBYEFCY+eQBknzrTt2Xwqyh7mrErlA41MB8GA1UdIwQYMBaAFCY+
eQBknzrTt2Xwqyh7mrErlA41MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID
RwAwRAIgXsXYv3C11fatC/gjQM8x8+Us9F50qFUgN4fK6fA9jCUCIBvnSFLkKHWT
cl0nkJ2IM/egWgnSoKEBlrHkupplPkM9
-----END CERTIFICATE-----
"""
VECTOR_THUMBPRINT = "9cyasCLZl8jtjtGDorUBXW21I8zhj2fUaWJPxtNR7K8"


@dataclass(frozen=True)
class Credential:
    """A certificate and its private key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    def write(self, folder: Path, name: str) -> tuple[Path, Path]:
        """The certificate and key as PEM files `<name>.pem` and `<name>.key`."""
        folder.mkdir(parents=True, exist_ok=True)
        certificate = folder / f"{name}.pem"
        certificate.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        key = folder / f"{name}.key"
        key.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key.chmod(0o600)
        return certificate, key


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def certificate_authority(common_name: str) -> Credential:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Credential(certificate, key)


def issue_certificate(
    authority: Credential, common_name: str, *, server: bool = False
) -> Credential:
    """A leaf certificate signed by `authority`: for a TLS server (named localhost and
    127.0.0.1) or, by default, for a TLS client."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(authority.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
    return Credential(builder.sign(authority.key, hashes.SHA256()), key)


def fingerprint_thumbprint(certificate: x509.Certificate) -> str:
    """RFC 8705 section 3.1 computed by `cryptography`, independently of the hub's code."""
    digest = certificate.fingerprint(hashes.SHA256())
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


# The thumbprint


def test_the_thumbprint_is_base64url_of_the_sha256_of_the_der() -> None:
    assert certificate_thumbprint(ssl.PEM_cert_to_DER_cert(VECTOR_PEM)) == VECTOR_THUMBPRINT


def test_the_thumbprint_matches_an_independent_computation() -> None:
    certificate = issue_certificate(certificate_authority("test CA"), "client").certificate
    der = certificate.public_bytes(serialization.Encoding.DER)
    thumbprint = certificate_thumbprint(der)
    assert thumbprint == fingerprint_thumbprint(certificate)
    assert len(thumbprint) == 43  # 32 bytes, base64url without padding
    assert "=" not in thumbprint


def test_the_thumbprint_hashes_the_bytes_it_is_given() -> None:
    # FIPS 180-2's SHA-256("abc") test vector, in base64url without padding.
    assert certificate_thumbprint(b"abc") == "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"


def test_there_is_no_thumbprint_of_nothing() -> None:
    with pytest.raises(ValueError, match="DER"):
        certificate_thumbprint(b"")


def test_thumbprints_match_only_when_equal() -> None:
    assert thumbprints_match(VECTOR_THUMBPRINT, VECTOR_THUMBPRINT)
    assert not thumbprints_match(VECTOR_THUMBPRINT, VECTOR_THUMBPRINT[:-1] + "A")
    assert not thumbprints_match(VECTOR_THUMBPRINT, "")
    assert not thumbprints_match("é", "e")


# Checking a token against the certificate presented


def _verified(thumbprint: str | None) -> VerifiedToken:
    now = datetime.datetime.now(datetime.UTC)
    return VerifiedToken(
        client_id="cl_abc",
        agency="sps",
        scopes=frozenset({"events:read"}),
        jti="jti",
        issued_at=now,
        expires_at=now,
        certificate_thumbprint=thumbprint,
    )


VECTOR_DER = ssl.PEM_cert_to_DER_cert(VECTOR_PEM)
OTHER_DER = issue_certificate(certificate_authority("test CA"), "other").der


@pytest.mark.parametrize("mode", ["off", "optional"])
def test_an_unbound_token_needs_no_certificate_unless_they_are_required(mode: str) -> None:
    settings = _tls_settings(mode)
    _check_certificate_binding(_verified(None), None, settings)
    _check_certificate_binding(_verified(None), VECTOR_DER, settings)


def test_an_unbound_token_is_refused_when_certificates_are_required() -> None:
    with pytest.raises(AuthenticationFailed, match="not bound to a client certificate"):
        _check_certificate_binding(_verified(None), VECTOR_DER, _tls_settings("required"))


@pytest.mark.parametrize("mode", ["off", "optional", "required"])
def test_a_bound_token_needs_its_own_certificate(mode: str) -> None:
    settings = _tls_settings(mode)
    bound = _verified(VECTOR_THUMBPRINT)
    _check_certificate_binding(bound, VECTOR_DER, settings)
    with pytest.raises(AuthenticationFailed, match="did not present"):
        _check_certificate_binding(bound, None, settings)
    with pytest.raises(AuthenticationFailed, match="different client certificate"):
        _check_certificate_binding(bound, OTHER_DER, settings)


def test_the_certificate_comes_only_from_the_tls_extension() -> None:
    tls = {"client_cert_chain": [VECTOR_PEM], "tls_version": 0x0304}
    assert client_certificate({"type": "http", "extensions": {"tls": tls}}) == VECTOR_DER
    assert client_certificate({"type": "http", "extensions": {"tls": {}}}) is None
    assert client_certificate({"type": "http", "extensions": {}}) is None
    assert client_certificate({"type": "http"}) is None


# Settings


def _tls_settings(mode: str, **overrides: Any) -> Settings:
    if mode == "off":
        return Settings(environment="test", **overrides)
    options: dict[str, Any] = {
        "tls_cert_file": Path("server.pem"),
        "tls_key_file": Path("server.key"),
        "tls_client_ca_file": Path("ca.pem"),
        "tls_client_certificates": mode,
    }
    options.update(overrides)
    return Settings(environment="test", **options)


def test_tls_is_off_by_default() -> None:
    settings = Settings(environment="test")
    assert settings.tls_client_certificates == "off"
    assert settings.tls_cert_file is None
    assert server_ssl_context(settings) is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"tls_cert_file": "server.pem"}, "HUB_TLS_CERT_FILE and HUB_TLS_KEY_FILE"),
        ({"tls_key_file": "server.key"}, "HUB_TLS_CERT_FILE and HUB_TLS_KEY_FILE"),
        (
            {"tls_client_certificates": "optional", "tls_client_ca_file": "ca.pem"},
            "HUB_TLS_CLIENT_CERTIFICATES=optional needs HTTPS",
        ),
        (
            {
                "tls_client_certificates": "required",
                "tls_cert_file": "server.pem",
                "tls_key_file": "server.key",
            },
            "HUB_TLS_CLIENT_CERTIFICATES=required needs HUB_TLS_CLIENT_CA_FILE",
        ),
        (
            {
                "tls_cert_file": "server.pem",
                "tls_key_file": "server.key",
                "tls_client_ca_file": "ca.pem",
            },
            "HUB_TLS_CLIENT_CA_FILE is set but HUB_TLS_CLIENT_CERTIFICATES is off",
        ),
        ({"tls_client_certificates": "sometimes"}, "tls_client_certificates"),
    ],
)
def test_inconsistent_tls_settings_are_refused_naming_the_setting(
    settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(environment="test", **settings)


def test_tls_settings_come_from_hub_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_TLS_CERT_FILE", "/etc/hub/server.pem")
    monkeypatch.setenv("HUB_TLS_KEY_FILE", "/etc/hub/server.key")
    monkeypatch.setenv("HUB_TLS_CLIENT_CA_FILE", "/etc/hub/agencies-ca.pem")
    monkeypatch.setenv("HUB_TLS_CLIENT_CERTIFICATES", "required")
    settings = Settings(environment="test")
    assert settings.tls_client_certificates == "required"
    assert settings.tls_client_ca_file == Path("/etc/hub/agencies-ca.pem")


@pytest.mark.parametrize(
    ("mode", "verify_mode"),
    [("off", ssl.CERT_NONE), ("optional", ssl.CERT_OPTIONAL), ("required", ssl.CERT_REQUIRED)],
)
def test_the_server_context_asks_for_client_certificates_as_configured(
    tmp_path: Path, mode: str, verify_mode: ssl.VerifyMode
) -> None:
    authority = certificate_authority("test CA")
    certificate, key = issue_certificate(authority, "hub", server=True).write(tmp_path, "server")
    ca_file, _ = authority.write(tmp_path, "ca")
    options: dict[str, Any] = {"tls_cert_file": certificate, "tls_key_file": key}
    if mode != "off":
        options |= {"tls_client_certificates": mode, "tls_client_ca_file": ca_file}
    context = server_ssl_context(Settings(environment="test", **options))
    assert context is not None
    assert context.verify_mode == verify_mode
    assert context.minimum_version == MINIMUM_TLS_VERSION == ssl.TLSVersion.TLSv1_2
    assert context.options & ssl.OP_NO_RENEGOTIATION


def test_unreadable_tls_files_are_errors_naming_their_setting(tmp_path: Path) -> None:
    authority = certificate_authority("test CA")
    certificate, key = issue_certificate(authority, "hub", server=True).write(tmp_path, "server")
    missing = tmp_path / "missing.pem"
    with pytest.raises(InvalidInput, match="HUB_TLS_CERT_FILE"):
        server_ssl_context(_tls_settings("off", tls_cert_file=missing, tls_key_file=key))
    with pytest.raises(InvalidInput, match="HUB_TLS_CLIENT_CA_FILE"):
        server_ssl_context(
            _tls_settings(
                "required",
                tls_cert_file=certificate,
                tls_key_file=key,
                tls_client_ca_file=missing,
            )
        )


# The ASGI TLS extension of a connection


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> ssl.SSLObject:
    """The server's end of a real TLS handshake run in memory (no socket needed to prove what
    is read from it)."""
    server_in, server_out, client_in, client_out = (ssl.MemoryBIO() for _ in range(4))
    server_end = server.wrap_bio(server_in, server_out, server_side=True)
    client_end = client.wrap_bio(client_in, client_out, server_hostname="localhost")
    done = {"server": False, "client": False}
    for _ in range(10):
        for name, end in (("client", client_end), ("server", server_end)):
            if not done[name]:
                try:
                    end.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        server_in.write(client_out.read())
        client_in.write(server_out.read())
        if all(done.values()):
            return server_end
    raise AssertionError("the handshake did not finish")


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_the_tls_extension_holds_the_verified_client_certificate(
    tmp_path: Path, version: ssl.TLSVersion
) -> None:
    authority = certificate_authority("test CA")
    server_files = issue_certificate(authority, "hub", server=True).write(tmp_path, "server")
    ca_file, _ = authority.write(tmp_path, "ca")
    agency = issue_certificate(authority, "sps-pr2")
    server = server_ssl_context(
        _tls_settings(
            "optional",
            tls_cert_file=server_files[0],
            tls_key_file=server_files[1],
            tls_client_ca_file=ca_file,
        )
    )
    assert server is not None

    anonymous = ssl.create_default_context(cafile=ca_file)
    anonymous.maximum_version = version
    tls = connection_tls(_handshake(server, anonymous))
    assert tls["client_cert_chain"] == []
    assert tls["client_cert_name"] is None
    assert client_certificate({"extensions": {"tls": tls}}) is None

    presenting = ssl.create_default_context(cafile=ca_file)
    presenting.maximum_version = version
    presenting.load_cert_chain(*agency.write(tmp_path, "agency"))
    tls = connection_tls(_handshake(server, presenting))
    assert client_certificate({"extensions": {"tls": tls}}) == agency.der
    assert tls["client_cert_name"] == "CN=sps-pr2"
    assert tls["client_cert_error"] is None
    assert (
        tls["tls_version"]
        == {ssl.TLSVersion.TLSv1_2: 0x0303, ssl.TLSVersion.TLSv1_3: 0x0304}[version]
    )
    assert isinstance(tls["cipher_suite"], int)
    if version == ssl.TLSVersion.TLSv1_3:
        assert tls["cipher_suite"] in {0x1301, 0x1302, 0x1303}  # RFC 8446 appendix B.4
