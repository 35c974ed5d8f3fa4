"""What binds a stored row to the audit entry that logged it: digests of its columns.

An entry that records a write (a collection, a disclosure or denial, an erasure) carries, in its
`details`, the digest of the row as it was written: `row_hash`, the SHA-256 of the canonical JSON
of every column's own SHA-256, and `columns`, the first 12 hex digits of each column's digest (so
that a checker can say which column changed). Digests, never values: the entry stays metadata, and
a column of personal data (an event's `data`) is named by its digest alone. The row's digests are
taken over its values as the database holds them, sealed fields still sealed, so that a checker
reading the row back gets the same digests with no key.

A column's digest is the SHA-256 of the column's value in canonical JSON (sorted keys, no
whitespace, UTF-8; times as `format_timestamp` writes them, naive ones read as UTC). JSON
objects and arrays are what both backends give back for a JSON column (PostgreSQL's JSONB
reorders keys; sorting them makes that invisible).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from hub.domain.audit.canonical_json import TextMap, text_object
from hub.domain.audit.entries import (
    AuditEntryInvalid,
    AuditKind,
    JsonValue,
    format_timestamp,
    parse_timestamp,
)
from hub.domain.audit.json_text import decode

__all__ = [
    "COLUMN_DIGEST_LENGTH",
    "ColumnMismatch",
    "LoggedFacts",
    "RememberedDigests",
    "RowEvidence",
    "column_digest",
    "compare_row",
    "facts_of",
    "index_facts",
    "logged_facts",
    "row_evidence",
]


class _Facts(Protocol):
    """What a checker reads of an entry (an `AuditEntry`, or the `LoggedFacts` of its bytes)."""

    @property
    def kind(self) -> AuditKind: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def actor(self) -> str: ...
    @property
    def person_id(self) -> str | None: ...
    @property
    def recipient_id(self) -> str | None: ...
    @property
    def event_id(self) -> str | None: ...
    @property
    def purpose(self) -> str | None: ...
    @property
    def details(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class LoggedFacts:
    """The facts of a stored entry that a checker compares rows with, read from its canonical
    bytes without rebuilding the whole `AuditEntry` (whose validation and re-serialisation cost
    more than the check itself; the bytes' integrity is the Merkle tree's to prove)."""

    kind: AuditKind
    occurred_at: datetime
    actor: str
    person_id: str | None
    recipient_id: str | None
    event_id: str | None
    source: str | None
    purpose: str | None
    policy_version: str | None
    outcome: str | None
    rules: tuple[str, ...]
    details: Mapping[str, Any]


def facts_of(document: Mapping[str, Any], occurred_at: datetime) -> LoggedFacts:
    """The facts of a decoded entry whose time is `occurred_at` (already parsed, or known from
    its index row); `KeyError`, `ValueError` or `TypeError` if it is not an entry's document."""
    return LoggedFacts(
        kind=AuditKind(document["kind"]),
        occurred_at=occurred_at,
        actor=document["actor"],
        person_id=document["person_id"],
        recipient_id=document["recipient_id"],
        event_id=document["event_id"],
        source=document["source"],
        purpose=document["purpose"],
        policy_version=document["policy_version"],
        outcome=document["outcome"],
        rules=tuple(document["rules"]),
        details=dict(document["details"]),
    )


def logged_facts(text: str) -> LoggedFacts:
    """The facts of the entry stored as `text`; `AuditEntryInvalid` if it is not one."""
    try:
        document = decode(text)
        return facts_of(document, parse_timestamp(document["occurred_at"]))
    except AuditEntryInvalid:
        raise
    except (ValueError, TypeError, KeyError) as error:
        raise AuditEntryInvalid(f"not an audit entry: {error!r}") from None


#: How many hex digits of each column's digest an entry keeps (48 bits: enough to say which
#: column changed; the full `row_hash` is what proves the row unchanged).
COLUMN_DIGEST_LENGTH = 12


#: Values JSON writes as they are, checked by exact type first: most columns hold one, and
#: the ABC checks below cost more than the digest (the router logs ~16 columns a decision).
_AS_THEY_ARE = frozenset({str, int, float, bool, type(None)})
#: Scalars whose digest is remembered: equal values of one type are the same JSON (not floats:
#: 0.0 == -0.0).
_REMEMBERED = frozenset({str, int, bool, type(None)})
#: One encoder for every digest: `json.dumps` with these options would build one per call.
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def _plain(value: Any) -> Any:
    if type(value) in _AS_THEY_ARE:
        return value
    if type(value) is list or type(value) is tuple:
        return [_plain(v) for v in value]
    if type(value) is dict:
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return format_timestamp(moment)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _canonical(value: Any) -> bytes:
    return _ENCODER.encode(_plain(value)).encode("utf-8")


def column_digest(value: Any) -> str:
    """The full SHA-256 (hex) of one column's value in canonical JSON."""
    if type(value) in _REMEMBERED:
        return _scalar_digest(value)
    return hashlib.sha256(_canonical(value)).hexdigest()


@functools.lru_cache(maxsize=4096, typed=True)
def _scalar_digest(value: str | int | bool | None) -> str:
    """`column_digest` of a scalar, remembered: a batch of decisions repeats most of its
    columns' values (the event's id, source and type, the policy version, the decision time)."""
    return hashlib.sha256(_canonical(value)).hexdigest()


def _row_hash(digests: Mapping[str, str]) -> str:
    return hashlib.sha256(_canonical(dict(digests))).hexdigest()


@dataclass(frozen=True, slots=True)
class RowEvidence:
    """The digests an entry carries for the row it logged."""

    row_hash: str
    #: Column name -> the first `COLUMN_DIGEST_LENGTH` hex digits of its digest.
    columns: Mapping[str, str]

    def as_details(self) -> dict[str, JsonValue]:
        # A `TextMap`: sorted, checked and encoded once, which the entry takes as it is.
        columns = self.columns if type(self.columns) is TextMap else TextMap(self.columns)
        return {"row_hash": self.row_hash, "columns": columns}

    @classmethod
    def from_entry(cls, entry: _Facts) -> RowEvidence | None:
        """The evidence an entry carries; None for an entry written before rows were bound."""
        row_hash = entry.details.get("row_hash")
        columns = entry.details.get("columns")
        if not isinstance(row_hash, str) or not isinstance(columns, Mapping):
            return None
        return cls(row_hash, {str(k): str(v) for k, v in columns.items()})


def row_evidence(row: Mapping[str, Any]) -> RowEvidence:
    """The evidence of a row about to be written (every column it holds, by name)."""
    digests = {name: column_digest(value) for name, value in row.items()}
    return RowEvidence(
        _row_hash(digests),
        {name: digest[:COLUMN_DIGEST_LENGTH] for name, digest in digests.items()},
    )


class RememberedDigests:
    """`row_evidence` for many rows that repeat most of their values, each distinct value
    digested once: a router batch's decisions share their event's columns, the policy version
    and the decision time, and the same rules give the same lists of fields, rules, purposes
    and bases. The evidence is `row_evidence`'s, digest for digest. Keep one per batch (it
    remembers every value it saw)."""

    __slots__ = ("_known", "_last_row")

    def __init__(self) -> None:
        self._known: dict[tuple[type, Any], str] = {}
        #: The digests of the last row's other values (objects, arrays), by identity.
        self._last_row: dict[int, tuple[Any, str]] = {}

    def column_digest(self, value: Any) -> str:
        """`column_digest(value)`: the digest the last row's evidence took of this very value,
        if it took one (a collection entry's `data_hash` is its row's `data` digest)."""
        taken = self._last_row.get(id(value))
        return taken[1] if taken is not None and taken[0] is value else column_digest(value)

    def row_evidence(self, row: Mapping[str, Any]) -> RowEvidence:
        known = self._known
        digests: dict[str, str] = {}
        last_row = self._last_row = {}
        for name, value in row.items():
            kind = type(value)
            # Keys under which equal values are the same JSON: the exact type with the value
            # (True and 1 are equal but not the same JSON), a list of strings as a tuple.
            key: tuple[type, Any]
            if kind in _REMEMBERED or kind is datetime:
                key = (kind, value)
            elif kind is list and all(type(item) is str for item in value):
                key = (list, tuple(value))
            else:
                digests[name] = column_digest(value)
                last_row[id(value)] = (value, digests[name])
                continue
            digest = known.get(key)
            if digest is None:
                digest = known[key] = column_digest(value)
            digests[name] = digest
        # `_row_hash`'s bytes: the digests are plain strings, so `_plain` would copy them as
        # they are.
        return RowEvidence(
            hashlib.sha256(text_object(digests).encode("utf-8")).hexdigest(),
            TextMap({name: digest[:COLUMN_DIGEST_LENGTH] for name, digest in digests.items()}),
        )


@dataclass(frozen=True, slots=True)
class ColumnMismatch:
    """The first column of a row that differs from what its entry recorded."""

    column: str
    expected: str  # the digest the entry holds
    found: str  # the digest of what the row holds now


def compare_row(
    evidence: RowEvidence,
    row: Mapping[str, Any],
    *,
    replaced: Mapping[str, str] | None = None,
) -> ColumnMismatch | None:
    """None if `row` is the row `evidence` was taken of; else the first column (in name order)
    that differs. Only the columns the entry names are compared (a column added by a later
    migration is not part of an older row's evidence). `replaced` gives the full digest to use
    for a column whose value was legitimately replaced since (an erased event's `data`: the
    digest its collection entry recorded)."""
    replaced = replaced or {}
    digests: dict[str, str] = {}
    for name in sorted(evidence.columns):
        if name not in row:
            return ColumnMismatch(name, evidence.columns[name], "(no such column)")
        digest = replaced.get(name) or column_digest(row[name])
        if digest[:COLUMN_DIGEST_LENGTH] != evidence.columns[name]:
            return ColumnMismatch(name, evidence.columns[name], digest[:COLUMN_DIGEST_LENGTH])
        digests[name] = digest
    found = _row_hash(digests)
    if found != evidence.row_hash:
        # Every column's short digest agrees but the whole does not: a collision of the short
        # digests, or an entry whose row hash was forged.
        return ColumnMismatch("(row)", evidence.row_hash, found)
    return None


def index_facts(entry: _Facts) -> dict[str, Any]:
    """What the derived query index (`audit_index`) must hold for `entry`, column by column."""
    return {
        "kind": entry.kind.value,
        "occurred_at": entry.occurred_at,
        "actor": entry.actor,
        "person_id": entry.person_id,
        "recipient_id": entry.recipient_id,
        "event_id": entry.event_id,
        "purpose": entry.purpose,
    }
