"""Signed checkpoints against the published vectors of C2SP signed-note and tlog-checkpoint and
of golang.org/x/mod/sumdb/note, the reference implementation of the note format."""

from __future__ import annotations

import base64
import hashlib
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.domain.audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    InvalidSignature,
    MalformedCheckpoint,
    UnknownKey,
    VerifierKey,
    key_id,
    load_or_create_signing_key,
    open_note,
    parse_signed_checkpoint,
    sign_checkpoint,
    sign_note,
    verifier_key,
)
from hub.domain.audit.merkle import EMPTY_ROOT, leaf_hash

# golang.org/x/mod/sumdb/note, note.go package documentation and note_test.go (TestSign,
# TestOpen, TestNewVerifier): a signer key, its verifier key, a text and the exact signed note.
GO_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VERIFIER_KEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotp"
    "RZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox3"
    "3WWd1RvMc+QQ=\n"
)
GO_NOTE = GO_TEXT + "\n" + PETER_SIG

# The example of c2sp.org/signed-note ("Verifier keys"), as quoted by several independent
# implementations' test suites.
SPEC_VERIFIER_KEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONn"
    "cAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)

# The example body of c2sp.org/tlog-checkpoint.
SPEC_CHECKPOINT_BODY = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)


def _go_signer() -> Ed25519PrivateKey:
    _, _, name, id_hex, encoded = GO_SIGNER_KEY.split("+", 4)
    material = base64.b64decode(encoded)
    assert (name, id_hex, material[0]) == ("PeterNeumann", "c74f20a3", 1)
    return Ed25519PrivateKey.from_private_bytes(material[1:])


# --- the note format -------------------------------------------------------------------------


def test_signing_reproduces_the_go_reference_note_byte_for_byte() -> None:
    key = _go_signer()
    assert sign_note(GO_TEXT, key, "PeterNeumann") == GO_NOTE
    assert verifier_key("PeterNeumann", key.public_key()) == GO_VERIFIER_KEY
    assert key_id("PeterNeumann", key.public_key()).hex() == "c74f20a3"


def test_key_id_is_the_truncated_hash_of_name_type_and_key() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    expected = hashlib.sha256(b"hub.example/audit" + b"\x0a" + b"\x01" + raw).digest()[:4]
    assert key_id("hub.example/audit", key) == expected
    name, id_hex, encoded = verifier_key("hub.example/audit", key).split("+", 2)
    assert (name, id_hex, base64.b64decode(encoded)) == (
        "hub.example/audit",
        expected.hex(),
        b"\x01" + raw,
    )


def test_opening_the_published_notes() -> None:
    assert open_note(GO_NOTE, GO_VERIFIER_KEY) == GO_TEXT
    assert open_note(GO_NOTE.encode(), GO_VERIFIER_KEY) == GO_TEXT
    assert open_note(SPEC_NOTE, SPEC_VERIFIER_KEY) == "This is an example message.\n"
    # Two signers: each key finds its own signature and ignores the other.
    both = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert open_note(both, GO_VERIFIER_KEY) == GO_TEXT
    assert open_note(both, ENOCH_VERIFIER_KEY) == GO_TEXT
    # A repeated signature by the known key is not an error (as in Go).
    assert open_note(GO_TEXT + "\n" + PETER_SIG + PETER_SIG, GO_VERIFIER_KEY) == GO_TEXT


def test_notes_without_a_signature_by_the_key_are_refused() -> None:
    with pytest.raises(UnknownKey, match="no signature by PeterNeumann"):
        open_note(GO_TEXT + "\n" + ENOCH_SIG, GO_VERIFIER_KEY)
    with pytest.raises(UnknownKey):
        open_note(GO_NOTE, SPEC_VERIFIER_KEY)


def test_any_of_several_known_keys_opens_a_note() -> None:
    # After a key rotation the verifier knows the earlier key as well as the current one.
    known = [ENOCH_VERIFIER_KEY, GO_VERIFIER_KEY]
    assert open_note(GO_NOTE, known) == GO_TEXT
    assert open_note(GO_TEXT + "\n" + ENOCH_SIG, known) == GO_TEXT
    # Every signature by a known key must verify, not just the first found.
    tampered = GO_TEXT + "\n" + ENOCH_SIG + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(InvalidSignature, match="PeterNeumann"):
        open_note(tampered, known)
    with pytest.raises(UnknownKey, match="EnochRoot\\+af0cfe78, PeterNeumann\\+c74f20a3"):
        open_note(SPEC_NOTE, known)
    with pytest.raises(MalformedCheckpoint, match="no verifier key"):
        open_note(GO_NOTE, [])


def test_a_bad_signature_by_the_known_key_is_refused() -> None:
    tampered = GO_TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(InvalidSignature, match="PeterNeumann\\+c74f20a3"):
        open_note(tampered, GO_VERIFIER_KEY)
    with pytest.raises(InvalidSignature):
        open_note(GO_TEXT.replace("problem,", "problem;") + "\n" + PETER_SIG, GO_VERIFIER_KEY)


@pytest.mark.parametrize(
    "note",
    [
        GO_TEXT,
        GO_TEXT + "\n",
        GO_TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + GO_TEXT + "\n" + PETER_SIG,
        GO_TEXT + "\n" + "— Bad Name" + PETER_SIG[len("— PeterNeumann") :],
        GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        GO_TEXT + "\n" + PETER_SIG * 101,
        GO_TEXT + "\n" + "— PeterNeumann x08g\n",
        GO_TEXT + "\n" + "— PeterNeumann not base64!\n",
    ],
    ids=[
        "text only",
        "no signature",
        "no final newline",
        "control character",
        "space in name",
        "trailing line",
        "101 signatures",
        "short signature",
        "not base64",
    ],
)
def test_malformed_notes_are_refused(note: str) -> None:
    # The malformed-message table of golang.org/x/mod/sumdb/note's TestOpen, and a few more.
    with pytest.raises(MalformedCheckpoint):
        open_note(note, GO_VERIFIER_KEY)


def test_invalid_utf8_is_refused() -> None:
    with pytest.raises(MalformedCheckpoint, match="UTF-8"):
        open_note(b"\xff" + GO_NOTE.encode(), GO_VERIFIER_KEY)


def test_mangled_verifier_keys_are_refused() -> None:
    # golang.org/x/mod/sumdb/note's TestNewVerifier: every proper substring, and every
    # single-character change, of a good key is refused.
    VerifierKey.parse(GO_VERIFIER_KEY)
    key = GO_VERIFIER_KEY
    for i in range(len(key) + 1):
        for j in range(i + 1, len(key) + 1):
            if (i, j) != (0, len(key)):
                with pytest.raises(MalformedCheckpoint):
                    VerifierKey.parse(key[i:j])
    for i in range(len(key)):
        with pytest.raises(MalformedCheckpoint):
            VerifierKey.parse(key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :])
    for bad in (
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",  # length
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # algorithm
    ):
        with pytest.raises(MalformedCheckpoint):
            VerifierKey.parse(bad)


def test_invalid_key_names_are_refused_when_signing() -> None:
    key = Ed25519PrivateKey.generate()
    for name in ("", "has space", "has+plus", "tab\there"):
        with pytest.raises(MalformedCheckpoint):
            sign_note("text\n", key, name)
    with pytest.raises(MalformedCheckpoint):
        sign_note("no final newline", key, "hub")


# --- checkpoints -----------------------------------------------------------------------------

ORIGIN = "hub.example/audit"


def _checkpoint(size: int = 1234, extensions: tuple[str, ...] = ()) -> Checkpoint:
    return Checkpoint(ORIGIN, size, leaf_hash(b"root"), extensions)


def test_the_tlog_checkpoint_example_body_parses_and_reserialises() -> None:
    checkpoint = Checkpoint.from_body(SPEC_CHECKPOINT_BODY)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.tree_size == 20852163
    assert checkpoint.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert checkpoint.body() == SPEC_CHECKPOINT_BODY


@pytest.mark.parametrize(
    "checkpoint",
    [
        Checkpoint(ORIGIN, 0, EMPTY_ROOT),
        Checkpoint(ORIGIN, 1234, leaf_hash(b"root")),
        Checkpoint(ORIGIN, 2**40, leaf_hash(b"root"), ("Timestamp: 1700000000", "x")),
    ],
)
def test_sign_then_parse_roundtrips(checkpoint: Checkpoint) -> None:
    key = Ed25519PrivateKey.generate()
    note = sign_checkpoint(checkpoint, key, ORIGIN)
    assert note.startswith(checkpoint.body() + "\n— " + ORIGIN + " ")
    vkey = verifier_key(ORIGIN, key.public_key())
    assert parse_signed_checkpoint(note, vkey) == checkpoint
    assert parse_signed_checkpoint(note, vkey, expected_origin=ORIGIN) == checkpoint
    # Standard tooling reads it: the signature is a plain note signature over the body.
    assert open_note(note, vkey) == checkpoint.body()


def test_checkpoints_signed_by_another_key_are_refused() -> None:
    note = sign_checkpoint(_checkpoint(), Ed25519PrivateKey.generate(), ORIGIN)
    other = verifier_key(ORIGIN, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(UnknownKey):
        parse_signed_checkpoint(note, other)


def test_altered_checkpoints_are_refused() -> None:
    key = Ed25519PrivateKey.generate()
    vkey = verifier_key(ORIGIN, key.public_key())
    checkpoint = _checkpoint()
    note = sign_checkpoint(checkpoint, key, ORIGIN)
    body = checkpoint.body()
    signature = note[len(body) :]
    root_line = base64.b64encode(checkpoint.root_hash).decode()
    other_root = base64.b64encode(leaf_hash(b"other")).decode()
    for altered_body in (
        body.replace("\n1234\n", "\n1235\n"),
        body.replace(root_line, other_root),
        body + "extra line\n",
        body.replace(ORIGIN, "hub.example/other"),
    ):
        with pytest.raises(InvalidSignature):
            parse_signed_checkpoint(altered_body + signature, vkey)
    with pytest.raises(MalformedCheckpoint):
        parse_signed_checkpoint(note + "extra line\n", vkey)


def test_a_checkpoint_for_another_origin_is_refused_when_the_origin_is_given() -> None:
    key = Ed25519PrivateKey.generate()
    note = sign_checkpoint(Checkpoint("hub.example/other", 1, EMPTY_ROOT), key, ORIGIN)
    with pytest.raises(MalformedCheckpoint, match=r"not 'hub\.example/audit'"):
        parse_signed_checkpoint(
            note, verifier_key(ORIGIN, key.public_key()), expected_origin=ORIGIN
        )


@pytest.mark.parametrize(
    "body",
    [
        "hub\n012\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",  # leading zero
        "hub\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "hub\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",  # 31 bytes
        "hub\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n",  # not canonical base64
        "hub\n1\n",
        "\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",  # empty origin
    ],
)
def test_malformed_bodies_are_refused_even_when_signed(body: str) -> None:
    key = Ed25519PrivateKey.generate()
    note = sign_note(body, key, ORIGIN)
    with pytest.raises(MalformedCheckpoint):
        parse_signed_checkpoint(note, verifier_key(ORIGIN, key.public_key()))


def test_checkpoint_fields_are_validated() -> None:
    with pytest.raises(MalformedCheckpoint):
        Checkpoint("", 1, EMPTY_ROOT)
    with pytest.raises(MalformedCheckpoint):
        Checkpoint("two\nlines", 1, EMPTY_ROOT)
    with pytest.raises(MalformedCheckpoint):
        Checkpoint(ORIGIN, -1, EMPTY_ROOT)
    with pytest.raises(MalformedCheckpoint):
        Checkpoint(ORIGIN, 1, b"short")
    with pytest.raises(MalformedCheckpoint):
        Checkpoint(ORIGIN, 1, EMPTY_ROOT, ("",))
    assert issubclass(CheckpointError, ValueError)


# --- the signing key file ----------------------------------------------------------------------


def test_signing_key_is_created_private_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit-signing.pem"
    key = load_or_create_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    again = load_or_create_signing_key(path)
    assert verifier_key(ORIGIN, again.public_key()) == verifier_key(ORIGIN, key.public_key())
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_key_file_of_another_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ec.pem"
    path.write_bytes(
        generate_private_key(SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(MalformedCheckpoint, match="not hold an Ed25519"):
        load_or_create_signing_key(path)
