"""Access tokens (RFC 9068 JWTs) and the key that signs them."""

from __future__ import annotations

import base64
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jwt
from pydantic import SecretStr

from hub.auth.keys import (
    KEY_FILE,
    SigningKeyError,
    load_signing_key,
    signing_key_from_pem,
    verification_key_from_pem,
)
from hub.auth.tokens import TokenService
from hub.errors import AuthenticationFailed
from hub.settings import Settings

ISSUER = "urn:pph:hub"
AUDIENCE = "urn:pph:api"
NOW = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def pem_of(key: Any) -> bytes:
    pem: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem


@pytest.fixture(scope="module")
def ec_pem() -> bytes:
    return pem_of(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokens(ec_pem: bytes, clock: Clock) -> TokenService:
    return service(ec_pem, clock)


def service(pem: bytes, clock: Clock, **overrides: Any) -> TokenService:
    options: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, "lifetime_seconds": 300}
    options.update(overrides)
    return TokenService(signing_key_from_pem(pem), clock=clock, **options)


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    def decode(part: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        return loaded

    header, payload, _ = token.split(".")
    return decode(header), decode(payload)


def issue(tokens: TokenService) -> str:
    return tokens.issue(
        client_id="cl_abc", agency="sps", scopes=["events:read", "events:publish"]
    ).access_token


def test_a_token_follows_the_rfc_9068_profile(tokens: TokenService) -> None:
    issued = tokens.issue(
        client_id="cl_abc", agency="sps", scopes=["events:read", "events:publish"]
    )
    header, claims = segments(issued.access_token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    assert header["kid"] == tokens.jwks()["keys"][0]["kid"]
    assert claims["iss"] == ISSUER
    assert claims["aud"] == AUDIENCE
    assert claims["sub"] == claims["client_id"] == "cl_abc"
    assert claims["agency"] == "sps"
    assert claims["scope"] == "events:publish events:read"
    assert claims["iat"] == int(NOW)
    assert claims["exp"] == int(NOW) + 300
    assert claims["jti"] == issued.jti
    assert len(issued.jti) >= 16
    assert (issued.expires_in, issued.scope, issued.token_type) == (
        300,
        "events:publish events:read",
        "Bearer",
    )


def test_each_token_has_its_own_id(tokens: TokenService) -> None:
    assert segments(issue(tokens))[1]["jti"] != segments(issue(tokens))[1]["jti"]


def test_a_valid_token_verifies(tokens: TokenService) -> None:
    verified = tokens.verify(issue(tokens))
    assert verified.client_id == "cl_abc"
    assert verified.agency == "sps"
    assert verified.scopes == {"events:read", "events:publish"}
    assert verified.expires_at.timestamp() == int(NOW) + 300


def test_a_token_expires_after_its_lifetime_and_a_small_leeway(
    tokens: TokenService, clock: Clock
) -> None:
    token = issue(tokens)
    clock.now = NOW + 300 + 5
    assert tokens.verify(token).client_id == "cl_abc"
    clock.now = NOW + 300 + 11
    with pytest.raises(AuthenticationFailed, match="token expired"):
        tokens.verify(token)


def test_a_token_verified_once_is_not_decoded_again_but_still_expires(
    tokens: TokenService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = issue(tokens)
    first = tokens.verify(token)
    decoded: list[str] = []
    monkeypatch.setattr(jwt, "decode", lambda token, *a, **k: decoded.append(token))
    assert tokens.verify(token) == first
    assert decoded == []  # the signature of the same bytes under the same keys is not checked twice
    clock.now = NOW + 300 + 11
    with pytest.raises(AuthenticationFailed, match="token expired"):
        tokens.verify(token)


def test_a_tampered_copy_of_a_verified_token_is_still_refused(tokens: TokenService) -> None:
    token = issue(tokens)
    tokens.verify(token)
    header, payload, signature = token.split(".")
    forged = ".".join(
        [header, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")]
    )
    with pytest.raises(AuthenticationFailed):
        tokens.verify(forged)


def test_a_token_issued_in_the_future_is_refused(
    ec_pem: bytes, tokens: TokenService, clock: Clock
) -> None:
    ahead = service(ec_pem, Clock(NOW + 120))
    with pytest.raises(AuthenticationFailed, match="issued in the future"):
        tokens.verify(issue(ahead))


def test_a_token_for_another_audience_is_refused(ec_pem: bytes, clock: Clock) -> None:
    other = service(ec_pem, clock, audience="urn:pph:other")
    with pytest.raises(AuthenticationFailed, match="wrong audience"):
        service(ec_pem, clock).verify(issue(other))


def test_a_token_from_another_issuer_is_refused(ec_pem: bytes, clock: Clock) -> None:
    other = service(ec_pem, clock, issuer="urn:someone:else")
    with pytest.raises(AuthenticationFailed, match="wrong issuer"):
        service(ec_pem, clock).verify(issue(other))


def test_a_tampered_signature_is_refused(tokens: TokenService) -> None:
    header, payload, signature = issue(tokens).split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    with pytest.raises(AuthenticationFailed, match="invalid token signature"):
        tokens.verify(f"{header}.{payload}.{flipped}")


def test_a_tampered_payload_is_refused(tokens: TokenService) -> None:
    header, _payload, signature = issue(tokens).split(".")
    claims = segments(issue(tokens))[1]
    claims["scope"] = "admin audit:read"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    with pytest.raises(AuthenticationFailed, match="invalid token signature"):
        tokens.verify(f"{header}.{forged}.{signature}")


def test_a_token_signed_by_another_key_is_refused(tokens: TokenService, clock: Clock) -> None:
    impostor = service(pem_of(ec.generate_private_key(ec.SECP256R1())), clock)
    # Its kid names no key of the hub's; with the hub's kid, the signature does not verify.
    with pytest.raises(AuthenticationFailed, match="token signed by an unknown key"):
        tokens.verify(issue(impostor))
    _, payload, signature = issue(impostor).split(".")
    own_kid = tokens.jwks()["keys"][0]["kid"]
    claimed = base64.urlsafe_b64encode(
        json.dumps({"alg": "ES256", "typ": "at+jwt", "kid": own_kid}).encode()
    )
    with pytest.raises(AuthenticationFailed, match="invalid token signature"):
        tokens.verify(f"{claimed.rstrip(b'=').decode()}.{payload}.{signature}")


def test_an_unsigned_token_is_refused(tokens: TokenService) -> None:
    _, claims = segments(issue(tokens))

    def b64(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    unsigned = f"{b64({'alg': 'none', 'typ': 'at+jwt'})}.{b64(claims)}."
    with pytest.raises(AuthenticationFailed, match="unsupported algorithm"):
        tokens.verify(unsigned)


def sign(pem: bytes, header: dict[str, Any], claims: dict[str, Any]) -> str:
    key = signing_key_from_pem(pem)
    return jwt.encode(header, claims, key.jwk, algorithms=[key.algorithm])


def test_a_jwt_that_is_not_an_access_token_is_refused(ec_pem: bytes, tokens: TokenService) -> None:
    _, claims = segments(issue(tokens))
    id_token_like = sign(ec_pem, {"alg": "ES256", "typ": "JWT"}, claims)
    with pytest.raises(AuthenticationFailed, match="typ must be at\\+jwt"):
        tokens.verify(id_token_like)


def test_the_long_media_type_is_accepted(ec_pem: bytes, tokens: TokenService) -> None:
    _, claims = segments(issue(tokens))
    token = sign(ec_pem, {"alg": "ES256", "typ": "application/at+jwt"}, claims)
    assert tokens.verify(token).client_id == "cl_abc"


@pytest.mark.parametrize("missing", ["agency", "client_id", "scope", "exp", "jti"])
def test_a_token_lacking_a_claim_is_refused(
    ec_pem: bytes, tokens: TokenService, missing: str
) -> None:
    _, claims = segments(issue(tokens))
    del claims[missing]
    token = sign(ec_pem, {"alg": "ES256", "typ": "at+jwt"}, claims)
    with pytest.raises(AuthenticationFailed, match=f"lacks claims: {missing}"):
        tokens.verify(token)


def test_a_token_whose_subject_is_not_its_client_is_refused(
    ec_pem: bytes, tokens: TokenService
) -> None:
    _, claims = segments(issue(tokens))
    claims["sub"] = "cl_someone_else"
    token = sign(ec_pem, {"alg": "ES256", "typ": "at+jwt"}, claims)
    with pytest.raises(AuthenticationFailed, match="subject"):
        tokens.verify(token)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "....", "eyJ.eyJ.", "x" * 5000, "é.é.é"])
def test_garbage_is_a_malformed_token(tokens: TokenService, garbage: str) -> None:
    with pytest.raises(AuthenticationFailed, match="malformed token"):
        tokens.verify(garbage)


def test_jwks_publishes_only_the_public_key(tokens: TokenService) -> None:
    (jwk,) = tokens.jwks()["keys"]
    assert jwk["kty"] == "EC"
    assert jwk["crv"] == "P-256"
    assert jwk["alg"] == "ES256"
    assert jwk["use"] == "sig"
    assert jwk["kid"]
    assert "d" not in jwk


def test_ed25519_keys_sign_with_the_fully_specified_algorithm(clock: Clock) -> None:
    tokens = service(pem_of(ed25519.Ed25519PrivateKey.generate()), clock)
    token = issue(tokens)
    assert segments(token)[0]["alg"] == "Ed25519"
    assert tokens.verify(token).agency == "sps"
    assert tokens.jwks()["keys"][0]["crv"] == "Ed25519"


def test_short_rsa_keys_are_refused() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(SigningKeyError, match="at least 2048"):
        signing_key_from_pem(pem_of(weak))


def test_a_signing_key_that_is_not_a_pem_key_is_refused() -> None:
    with pytest.raises(SigningKeyError, match="PEM private key"):
        signing_key_from_pem("changeme")


def test_the_configured_key_is_used_and_nothing_is_written(tmp_path: Path, ec_pem: bytes) -> None:
    settings = Settings(
        environment="test", data_dir=tmp_path, token_signing_key=SecretStr(ec_pem.decode())
    )
    tokens = TokenService.from_settings(settings)
    assert tokens.jwks() == service(ec_pem, Clock()).jwks()
    assert not (tmp_path / KEY_FILE).exists()


def test_development_generates_a_private_key_file_once(tmp_path: Path) -> None:
    settings = Settings(environment="development", data_dir=tmp_path / "data")
    first = load_signing_key(settings)
    path = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert first.algorithm == "ES256"
    again = load_signing_key(settings)
    assert again.kid == first.kid
    assert sorted(p.name for p in path.parent.iterdir()) == ["token-signing.pem"]


def test_tokens_survive_a_restart_with_the_generated_key(tmp_path: Path) -> None:
    settings = Settings(environment="test", data_dir=tmp_path)
    token = TokenService.from_settings(settings).issue(
        client_id="cl_abc", agency="sps", scopes=["feed:read"]
    )
    assert TokenService.from_settings(settings).verify(token.access_token).scopes == {"feed:read"}


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    settings = Settings(environment="test", data_dir=tmp_path)
    load_signing_key(settings)
    os.chmod(tmp_path / KEY_FILE, 0o644)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        load_signing_key(settings)


def test_production_never_generates_a_key(tmp_path: Path) -> None:
    # The settings themselves refuse production without a key; this is the second line.
    settings = Settings.model_construct(environment="production", data_dir=tmp_path)
    with pytest.raises(SigningKeyError, match="HUB_TOKEN_SIGNING_KEY must be set"):
        load_signing_key(settings)
    assert not (tmp_path / "keys").exists()


# -- rotation: tokens carry the kid of the key that signed them; previous keys still verify --


def public_pem_of(pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(pem, password=None)
    public: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public


def test_a_token_names_its_signing_key(tokens: TokenService) -> None:
    header, _ = segments(issue(tokens))
    assert header["kid"] == tokens.jwks()["keys"][0]["kid"]


@pytest.mark.parametrize("as_public_pem", [True, False])
def test_tokens_of_a_previous_key_verify_until_it_is_removed(
    ec_pem: bytes, clock: Clock, as_public_pem: bool
) -> None:
    old = service(ec_pem, clock)
    token = issue(old)
    new_pem = pem_of(ed25519.Ed25519PrivateKey.generate())
    previous = verification_key_from_pem(public_pem_of(ec_pem) if as_public_pem else ec_pem)

    rotated = service(new_pem, clock, previous=[previous])
    assert rotated.verify(token).client_id == "cl_abc"
    fresh = issue(rotated)
    assert segments(fresh)[0]["kid"] != segments(token)[0]["kid"]
    assert rotated.verify(fresh).client_id == "cl_abc"
    with pytest.raises(AuthenticationFailed, match="unknown key"):
        old.verify(fresh)  # a hub not yet rotated does not know the new key
    kids = [k["kid"] for k in rotated.jwks()["keys"]]
    assert kids == [segments(fresh)[0]["kid"], segments(token)[0]["kid"]]
    assert all("d" not in k for k in rotated.jwks()["keys"])

    retired = service(new_pem, clock)
    with pytest.raises(AuthenticationFailed, match="unknown key"):
        retired.verify(token)


def test_a_token_naming_a_previous_kid_must_be_signed_by_that_key(
    ec_pem: bytes, clock: Clock
) -> None:
    previous = verification_key_from_pem(ec_pem)
    attacker = service(pem_of(ec.generate_private_key(ec.SECP256R1())), clock)
    token = attacker.issue(client_id="cl_abc", agency="sps", scopes=["admin"]).access_token
    header, payload = segments(token)
    header["kid"] = previous.kid

    def b64(document: dict[str, Any]) -> str:
        raw = json.dumps(document).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    forged = ".".join([b64(header), b64(payload), token.split(".")[2]])
    rotated = service(pem_of(ed25519.Ed25519PrivateKey.generate()), clock, previous=[previous])
    with pytest.raises(AuthenticationFailed, match="signature"):
        rotated.verify(forged)


def test_previous_keys_come_from_the_settings(tmp_path: Path, ec_pem: bytes) -> None:
    new_pem = pem_of(ec.generate_private_key(ec.SECP256R1()))
    settings = Settings(
        environment="test",
        data_dir=tmp_path,
        token_signing_key=SecretStr(new_pem.decode()),
        token_previous_signing_keys=(SecretStr(public_pem_of(ec_pem).decode()),),
    )
    token = issue(service(ec_pem, Clock(time.time())))
    rotated = TokenService.from_settings(settings)
    assert rotated.verify(token).agency == "sps"
    assert len(rotated.jwks()["keys"]) == 2
    assert "SecretStr" in repr(settings.token_previous_signing_keys)


def test_a_previous_key_that_is_not_a_key_is_refused() -> None:
    with pytest.raises(SigningKeyError):
        verification_key_from_pem("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")


THUMBPRINT = "9cyasCLZl8jtjtGDorUBXW21I8zhj2fUaWJPxtNR7K8"


def test_a_token_issued_with_a_certificate_is_bound_to_it(tokens: TokenService) -> None:
    token = tokens.issue(
        client_id="cl_abc", agency="sps", scopes=["events:read"], certificate_thumbprint=THUMBPRINT
    ).access_token
    _, claims = segments(token)
    assert claims["cnf"] == {"x5t#S256": THUMBPRINT}
    assert tokens.verify(token).certificate_thumbprint == THUMBPRINT


def test_a_token_issued_without_a_certificate_is_unbound(tokens: TokenService) -> None:
    token = issue(tokens)
    assert "cnf" not in segments(token)[1]
    assert tokens.verify(token).certificate_thumbprint is None


@pytest.mark.parametrize(
    "confirmation", [{"jkt": THUMBPRINT}, {"x5t#S256": ""}, {"x5t#S256": 42}, THUMBPRINT, None]
)
def test_a_token_bound_in_a_way_the_hub_does_not_issue_is_refused(
    ec_pem: bytes, tokens: TokenService, confirmation: Any
) -> None:
    _, claims = segments(issue(tokens))
    claims["cnf"] = confirmation
    token = sign(ec_pem, {"alg": "ES256", "typ": "at+jwt"}, claims)
    with pytest.raises(AuthenticationFailed, match="unsupported confirmation method"):
        tokens.verify(token)
