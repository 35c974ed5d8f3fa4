"""The PR2 adapter: its extract and JSON message in, PR2 JSON movement messages out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.adapters import pr2
from hub.adapters.base import CannotRender
from hub.adapters.mapping import NativeValue
from hub.adapters.pr2_movements import ESTABLISHMENT
from hub.domain.policy.redaction import leaf_paths, redact

from .support import (
    assert_codes_cover_schemas,
    native_records,
    parsed,
    sample,
    schemas,
    without_constants,
)

#: One valid native record of each movement code, from the shipped samples.
BASES: dict[str, dict[str, NativeValue]] = {
    record["MOVEMENT_CODE"]: record
    for record in (
        json.loads(pr2.render(e))
        for e in parsed(pr2.parse(sample("pr2", "movements-2024-05-01.psv"), schemas()))
    )
}
#: The movements PR2 also receives back: an escape (`ESC`) is only ever sent by PR2.
SPECS = {spec.native_type: spec for spec in pr2.MESSAGES if spec.outbound}
ESCAPE = next(spec for spec in pr2.MESSAGES if spec.native_type == "ESC")
ESCAPE_BASE: dict[str, NativeValue] = json.loads(sample("pr2", "movement-escape.json"))
#: Codes that no schema rule links to another field, so any value of them is valid.
FREE_CODES = frozenset(
    {"OFFENCE_CATEGORIES", "TRANSFER_REASON", "TR_KIND", "CHILDREN_RESIDENT", "RMP_AGENCIES",
     "ACCOMMODATION_TYPE", "TO_ESTABLISHMENT", "ESTABLISHMENT", "PREV_ESTABLISHMENT",
     "POLICE_DIVISION"}
)  # fmt: skip


def _base(code: str) -> dict[str, NativeValue]:
    record = {k: v for k, v in BASES[code].items() if k != pr2.HUB_BLOCK}
    record["MOVEMENT_ID"] = "MV-0"
    return record


@st.composite
def movements(draw: st.DrawFn, codes: list[str] | None = None) -> dict[str, NativeValue]:
    code = draw(st.sampled_from(codes or sorted(SPECS)))
    record = draw(native_records(SPECS[code], _base(code), typed=False, free_codes=FREE_CODES))
    record["MOVEMENT_CODE"] = code
    return record


def _only_parsed(records: list[Any]) -> dict[str, Any]:
    [record] = records
    assert record.envelope is not None, record.problems
    return record.envelope  # type: ignore[no-any-return]


def test_bases_cover_every_movement_code() -> None:
    assert sorted(BASES) == sorted(SPECS)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(movements())
def test_native_to_canonical_to_native_keeps_every_mapped_field(
    record: dict[str, NativeValue],
) -> None:
    """A movement read from an extract and rendered as a PR2 message has the same fields."""
    extract = pr2.build_extract([record], "EXT-1", "2024-05-01T06:00:00Z")
    envelope = _only_parsed(pr2.parse_extract(extract, schemas()))
    rendered = json.loads(pr2.render(envelope))
    assert rendered.pop(pr2.HUB_BLOCK)["SUBJECT"] == pr2.SUBJECT_PREFIX + record["MOVEMENT_ID"]
    assert rendered == {k: v for k, v in record.items() if k != "MOVEMENT_ID"}
    # and the JSON message of the same movement is the same event
    message = json.dumps(record).encode()
    assert _only_parsed(pr2.parse_message(message, schemas())) == envelope


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(movements(), st.data())
def test_canonical_to_native_to_canonical_is_the_identity_on_granted_fields(
    record: dict[str, NativeValue], data: st.DataObject
) -> None:
    envelope = _only_parsed(pr2.parse_message(json.dumps(record).encode(), schemas()))
    paths = leaf_paths(envelope)
    granted = data.draw(st.lists(st.sampled_from(paths), unique=True))
    disclosure = redact(envelope, granted)
    assert pr2.read_rendered(pr2.render(disclosure)) == without_constants(disclosure)


def test_a_re_sent_movement_has_the_same_event_id_in_either_format() -> None:
    extract = parsed(pr2.parse(sample("pr2", "movements-2024-05-01.psv"), schemas()))
    message = parsed(pr2.parse(sample("pr2", "movement-liberation.json"), schemas()))
    [liberation] = [e for e in extract if e["type"] == "custody.liberation"]
    assert message == [liberation]


def test_recall_admission_is_an_admission_on_recall() -> None:
    [envelope] = parsed(pr2.parse(sample("pr2", "movement-recall-admission.json"), schemas()))
    assert envelope["type"] == "custody.admission"
    assert envelope["data"]["admission_reason"] == "recall"
    assert json.loads(pr2.render(envelope))["MOVEMENT_CODE"] == "RCL"


def test_source_names_the_recording_establishment() -> None:
    envelopes = parsed(pr2.parse(sample("pr2", "movements-2024-05-01.psv"), schemas()))
    assert {e["source"] for e in envelopes} == {
        "urn:pph:sps:pr2:hmp-barlinnie",
        "urn:pph:sps:pr2:hmp-low-moss",
        "urn:pph:sps:pr2:hmp-castle-huntly",
    }
    assert all(e["subject"].startswith("PR2-MOVEMENT-MV-") for e in envelopes)


def test_only_granted_fields_are_rendered() -> None:
    [envelope] = parsed(pr2.parse(sample("pr2", "movement-liberation.json"), schemas()))
    disclosure = redact(envelope, ["data.liberation_date", "identifiers.sps_number"])
    message = json.loads(pr2.render(disclosure))
    assert message == {
        "HUB": {"EVENT_ID": envelope["id"], "EVENT_TYPE": "custody.liberation"},
        "MOVEMENT_CODE": "LIB",
        "SPS_NUMBER": "2000417",
        "MOVEMENT_DATE": "12/12/2023",
    }


@pytest.mark.parametrize("event_type", ["licence.recall", "mappa.referral"])
def test_other_types_cannot_be_rendered_as_a_movement(event_type: str) -> None:
    with pytest.raises(CannotRender):
        pr2.render({"specversion": "1.0", "id": "x", "type": event_type})


def test_an_escaped_delimiter_survives_the_extract() -> None:
    [envelope] = [
        e
        for e in parsed(pr2.parse(sample("pr2", "movements-2024-05-01.psv"), schemas()))
        if e["type"] == "custody.transfer"
    ]
    assert "|" in envelope["data"]["reason_detail"]
    assert ";" in envelope["data"]["reason_detail"]


def test_a_malformed_escape_is_rejected_on_its_line() -> None:
    good = pr2.build_extract([_base("TRF") | {"MOVEMENT_CODE": "TRF"}], "E", "2024-05-01T06:00:00Z")
    bad = good.replace(b"MV-0|", b"MV-0\\x|", 1)
    [record] = pr2.parse_extract(bad, schemas())
    assert record.outcome == "rejected"
    assert record.location == "line 2"
    assert "backslash" in record.reason


def test_an_empty_file_is_rejected_as_a_whole() -> None:
    [record] = pr2.parse_extract(b"", schemas())
    assert record.location == "file"
    assert "HDR" in " ".join(p.reason for p in record.problems)


def test_an_oversized_file_is_rejected_before_it_is_read() -> None:
    [record] = pr2.parse_extract(b"x" * (pr2.MAX_FILE_BYTES + 1), schemas())
    assert record.location == "file"
    assert "over the limit" in record.reason


def test_every_canonical_value_has_a_pr2_code() -> None:
    """Otherwise a valid notification could not be rendered for a PR2 recipient."""
    assert_codes_cover_schemas(pr2.MESSAGES)


# -- escapes (issue 14): ESC is a missing-person notice from the SPS -----------------------------


def test_an_escape_becomes_a_missing_person_notice() -> None:
    [envelope] = parsed(pr2.parse(sample("pr2", "movement-escape.json"), schemas()))
    assert envelope["type"] == "person.missing"
    assert envelope["source"] == "urn:pph:sps:pr2:hmp-barlinnie"
    assert envelope["identifiers"] == {"sps_number": "2000417", "pnc_id": "19/402117N"}
    assert envelope["data"]["trigger"] == "escaped-from-custody"
    assert envelope["data"]["missing_since"] == "2024-09-14T10:20:00+01:00"
    assert envelope["data"]["last_known_location"]["council_area"] == "S12000049"
    assert envelope["data"]["police_division"] == "G"


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(native_records(ESCAPE, ESCAPE_BASE, typed=False, free_codes=FREE_CODES))
def test_an_escape_is_the_same_event_in_a_version_2_extract_and_as_a_message(
    record: dict[str, NativeValue],
) -> None:
    extract = pr2.build_extract([record], "EXT-1", "2024-09-15T06:00:00Z")
    assert extract.startswith(b"HDR|PR2-MOVEMENTS|2|")
    envelope = _only_parsed(pr2.parse_extract(extract, schemas()))
    assert envelope["type"] == "person.missing"
    assert envelope["source"] == "urn:pph:sps:pr2:" + ESTABLISHMENT.table[record["ESTABLISHMENT"]]
    assert _only_parsed(pr2.parse_message(json.dumps(record).encode(), schemas())) == envelope


def test_an_escape_needs_the_division_told_and_when_the_person_was_last_accounted_for() -> None:
    record = {k: v for k, v in ESCAPE_BASE.items() if k not in ("POLICE_DIVISION", "MISSING_SINCE")}
    [rejected] = pr2.parse_message(json.dumps(record).encode(), schemas())
    assert rejected.outcome == "rejected"
    assert {p.field for p in rejected.problems} == {"/POLICE_DIVISION", "/MISSING_SINCE"}


def test_a_version_1_extract_is_still_read_but_cannot_carry_an_escape() -> None:
    sample_v1 = sample("pr2", "movements-2024-05-01.psv")
    assert sample_v1.startswith(b"HDR|PR2-MOVEMENTS|1|")
    assert all(r.outcome == "parsed" for r in pr2.parse_extract(sample_v1, schemas()))
    v2 = pr2.build_extract([ESCAPE_BASE], "EXT-1", "2024-09-15T06:00:00Z")
    header, line, trailer, _ = v2.split(b"\n")
    v1_line = b"|".join(line.split(b"|")[: len(pr2.COLUMNS_BY_VERSION["1"]) + 1])
    v1 = b"\n".join([header.replace(b"|2|", b"|1|", 1), v1_line, trailer, b""])
    [record] = pr2.parse_extract(v1, schemas())
    assert record.outcome == "rejected"
    assert {p.field for p in record.problems} >= {"POLICE_DIVISION", "MISSING_SINCE"}


def test_an_unknown_extract_version_is_refused() -> None:
    v3 = pr2.build_extract([ESCAPE_BASE], "EXT-1", "2024-09-15T06:00:00Z").replace(
        b"|2|", b"|3|", 1
    )
    [record] = pr2.parse_extract(v3, schemas())
    assert record.outcome == "rejected"
    assert "reads versions 1, 2" in record.reason


def test_an_escape_is_never_rendered_back_to_pr2() -> None:
    [envelope] = parsed(pr2.parse(sample("pr2", "movement-escape.json"), schemas()))
    assert "person.missing" not in pr2.RENDERABLE_TYPES
    with pytest.raises(CannotRender):
        pr2.render(envelope)
