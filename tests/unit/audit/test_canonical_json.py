"""Canonical bytes made from pieces (`hub.domain.audit.canonical_json`) are exactly what one
encoding of the whole entry gives: the Merkle tree commits to them, and a verifier in another
language rebuilds them with an ordinary JCS encoder."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.audit.canonical_json import TextMap, text_object
from hub.domain.audit.entries import AuditEntry, AuditEntryInvalid, AuditKind
from tests.unit.audit.test_entries import entries

WHEN = datetime(2024, 5, 1, 12, 30, 15, 250_000, tzinfo=UTC)


def _whole(document: Any) -> bytes:
    """The reference: the whole document encoded at once, as a verifier would."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


@given(entry=entries())
def test_an_entry_made_from_pieces_is_the_whole_encoded_at_once(entry: AuditEntry) -> None:
    assert entry.canonical_bytes() == _whole(entry.to_json_object())


texts = st.text(max_size=16)
short_names = st.from_regex(r"[A-Za-z0-9_.\-]{1,12}", fullmatch=True)


@given(columns=st.dictionaries(short_names, texts, min_size=2, max_size=20))
def test_a_text_map_in_details_is_encoded_as_the_mapping_it_holds(
    columns: dict[str, str],
) -> None:
    # Escapes (quotes, backslashes, control characters) and non-ASCII texts included.
    held = TextMap(columns)
    assert held.json_text == json.dumps(
        columns, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert text_object(columns) == held.json_text
    entry = AuditEntry(
        kind=AuditKind.DISCLOSURE,
        occurred_at=WHEN,
        actor="hub",
        agency="hub",
        recipient_id="police-scotland",
        details={"row_hash": "ab" * 32, "columns": held, "position": 7},
    )
    assert entry.canonical_bytes() == _whole(entry.to_json_object())
    assert AuditEntry.from_canonical(entry.canonical_bytes()) == entry


@pytest.mark.parametrize(
    "items",
    [
        {"has space": "a", "b": "c"},
        {"a": 1, "b": "c"},
        {"a": "\ud800", "b": "c"},
        {"a": None},
    ],
)
def test_a_text_map_refuses_what_details_could_not_hold(items: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        TextMap(items)


def test_details_holding_a_text_map_are_still_limited_in_size() -> None:
    columns = TextMap({f"c{n}": "x" * 100 for n in range(60)})
    with pytest.raises(AuditEntryInvalid, match="larger than"):
        AuditEntry(
            kind=AuditKind.DISCLOSURE,
            occurred_at=WHEN,
            actor="hub",
            agency="hub",
            recipient_id="police-scotland",
            details={"columns": columns},
        )


def test_a_text_map_takes_keys_of_a_str_subclass_as_the_texts_they_are() -> None:
    # A row read back through SQLAlchemy names its columns with `quoted_name`, a str subclass.
    class ColumnName(str):
        pass

    held = TextMap({ColumnName("position"): "6b86b273ff34", ColumnName("source"): "575db8f8e6b1"})
    assert held.json_text == '{"position":"6b86b273ff34","source":"575db8f8e6b1"}'
    assert all(type(key) is str for key in held)
