"""The collection entries of a batch built in bulk (`hub.domain.audit.collected`, what the store
and `hub import` write) are the entries `builders.collection` makes, byte for byte."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.audit import builders
from hub.domain.audit.collected import CollectionEntries
from hub.domain.audit.evidence import RememberedDigests, column_digest
from hub.domain.notifications import Notification, Publisher
from hub.domain.schemas import SchemaRegistry

EVENTS = Path(__file__).resolve().parents[3] / "events"
REGISTRY = SchemaRegistry.load(EVENTS)
RECORDED = datetime(2026, 12, 7, 10, 30, 0, 123456, tzinfo=UTC)
PUBLISHERS = [Publisher("cl_pr2", "sps"), Publisher("cl_other", "police-scotland")]


def notification(event_type: str, n: int, identifiers: dict[str, str]) -> Notification:
    raw: dict[str, Any] = json.loads((EVENTS / "examples" / f"{event_type}.json").read_text())
    raw["id"] = f"e-{n}"
    raw["identifiers"] = identifiers
    return REGISTRY.validate(raw)


@st.composite
def stored(draw: st.DrawFn) -> tuple[Notification, dict[str, Any]]:
    """A notification and its events row as written (a push's, or an import's with `history`
    and `position`), drawn from small pools so that a batch repeats values as a chunk does."""
    n = draw(st.integers(1, 5))
    event_type = draw(st.sampled_from(["custody.admission", "custody.liberation"]))
    identifiers = draw(
        st.sampled_from([{"sps_number": "7000001"}, {"sps_number": "7000002", "pnc_id": "24/1B"}])
    )
    given_ = notification(event_type, n, identifiers)
    row: dict[str, Any] = {
        "source": given_.source,
        "event_id": given_.id,
        "type": given_.type,
        "version": given_.version,
        "time": given_.time.astimezone(draw(st.sampled_from([UTC, timezone(timedelta(hours=1))]))),
        "subject": given_.subject,
        "specversion": given_.specversion,
        "datacontenttype": given_.datacontenttype,
        "identifiers": [{"scheme": i.scheme, "value": i.value} for i in given_.identifiers],
        "data": draw(st.sampled_from([dict(given_.data), {"sealed": {"$pph.enc": "v1:dk:x"}}])),
        "content_hash": given_.content_hash(),
        "person_id": f"p-{draw(st.integers(1, 3))}",
        "stream_version": draw(st.integers(1, 3)),
        "publisher_client_id": "cl_pr2",
        "publisher_agency": "sps",
        "recorded_at": draw(st.sampled_from([RECORDED, RECORDED.replace(tzinfo=None)])),
        "trace_context": draw(st.sampled_from([None, "00-" + "1" * 32 + "-" + "2" * 16 + "-01"])),
    }
    if draw(st.booleans()):
        row |= {"history": draw(st.booleans()), "position": draw(st.sampled_from([1, n, True]))}
    return given_, row


@settings(max_examples=200, deadline=None)  # a shared CI machine: no timing asserted
@given(
    st.lists(stored(), min_size=1, max_size=15),
    st.sampled_from([None, "history", "routed"]),
    st.sampled_from(PUBLISHERS),
)
def test_a_batch_of_stored_events_gets_the_entries_one_by_one_would(
    batch: list[tuple[Notification, dict[str, Any]]], imported: str | None, publisher: Publisher
) -> None:
    entries = CollectionEntries()
    for position, (given_, row) in enumerate(batch, start=1):
        facts: dict[str, Any] = {
            "person_id": row["person_id"],
            "position": position,
            "publisher": publisher,
            "at": RECORDED,
            "stored": row,
            "imported": imported,
        }
        bulk = entries.collection(given_, **facts)
        assert bulk.canonical_bytes() == builders.collection(given_, **facts).canonical_bytes()


def test_a_batchs_data_hash_is_the_digest_its_own_rows_evidence_took() -> None:
    digests = RememberedDigests()
    data: dict[str, Any] = {"summary": {"$pph.enc": "v1:dk:x"}, "level": 2}
    digests.row_evidence({"data": data, "position": 1})
    assert digests.column_digest(data) == column_digest(data)
    assert digests.column_digest({"level": 2}) == column_digest({"level": 2})
    data["level"] = 3  # a value changed after its row: never answered from memory
    digests.row_evidence({"data": {"other": True}, "position": 2})
    assert digests.column_digest(data) == column_digest(data)
