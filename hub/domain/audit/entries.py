"""What one audit-log entry records: the operations the Data Protection Act 2018 s62 asks a
law-enforcement processor to log, as metadata only.

An entry says who did what to whose record, when, for which recipient, under which rules,
purpose, legal basis and policy version, and with what outcome. It names the fields involved
but never holds their values, and an erasure entry never holds what was erased: the log must
outlive the personal data it describes. `canonical_bytes()` is the exact byte string that is
leaf-hashed into the Merkle tree, so it must never change for a stored entry; any change to
the shape is a new `FORMAT_VERSION`, with the old one still readable.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import TypeAlias, cast

from hub.domain.audit.canonical_json import ENCODER, TextMap, encode_names, encode_text

FORMAT_VERSION = 1

#: Metadata in `details`: JSON without floats (their text form is not canonical across
#: languages, and an independent verifier must reproduce these bytes exactly).
JsonValue: TypeAlias = str | int | bool | Sequence["JsonValue"] | Mapping[str, "JsonValue"] | None

#: The largest integer every JSON implementation reads exactly (RFC 8785 §3.2.2.3, I-JSON).
_MAX_SAFE_INTEGER = 2**53 - 1
_MAX_DETAILS_BYTES = 4096
_MAX_TEXT = 512
#: ASCII control characters (C0 and DEL), and surrogates (which UTF-8 cannot encode).
_FORBIDDEN_CHARACTER = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
# Field names and rule ids are identifiers and paths, never free text: this keeps values out.
_NAME = re.compile(r"[A-Za-z0-9_.:/\-\[\]*]{1,200}")
#: Names each followed by a newline (`_name_set` checks a whole collection at once).
_NAMES = re.compile(r"(?:[A-Za-z0-9_.:/\-\[\]*]{1,200}\n)*")
_DETAILS_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")


class AuditEntryInvalid(ValueError):
    """An audit entry that is incomplete, holds more than metadata, or is not canonical."""


class AuditKind(StrEnum):
    """The operations DPA 2018 s62(1) lists, with disclosure split into its stages."""

    COLLECTION = "collection"  # intake of a notification
    ALTERATION = "alteration"  # a correction, or an identifier link changed
    CONSULTATION = "consultation"  # a read of personal data, with the caller's purpose
    DISCLOSURE = "disclosure"  # a sharing decision for one recipient, denials included
    DELIVERY = "delivery"  # an attempt to transfer a disclosure to the recipient's system
    ACKNOWLEDGEMENT = "acknowledgement"  # the recipient confirmed receipt
    COMBINATION = "combination"  # identifiers linked into one person
    ERASURE = "erasure"  # personal data erased at the end of retention


_NEEDS_RECIPIENT = frozenset({AuditKind.DISCLOSURE, AuditKind.DELIVERY, AuditKind.ACKNOWLEDGEMENT})


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One logged operation. Fields and rules are sets: they are stored sorted, without
    repeats, so the same facts always give the same bytes."""

    kind: AuditKind
    occurred_at: datetime
    actor: str  # the client id, or "hub" for what the hub does itself
    agency: str  # the agency the actor acts for
    person_id: str | None = None
    event_id: str | None = None
    source: str | None = None  # the system the event came from
    recipient_id: str | None = None
    fields: tuple[str, ...] = ()  # names of the fields involved, never their values
    rules: tuple[str, ...] = ()  # sharing rules that matched
    purpose: str | None = None
    legal_basis: str | None = None
    policy_version: str | None = None
    outcome: str | None = None  # e.g. disclosed, denied, withheld, erased
    state: str | None = None  # delivery state, e.g. pending, delivered, failed
    details: Mapping[str, JsonValue] = field(default_factory=lambda: MappingProxyType({}))
    #: `details` in canonical JSON, made when it is checked (its size): the entry's bytes
    #: reuse it.
    _details_json: str = field(default="{}", init=False, repr=False, compare=False)
    #: The canonical bytes, made on first use.
    _canonical: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        kind = self.kind
        if type(kind) is not AuditKind:
            try:
                kind = AuditKind(kind)
            except ValueError:
                raise AuditEntryInvalid(f"{self.kind!r} is not an audit entry kind") from None
            object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "occurred_at", _utc(self.occurred_at))
        _require_text("actor", self.actor)
        _require_text("agency", self.agency)
        for name in (
            "person_id",
            "event_id",
            "source",
            "recipient_id",
            "purpose",
            "legal_basis",
            "policy_version",
            "outcome",
            "state",
        ):
            value = getattr(self, name)
            if value is not None:
                _require_text(name, value)
        object.__setattr__(self, "fields", _name_set("fields", self.fields))
        object.__setattr__(self, "rules", _name_set("rules", self.rules))
        details, text = _frozen_details(self.details)
        object.__setattr__(self, "details", details)
        object.__setattr__(self, "_details_json", text)
        if kind in _NEEDS_RECIPIENT and self.recipient_id is None:
            raise AuditEntryInvalid(f"a {kind} entry names its recipient")
        if kind is AuditKind.CONSULTATION and self.purpose is None:
            raise AuditEntryInvalid("a consultation entry records the purpose the caller gave")

    def __hash__(self) -> int:
        return hash(self.canonical_bytes())

    def to_json_object(self) -> dict[str, JsonValue]:
        """The entry as plain JSON values (what `canonical_bytes` serialises)."""
        document = self._fields_json()
        document["details"] = _thaw(self.details)
        return document

    def _fields_json(self) -> dict[str, JsonValue]:
        """`to_json_object` with `details` still frozen."""
        return {
            "v": FORMAT_VERSION,
            "kind": self.kind.value,
            "occurred_at": format_timestamp(self.occurred_at),
            "actor": self.actor,
            "agency": self.agency,
            "person_id": self.person_id,
            "event_id": self.event_id,
            "source": self.source,
            "recipient_id": self.recipient_id,
            "fields": list(self.fields),
            "rules": list(self.rules),
            "purpose": self.purpose,
            "legal_basis": self.legal_basis,
            "policy_version": self.policy_version,
            "outcome": self.outcome,
            "state": self.state,
            "details": self.details,
        }

    def canonical_bytes(self) -> bytes:
        """Canonical JSON: sorted keys, no whitespace, UTF-8, times as RFC 3339 UTC with 'Z'.

        Within what an entry may hold (ASCII keys, strings, safe integers, no floats) these are
        the bytes RFC 8785 (JCS) gives too, so a verifier in any language can rebuild them.
        """
        if self._canonical is None:
            object.__setattr__(self, "_canonical", self._canonical_text().encode("utf-8"))
        assert self._canonical is not None
        return self._canonical

    def _canonical_text(self) -> str:
        """`ENCODER.encode(self._fields_json())`, from the pieces each encoded once: the keys in
        sorted order, `details` as it was encoded when checked."""
        return (
            f'{{"actor":{encode_text(self.actor)},"agency":{encode_text(self.agency)},'
            f'"details":{self._details_json},"event_id":{_text_or_null(self.event_id)},'
            f'"fields":{encode_names(self.fields)},"kind":{encode_text(self.kind.value)},'
            f'"legal_basis":{_text_or_null(self.legal_basis)},'
            f'"occurred_at":"{format_timestamp(self.occurred_at)}",'
            f'"outcome":{_text_or_null(self.outcome)},"person_id":{_text_or_null(self.person_id)},'
            f'"policy_version":{_text_or_null(self.policy_version)},'
            f'"purpose":{_text_or_null(self.purpose)},'
            f'"recipient_id":{_text_or_null(self.recipient_id)},'
            f'"rules":{encode_names(self.rules)},"source":{_text_or_null(self.source)},'
            f'"state":{_text_or_null(self.state)},"v":{FORMAT_VERSION}}}'
        )

    @classmethod
    def from_canonical(cls, data: bytes) -> AuditEntry:
        """The entry whose canonical bytes are exactly `data`; anything else is refused."""
        try:
            document = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
        except (UnicodeDecodeError, ValueError) as e:
            raise AuditEntryInvalid(f"not a JSON audit entry: {e}") from e
        if not isinstance(document, dict):
            raise AuditEntryInvalid("an audit entry is a JSON object")
        if document.get("v") != FORMAT_VERSION:
            raise AuditEntryInvalid(f"unknown audit entry format {document.get('v')!r}")
        expected = set(_FIELD_NAMES) | {"v"}
        if set(document) != expected:
            raise AuditEntryInvalid(
                f"an audit entry has exactly the keys {sorted(expected)}, not {sorted(document)}"
            )
        try:
            entry = cls(
                kind=AuditKind(document["kind"]),
                occurred_at=parse_timestamp(document["occurred_at"]),
                actor=document["actor"],
                agency=document["agency"],
                person_id=document["person_id"],
                event_id=document["event_id"],
                source=document["source"],
                recipient_id=document["recipient_id"],
                fields=tuple(_list_of_str("fields", document["fields"])),
                rules=tuple(_list_of_str("rules", document["rules"])),
                purpose=document["purpose"],
                legal_basis=document["legal_basis"],
                policy_version=document["policy_version"],
                outcome=document["outcome"],
                state=document["state"],
                details=document["details"],
            )
        except (TypeError, ValueError) as e:
            if isinstance(e, AuditEntryInvalid):
                raise
            raise AuditEntryInvalid(str(e)) from e
        if entry.canonical_bytes() != data:
            raise AuditEntryInvalid("the bytes are an audit entry but not in canonical form")
        return entry


_FIELD_NAMES = tuple(name for name, f in AuditEntry.__dataclass_fields__.items() if f.init)


def _text_or_null(value: str | None) -> str:
    return "null" if value is None else encode_text(value)


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with 'Z' and always six fractional digits (fixed width sorts)."""
    m = _utc(moment)
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}"
        f"T{m.hour:02d}:{m.minute:02d}:{m.second:02d}.{m.microsecond:06d}Z"
    )


def parse_timestamp(text: object) -> datetime:
    """A timestamp as `format_timestamp` writes it; any other form is refused."""
    if not isinstance(text, str) or not _TIMESTAMP.fullmatch(text):
        raise AuditEntryInvalid(f"{text!r} is not a timestamp like 2024-01-31T12:00:00.000000Z")
    try:
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    except ValueError:
        raise AuditEntryInvalid(f"{text!r} is not a valid date and time") from None


# --- validation ------------------------------------------------------------------------------


def _utc(moment: object) -> datetime:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise AuditEntryInvalid("occurred_at must be a timezone-aware datetime")
    return moment.astimezone(UTC)


def _require_text(name: str, value: object) -> None:
    if type(value) is str and _is_text(value):
        return
    if not isinstance(value, str) or not value:
        raise AuditEntryInvalid(f"{name} must be a non-empty string")
    if len(value) > _MAX_TEXT:
        raise AuditEntryInvalid(f"{name} is longer than {_MAX_TEXT} characters")
    if _FORBIDDEN_CHARACTER.search(value):
        # One C-level scan for control characters and lone surrogates (not encodable in UTF-8).
        _check_encodable(name, value)
        raise AuditEntryInvalid(f"{name} must not contain control characters")


@functools.lru_cache(maxsize=16384)
def _is_text(value: str) -> bool:
    """Whether `_require_text` takes `value` (remembered: the entries of a batch repeat their
    ids, sources, purposes and legal bases)."""
    return 0 < len(value) <= _MAX_TEXT and _FORBIDDEN_CHARACTER.search(value) is None


def _name_set(name: str, values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        raise AuditEntryInvalid(f"{name} is a collection of names, not one string")
    values = tuple(values)
    if all(type(value) is str for value in values):
        checked = _checked_names(values)
        if checked is not None:
            return checked
    result = set()
    for value in values:
        if not isinstance(value, str) or not _NAME.fullmatch(value):
            raise AuditEntryInvalid(
                f"{name} holds names such as 'person.date_of_birth', not {value!r}"
            )
        result.add(value)
    return tuple(sorted(result))


@functools.lru_cache(maxsize=4096)
def _checked_names(values: tuple[str, ...]) -> tuple[str, ...] | None:
    """`values` sorted without repeats if every one is a name, else None (`_name_set` then says
    which is not). Remembered: the entries of a batch repeat the same rules' field and rule
    names."""
    # All the names checked in one scan, each followed by a newline (and holding none itself:
    # as many newlines as names).
    joined = "".join(f"{value}\n" for value in values)
    if joined.count("\n") == len(values) and _NAMES.fullmatch(joined):
        return tuple(sorted(set(values)))
    return None


def _list_of_str(name: str, value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AuditEntryInvalid(f"{name} is a list of strings")
    return value


def _check_encodable(name: str, value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise AuditEntryInvalid(f"{name} is not valid Unicode text") from None


def _frozen_details(details: object) -> tuple[Mapping[str, JsonValue], str]:
    """`details` frozen, and in canonical JSON."""
    if not isinstance(details, Mapping):
        raise AuditEntryInvalid("details is a JSON object")
    # A mapping frozen is a read-only mapping (no `isinstance`: the ABC check costs more than
    # the rest of a small `details`).
    try:
        frozen = cast(Mapping[str, JsonValue], _freeze_plain(details))
        text = _details_json(frozen)
    except (_NotPlain, UnicodeEncodeError):
        frozen = cast(Mapping[str, JsonValue], _freeze(details, "details"))
        text = ENCODER.encode(frozen)
    size = len(text) if text.isascii() else len(text.encode("utf-8"))
    if size > _MAX_DETAILS_BYTES:
        raise AuditEntryInvalid(f"details is larger than {_MAX_DETAILS_BYTES} bytes")
    return frozen, text


def _details_json(frozen: Mapping[str, JsonValue]) -> str:
    """`ENCODER.encode(frozen)` for what `_freeze_plain` made (its keys short names in sorted
    order): texts and numbers written here, a `TextMap` as it was encoded when made, the rest
    by the encoder."""
    pieces = []
    for key, value in frozen.items():
        kind = type(value)
        if kind is str:
            text = encode_text(cast(str, value))
        elif kind is int:
            text = int.__repr__(value)
        elif kind is TextMap:
            assert isinstance(value, TextMap)
            text = value.json_text
        elif value is None:
            text = "null"
        else:
            text = ENCODER.encode(value)
        pieces.append(f'"{key}":{text}')
    return "{" + ",".join(pieces) + "}"


class _NotPlain(Exception):
    """`_freeze_plain` met something it does not take as it is: `_freeze` looks again."""


def _freeze_plain(value: object) -> JsonValue:
    """`_freeze` for the plain values (exact types) every builder passes: the same copy,
    checked the same way, without naming where each value is (only a refusal needs that)."""
    if type(value) is str:
        value.encode("utf-8")  # a lone surrogate raises
        return value
    if value is None or type(value) is bool:
        return value
    if type(value) is int:
        if abs(value) > _MAX_SAFE_INTEGER:
            raise _NotPlain
        return value
    if type(value) is TextMap:
        return value  # checked when it was made, and immutable
    if type(value) is dict or type(value) is MappingProxyType:
        frozen: dict[str, JsonValue] = {}
        for key in sorted(value):
            if type(key) is not str or not _is_details_key(key):
                raise _NotPlain
            item = value[key]
            # The scalars of a mapping checked here, without a call each (most of `details`).
            if type(item) is str:
                item.encode("utf-8")
            elif type(item) is int:
                if abs(item) > _MAX_SAFE_INTEGER:
                    raise _NotPlain
            elif item is not None and type(item) is not bool and type(item) is not TextMap:
                item = _freeze_plain(item)
            frozen[key] = item
        return MappingProxyType(frozen)
    if type(value) is list or type(value) is tuple:
        return tuple(_freeze_plain(item) for item in value)
    raise _NotPlain


@functools.lru_cache(maxsize=1024)
def _is_details_key(key: str) -> bool:
    """Whether `key` may name a value in `details` (remembered: entries repeat their keys)."""
    return _DETAILS_KEY.fullmatch(key) is not None


def _freeze(value: object, where: str) -> JsonValue:
    """A deep, immutable copy of a JSON value, refusing what canonical JSON cannot carry."""
    if value is None or isinstance(value, bool | str):
        if isinstance(value, str):
            _check_encodable(where, value)
        return value
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            raise AuditEntryInvalid(f"{where} is an integer beyond ±(2**53 - 1)")
        return value
    if isinstance(value, float):
        raise AuditEntryInvalid(f"{where} is a float; use an integer or a string")
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str) or not _DETAILS_KEY.fullmatch(key):
                raise AuditEntryInvalid(f"{where} has a key {key!r} that is not a short name")
        frozen = {key: _freeze(value[key], f"{where}.{key}") for key in sorted(value)}
        return MappingProxyType(frozen)
    if isinstance(value, list | tuple):
        return tuple(_freeze(item, f"{where}[{i}]") for i, item in enumerate(value))
    raise AuditEntryInvalid(f"{where} holds a {type(value).__name__}, which is not JSON")


def _thaw(value: JsonValue) -> JsonValue:
    # Exact types first: what `_freeze` makes (the ABC checks cost more than the copy).
    if type(value) is MappingProxyType or type(value) is dict:
        return {key: _thaw(item) for key, item in value.items()}
    if type(value) is tuple or type(value) is list:
        return [_thaw(item) for item in value]
    if type(value) is str or type(value) is int or type(value) is bool or value is None:
        return value
    if isinstance(value, Mapping):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_thaw(item) for item in value]
    return value


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise AuditEntryInvalid("an audit entry has a repeated key")
    return document
