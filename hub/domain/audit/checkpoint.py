"""Signed checkpoints of the audit log: C2SP `tlog-checkpoint` bodies in C2SP `signed-note`s.

A checkpoint commits the hub to the log's size and root hash; anyone holding the published
verifier key can check one without the database (`hub audit verify-export --key`). The formats
follow c2sp.org/tlog-checkpoint and c2sp.org/signed-note as implemented by
golang.org/x/mod/sumdb/note, so standard transparency-log tooling reads what the hub signs:

    hub.example/audit               <- origin
    1234                            <- tree size, decimal
    2XZtyR2O1Z1sPrZ2hR0hjhVf3pLS2j+Ey8LRtKh1PMs=   <- root hash, base64
                                    <- blank line
    — hub.example/audit <base64(4-byte key ID || 64-byte Ed25519 signature)>

Errors (all `ValueError`, so a caller that only needs "bad input" can catch that):

    CheckpointError
    ├── MalformedCheckpoint    not a signed note, not a checkpoint body, or a bad key string
    ├── UnknownKey             no signature by the expected key (wrong key, or only others)
    └── InvalidSignature       a signature by the expected key that does not verify
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature as _CryptographyInvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hub.domain.audit.merkle import HASH_SIZE

#: The signed-note signature type of Ed25519 (c2sp.org/signed-note, "Signature types").
ED25519_TYPE = 0x01
SIGNATURE_PREFIX = "— "  # U+2014 EM DASH, then a space
#: golang.org/x/mod/sumdb/note refuses notes with more signatures than this; so do we.
MAX_SIGNATURES = 100

_TREE_SIZE = re.compile(r"0|[1-9][0-9]*")


class CheckpointError(ValueError):
    """A checkpoint or signed note that cannot be trusted."""


class MalformedCheckpoint(CheckpointError):
    pass


class UnknownKey(CheckpointError):
    pass


class InvalidSignature(CheckpointError):
    pass


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The log's size and root hash as of one moment, named by the log's origin."""

    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or not _is_single_line(self.origin):
            raise MalformedCheckpoint("the origin must be a non-empty line of printable text")
        if type(self.tree_size) is not int or self.tree_size < 0:
            raise MalformedCheckpoint("the tree size must be a non-negative integer")
        if len(self.root_hash) != HASH_SIZE:
            raise MalformedCheckpoint(f"the root hash must be {HASH_SIZE} bytes")
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for line in self.extensions:
            # c2sp.org/tlog-checkpoint: extension lines, if any, MUST be non-empty.
            if not line or not _is_single_line(line):
                raise MalformedCheckpoint("extension lines must be non-empty lines of text")

    def body(self) -> str:
        """The note text: origin, size, base64 root and extension lines, each ending in \\n."""
        lines = [
            self.origin,
            str(self.tree_size),
            base64.b64encode(self.root_hash).decode("ascii"),
            *self.extensions,
        ]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def from_body(cls, text: str) -> Checkpoint:
        """Parse a note text as a checkpoint (the signature must already have been checked)."""
        if not text.endswith("\n"):
            raise MalformedCheckpoint("a checkpoint body ends with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedCheckpoint("a checkpoint has an origin, a tree size and a root hash")
        origin, size_line, root_line, *extensions = lines
        if not _TREE_SIZE.fullmatch(size_line):
            raise MalformedCheckpoint(
                f"the tree size {size_line!r} is not a decimal without leading zeroes"
            )
        root_hash = _b64decode(root_line, "root hash")
        if base64.b64encode(root_hash).decode("ascii") != root_line:
            raise MalformedCheckpoint("the root hash is not in canonical base64")
        return cls(origin, int(size_line), root_hash, tuple(extensions))


# --- keys ------------------------------------------------------------------------------------


def _public_key_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key_name: str, public_key: Ed25519PublicKey) -> bytes:
    """SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4] (c2sp.org/signed-note)."""
    _check_key_name(key_name)
    material = bytes([ED25519_TYPE]) + _public_key_bytes(public_key)
    return hashlib.sha256(key_name.encode("utf-8") + b"\n" + material).digest()[:4]


def verifier_key(key_name: str, public_key: Ed25519PublicKey) -> str:
    """The published form of the public key: `<name>+<hex key ID>+<base64(0x01 || key)>`."""
    material = bytes([ED25519_TYPE]) + _public_key_bytes(public_key)
    encoded = base64.b64encode(material).decode("ascii")
    return f"{key_name}+{key_id(key_name, public_key).hex()}+{encoded}"


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A parsed verifier key string."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        # The base64 may itself contain '+', so split at the first two only.
        parts = text.split("+", 2)
        if len(parts) != 3:
            raise MalformedCheckpoint("a verifier key is <name>+<hex key id>+<base64 key>")
        name, id_hex, encoded = parts
        if not _is_valid_key_name(name):
            raise MalformedCheckpoint(f"{name!r} is not a valid key name")
        if not re.fullmatch(r"[0-9a-fA-F]{8}", id_hex):
            raise MalformedCheckpoint("the key id of a verifier key is 8 hex digits")
        material = _b64decode(encoded, "verifier key")
        if len(material) != 33 or material[0] != ED25519_TYPE:
            raise MalformedCheckpoint("the verifier key is not an Ed25519 key (type 0x01)")
        public_key = Ed25519PublicKey.from_public_bytes(material[1:])
        expected_id = key_id(name, public_key)
        if expected_id.hex() != id_hex.lower():
            raise MalformedCheckpoint("the verifier key's id does not match its name and key")
        return cls(name, expected_id, public_key)


def _is_valid_key_name(name: str) -> bool:
    # c2sp.org/signed-note: non-empty, no Unicode spaces, no '+'.
    return (
        bool(name)
        and "+" not in name
        and not any(c.isspace() for c in name)
        and _is_single_line(name)
    )


def _check_key_name(name: str) -> None:
    if not _is_valid_key_name(name):
        raise MalformedCheckpoint(f"{name!r} is not a valid key name (no spaces, no '+')")


# --- signed notes ----------------------------------------------------------------------------


def sign_note(text: str, private_key: Ed25519PrivateKey, key_name: str) -> str:
    """`text` (ending in a newline) signed as a C2SP signed note by one Ed25519 key."""
    _check_note_text(text)
    if not text.endswith("\n"):
        raise MalformedCheckpoint("a note text ends with a newline")
    signature = private_key.sign(text.encode("utf-8"))
    prefix = key_id(key_name, private_key.public_key())
    encoded = base64.b64encode(prefix + signature).decode("ascii")
    return f"{text}\n{SIGNATURE_PREFIX}{key_name} {encoded}\n"


Verifiers = str | VerifierKey | Sequence[str | VerifierKey]


def _known_keys(verifiers: Verifiers) -> dict[tuple[str, bytes], VerifierKey]:
    listed = [verifiers] if isinstance(verifiers, str | VerifierKey) else list(verifiers)
    if not listed:
        raise MalformedCheckpoint("no verifier key to check the note with")
    keys = [k if isinstance(k, VerifierKey) else VerifierKey.parse(k) for k in listed]
    return {(k.name, k.key_id): k for k in keys}


def open_note(note: str | bytes, verifiers: Verifiers) -> str:
    """The text of `note`, once a signature by one of the known keys `verifiers` has been checked.

    As golang.org/x/mod/sumdb/note's Open: signatures by unknown keys are ignored, every
    signature by a known key must verify, and a note signed by no known key is refused. Several
    known keys let checkpoints signed before a key rotation verify beside those signed after.
    """
    known = _known_keys(verifiers)
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedCheckpoint("a signed note must be valid UTF-8") from None
    _check_note_text(note)
    # The text runs to the last blank line; the signature lines follow it.
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedCheckpoint("a signed note has a blank line before its signatures")
    text, signature_block = note[: split + 1], note[split + 2 :]
    if not signature_block.endswith("\n"):
        raise MalformedCheckpoint("a signed note ends with a signature line and a newline")
    lines = signature_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedCheckpoint(f"a signed note has at most {MAX_SIGNATURES} signatures")
    verified = False
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise MalformedCheckpoint(f"{line!r} is not a signature line")
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        if not _is_valid_key_name(name) or not encoded:
            raise MalformedCheckpoint(f"{line!r} is not a signature line")
        signature = _b64decode(encoded, "signature")
        if len(signature) < 5:
            raise MalformedCheckpoint(f"the signature by {name} is too short")
        key = known.get((name, signature[:4]))
        if key is None:
            continue
        try:
            key.public_key.verify(signature[4:], text.encode("utf-8"))
        except _CryptographyInvalidSignature:
            raise InvalidSignature(
                f"the signature by {key.name}+{key.key_id.hex()} does not verify"
            ) from None
        verified = True
    if not verified:
        names = ", ".join(f"{k.name}+{k.key_id.hex()}" for k in known.values())
        raise UnknownKey(f"the note has no signature by {names}")
    return text


def _check_note_text(text: str) -> None:
    # c2sp.org/signed-note: valid UTF-8, no ASCII control characters but newline.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedCheckpoint("a signed note must be valid UTF-8") from None
    if any(c < " " and c != "\n" for c in text):
        raise MalformedCheckpoint("a signed note has no control characters but newlines")


# --- checkpoints -----------------------------------------------------------------------------


def sign_checkpoint(checkpoint: Checkpoint, private_key: Ed25519PrivateKey, key_name: str) -> str:
    """The checkpoint as a signed note (c2sp.org/tlog-checkpoint) by `key_name`'s key."""
    return sign_note(checkpoint.body(), private_key, key_name)


def parse_signed_checkpoint(
    note: str | bytes, verifier_key: Verifiers, *, expected_origin: str | None = None
) -> Checkpoint:
    """The checkpoint in `note`, once its signature by `verifier_key` (or by one of several
    known keys) has been checked.

    Pass `expected_origin` to refuse checkpoints of another log signed by the same key.
    """
    checkpoint = Checkpoint.from_body(open_note(note, verifier_key))
    if expected_origin is not None and checkpoint.origin != expected_origin:
        raise MalformedCheckpoint(
            f"the checkpoint is for {checkpoint.origin!r}, not {expected_origin!r}"
        )
    return checkpoint


# --- the signing key (file I/O) --------------------------------------------------------------


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 key in the PEM file at `path`, created (mode 0600) if there is none.

    The new key is written to a private temporary file and hard-linked into place, so no
    reader ever sees a half-written key and two processes starting together share one key.
    """
    try:
        return _load_signing_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return _load_signing_key(path)
    finally:
        temporary.unlink(missing_ok=True)
    return key


def _load_signing_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise MalformedCheckpoint(f"{path} does not hold an Ed25519 private key")
    return key


# --- helpers ---------------------------------------------------------------------------------


def _is_single_line(text: str) -> bool:
    return not any(c < " " for c in text)


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedCheckpoint(f"the {what} is not valid base64") from None
