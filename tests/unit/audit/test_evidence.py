"""Row digests (`hub.domain.audit.evidence`): the same row read back from either backend gives
the same digests; a changed column is named; an erased column checks against the digest its
entry kept; entries from before binding carry none."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.domain.audit.entries import AuditEntry, AuditKind
from hub.domain.audit.evidence import (
    COLUMN_DIGEST_LENGTH,
    RowEvidence,
    column_digest,
    compare_row,
    index_facts,
    row_evidence,
)

ROW = {
    "position": 7,
    "event_id": "e-1",
    "time": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    "data": {"b": [1, {"y": 2, "x": "é"}], "a": None},
    "subject": None,
}


def test_a_row_read_back_as_either_backend_gives_it_matches() -> None:
    evidence = row_evidence(ROW)
    # PostgreSQL's JSONB reorders keys; SQLite gives times back naive (in UTC).
    read_back = {
        **ROW,
        "data": {"a": None, "b": [1, {"x": "é", "y": 2}]},
        "time": datetime(2026, 1, 2, 3, 4, 5, 678901),
        "_extra": "a column the entry does not name is not compared",
    }
    assert compare_row(evidence, read_back) is None
    assert set(evidence.columns) == set(ROW)
    assert all(len(d) == COLUMN_DIGEST_LENGTH for d in evidence.columns.values())


def test_the_first_changed_column_is_named_with_both_digests() -> None:
    evidence = row_evidence(ROW)
    changed = {**ROW, "subject": "forged", "time": ROW["time"].replace(microsecond=0)}
    mismatch = compare_row(evidence, changed)
    assert mismatch is not None
    assert mismatch.column == "subject"  # in name order: subject before time
    assert mismatch.expected == column_digest(None)[:COLUMN_DIGEST_LENGTH]
    assert mismatch.found == column_digest("forged")[:COLUMN_DIGEST_LENGTH]
    missing = compare_row(evidence, {k: v for k, v in ROW.items() if k != "data"})
    assert missing is not None
    assert missing.column == "data"


def test_an_erased_column_checks_against_the_digest_its_entry_kept() -> None:
    evidence = row_evidence(ROW)
    erased = {**ROW, "data": {}}
    assert compare_row(evidence, erased) is not None
    kept = column_digest(ROW["data"])
    assert compare_row(evidence, erased, replaced={"data": kept}) is None
    # The rest of the row still counts.
    assert compare_row(evidence, {**erased, "event_id": "e-2"}, replaced={"data": kept})


def test_a_forged_row_hash_is_caught_even_when_every_column_agrees() -> None:
    evidence = row_evidence(ROW)
    forged = RowEvidence("0" * 64, evidence.columns)
    mismatch = compare_row(forged, ROW)
    assert mismatch is not None
    assert mismatch.column == "(row)"


def test_entries_carry_evidence_in_details_and_older_ones_none() -> None:
    base = {
        "kind": AuditKind.COLLECTION,
        "occurred_at": datetime(2026, 1, 2, tzinfo=UTC),
        "actor": "client",
        "agency": "sps",
        "event_id": "e-1",
        "purpose": None,
    }
    older = AuditEntry(**base, details={"position": 7})  # type: ignore[arg-type]
    assert RowEvidence.from_entry(older) is None
    bound = AuditEntry(**base, details={"position": 7, **row_evidence(ROW).as_details()})  # type: ignore[arg-type]
    again = AuditEntry.from_canonical(bound.canonical_bytes())
    assert RowEvidence.from_entry(again) == row_evidence(ROW)
    assert index_facts(again)["event_id"] == "e-1"
