"""The rules a webhook follows, free of I/O: which URLs the hub will call (no internal services:
SSRF), how its signing secrets look, and when a failed delivery is tried again."""

from __future__ import annotations

import base64
import ipaddress
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Final
from urllib.parse import urlsplit

__all__ = [
    "JITTER",
    "MAX_URL_LENGTH",
    "SECRET_PREFIX",
    "RefusedUrl",
    "WebhookTarget",
    "address_problem",
    "generate_secret",
    "internal_address_refused",
    "literal_address",
    "parse_webhook_url",
    "retry_delay",
]

MAX_URL_LENGTH: Final = 2048
#: Standard Webhooks secrets: `whsec_` and the base64 of the key.
SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES: Final = 32
#: Each retry waits its scheduled time, give or take this fraction, so that the jobs of one
#: receiver that failed together do not all come back at the same instant.
JITTER: Final = 0.2
#: Host names that always mean this machine, whatever DNS says.
_LOCAL_NAMES: Final = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
#: RFC 6052: IPv6 addresses that translate to the IPv4 address in their last 32 bits.
_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedUrl(ValueError):
    """A webhook URL, or an address its host resolves to, that the hub will not call."""


#: Said with every refusal of this machine or a private network: the one setting that allows a
#: receiver there, and why it is off unless an operator turns it on.
ALLOW_PRIVATE_HINT: Final = (
    "a receiver on this machine or a private network is allowed only in development and "
    "tests, with HUB_WEBHOOK_ALLOW_PRIVATE_ADDRESSES=true (off by default: a subscription "
    "could otherwise aim the hub at internal services)"
)


def internal_address_refused(reason: str) -> RefusedUrl:
    """The refusal of a URL that points at this machine or a non-public address: `reason`,
    then how to allow it in development."""
    return RefusedUrl(f"{reason}; {ALLOW_PRIVATE_HINT}")


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A webhook URL that passed the shape checks, with its parts."""

    url: str
    scheme: str
    #: Lower case, without brackets around an IPv6 literal or a trailing dot.
    host: str
    port: int


def parse_webhook_url(
    url: str, *, require_https: bool, allow_private: bool = False
) -> WebhookTarget:
    """Check the shape of a webhook URL: absolute http(s), https when `require_https`, no
    credentials or fragment, and no host that names this machine or a non-public address
    literally (unless `allow_private`). Names still have to be resolved and their addresses
    checked with `address_problem`. Raises RefusedUrl saying what is wrong."""
    if len(url) > MAX_URL_LENGTH:
        raise RefusedUrl(f"must be at most {MAX_URL_LENGTH} characters")
    if not url.isprintable() or any(c.isspace() for c in url):
        raise RefusedUrl("must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise RefusedUrl(f"is not a valid URL: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise RefusedUrl("must be an absolute http or https URL")
    if require_https and scheme != "https":
        raise RefusedUrl("must use https (plain http is allowed only in development and test)")
    if parts.username is not None or parts.password is not None:
        raise RefusedUrl(
            "must not carry credentials: the hub's signature is how a receiver knows the sender"
        )
    if parts.fragment:
        raise RefusedUrl("must not have a fragment")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise RefusedUrl("must name a host")
    if not allow_private:
        if host in _LOCAL_NAMES or host.endswith(".localhost"):
            raise internal_address_refused(f"must not point at this machine ({host})")
        literal = literal_address(host)
        if literal is not None and (problem := address_problem(literal)) is not None:
            raise internal_address_refused(f"must not point at {problem}")
    return WebhookTarget(
        url=url,
        scheme=scheme,
        host=host,
        port=port if port is not None else (443 if scheme == "https" else 80),
    )


def literal_address(host: str) -> IPAddress | None:
    """The address `host` is written as (`10.0.0.1`, `::1`), or None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def address_problem(address: IPAddress | str) -> str | None:
    """Why the hub must not call `address`: a loopback, private, link-local, multicast,
    unspecified, reserved or otherwise not globally routable address; None for a public one.
    IPv6 addresses carrying an IPv4 address (mapped, 6to4, Teredo, NAT64) are judged by it too."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    own = _category(ip)
    if own is not None:
        return f"a {own} address ({ip})"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = [ip.ipv4_mapped, ip.sixtofour]
        if ip.teredo is not None:
            embedded.append(ip.teredo[1])
        if ip in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        for inner in embedded:
            if inner is not None and (category := _category(inner)) is not None:
                return f"a {category} address ({ip}, carrying {inner})"
    return None


def _category(ip: IPAddress) -> str | None:
    if ip.is_loopback:
        return "loopback"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "non-public"
    return None


def generate_secret() -> str:
    """A new signing secret in the Standard Webhooks format: `whsec_` + base64 of 32 random
    bytes (the specification asks for 24 to 64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def retry_delay(
    schedule: Sequence[float], failed_attempt: int, rng: random.Random
) -> timedelta | None:
    """How long to wait after attempt number `failed_attempt` (1 for the first) failed: its
    entry in `schedule`, give or take `JITTER`; None when the schedule is spent (the job is
    dead). A job is tried at most `len(schedule) + 1` times."""
    if failed_attempt < 1:
        raise ValueError(f"attempts are numbered from 1, not {failed_attempt}")
    if failed_attempt > len(schedule):
        return None
    base = float(schedule[failed_attempt - 1])
    return timedelta(seconds=max(0.0, base * rng.uniform(1 - JITTER, 1 + JITTER)))
