"""Webhook signatures as Standard Webhooks specifies, checked by the `standardwebhooks` library
(v1; it has no v1a) and by an independent implementation written here from the specification
(HMAC-SHA256 and Ed25519 over `{id}.{timestamp}.{body}`, with `cryptography`)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from standardwebhooks import Webhook, WebhookVerificationError

from hub.services.webhook_rules import generate_secret
from hub.services.webhook_signing import WebhookSigner, WebhookSigningKey
from tests.webhook_verification import ed25519_verifies, hmac_verifies, signatures


def now() -> datetime:
    """Signing time: now, since the library refuses a timestamp over five minutes old (and a
    module-level constant can be that old by the time a slow suite reaches the test)."""
    return datetime.now(UTC).replace(microsecond=0)


BODY = '{"type":"custody.release","data":{"é":1}}'.encode()


def key(status: str = "active") -> WebhookSigningKey:
    return WebhookSigningKey(Ed25519PrivateKey.generate(), status)  # type: ignore[arg-type]


def test_v1_verifies_with_the_library_and_independently() -> None:
    secret = generate_secret()
    signed_at = now()
    headers = WebhookSigner([key()]).headers(
        "d_1", signed_at, BODY, secrets=[secret], schemes=["v1"]
    )
    assert headers["webhook-id"] == "d_1"
    assert headers["webhook-timestamp"] == str(int(signed_at.timestamp()))
    assert Webhook(secret).verify(BODY, headers) == {"type": "custody.release", "data": {"é": 1}}
    assert hmac_verifies(secret, headers, BODY)
    assert not hmac_verifies(generate_secret(), headers, BODY)
    assert "v1a," not in headers["webhook-signature"]


def test_v1a_verifies_with_the_published_key_and_no_other() -> None:
    signing = key()
    headers = WebhookSigner([signing]).headers(
        "d_1", now(), BODY, secrets=[generate_secret()], schemes=["v1a"]
    )
    assert headers["webhook-signature"].startswith("v1a,")
    assert " " not in headers["webhook-signature"]  # no v1 when only v1a is chosen
    assert ed25519_verifies(signing.public_key, headers, BODY)
    assert not ed25519_verifies(key().public_key, headers, BODY)
    assert not ed25519_verifies(signing.public_key, headers, BODY + b" ")
    tampered = {**headers, "webhook-id": "d_2"}
    assert not ed25519_verifies(signing.public_key, tampered, BODY)


def test_both_schemes_sign_and_the_library_ignores_v1a() -> None:
    secret, signing = generate_secret(), key()
    headers = WebhookSigner([signing]).headers(
        "d_1", now(), BODY, secrets=[secret], schemes=["v1", "v1a"]
    )
    assert [item.split(",")[0] for item in headers["webhook-signature"].split(" ")] == [
        "v1",
        "v1a",
    ]
    Webhook(secret).verify(BODY, headers)
    assert hmac_verifies(secret, headers, BODY)
    assert ed25519_verifies(signing.public_key, headers, BODY)


def test_during_a_rotation_the_active_and_retiring_keys_both_sign() -> None:
    old, new = key("retiring"), key("active")
    signer = WebhookSigner([old, new])
    assert [k.status for k in signer.keys] == ["active", "retiring"]  # active first
    headers = signer.headers("d_1", now(), BODY, secrets=[], schemes=["v1a"])
    assert len(signatures(headers["webhook-signature"], "v1a")) == 2
    assert ed25519_verifies(old.public_key, headers, BODY)
    assert ed25519_verifies(new.public_key, headers, BODY)

    retired = WebhookSigner([new]).headers("d_1", now(), BODY, secrets=[], schemes=["v1a"])
    assert ed25519_verifies(new.public_key, retired, BODY)
    assert not ed25519_verifies(old.public_key, retired, BODY)


def test_the_library_rejects_a_v1a_only_delivery_it_cannot_check() -> None:
    # The standardwebhooks package (1.0.x) verifies v1 only and skips v1a: a receiver on it
    # must keep v1 chosen, or verify v1a itself (docs/webhooks.md).
    headers = WebhookSigner([key()]).headers("d_1", now(), BODY, secrets=[], schemes=["v1a"])
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(BODY, headers)


def test_a_key_is_published_as_standard_webhooks_and_as_a_jwk() -> None:
    signing = key()
    raw = base64.b64decode(signing.public_key.removeprefix("whpk_"))
    jwk = signing.public_jwk()
    assert base64.urlsafe_b64decode(jwk["x"] + "=") == raw
    assert jwk["kid"] == signing.kid == WebhookSigningKey(signing.private_key, "active").kid
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("OKP", "Ed25519", "Ed25519")
    # RFC 8037 appendix A.3: the RFC 7638 thumbprint of the key of appendix A.1.
    rfc_key = Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    )
    assert WebhookSigningKey(rfc_key, "active").kid == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ([], "one webhook signing key must be active, not 0"),
        (["retiring"], "one webhook signing key must be active, not 0"),
        (["active", "active"], "one webhook signing key must be active, not 2"),
    ],
)
def test_a_signer_needs_exactly_one_active_key(keys: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WebhookSigner([key(status) for status in keys])


def test_the_same_key_cannot_be_active_and_retiring() -> None:
    active = key()
    with pytest.raises(ValueError, match="listed twice"):
        WebhookSigner([active, WebhookSigningKey(active.private_key, "retiring")])


def test_unknown_or_no_schemes_are_refused() -> None:
    signer = WebhookSigner([key()])
    with pytest.raises(ValueError, match="v2"):
        signer.headers("d_1", now(), BODY, secrets=[generate_secret()], schemes=["v2"])
    with pytest.raises(ValueError, match="none"):
        signer.headers("d_1", now(), BODY, secrets=[generate_secret()], schemes=[])
