"""The hub's Ed25519 keys that sign webhooks with `v1a`: loaded from settings, or made once in
development.

`HUB_WEBHOOK_SIGNING_KEY` holds the active key (a PEM Ed25519 private key). Without it,
development and test hubs generate one into `<data_dir>/keys/webhook-signing.pem` (mode 0600)
and reuse it on every start; production never generates one.

Rotation without a receiver failing: make a new key (`hub keys webhook-key`), set it as
`HUB_WEBHOOK_SIGNING_KEY` and move the old one to `HUB_WEBHOOK_RETIRING_SIGNING_KEYS`. Both then
sign every `v1a` delivery and GET /v1/webhook-keys publishes both (the old one as `retiring`),
so a receiver holding either verifies while it fetches the new one. Remove the old key from the
list once receivers have had time to switch (docs/webhooks.md): from then only the new one signs.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.auth.keys import SigningKeyError, read_or_create
from hub.services.webhook_signing import KeyStatus, WebhookSigner, WebhookSigningKey
from hub.settings import Settings

KEY_FILE = Path("keys") / "webhook-signing.pem"


def generate_webhook_pem() -> bytes:
    """A new Ed25519 private key, PKCS#8 PEM."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def webhook_key_from_pem(pem: str | bytes, status: KeyStatus, setting: str) -> WebhookSigningKey:
    """An Ed25519 private key from its PEM; `SigningKeyError` naming `setting` if it is not."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        native = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise SigningKeyError(f"{setting} is not an unencrypted PEM private key") from error
    if not isinstance(native, Ed25519PrivateKey):
        raise SigningKeyError(f"{setting} must be an Ed25519 private key (v1a signs with Ed25519)")
    return WebhookSigningKey(private_key=native, status=status)


def load_webhook_signer(settings: Settings) -> WebhookSigner:
    """The active key (configured; in development and test only, the generated key file) and
    every retiring one."""
    if settings.webhook_signing_key is not None:
        active_pem: str | bytes = settings.webhook_signing_key.get_secret_value()
    elif settings.environment in ("development", "test"):
        active_pem = read_or_create(settings.data_dir / KEY_FILE, generate_webhook_pem)
    else:
        raise SigningKeyError(
            f"HUB_WEBHOOK_SIGNING_KEY must be set in {settings.environment}: keys are generated "
            "only in development and test (make one with `hub keys webhook-key`)"
        )
    keys = [webhook_key_from_pem(active_pem, "active", "HUB_WEBHOOK_SIGNING_KEY")]
    keys += [
        webhook_key_from_pem(
            pem.get_secret_value(), "retiring", f"HUB_WEBHOOK_RETIRING_SIGNING_KEYS[{index}]"
        )
        for index, pem in enumerate(settings.webhook_retiring_signing_keys)
    ]
    try:
        return WebhookSigner(keys)
    except ValueError as error:
        raise SigningKeyError(str(error)) from error
