"""Mutual TLS and certificate-bound tokens (RFC 8705) against a real `hub serve` over HTTPS: real
certificates, real handshakes, real sockets.

A certificate authority, the hub's server certificate and agencies' client certificates are made
with `cryptography` for each run; the hub is started with `HUB_TLS_*` settings."""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import HUB, HubProcess, free_port
from tests.unit.test_cert_binding import (
    Credential,
    certificate_authority,
    fingerprint_thumbprint,
    issue_certificate,
)

PROTECTED = "/v1/subscriptions"
SCOPES = "subscriptions:manage"


@dataclass(frozen=True)
class PKI:
    """The files a mutual-TLS deployment needs: the CA agencies' certificates chain to (which
    also signed the hub's), the hub's certificate, two agencies' client certificates, and one
    signed by a CA the hub does not trust."""

    ca_file: Path
    server: tuple[Path, Path]
    client_a: tuple[Path, Path]
    client_b: tuple[Path, Path]
    stranger: tuple[Path, Path]
    a: Credential
    b: Credential


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    folder = tmp_path_factory.mktemp("pki")
    authority = certificate_authority("PPH test agencies CA")
    rogue = certificate_authority("Someone else's CA")
    a = issue_certificate(authority, "sps-pr2")
    b = issue_certificate(authority, "police-scotland-visor")
    ca_file, _ = authority.write(folder, "ca")
    return PKI(
        ca_file=ca_file,
        server=issue_certificate(authority, "hub", server=True).write(folder, "server"),
        client_a=a.write(folder, "client-a"),
        client_b=b.write(folder, "client-b"),
        stranger=issue_certificate(rogue, "sps-pr2").write(folder, "stranger"),
        a=a,
        b=b,
    )


class HttpsHub(HubProcess):
    """A `hub serve` process listening for HTTPS, and clients that trust its CA."""

    pki: PKI

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def http(self, certificate: tuple[Path, Path] | None = None) -> httpx.Client:
        """A client that verifies the hub against the test CA and, given one, presents a client
        certificate."""
        context = ssl.create_default_context(cafile=self.pki.ca_file)
        if certificate is not None:
            context.load_cert_chain(*certificate)
        return httpx.Client(base_url=self.url, verify=context, timeout=10)

    def start(self) -> None:
        assert self.process is None
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*HUB, "serve", "--port", str(self.port)], env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 30
        with self.http(self.pki.client_a) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(f"hub serve exited early:\n{self.log.read_text()}")
                try:
                    if http.get("/readyz", timeout=1).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise AssertionError(f"hub serve did not become ready:\n{self.log.read_text()}")

    def bearer_token(self, client: dict[str, Any], certificate: tuple[Path, Path] | None) -> str:
        with self.http(certificate) as http:
            answer = http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(client["client_id"], client["client_secret"]),
            )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    def call(self, token: str, certificate: tuple[Path, Path] | None) -> httpx.Response:
        with self.http(certificate) as http:
            return http.get(PROTECTED, headers={"Authorization": f"Bearer {token}"})


def https_hub(pki: PKI, folder: Path, mode: str) -> HttpsHub:
    hub = HttpsHub(env=hub_environment(pki, folder, mode), port=free_port(), log=folder / "hub.log")
    hub.pki = pki
    return hub


def hub_environment(pki: PKI, folder: Path, mode: str) -> dict[str, str]:
    """The embedded (SQLite) hub's environment, as the e2e `hub_process` fixture makes it, with
    HTTPS and client certificates `mode`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env |= {
        "HUB_ENVIRONMENT": "development",
        "HUB_DATA_DIR": str(folder / "data"),
        "HUB_TLS_CERT_FILE": str(pki.server[0]),
        "HUB_TLS_KEY_FILE": str(pki.server[1]),
        "HUB_TLS_CLIENT_CERTIFICATES": mode,
        "HUB_TLS_CLIENT_CA_FILE": str(pki.ca_file),
    }
    return env


@pytest.fixture(scope="module")
def optional_hub(pki: PKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsHub]:
    """One hub for the module, asking for client certificates without requiring them."""
    hub = https_hub(pki, tmp_path_factory.mktemp("optional"), "optional")
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def refusal(answer: httpx.Response) -> str:
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    detail: str = answer.json()["detail"]
    return detail


def test_a_token_issued_over_mutual_tls_is_bound_to_that_certificate_only(
    optional_hub: HttpsHub, pki: PKI
) -> None:
    client = optional_hub.register("sps", SCOPES)
    token = optional_hub.bearer_token(client, pki.client_a)
    assert claims_of(token)["cnf"] == {"x5t#S256": fingerprint_thumbprint(pki.a.certificate)}

    assert optional_hub.call(token, pki.client_a).status_code == 200

    with_b = refusal(optional_hub.call(token, pki.client_b))
    assert (
        with_b == "the token is bound to a different client certificate than this request presented"
    )

    without = refusal(optional_hub.call(token, None))
    assert without == (
        "the token is bound to a client certificate that this request did not present"
    )


def test_a_token_obtained_without_a_certificate_works_with_or_without_one(
    optional_hub: HttpsHub, pki: PKI
) -> None:
    client = optional_hub.register("sps", SCOPES)
    token = optional_hub.bearer_token(client, None)
    assert "cnf" not in claims_of(token)
    assert optional_hub.call(token, None).status_code == 200
    assert optional_hub.call(token, pki.client_b).status_code == 200


TLS_VERSIONS = [
    pytest.param(ssl.TLSVersion.TLSv1_2, id="tls1.2"),
    pytest.param(ssl.TLSVersion.TLSv1_3, id="tls1.3"),
]


def handshake(hub: HttpsHub, certificate: tuple[Path, Path] | None, version: ssl.TLSVersion) -> str:
    """What a raw TLS client of exactly `version` gets when it connects and asks for
    `/healthz`: "refused" (the handshake failed), "closed" (the connection was closed without
    an answer: in TLS 1.3 the client's handshake is over before the server has checked its
    certificate) or the answer's status line.

    The hub (asyncio's TLS) closes the connection on a bad certificate without sending an alert,
    so the client sees an end of file rather than the reason."""
    context = ssl.create_default_context(cafile=hub.pki.ca_file)
    context.minimum_version = context.maximum_version = version
    if certificate is not None:
        context.load_cert_chain(*certificate)
    with socket.create_connection(("127.0.0.1", hub.port), timeout=10) as raw:
        try:
            tls = context.wrap_socket(raw, server_hostname="127.0.0.1")
        except ssl.SSLError:
            return "refused"
        with tls:
            tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n")
            try:
                answer = tls.recv(1024)
            except (ssl.SSLError, ConnectionResetError):
                return "closed"
    return answer.split(b"\r\n", 1)[0].decode() if answer else "closed"


@pytest.mark.parametrize("version", TLS_VERSIONS)
def test_a_certificate_from_a_ca_the_hub_does_not_trust_gets_no_answer(
    optional_hub: HttpsHub, pki: PKI, version: ssl.TLSVersion
) -> None:
    assert handshake(optional_hub, pki.client_a, version) == "HTTP/1.1 200 OK"
    assert handshake(optional_hub, None, version) == "HTTP/1.1 200 OK"
    expected = "refused" if version == ssl.TLSVersion.TLSv1_2 else "closed"
    assert handshake(optional_hub, pki.stranger, version) == expected
    with optional_hub.http(pki.stranger) as http, pytest.raises(httpx.TransportError):
        http.get("/healthz")


def test_required_client_certificates_refuse_bare_handshakes_and_unbound_tokens(
    pki: PKI, tmp_path: Path
) -> None:
    hub = https_hub(pki, tmp_path, "optional")
    hub.start()
    try:
        client = hub.register("sps", SCOPES)
        unbound = hub.bearer_token(client, None)  # issued before certificates were required
        hub.stop()
        hub.env["HUB_TLS_CLIENT_CERTIFICATES"] = "required"
        hub.start()

        for version, failure in [
            (ssl.TLSVersion.TLSv1_2, "refused"),
            (ssl.TLSVersion.TLSv1_3, "closed"),
        ]:
            assert handshake(hub, None, version) == failure
            assert handshake(hub, pki.stranger, version) == failure
            assert handshake(hub, pki.client_a, version) == "HTTP/1.1 200 OK"
        with hub.http(None) as http, pytest.raises(httpx.TransportError):
            http.get("/healthz")

        detail = refusal(hub.call(unbound, pki.client_a))
        assert detail == "the token is not bound to a client certificate, which this hub requires"

        bound = hub.bearer_token(client, pki.client_a)
        assert claims_of(bound)["cnf"] == {"x5t#S256": fingerprint_thumbprint(pki.a.certificate)}
        assert hub.call(bound, pki.client_a).status_code == 200
        assert "different client certificate" in refusal(hub.call(bound, pki.client_b))
    finally:
        hub.stop()


def test_an_unreadable_certificate_stops_the_hub_naming_the_setting(
    pki: PKI, tmp_path: Path
) -> None:
    env = hub_environment(pki, tmp_path, "optional")
    env["HUB_TLS_CERT_FILE"] = str(tmp_path / "missing.pem")
    done = subprocess.run(
        [*HUB, "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "HUB_TLS_CERT_FILE" in done.stderr
