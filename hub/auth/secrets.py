"""Hashing client secrets for storage, and checking a presented secret against the hash.

The stored form is self-describing, in the PHC string style: `$scrypt$ln=14,r=8,p=1$<salt>$<hash>`
(salt and hash in unpadded base64), so the cost can be raised later without breaking old hashes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import cache

ALGORITHM = "scrypt"
#: scrypt cost: N = 2**14, 16 MiB and tens of milliseconds per hash. Client secrets are 256 random
#: bits, so the cost is defence in depth against a leaked table, not the main protection.
DEFAULT_LOG2_N = 14
DEFAULT_R = 8
DEFAULT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32

#: Bounds on parameters read back from storage, so a corrupted row cannot make a check run away.
_LOG2_N_RANGE = range(10, 21)
_R_RANGE = range(1, 33)
_P_RANGE = range(1, 17)


@dataclass(frozen=True, slots=True)
class _Parameters:
    log2_n: int
    r: int
    p: int

    def encode(self) -> str:
        return f"ln={self.log2_n},r={self.r},p={self.p}"


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _derive(secret: str, salt: bytes, params: _Parameters) -> bytes:
    n = 2**params.log2_n
    return hashlib.scrypt(
        secret.encode("utf-8"),
        salt=salt,
        n=n,
        r=params.r,
        p=params.p,
        maxmem=256 * n * params.r * params.p,
        dklen=HASH_BYTES,
    )


def hash_secret(secret: str) -> str:
    """The storable hash of `secret`, with a fresh random salt."""
    params = _Parameters(DEFAULT_LOG2_N, DEFAULT_R, DEFAULT_P)
    salt = os.urandom(SALT_BYTES)
    digest = _derive(secret, salt, params)
    return f"${ALGORITHM}${params.encode()}${_b64encode(salt)}${_b64encode(digest)}"


def _parse(encoded: str) -> tuple[_Parameters, bytes, bytes]:
    parts = encoded.split("$")
    if len(parts) != 5 or parts[0] != "" or parts[1] != ALGORITHM:
        raise ValueError("not a scrypt secret hash")
    try:
        fields = dict(item.split("=", 1) for item in parts[2].split(","))
        params = _Parameters(int(fields["ln"]), int(fields["r"]), int(fields["p"]))
        salt, digest = _b64decode(parts[3]), _b64decode(parts[4])
    except (KeyError, ValueError, binascii.Error) as error:
        raise ValueError("malformed scrypt secret hash") from error
    if (
        params.log2_n not in _LOG2_N_RANGE
        or params.r not in _R_RANGE
        or params.p not in _P_RANGE
        or not salt
        or not digest
    ):
        raise ValueError("scrypt secret hash parameters out of range")
    return params, salt, digest


def verify_secret(secret: str, encoded: str) -> bool:
    """Whether `secret` is the one `encoded` was made from, compared in constant time.

    Raises ValueError when `encoded` is not a hash this module made: a stored hash that cannot be
    read is corruption to be surfaced, not a wrong secret.
    """
    params, salt, expected = _parse(encoded)
    return hmac.compare_digest(_derive(secret, salt, params), expected)


@cache
def _decoy_hash() -> str:
    return hash_secret(os.urandom(32).hex())


def burn_verification_time(secret: str) -> None:
    """Spend as long as a real check, for an unknown or disabled client, so that response times
    do not tell an attacker which client ids exist."""
    verify_secret(secret, _decoy_hash())
