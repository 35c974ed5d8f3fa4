"""Which fields of a notification are encrypted at rest, and how one field is sealed and opened.

The sensitive fields are derived from the body schemas in `events/`, never listed by hand:

* every string leaf of `data` in `health.information-shared` without an `enum`, `format` or
  `const` (special-category data: `data.summary`, `data.consent.recorded_by`,
  `data.harm_prevention_justification.text`, `data.harm_prevention_justification.authorised_by`);
* in every type, the free-text fields: strings without `enum`, `format`, `pattern` or `const`
  whose `maxLength` is 500 or more. In the schemas of this release that selects the summaries
  (`health.information-shared` and `risk.assessment-recorded` `data.summary`), the reasons
  (`data.reason_detail` of `custody.transfer`, `licence.recall`, `mappa.level-changed`,
  `mappa.referral`), the circumstances of `person.missing` and `person.located`, the condition
  notes (`data.licence.conditions[].detail` of `custody.liberation`, `data.conditions[].detail`
  of `custody.temporary-release`) and `data.schedule1_offences[].description` of
  `release.schedule1-notification`. (`disclosure.overdue` `data.event_source` has a `pattern`:
  an identifier, not free text.)

A sealed field holds `{"$pph.enc": "v1:<key_id>:<base64url(nonce | ciphertext)>"}`: AES-256-GCM
under the person's data key, with the JSON of the value as plaintext and, as associated data, the
event's source and id and the field's concrete path (`data.conditions[2].detail`), so that a
ciphertext moved to another field or another event does not open.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "CRYPTO_SHRED_RULE",
    "HEALTH_EVENT_TYPE",
    "MARKER",
    "AesGcmKek",
    "KeyEncryptionKey",
    "SensitiveFields",
    "UnreadableField",
    "key_ids_in",
    "new_data_key",
    "open_fields",
    "seal_fields",
    "sensitive_paths",
]

#: The rule named by crypto-shredding's erasure entries (written on erasure, and read back
#: from an audit export when erasures are re-applied after a restore).
CRYPTO_SHRED_RULE: Final = "crypto-shred"

#: The key of the one-entry object that stands in for a sealed value.
MARKER: Final = "$pph.enc"
FORMAT: Final = "v1"
HEALTH_EVENT_TYPE: Final = "health.information-shared"
#: Strings at least this long (by `maxLength`) are free text.
FREE_TEXT_MIN_LENGTH: Final = 500
DATA_KEY_BYTES: Final = 32
_NONCE_BYTES: Final = 12
_CONSTRAINED: Final = ("enum", "format", "const")
#: The path token that stands for every item of an array.
_EACH: Final = "[]"


class UnreadableField(Exception):
    """A sealed field that does not open: tampered with, moved, or under the wrong key."""


# -- which fields ------------------------------------------------------------------------------


def sensitive_paths(event_type: str, schema: Mapping[str, Any]) -> frozenset[str]:
    """The paths (`data.summary`, `data.conditions[].detail`) of the sensitive string leaves
    of one body schema, following local `$ref`s and every `allOf`/`if`/`then`/`else` branch."""
    found: set[str] = set()
    health = event_type == HEALTH_EVENT_TYPE

    def resolve(node: Mapping[str, Any]) -> Mapping[str, Any]:
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = schema
            for token in ref[2:].split("/"):
                target = target.get(token, {}) if isinstance(target, Mapping) else {}
            merged = dict(target) if isinstance(target, Mapping) else {}
            merged.update({k: v for k, v in node.items() if k != "$ref"})
            return merged
        return node

    def walk(raw: object, path: str, depth: int) -> None:
        if not isinstance(raw, Mapping) or depth > 32:
            return
        node = resolve(raw)
        kinds = node.get("type")
        is_string = kinds == "string" or (isinstance(kinds, list) and "string" in kinds)
        if is_string and _is_sensitive(node, health):
            found.add(path)
        for name, child in (node.get("properties") or {}).items():
            walk(child, f"{path}.{name}", depth + 1)
        if "items" in node:
            walk(node["items"], f"{path}[]", depth + 1)
        for keyword in ("allOf", "anyOf", "oneOf"):
            for child in node.get(keyword) or []:
                walk(child, path, depth + 1)
        for keyword in ("if", "then", "else"):
            walk(node.get(keyword), path, depth + 1)

    walk(schema, "data", 0)
    return frozenset(found)


def _is_sensitive(node: Mapping[str, Any], health: bool) -> bool:
    if any(keyword in node for keyword in _CONSTRAINED):
        return False
    if health:
        return True
    max_length = node.get("maxLength")
    return (
        "pattern" not in node and isinstance(max_length, int) and max_length >= FREE_TEXT_MIN_LENGTH
    )


@dataclass(frozen=True, slots=True)
class SensitiveFields:
    """The sensitive paths of each event type (of all its versions together)."""

    by_type: Mapping[str, frozenset[str]]

    @classmethod
    def from_schemas(cls, schemas: Iterable[tuple[str, Mapping[str, Any]]]) -> SensitiveFields:
        """From `(event_type, body schema)` pairs, one per version."""
        by_type: dict[str, frozenset[str]] = {}
        for event_type, schema in schemas:
            paths = sensitive_paths(event_type, schema)
            by_type[event_type] = by_type.get(event_type, frozenset()) | paths
        return cls({t: p for t, p in by_type.items() if p})

    def of(self, event_type: str) -> frozenset[str]:
        return self.by_type.get(event_type, frozenset())


# -- sealing and opening -----------------------------------------------------------------------


def new_data_key() -> bytes:
    """A fresh random AES-256 data key."""
    return os.urandom(DATA_KEY_BYTES)


#: `json.dumps(..., ensure_ascii=False)` of an associated data, and with `separators=(",", ":")`
#: of a plaintext: the same bytes, without an encoder built for every field.
_AAD_ENCODER: Final = json.JSONEncoder(ensure_ascii=False)
_PLAINTEXT_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def field_aad(source: str, event_id: str, path: str) -> bytes:
    """What a sealed field is bound to: its event and its place in the body."""
    return _AAD_ENCODER.encode([source, event_id, path]).encode("utf-8")


def seal_value(value: Any, *, key_id: str, key: bytes, aad: bytes) -> dict[str, str]:
    return _seal(value, key_id, AESGCM(key), aad)


def _seal(value: Any, key_id: str, aead: AESGCM, aad: bytes) -> dict[str, str]:
    nonce = os.urandom(_NONCE_BYTES)
    plaintext = _PLAINTEXT_ENCODER.encode(value).encode("utf-8")
    sealed = nonce + aead.encrypt(nonce, plaintext, aad)
    text = base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")
    return {MARKER: f"{FORMAT}:{key_id}:{text}"}


#: Types no sealed value has, checked first: most values read are one (the ABC check is slower).
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None), list})


def sealed_key_id(value: object) -> str | None:
    """The data key id of a sealed value, or None if `value` is not one."""
    if type(value) in _PLAIN_TYPES:
        return None
    if isinstance(value, Mapping) and len(value) == 1 and isinstance(value.get(MARKER), str):
        parts = str(value[MARKER]).split(":", 2)
        if len(parts) == 3 and parts[0] == FORMAT:
            return parts[1]
    return None


def open_value(value: Mapping[str, Any], *, key: bytes, aad: bytes) -> Any:
    """The plaintext of a sealed value; UnreadableField if it does not authenticate."""
    parts = str(value[MARKER]).split(":", 2)
    try:
        text = parts[2]
        sealed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        if len(sealed) <= _NONCE_BYTES:
            raise UnreadableField("the sealed value is too short")
        plaintext = AESGCM(key).decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], aad)
        return json.loads(plaintext)
    except (InvalidTag, binascii.Error, ValueError, IndexError) as error:
        raise UnreadableField("the sealed value does not authenticate") from error


def seal_fields(
    data: Mapping[str, Any],
    paths: Iterable[str],
    *,
    source: str,
    event_id: str,
    key_id: str,
    key: bytes,
) -> dict[str, Any]:
    """A copy of `data` with the value at each of `paths` (where present) sealed. Only the
    objects and arrays on the way to a sensitive path are copied (a deep copy of every body
    cost more than its sealing); the rest is shared with `data`, which is left as it was."""
    sealed: dict[str, Any] = dict(data)
    aead = AESGCM(key)
    #: The containers of the copy (changed freely); any other is still `data`'s.
    copied = {id(sealed)}

    def own(container: Any, at: str | int) -> Any:
        child = container[at]
        if id(child) not in copied and type(child) in (dict, list):
            child = dict(child) if type(child) is dict else list(child)
            container[at] = child
            copied.add(id(child))
        return child

    def step(node: Any, tokens: tuple[str, ...], where: str) -> None:
        token, rest = tokens[0], tokens[1:]
        places: Iterable[tuple[str | int, str]]
        if token == _EACH:
            if not isinstance(node, list):
                return
            places = [(index, f"{where}[{index}]") for index in range(len(node))]
        elif isinstance(node, dict) and token in node:
            places = [(token, f"{where}.{token}")]
        else:
            return
        for at, concrete in places:
            if rest:
                step(own(node, at), rest, concrete)
            elif sealed_key_id(node[at]) is None:
                node[at] = _seal(node[at], key_id, aead, field_aad(source, event_id, concrete))

    for path in paths:
        tokens = _tokens(path)
        if len(tokens) > 1 and tokens[0] == "data":
            step(sealed, tokens[1:], "data")
    return sealed


def open_fields(
    data: Mapping[str, Any],
    *,
    source: str,
    event_id: str,
    keys: Mapping[str, bytes | None],
) -> dict[str, Any]:
    """A copy of `data` with every sealed value opened; a value whose key is destroyed (None in
    `keys`, or absent) is removed: it is erased. UnreadableField names the path that failed."""
    opened: dict[str, Any] = {}

    def walk(value: Any, path: str) -> tuple[bool, Any]:
        key_id = sealed_key_id(value)
        if key_id is not None:
            key = keys.get(key_id)
            if key is None:
                return False, None
            try:
                return True, open_value(value, key=key, aad=field_aad(source, event_id, path))
            except UnreadableField as error:
                raise UnreadableField(f"{path}: {error}") from error
        if isinstance(value, Mapping):
            out = {}
            for name, item in value.items():
                kept, item = walk(item, f"{path}.{name}")
                if kept:
                    out[name] = item
            return True, out
        if isinstance(value, list):
            items = []
            for index, item in enumerate(value):
                kept, item = walk(item, f"{path}[{index}]")
                if kept:
                    items.append(item)
            return True, items
        return True, value

    for name, item in data.items():
        kept, item = walk(item, f"data.{name}")
        if kept:
            opened[name] = item
    return opened


def key_ids_in(data: object) -> set[str]:
    """The data key ids of every sealed value in `data`."""
    found: set[str] = set()

    def walk(value: object) -> None:
        key_id = sealed_key_id(value)
        if key_id is not None:
            found.add(key_id)
        elif isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(data)
    return found


@functools.lru_cache(maxsize=1024)
def _tokens(path: str) -> tuple[str, ...]:
    tokens: list[str] = []
    for part in path.split("."):
        name, brackets = part, 0
        while name.endswith("[]"):
            name, brackets = name[:-2], brackets + 1
        tokens.append(name)
        tokens.extend([_EACH] * brackets)
    return tuple(tokens)


# -- the key-encryption key ---------------------------------------------------------------------


class KeyEncryptionKey(Protocol):
    """Wraps and unwraps data keys; a key-management service can stand in for the local key.
    The wrapping is bound to the person and the data key's id."""

    @property
    def kek_id(self) -> str: ...

    def wrap(self, data_key: bytes, *, person_id: str, key_id: str) -> bytes: ...

    def unwrap(self, wrapped: bytes, *, person_id: str, key_id: str) -> bytes:
        """The data key; UnreadableField if `wrapped` is not this key's wrapping of it."""
        ...


class AesGcmKek:
    """A local AES-256-GCM key-encryption key (`nonce | ciphertext`, AAD = person id + key id)."""

    def __init__(self, kek_id: str, key: bytes) -> None:
        if len(key) != DATA_KEY_BYTES:
            raise ValueError(f"a key-encryption key is {DATA_KEY_BYTES} bytes, not {len(key)}")
        self._kek_id = kek_id
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return f"AesGcmKek({self._kek_id!r})"

    @property
    def kek_id(self) -> str:
        return self._kek_id

    def wrap(self, data_key: bytes, *, person_id: str, key_id: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data_key, _wrap_aad(person_id, key_id))

    def unwrap(self, wrapped: bytes, *, person_id: str, key_id: str) -> bytes:
        try:
            return self._aead.decrypt(
                wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], _wrap_aad(person_id, key_id)
            )
        except (InvalidTag, ValueError) as error:
            raise UnreadableField(
                f"data key {key_id} does not unwrap under key-encryption key {self._kek_id!r}"
            ) from error


def _wrap_aad(person_id: str, key_id: str) -> bytes:
    return json.dumps([person_id, key_id]).encode("utf-8")
