"""The key that signs access tokens: loaded from settings, or made once in development.

`HUB_TOKEN_SIGNING_KEY` holds a PEM private key (Ed25519, ECDSA P-256/384/521, or RSA of at least
2048 bits). Without it, development and test hubs generate an ECDSA P-256 key into
`<data_dir>/keys/token-signing.pem` (mode 0600) and reuse it on every start, so tokens survive a
restart; production never generates one.

Rotation without downtime: `HUB_TOKEN_PREVIOUS_SIGNING_KEYS` lists keys that signed tokens before
the current one (PEM, public or private; only the public half is used). Tokens signed by them
still verify, and `GET /.well-known/jwks.json` still lists them, until they are removed from the
list (after one token lifetime at least).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc.jwk import ECKey, OKPKey, RSAKey

from hub.settings import Settings

SigningJWK = ECKey | OKPKey | RSAKey

KEY_FILE = Path("keys") / "token-signing.pem"

#: JWS algorithm for each supported kind of key. Ed25519 keys use the fully specified "Ed25519"
#: of RFC 9864, not the deprecated polymorphic "EdDSA".
_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_MIN_RSA_BITS = 2048


class SigningKeyError(RuntimeError):
    """The token signing key is missing, unreadable or unsuitable: the hub cannot start."""


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A public key that access tokens signed by it are checked with, by key id."""

    jwk: SigningJWK
    algorithm: str
    kid: str

    def public_jwk(self) -> dict[str, str | list[str]]:
        return self.jwk.as_dict(private=False, kid=self.kid, alg=self.algorithm, use="sig")


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private signing key as a JWK, with the JWS algorithm it signs with and its key id
    (the RFC 7638 thumbprint of the public key)."""

    jwk: SigningJWK
    algorithm: str
    kid: str

    def public_jwk(self) -> dict[str, str | list[str]]:
        """The public half, as a JWK a verifier can use."""
        return self.jwk.as_dict(private=False, kid=self.kid, alg=self.algorithm, use="sig")

    def verification(self) -> VerificationKey:
        public = type(self.jwk).import_key(self.jwk.as_dict(private=False))
        return VerificationKey(jwk=public, algorithm=self.algorithm, kid=self.kid)


def verification_key_from_pem(pem: str | bytes) -> VerificationKey:
    """A previous signing key, from its public PEM (SubjectPublicKeyInfo) or its private PEM."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    if b"PRIVATE KEY" in data:
        return signing_key_from_pem(data).verification()
    try:
        native = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as error:
        raise SigningKeyError("a previous token signing key is not a PEM key") from error
    jwk: SigningJWK
    if isinstance(native, ed25519.Ed25519PublicKey):
        jwk, algorithm = OKPKey.import_key(data), "Ed25519"
    elif isinstance(native, ec.EllipticCurvePublicKey) and native.curve.name in _EC_ALGORITHMS:
        jwk, algorithm = ECKey.import_key(data), _EC_ALGORITHMS[native.curve.name]
    elif isinstance(native, rsa.RSAPublicKey) and native.key_size >= _MIN_RSA_BITS:
        jwk, algorithm = RSAKey.import_key(data), "RS256"
    else:
        raise SigningKeyError("a previous token signing key is of an unsupported kind or size")
    return VerificationKey(jwk=jwk, algorithm=algorithm, kid=jwk.thumbprint())


def load_previous_keys(settings: Settings) -> list[VerificationKey]:
    """The keys that signed tokens before the current one, still trusted until removed."""
    return [
        verification_key_from_pem(pem.get_secret_value())
        for pem in settings.token_previous_signing_keys
    ]


def signing_key_from_pem(pem: str | bytes) -> SigningKey:
    """Read a PEM private key (PKCS#8, or the traditional EC/RSA formats)."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        native = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise SigningKeyError(
            "the token signing key is not an unencrypted PEM private key"
        ) from error
    jwk: SigningJWK
    if isinstance(native, ed25519.Ed25519PrivateKey):
        jwk, algorithm = OKPKey.import_key(data), "Ed25519"
    elif isinstance(native, ec.EllipticCurvePrivateKey):
        curve = native.curve.name
        if curve not in _EC_ALGORITHMS:
            raise SigningKeyError(f"the token signing key is on an unsupported curve: {curve}")
        jwk, algorithm = ECKey.import_key(data), _EC_ALGORITHMS[curve]
    elif isinstance(native, rsa.RSAPrivateKey):
        if native.key_size < _MIN_RSA_BITS:
            raise SigningKeyError(
                f"the token signing RSA key has {native.key_size} bits; at least "
                f"{_MIN_RSA_BITS} are needed"
            )
        jwk, algorithm = RSAKey.import_key(data), "RS256"
    else:
        raise SigningKeyError(
            "the token signing key must be an Ed25519, ECDSA (P-256/384/521) or RSA key"
        )
    return SigningKey(jwk=jwk, algorithm=algorithm, kid=jwk.thumbprint())


def generate_pem() -> bytes:
    """A new ECDSA P-256 private key, PKCS#8 PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_signing_key(settings: Settings) -> SigningKey:
    """The configured key; in development and test only, the generated key file (made if absent)."""
    if settings.token_signing_key is not None:
        return signing_key_from_pem(settings.token_signing_key.get_secret_value())
    if settings.environment not in ("development", "test"):
        raise SigningKeyError(
            f"HUB_TOKEN_SIGNING_KEY must be set in {settings.environment}: keys are generated "
            "only in development and test"
        )
    return signing_key_from_pem(read_or_create(settings.data_dir / KEY_FILE))


def read_or_create(path: Path, generate: Callable[[], bytes] = generate_pem) -> bytes:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        _create_exclusively(path, generate())
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SigningKeyError(
            f"{path} can be read by other users (mode {mode:o}): run `chmod 600 {path}`"
        )
    return path.read_bytes()


def _create_exclusively(path: Path, pem: bytes) -> None:
    """Write the key where a concurrent starter sees either no file or the whole key: write a
    private temporary file, then hard-link it into place (which fails if another process won)."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
