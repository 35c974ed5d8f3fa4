"""The verifier's check of the kind and time columns beside each stored entry, without a
database: `_timestamp` must write a stored time exactly as `format_timestamp` does (the
entry's own text), and a column that differs from the entry must fail, also when the verifier
reuses the time it formatted for the entry before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from hub.domain.audit.entries import AuditEntry, AuditKind, format_timestamp
from hub.domain.audit.records import EntryRow, Leaf, StoredEntry
from hub.services.audit_verify import _Columns, _columns_failure, _timestamp

MOMENTS = [
    datetime(2026, 11, 26, 12, 0, 9, 1, tzinfo=UTC),
    datetime(2026, 11, 26, 12, 0, 9, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    # Not in UTC: written in UTC all the same.
    datetime(2026, 6, 1, 1, 30, 0, 5, tzinfo=timezone(timedelta(hours=2))),
    datetime(2026, 6, 1, 1, 30, 0, 5, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
]


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_a_stored_time_is_written_as_the_entry_writes_it(moment: datetime) -> None:
    assert _timestamp(moment) == format_timestamp(moment)


def test_every_microsecond_of_a_second_is_written_as_the_entry_writes_it() -> None:
    start = datetime(2026, 11, 26, 12, 0, 9, tzinfo=UTC)
    for step in range(0, 1_000_000, 997):
        moment = start + timedelta(microseconds=step)
        assert _timestamp(moment) == format_timestamp(moment)


def _row(kind: str, occurred_at: datetime, text: str) -> EntryRow:
    return (7, kind, occurred_at, text)


AT = datetime(2026, 11, 26, 12, 0, 9, 250_000, tzinfo=UTC)
ENTRY = (
    AuditEntry(
        kind=AuditKind.CONSULTATION,
        occurred_at=AT,
        actor="client-cjsw-glasgow",
        agency="cjsw.glasgow",
        person_id="p_0007",
        purpose="supervision of a licence",
        outcome="read",
    )
    .canonical_bytes()
    .decode()
)
LEAF = Leaf(leaf_index=3, entry_position=7, leaf_hash=bytes(32))


def test_columns_that_say_what_the_entry_says_pass() -> None:
    assert _Columns().agree(_row("consultation", AT, ENTRY))
    # The same instant in another offset is the same time.
    assert _Columns().agree(
        _row("consultation", AT.astimezone(timezone(timedelta(hours=1))), ENTRY)
    )


@pytest.mark.parametrize(
    ("kind", "occurred_at", "text"),
    [
        ("disclosure", AT, ENTRY),
        ("consultation", AT + timedelta(microseconds=1), ENTRY),
        ("consultation", AT - timedelta(seconds=1), ENTRY),
        # The top-level keys count, not a nested one or one inside a string.
        ("consultation", AT, ENTRY.replace('"kind":"consultation"', '"kind":"x"')),
        ("x", AT, '{"details":{"kind":"x","occurred_at":"2026-11-26T12:00:09.250000Z"}}'),
        ("x", AT, '{"note":"\\"kind\\":\\"x\\""}'),
        # Not JSON, or not an object.
        ("consultation", AT, ENTRY[:-1]),
        ("consultation", AT, f"[{ENTRY}]"),
        ("consultation", AT, '"consultation"'),
    ],
    ids=[
        "kind",
        "time by a microsecond",
        "time by a second",
        "entry's kind",
        "nested keys",
        "keys in a string",
        "truncated",
        "array",
        "string",
    ],
)
def test_columns_that_differ_from_the_entry_fail(
    kind: str, occurred_at: datetime, text: str
) -> None:
    assert not _Columns().agree(_row(kind, occurred_at, text))
    # Nor after an entry that agreed, whose formatted time the check keeps.
    columns = _Columns()
    assert columns.agree(_row("consultation", AT, ENTRY))
    assert not columns.agree(_row(kind, occurred_at, text))


def test_an_entry_of_another_time_fails_after_one_of_the_time_its_column_says() -> None:
    later = ENTRY.replace("12:00:09.250000Z", "12:00:09.250001Z")
    columns = _Columns()
    assert columns.agree(_row("consultation", AT, ENTRY))
    assert not columns.agree(_row("consultation", AT, later))
    assert columns.agree(_row("consultation", AT + timedelta(microseconds=1), later))
    assert columns.agree(_row("consultation", AT + timedelta(microseconds=1), later))


def test_a_failure_names_the_leaf_and_the_entry() -> None:
    failure = _columns_failure(LEAF, StoredEntry(7, "disclosure", AT, ENTRY))
    assert (failure.check, failure.leaf_index, failure.position) == ("entry_columns", 3, 7)
    assert failure.entry == ENTRY


def test_the_last_of_duplicate_keys_counts_as_json_loads_reads_it() -> None:
    # What `json.loads` reads is what the check compares: the last duplicate key.
    twice = '{"kind":"x","kind":"consultation","occurred_at":"2026-11-26T12:00:09.250000Z"}'
    assert _Columns().agree(_row("consultation", AT, twice))
    assert not _Columns().agree(_row("x", AT, twice))
