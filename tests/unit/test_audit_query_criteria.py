"""The criteria of an audit query: checked when made, recorded as the consultation says."""

from __future__ import annotations

import pytest

from hub.errors import InvalidInput
from hub.services.audit_queries import MAX_EVENT_IDS, AuditQuery


def test_several_events_are_recorded_once_each_in_order() -> None:
    query = AuditQuery(event_ids=("e2", "e1", "e2"), recipient_id="sw-glasgow-city")
    assert query.as_json() == {"recipient_id": "sw-glasgow-city", "event_ids": ["e1", "e2"]}


def test_too_many_events_in_one_query_are_refused_by_number() -> None:
    with pytest.raises(InvalidInput, match=f"at most {MAX_EVENT_IDS} event ids"):
        AuditQuery(event_ids=tuple(f"e{n}" for n in range(MAX_EVENT_IDS + 1)))
