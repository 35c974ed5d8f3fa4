"""Client secret hashing: scrypt, salted, self-describing, checked in constant time."""

from __future__ import annotations

import pytest

from hub.auth import secrets as client_secrets


def test_a_hash_verifies_only_its_own_secret() -> None:
    encoded = client_secrets.hash_secret("s3cret-value")
    assert client_secrets.verify_secret("s3cret-value", encoded)
    assert not client_secrets.verify_secret("s3cret-valuE", encoded)
    assert not client_secrets.verify_secret("", encoded)


def test_the_hash_describes_how_it_was_made_and_hides_the_secret() -> None:
    encoded = client_secrets.hash_secret("s3cret-value")
    assert encoded.startswith("$scrypt$ln=14,r=8,p=1$")
    assert "s3cret" not in encoded
    _, algorithm, params, salt, digest = encoded.split("$")
    assert (algorithm, params) == ("scrypt", "ln=14,r=8,p=1")
    assert len(salt) >= 20
    assert len(digest) >= 40


def test_each_hash_has_its_own_salt() -> None:
    first = client_secrets.hash_secret("same secret")
    second = client_secrets.hash_secret("same secret")
    assert first != second
    assert client_secrets.verify_secret("same secret", first)
    assert client_secrets.verify_secret("same secret", second)


def test_non_ascii_secrets_work() -> None:
    encoded = client_secrets.hash_secret("pàss-wörd-🔑")
    assert client_secrets.verify_secret("pàss-wörd-🔑", encoded)
    assert not client_secrets.verify_secret("pass-word-🔑", encoded)


def test_a_hash_made_with_other_parameters_still_verifies() -> None:
    """Raising the default cost later must not break stored hashes."""
    encoded = client_secrets.hash_secret("old secret")
    _, _, _, salt, _ = encoded.split("$")
    params = client_secrets._Parameters(log2_n=10, r=4, p=2)
    digest = client_secrets._derive("old secret", client_secrets._b64decode(salt), params)
    older = f"$scrypt${params.encode()}${salt}${client_secrets._b64encode(digest)}"
    assert client_secrets.verify_secret("old secret", older)
    assert not client_secrets.verify_secret("other secret", older)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plaintext-secret",
        "$bcrypt$ln=14,r=8,p=1$c2FsdA$ZGlnZXN0",
        "$scrypt$ln=14,r=8$c2FsdA$ZGlnZXN0",
        "$scrypt$ln=x,r=8,p=1$c2FsdA$ZGlnZXN0",
        "$scrypt$ln=14,r=8,p=1$c2FsdA",
        "$scrypt$ln=14,r=8,p=1$!!!$ZGlnZXN0",
        "$scrypt$ln=14,r=8,p=1$$ZGlnZXN0",
        "$scrypt$ln=40,r=8,p=1$c2FsdA$ZGlnZXN0",
        "$scrypt$ln=14,r=8,p=99$c2FsdA$ZGlnZXN0",
    ],
)
def test_a_stored_hash_that_cannot_be_read_is_an_error_not_a_mismatch(stored: str) -> None:
    with pytest.raises(ValueError, match="scrypt"):
        client_secrets.verify_secret("anything", stored)


def test_burning_verification_time_never_matches_or_fails() -> None:
    client_secrets.burn_verification_time("a guess")
    client_secrets.burn_verification_time("")
