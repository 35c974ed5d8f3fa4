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
    "SupervisionStart": "supervision-start.json",
    "BreachReport": "breach-report.json",
    "SupervisionTransfer": "supervision-transfer.json",
    "SupervisionEnd": "supervision-end.json",
}
#: The samples each shipped export holds, in order: version 1, and version 2 (issue 14).
EXPORTS = {
    "export-2024-01.csv": list(BASE_SAMPLES.values())[:4],
    "export-2026-09.csv": list(BASE_SAMPLES.values())[4:],
}
FREE_CODES = frozenset(
    {"referral/reason", "notification/notifyingAgency", "notification/release/type",
     "notification/release/basis", "notification/release/address/accommodationType",
     "notification/release/address/childrenResident", "assessment/measure",
     "assessment/outcomeLevel", "report/assessedRisk", "council", "supervision/orderType",
     "supervision/imposedBy", "supervision/endReason", "breach/licenceType",
     "breach/recommendation"}
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


@pytest.mark.parametrize(("export", "names"), EXPORTS.items())
def test_the_export_and_the_messages_give_the_same_events(export: str, names: list[str]) -> None:
    from_export = parsed(sw.parse(sample("socialwork", export), schemas()))
    messages = [
        envelope
        for name in names
        for envelope in parsed(sw.parse(sample("socialwork", name), schemas()))
    ]
    assert from_export == messages


def test_a_version_1_export_header_is_still_read() -> None:
    header = sample("socialwork", "export-2024-01.csv").split(b"\r\n", 1)[0].decode()
    assert header.split(",") == list(sw.CSV_COLUMNS_V1)
    assert sw.build_export([]).startswith(",".join(sw.CSV_COLUMNS).encode())
    assert set(sw.CSV_COLUMNS_V1) < set(sw.CSV_COLUMNS)


def test_supervision_starts_ends_and_moves_between_councils() -> None:
    [started] = parsed(sw.parse(sample("socialwork", "supervision-start.json"), schemas()))
    assert started["type"] == "supervision.started"
    assert started["data"] == {
        "order_type": "other",
        "imposed_by": "parole-board",
        "supervising_council_area": "S12000049",
        "start_date": "2023-12-12",
        "end_date": "2026-09-11",
    }
    [moved] = parsed(sw.parse(sample("socialwork", "supervision-transfer.json"), schemas()))
    assert moved["type"] == "supervision.transferred"
    assert (moved["data"]["from_council_area"], moved["data"]["to_council_area"]) == (
        "S12000049",
        "S12000038",
    )
    [ended] = parsed(sw.parse(sample("socialwork", "supervision-end.json"), schemas()))
    assert ended["type"] == "supervision.ended"
    assert ended["source"] == "urn:pph:socialwork:S12000038"
    assert ended["identifiers"]["sw_client_id"] == "S12000038:RJS-40211"


def test_a_breach_report_is_for_the_scottish_ministers() -> None:
    [envelope] = parsed(sw.parse(sample("socialwork", "breach-report.json"), schemas()))
    assert envelope["type"] == "licence.breach-reported"
    assert envelope["data"]["recommendation"] == "recall"
    assert [c["type"] for c in envelope["data"]["conditions_breached"]] == [
        "reside-at-approved-address",
        "report-to-supervising-officer",
    ]


def test_a_supervision_start_without_who_imposed_it_is_refused() -> None:
    message = json.loads(sample("socialwork", "supervision-start.json"))
    del message["supervision"]["imposedBy"]
    [record] = sw.parse(json.dumps(message).encode(), schemas())
    assert record.outcome == "rejected"
    assert record.field == "/supervision/imposedBy"


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
