"""The social work adapter: JSON messages and CSV exports in, JSON messages out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.adapters import socialwork as sw
from hub.adapters.base import CannotRender
from hub.adapters.mapping import NativeValue
from hub.domain.policy.redaction import leaf_paths, redact

from .support import (
    assert_codes_cover_schemas,
    native_records,
    parsed,
    sample,
    schemas,
    without_constants,
)

SPECS = {spec.native_type: spec for spec in sw.MESSAGES}
BASE_SAMPLES = {
    "MappaReferral": "mappa-referral.json",
    "Schedule1Notification": "schedule1-notification.json",
    "RiskAssessment": "risk-assessment.json",
    "HomeBackgroundReport": "home-background-report.json",
}
FREE_CODES = frozenset(
    {"referral/reason", "notification/notifyingAgency", "notification/release/type",
     "notification/release/basis", "notification/release/address/accommodationType",
     "notification/release/address/childrenResident", "assessment/measure",
     "assessment/outcomeLevel", "report/assessedRisk", "council"}
)  # fmt: skip


def _base(kind: str) -> dict[str, NativeValue]:
    return sw.flatten_message(json.loads(sample("socialwork", BASE_SAMPLES[kind])))


def _unflatten(record: dict[str, NativeValue]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for path, value in record.items():
        node = document
        *parents, leaf = path.split("/")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return document


@st.composite
def messages(draw: st.DrawFn, kinds: list[str] | None = None) -> dict[str, NativeValue]:
    kind = draw(st.sampled_from(kinds or sorted(BASE_SAMPLES)))
    record = draw(native_records(SPECS[kind], _base(kind), typed=True, free_codes=FREE_CODES))
    record["messageType"] = kind
    return record


def _only_parsed(records: list[Any]) -> dict[str, Any]:
    [record] = records
    assert record.envelope is not None, record.problems
    return record.envelope  # type: ignore[no-any-return]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(messages([k for k, s in SPECS.items() if s.outbound]))
def test_native_to_canonical_to_native_keeps_every_mapped_field(
    record: dict[str, NativeValue],
) -> None:
    """A record read from a CSV export and rendered as a JSON message has the same fields, and
    the same record sent as a JSON message is the same event."""
    envelope = _only_parsed(sw.parse_export(sw.build_export([record]), schemas()))
    as_message = json.dumps(_unflatten(record)).encode()
    assert _only_parsed(sw.parse_message(as_message, schemas())) == envelope
    rendered = sw.flatten_message(json.loads(sw.render(envelope)))
    for key in ("hub/eventId", "hub/eventType", "hub/source", "hub/subject"):
        rendered.pop(key)
    expected = {k: v for k, v in record.items() if k != "recordId"}
    if "client/clientId" not in record:
        expected.pop("council")
    assert rendered == expected


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(messages(), st.data())
def test_canonical_to_native_to_canonical_is_the_identity_on_granted_fields(
    record: dict[str, NativeValue], data: st.DataObject
) -> None:
    envelope = _only_parsed(sw.parse_message(json.dumps(_unflatten(record)).encode(), schemas()))
    granted = data.draw(st.lists(st.sampled_from(leaf_paths(envelope)), unique=True))
    disclosure = redact(envelope, granted)
    assert sw.read_rendered(sw.render(disclosure)) == without_constants(disclosure)


def test_the_client_id_is_qualified_by_the_council() -> None:
    [envelope] = parsed(sw.parse(sample("socialwork", "mappa-referral.json"), schemas()))
    assert envelope["identifiers"]["sw_client_id"] == "S12000049:SW402117"
    assert envelope["source"] == "urn:pph:socialwork:S12000049"
    message = json.loads(sw.render(envelope))
    assert message["council"] == "S12000049"
    assert message["client"]["clientId"] == "SW402117"


def test_a_home_background_report_is_a_council_risk_assessment() -> None:
    [envelope] = parsed(sw.parse(sample("socialwork", "home-background-report.json"), schemas()))
    assert envelope["type"] == "risk.assessment-recorded"
    assert envelope["data"]["tool"] == "other"
    assert envelope["data"]["tool_name"] == "Home background report"
    assert envelope["data"]["assessor"] == {
        "agency": "local-authority",
        "role": "community justice social worker",
        "council_area": "S12000042",
    }


def test_the_export_and_the_messages_give_the_same_events() -> None:
    export = parsed(sw.parse(sample("socialwork", "export-2024-01.csv"), schemas()))
    messages = [
        envelope
        for name in BASE_SAMPLES.values()
        for envelope in parsed(sw.parse(sample("socialwork", name), schemas()))
    ]
    assert export == messages


def test_a_supervision_start_is_refused_with_why() -> None:
    [record] = sw.parse(sample("socialwork", "supervision-start.json"), schemas())
    assert record.outcome == "rejected"
    assert record.native_type == "SupervisionStart"
    assert "no event type" in record.reason


def test_injection_text_in_free_text_is_kept_verbatim_as_inert_text() -> None:
    """SQL-looking text is only text: the store binds parameters, so it is kept as written."""
    message = json.loads(sample("socialwork", "mappa-referral.json"))
    message["referral"]["reasonDetail"] = "Robert'); DROP TABLE events;--"
    [envelope] = parsed(sw.parse(json.dumps(message).encode(), schemas()))
    assert envelope["data"]["reason_detail"] == "Robert'); DROP TABLE events;--"


def test_every_canonical_value_has_a_social_work_code() -> None:
    assert_codes_cover_schemas(sw.MESSAGES)


@pytest.mark.parametrize("event_type", ["custody.liberation", "person.missing"])
def test_other_types_cannot_be_rendered(event_type: str) -> None:
    with pytest.raises(CannotRender):
        sw.render({"specversion": "1.0", "id": "x", "type": event_type})


def test_a_csv_cell_of_another_record_type_is_refused() -> None:
    export = sample("socialwork", "export-2024-01.csv").decode()
    header, first, *rest = export.split("\r\n")
    cells = first.split(",")
    cells[header.split(",").index("TOOL")] = "RM2000"
    [record, *_] = sw.parse_export(
        "\r\n".join([header, ",".join(cells), *rest]).encode(), schemas()
    )
    assert record.field == "TOOL"
    assert "not part of a MappaReferral" in record.reason
