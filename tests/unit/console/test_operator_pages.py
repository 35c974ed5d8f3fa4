"""What the operator's pages show of a client, a receiver and an error: how a client
authenticates (never its secret or keys), a receiver's host (never the path or query, which may
carry a token), and the kind of a delivery's last error (never what the receiver answered)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hub.api.console.operator_pages import error_class, key_kind, receiver_host
from hub.services.clients import RegisteredClient


def a_client(jwks: str | None) -> RegisteredClient:
    return RegisteredClient(
        client_id="c1",
        name="PR2",
        agency="sps",
        scopes=frozenset({"events:publish"}),
        secret_hash="" if jwks else "scrypt$hash",
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
        jwks=jwks,
    )


def test_a_client_shows_how_it_authenticates_and_how_many_keys() -> None:
    assert key_kind(a_client(None)) == "Client secret"
    one = json.dumps({"keys": [{"kty": "OKP", "kid": "k1"}]})
    two = json.dumps({"keys": [{"kty": "OKP", "kid": "k1"}, {"kty": "OKP", "kid": "k2"}]})
    assert key_kind(a_client(one)) == "Private key JWT (1 key)"
    assert key_kind(a_client(two)) == "Private key JWT (2 keys)"


def test_a_receiver_is_shown_by_its_host_and_port_only() -> None:
    assert receiver_host("https://hooks.glasgow.gov.uk/pph?token=abc") == "hooks.glasgow.gov.uk"
    assert receiver_host("http://127.0.0.1:8443/a/b?token=abc#x") == "127.0.0.1:8443"


def test_a_last_error_is_shown_by_its_kind_not_the_receivers_words() -> None:
    assert error_class("HTTP 503: Service Unavailable: patient Jane Doe") == "HTTP 503"
    assert error_class("ConnectError: All connection attempts failed") == "ConnectError"
    assert error_class("no answer") == "no answer"
    assert error_class(None) == "None recorded"
