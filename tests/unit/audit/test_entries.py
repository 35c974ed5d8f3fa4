"""Audit entries: metadata only, and canonical bytes that never depend on how an entry was
built, because those bytes are what the Merkle tree commits to."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.audit.entries import (
    AuditEntry,
    AuditEntryInvalid,
    AuditKind,
    JsonValue,
    format_timestamp,
    parse_timestamp,
)

WHEN = datetime(2024, 5, 1, 12, 30, 15, 250_000, tzinfo=UTC)


def _disclosure(**overrides: Any) -> AuditEntry:
    values: dict[str, Any] = {
        "kind": AuditKind.DISCLOSURE,
        "occurred_at": WHEN,
        "actor": "hub",
        "agency": "hub",
        "person_id": "7f1c0c1e-5a55-4d7e-9e55-3f1b1a1f0a01",
        "event_id": "evt-123",
        "source": "sps-prison-records",
        "recipient_id": "police-scotland-mappa-north",
        "fields": ("person.name", "release.date"),
        "rules": ("schedule1-release-to-police",),
        "purpose": "public-protection",
        "legal_basis": "DPA2018-s35",
        "policy_version": "scotland@3f2a9c1",
        "outcome": "disclosed",
        "state": "pending",
        "details": {"attempt": 1, "channel": "webhook"},
    }
    values.update(overrides)
    return AuditEntry(**values)


def test_canonical_bytes_are_pinned() -> None:
    # These exact bytes are hashed into the log: if this test has to change, stored logs no
    # longer verify. Change the format only with a new FORMAT_VERSION.
    assert _disclosure().canonical_bytes() == (
        b'{"actor":"hub","agency":"hub","details":{"attempt":1,"channel":"webhook"},'
        b'"event_id":"evt-123","fields":["person.name","release.date"],"kind":"disclosure",'
        b'"legal_basis":"DPA2018-s35","occurred_at":"2024-05-01T12:30:15.250000Z",'
        b'"outcome":"disclosed","person_id":"7f1c0c1e-5a55-4d7e-9e55-3f1b1a1f0a01",'
        b'"policy_version":"scotland@3f2a9c1","purpose":"public-protection",'
        b'"recipient_id":"police-scotland-mappa-north","rules":["schedule1-release-to-police"],'
        b'"source":"sps-prison-records","state":"pending","v":1}'
    )


def test_canonical_bytes_do_not_depend_on_construction_order() -> None:
    one = _disclosure(
        fields=("release.date", "person.name", "release.date"),
        details={"channel": "webhook", "attempt": 1},
    )
    other = _disclosure(
        fields=["person.name", "release.date"], details={"attempt": 1, "channel": "webhook"}
    )
    assert one.canonical_bytes() == other.canonical_bytes()
    assert one == other
    assert hash(one) == hash(other)


def test_times_are_written_in_utc_with_z() -> None:
    edinburgh_summer = timezone(timedelta(hours=1))
    entry = _disclosure(occurred_at=datetime(2024, 5, 1, 13, 30, 15, 250_000, edinburgh_summer))
    assert entry.occurred_at == WHEN
    assert entry.occurred_at.tzinfo is UTC
    assert b'"occurred_at":"2024-05-01T12:30:15.250000Z"' in entry.canonical_bytes()
    assert format_timestamp(datetime(999, 1, 2, tzinfo=UTC)) == "0999-01-02T00:00:00.000000Z"
    assert parse_timestamp("0999-01-02T00:00:00.000000Z") == datetime(999, 1, 2, tzinfo=UTC)
    with pytest.raises(AuditEntryInvalid, match="timezone-aware"):
        _disclosure(occurred_at=datetime(2024, 5, 1, 12, 0))


def test_non_ascii_text_is_written_as_utf8() -> None:
    entry = _disclosure(purpose="Ymchwiliad — ymholiad")
    assert "Ymchwiliad — ymholiad".encode() in entry.canonical_bytes()


json_keys = st.from_regex(r"[a-z_]{1,8}", fullmatch=True)
json_values: st.SearchStrategy[JsonValue] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(json_keys, children, max_size=4)
    ),
    max_leaves=12,
)
names = st.from_regex(r"[a-z][a-z_.]{0,20}", fullmatch=True)
optional_text = st.none() | st.text(
    alphabet=st.characters(
        min_codepoint=0x20, exclude_characters="\x7f", exclude_categories=["Cs"]
    ),
    min_size=1,
    max_size=30,
)


@st.composite
def entries(draw: st.DrawFn) -> AuditEntry:
    kind = draw(st.sampled_from(AuditKind))
    return AuditEntry(
        kind=kind,
        occurred_at=draw(st.datetimes(timezones=st.just(UTC))),
        actor=draw(st.sampled_from(["hub", "client-sps", "client-police"])),
        agency=draw(st.sampled_from(["hub", "sps", "police-scotland"])),
        person_id=draw(optional_text),
        event_id=draw(optional_text),
        source=draw(optional_text),
        recipient_id=draw(st.text(min_size=1, max_size=10).filter(str.isalnum)),
        fields=tuple(draw(st.lists(names, max_size=5))),
        rules=tuple(draw(st.lists(names, max_size=3))),
        purpose=draw(st.text("abcdefgh-", min_size=1, max_size=10)),
        legal_basis=draw(optional_text),
        policy_version=draw(optional_text),
        outcome=draw(optional_text),
        state=draw(optional_text),
        details=draw(st.dictionaries(json_keys, json_values, max_size=5)),
    )


@given(entry=entries(), data=st.data())
def test_roundtrip_and_order_independence(entry: AuditEntry, data: st.DataObject) -> None:
    canonical = entry.canonical_bytes()
    assert AuditEntry.from_canonical(canonical) == entry
    assert AuditEntry.from_canonical(canonical).canonical_bytes() == canonical
    # Rebuild the same entry from shuffled fields, rules and details keys.
    shuffled_details = _shuffled(json.loads(json.dumps(entry.to_json_object()["details"])), data)
    rebuilt = AuditEntry(
        kind=entry.kind,
        occurred_at=entry.occurred_at,
        actor=entry.actor,
        agency=entry.agency,
        person_id=entry.person_id,
        event_id=entry.event_id,
        source=entry.source,
        recipient_id=entry.recipient_id,
        fields=tuple(data.draw(st.permutations(entry.fields + entry.fields))),
        rules=tuple(data.draw(st.permutations(entry.rules))),
        purpose=entry.purpose,
        legal_basis=entry.legal_basis,
        policy_version=entry.policy_version,
        outcome=entry.outcome,
        state=entry.state,
        details=shuffled_details,
    )
    assert rebuilt.canonical_bytes() == canonical


def _shuffled(value: Any, data: st.DataObject) -> Any:
    if isinstance(value, dict):
        keys = data.draw(st.permutations(list(value)))
        return {key: _shuffled(value[key], data) for key in keys}
    if isinstance(value, list):
        return [_shuffled(item, data) for item in value]
    return value


# --- what is refused -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kind": "deletion"}, "not an audit entry kind"),
        ({"actor": ""}, "actor must be a non-empty string"),
        ({"agency": "sps\n"}, "control characters"),
        ({"purpose": "public\x7fprotection"}, "purpose must not contain control characters"),
        ({"source": "urn:pph:sps\x00"}, "source must not contain control characters"),
        ({"recipient_id": None}, "names its recipient"),
        ({"kind": AuditKind.CONSULTATION, "purpose": None}, "purpose the caller gave"),
        ({"fields": ("person.name", "John Smith")}, "names such as"),
        ({"fields": "person.name"}, "not one string"),
        ({"details": {"score": 0.75}}, "float"),
        ({"details": {"n": 2**53}}, "beyond"),
        ({"details": {"has space": 1}}, "not a short name"),
        ({"details": {"at": datetime(2024, 1, 1, tzinfo=UTC)}}, "not JSON"),
        ({"details": {"blob": "x" * 5000}}, "larger than"),
        ({"details": ["not", "an", "object"]}, "JSON object"),
        ({"person_id": "\ud800"}, "Unicode"),
    ],
)
def test_invalid_entries_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(AuditEntryInvalid, match=message):
        _disclosure(**overrides)


def test_erasure_entries_hold_no_erased_data_by_construction() -> None:
    entry = AuditEntry(
        kind=AuditKind.ERASURE,
        occurred_at=WHEN,
        actor="hub",
        agency="hub",
        person_id="7f1c0c1e-5a55-4d7e-9e55-3f1b1a1f0a01",
        fields=("person.name", "person.date_of_birth"),
        legal_basis="DPA2018-s47",
        policy_version="scotland@3f2a9c1",
        outcome="erased",
        details={"retention_rule": "custody.admission", "events_erased": 12},
    )
    assert AuditEntry.from_canonical(entry.canonical_bytes()) == entry


def test_entries_are_immutable() -> None:
    details: dict[str, JsonValue] = {"attempt": 1, "path": ["a"]}
    entry = _disclosure(details=details)
    details["attempt"] = 2
    assert entry.details["attempt"] == 1
    with pytest.raises(TypeError):
        entry.details["attempt"] = 3  # type: ignore[index]
    with pytest.raises(AttributeError):
        entry.actor = "someone else"  # type: ignore[misc]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda b: b.replace(b'{"actor"', b'{ "actor"'),  # whitespace
        lambda b: b.replace(b'"v":1}', b'"v":1,"v":1}'),  # repeated key
        lambda b: b.replace(b'"v":1', b'"v":2'),  # unknown format
        lambda b: b.replace(b',"state":"pending"', b""),  # missing key
        lambda b: b.replace(b'"v":1', b'"v":1,"name":"x"'),  # extra key
        lambda b: b.replace(b".250000Z", b".25Z"),  # other time form
        lambda b: b.replace(
            b'"fields":["person.name","release.date"]', b'"fields":["release.date","person.name"]'
        ),
        lambda b: b.replace(b'"attempt":1', b'"attempt":1.0'),
        lambda b: b.replace(b'"fields":["person.name","release.date"]', b'"fields":"person.name"'),
        lambda b: b"[]",
        lambda b: b"\xff",
        lambda b: json.dumps(json.loads(b), sort_keys=True).encode(),  # spaced separators
        lambda b: json.dumps(
            dict(reversed(json.loads(b).items())), separators=(",", ":")
        ).encode(),  # unsorted
    ],
)
def test_non_canonical_bytes_are_refused(mangle: Any) -> None:
    data = _disclosure().canonical_bytes()
    with pytest.raises(AuditEntryInvalid):
        AuditEntry.from_canonical(mangle(data))
