"""The webhook sender over TLS, against a real TLS receiver on this machine: it connects to the
address it resolved, but verifies the receiver's certificate for the URL's name (sent as the TLS
server name); a certificate for another name, or one no trusted authority issued, is refused and
nothing is sent."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hub.infra.webhooks import HttpWebhookSender

pytestmark = pytest.mark.asyncio

NAME = "receiver.test"


class PinnedResolver:
    """Resolves every name to this machine (as a DNS answer would)."""

    async def resolve(self, host: str, port: int) -> list[str]:
        return ["127.0.0.1"]


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """A certificate for `name` (and 127.0.0.1), signed by its own key: its PEM and key files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "receiver.pem", directory / "receiver.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class TlsReceiver:
    """Answers every POST 204 over TLS, keeping what it was sent and the server names asked."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.server_names: list[str | None] = []
        self.port = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest_asyncio.fixture
async def tls_receiver(tmp_path: Path) -> AsyncIterator[tuple[TlsReceiver, Path]]:
    cert_file, key_file = self_signed(tmp_path, NAME)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    receiver = TlsReceiver()

    def server_name(_socket: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        receiver.server_names.append(name)

    context.sni_callback = server_name  # type: ignore[assignment]
    server = await asyncio.start_server(receiver._handle, "127.0.0.1", 0, ssl=context)
    receiver.port = server.sockets[0].getsockname()[1]
    async with server:
        yield receiver, cert_file


async def test_tls_is_verified_for_the_url_s_name_at_the_address_checked(
    tls_receiver: tuple[TlsReceiver, Path],
) -> None:
    receiver, cert_file = tls_receiver
    trusting = HttpWebhookSender(
        timeout=5.0,
        resolver=PinnedResolver(),
        allow_private=True,
        require_https=True,
        ssl_context=ssl.create_default_context(cafile=str(cert_file)),
    )
    default = HttpWebhookSender(
        timeout=5.0, resolver=PinnedResolver(), allow_private=True, require_https=True
    )
    try:
        ok = await trusting.send(
            f"https://{NAME}:{receiver.port}/hook", {"webhook-id": "d_1"}, b"{}"
        )
        again = await trusting.send(
            f"https://{NAME}:{receiver.port}/hook", {"webhook-id": "d_2"}, b"{}"
        )
        other_name = await trusting.send(
            f"https://elsewhere.test:{receiver.port}/hook", {"webhook-id": "d_3"}, b"{}"
        )
        untrusted = await default.send(
            f"https://{NAME}:{receiver.port}/hook", {"webhook-id": "d_4"}, b"{}"
        )
    finally:
        await trusting.aclose()
        await default.aclose()
    assert (ok.status_code, ok.error) == (204, None)
    assert again.ok
    # The certificate is checked for the URL's name, not for the address connected to.
    assert other_name.status_code is None
    assert other_name.error is not None
    assert other_name.error.startswith("ConnectError")
    assert "elsewhere.test" in other_name.error or "match" in other_name.error
    # The default trusts only the public authorities (certifi's bundle): not this one.
    assert untrusted.status_code is None
    assert untrusted.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.error
    # Only the two verified sends arrived, each under the URL's name, over one connection.
    assert len(receiver.requests) == 2
    assert all(f"host: {NAME}:{receiver.port}".encode() in r for r in receiver.requests)
    assert receiver.server_names.count(NAME) == 2  # the verified one and the untrusted one
    assert "elsewhere.test" in receiver.server_names
