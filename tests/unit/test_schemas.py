"""The published event contract (`events/`) and its validator, `hub.domain.schemas`."""

from __future__ import annotations

import copy
import json
import re
import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from hub.domain.notifications import IDENTIFIER_SCHEMES, PersonIdentifier
from hub.domain.schemas import SchemaRegistry, Upcaster, dataschema_urn
from hub.errors import InvalidNotification, UnknownEventType

EVENTS = Path(__file__).resolve().parents[2] / "events"
CORE_TYPES = [
    "custody.admission",
    "licence.recall",
    "mappa.referral",
    "release.schedule1-notification",
]
#: The notifications that end statuses and move people (issue 14).
ISSUE_14_TYPES = [
    "court.disposal",
    "licence.breach-reported",
    "licence.expired",
    "licence.varied",
    "parole.decision",
    "person.address-changed",
    "person.died",
    "person.removed-from-scotland",
    "sex-offender.notification-changed",
    "sex-offender.registered",
    "sex-offender.requirements-ended",
    "supervision.ended",
    "supervision.started",
    "supervision.transferred",
]
ALL_TYPES = sorted(
    [
        *CORE_TYPES,
        "custody.liberation",
        "custody.temporary-release",
        "custody.transfer",
        "disclosure.overdue",
        "health.information-shared",
        "mappa.level-changed",
        "person.located",
        "person.missing",
        "risk.assessment-recorded",
        *ISSUE_14_TYPES,
    ]
)
#: Codes replaced in 2018/2019 (and earlier): still accepted, resolved by the directory.
FORMER_COUNCIL_CODES = {
    "S12000009",
    "S12000015",
    "S12000024",
    "S12000043",
    "S12000044",
    "S12000046",
}
CURRENT_COUNCIL_CODES = {
    "S12000005", "S12000006", "S12000008", "S12000010", "S12000011", "S12000013", "S12000014",
    "S12000017", "S12000018", "S12000019", "S12000020", "S12000021", "S12000023", "S12000026",
    "S12000027", "S12000028", "S12000029", "S12000030", "S12000033", "S12000034", "S12000035",
    "S12000036", "S12000038", "S12000039", "S12000040", "S12000041", "S12000042", "S12000045",
    "S12000047", "S12000048", "S12000049", "S12000050",
}  # fmt: skip
SCHEMA_FILES = sorted(EVENTS.glob("*.schema.json"))
Json = dict[str, Any]


@cache
def registry() -> SchemaRegistry:
    return SchemaRegistry.load(EVENTS)


@cache
def _example(event_type: str) -> str:
    return (EVENTS / "examples" / f"{event_type}.json").read_text(encoding="utf-8")


def example(event_type: str) -> Json:
    """A fresh copy of the published example of `event_type`."""
    loaded: Json = json.loads(_example(event_type))
    return loaded


def rejection(raw: object) -> InvalidNotification:
    with pytest.raises(InvalidNotification) as caught:
        registry().validate(raw)
    return caught.value


def pointers(raw: object) -> list[str]:
    error = rejection(raw)
    assert type(error) is InvalidNotification, error.problems
    return [p.pointer for p in error.problems]


def schema_nodes(node: object, path: str = "#") -> Iterator[tuple[str, Json]]:
    """Every subschema (object) inside a schema document, with where it is."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            if key in {"enum", "const", "required", "examples"}:
                continue
            yield from schema_nodes(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from schema_nodes(item, f"{path}/{index}")


def load(path: Path) -> Json:
    loaded: Json = json.loads(path.read_text(encoding="utf-8"))
    return loaded


# --- the folder itself ----------------------------------------------------------------------


def test_registry_knows_every_type_at_version_1() -> None:
    assert registry().event_types() == ALL_TYPES
    assert all(registry().versions(t) == [1] for t in ALL_TYPES)
    assert registry().versions("custody.teleportation") == []


def test_there_is_one_example_per_type() -> None:
    names = sorted(p.stem for p in (EVENTS / "examples").glob("*.json"))
    assert names == ALL_TYPES


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_schema_is_a_valid_draft_2020_12_schema(path: Path) -> None:
    schema = load(path)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    if path.name != "envelope.v1.schema.json":
        event_type, version = path.name.removesuffix(".schema.json").rsplit(".v", 1)
        assert schema["$id"] == dataschema_urn(event_type, int(version))


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_field_is_described_and_every_object_is_closed(path: Path) -> None:
    for where, node in schema_nodes(load(path)):
        for name, subschema in node.get("properties", {}).items():
            if "/if" in where or "/then" in where:
                continue  # conditionals only narrow fields described elsewhere
            assert subschema.get("description"), f"{where}/properties/{name} has no description"
        if node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, f"{where} is open"


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_only_formats_the_hub_checks_are_used(path: Path) -> None:
    formats = {node["format"] for _, node in schema_nodes(load(path)) if "format" in node}
    assert formats <= {"date", "date-time"}


def test_shared_code_lists_are_the_same_in_every_schema() -> None:
    councils, establishments = [], []
    for path in SCHEMA_FILES:
        defs = load(path).get("$defs", {})
        if "council_area" in defs:
            councils.append(set(defs["council_area"]["enum"]))
        if "establishment" in defs:
            establishments.append(defs["establishment"]["enum"])
    assert len(councils) == 21
    assert all(c == CURRENT_COUNCIL_CODES | FORMER_COUNCIL_CODES for c in councils)
    assert len(establishments) == 8
    assert all(e == establishments[0] for e in establishments)


def test_envelope_identifier_schemes_are_the_subject_index_schemes() -> None:
    envelope = load(EVENTS / "envelope.v1.schema.json")
    assert tuple(envelope["properties"]["identifiers"]["properties"]) == IDENTIFIER_SCHEMES


# --- valid notifications --------------------------------------------------------------------


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_every_example_validates(event_type: str) -> None:
    raw = example(event_type)
    notification = registry().validate(raw)
    assert notification.type == event_type
    assert notification.version == 1
    assert notification.id == raw["id"]
    assert notification.source == raw["source"]
    assert notification.time.tzinfo is not None
    assert notification.data == raw["data"]
    assert notification.raw is raw
    assert notification.identifiers == tuple(
        sorted(PersonIdentifier(s, v) for s, v in raw["identifiers"].items())
    )
    assert list(notification.identifiers) == sorted(notification.identifiers)


def test_time_keeps_its_offset() -> None:
    raw = example("custody.admission") | {"time": "2021-03-12t16:40:00.123456789+01:00"}
    time = registry().validate(raw).time
    assert time.utcoffset() == timedelta(hours=1)
    assert (time.hour, time.microsecond) == (16, 123456)


# --- envelope problems ----------------------------------------------------------------------

ENVELOPE_REQUIRED = [
    "specversion", "id", "source", "type", "time", "datacontenttype", "dataschema", "identifiers",
    "data",
]  # fmt: skip


@pytest.mark.parametrize("name", ENVELOPE_REQUIRED)
def test_missing_envelope_attribute_is_named(name: str) -> None:
    raw = example("custody.admission")
    del raw[name]
    assert pointers(raw) == [f"/{name}"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("specversion", "0.3"),
        ("id", ""),
        ("id", "x" * 201),
        ("source", "not a uri"),
        # Issue 13: look-alike sources and ids that GET /v1/events/{id} cannot reach.
        ("source", "urn:pph:sps:pr2:hmp-barlinnie\u200b"),
        ("source", "urn:pph:sps:pr2:\u202ehmp-barlinnie"),
        ("source", "urn:pph:sps:pr2:hmp-barlinnie\u00a0"),
        ("source", "urn:pph:sps:pr2:hm\u0440-barlinnie"),
        ("id", "a/b"),
        ("id", "a\nb"),
        ("id", "a\tb"),
        ("id", "a\u0000b"),
        ("id", "-leading-hyphen"),
        ("id", "caf\u00e9"),
        ("id", "a\u200bb"),
        ("subject", "a\u0000b"),
        ("subject", "line\nbreak"),
        ("subject", "\u202eevil"),
        ("time", "0001-01-01T00:00:00+14:00"),
        ("time", "9999-12-31T23:59:59-14:00"),
        ("time", "2021-03-12T16:40:00"),
        ("time", "2021-03-12 16:40:00Z"),
        ("time", "2021-02-30T16:40:00Z"),
        ("time", "2021-03-12T16:40:60Z"),
        ("time", "yesterday"),
        ("time", 1615567200),
        ("datacontenttype", "application/xml"),
        ("dataschema", "urn:pph:events:custody.admission"),
        ("dataschema", "urn:pph:events:licence.recall:v1"),
        ("subject", ""),
        ("identifiers", {}),
        ("data", []),
    ],
)
def test_bad_envelope_attribute_is_named(name: str, value: object) -> None:
    raw = example("custody.admission") | {name: value}
    assert pointers(raw) == [f"/{name}"]


def test_extra_envelope_attribute_is_named() -> None:
    raw = example("custody.admission") | {"traceparent": "00-abc"}
    error = rejection(raw)
    assert [p.pointer for p in error.problems] == ["/traceparent"]
    assert "allowed: data, datacontenttype" in error.problems[0].message


IDENTIFIER_FORMATS = [
    ("sps_number", "1000001", True),
    ("sps_number", "S1000001", False),
    ("pnc_id", "09/123456A", True),
    ("pnc_id", "19/402117N", True),
    ("pnc_id", "2019/402117N", False),
    ("pnc_id", "19/402117", False),
    ("pnc_id", "19/402117N\n", False),
    ("cro_number", "123456/08X", True),
    ("cro_number", "SF95/12345A", True),
    ("cro_number", "1234567/08X", False),
    ("visor_ref", "VSR-2019-0040211", True),
    ("visor_ref", "vsr 2019", False),
    ("sw_client_id", "S12000049:SW123456", True),
    ("sw_client_id", "S12000046:SW123456", False),  # Glasgow's former code
    ("sw_client_id", "SW123456", False),
    ("chi_number", "1503851010", True),
    ("chi_number", "3213851010", False),
    ("chi_number", "150385101", False),
]


@pytest.mark.parametrize(("scheme", "value", "valid"), IDENTIFIER_FORMATS)
def test_identifier_formats(scheme: str, value: str, valid: bool) -> None:
    raw = example("custody.admission") | {"identifiers": {scheme: value}}
    if valid:
        assert registry().validate(raw).identifiers == (PersonIdentifier(scheme, value),)
    else:
        assert pointers(raw) == [f"/identifiers/{scheme}"]


def test_unknown_identifier_scheme_is_named() -> None:
    raw = example("custody.admission")
    raw["identifiers"]["nhs_number"] = "9434765919"
    assert pointers(raw) == ["/identifiers/nhs_number"]


def test_body_is_not_checked_against_a_schema_for_another_type() -> None:
    raw = example("custody.admission") | {"dataschema": "urn:pph:events:licence.recall:v1"}
    raw["data"]["unexpected"] = True
    assert pointers(raw) == ["/dataschema"]


# --- body problems --------------------------------------------------------------------------

Mutation = Callable[[Json], None]


def delete(*path: str | int) -> Mutation:
    def mutate(data: Json) -> None:
        node: Any = data
        for token in path[:-1]:
            node = node[token]
        del node[path[-1]]

    return mutate


def put(value: object, *path: str | int) -> Mutation:
    def mutate(data: Json) -> None:
        node: Any = data
        for token in path[:-1]:
            node = node[token]
        node[path[-1]] = value

    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(data: Json) -> None:
        for mutation in mutations:
            mutation(data)

    return mutate


BODY_CASES: list[tuple[str, str, Mutation, list[str]]] = [
    # custody.admission
    ("custody.admission", "missing", delete("establishment"), ["/data/establishment"]),
    ("custody.admission", "missing-nested", delete("sentence", "type"), ["/data/sentence/type"]),
    ("custody.admission", "enum", put("deported", "admission_reason"), ["/data/admission_reason"]),
    ("custody.admission", "enum-establishment", put("hmp-peterhead", "establishment"),
     ["/data/establishment"]),
    ("custody.admission", "date", put("2021-02-30", "admission_date"), ["/data/admission_date"]),
    ("custody.admission", "date-shape", put("12/03/2021", "sentence", "sentence_date"),
     ["/data/sentence/sentence_date"]),
    ("custody.admission", "extra", put("x", "sentence", "judge"), ["/data/sentence/judge"]),
    ("custody.admission", "type", put("yes", "schedule1_offender"), ["/data/schedule1_offender"]),
    ("custody.admission", "empty-list", put([], "offence_categories"),
     ["/data/offence_categories"]),
    ("custody.admission", "list-item", put(["sexual", "arson"], "offence_categories"),
     ["/data/offence_categories/1"]),
    ("custody.admission", "recall-needs-sentence", both(put("recall", "admission_reason"),
     delete("sentence")), ["/data/sentence"]),
    ("custody.admission", "transfer-needs-origin", put("transfer-in", "admission_reason"),
     ["/data/previous_establishment"]),
    ("custody.admission", "extended-needs-extension", put("extended", "sentence", "type"),
     ["/data/sentence/extension_period"]),
    ("custody.admission", "duration-range", put(12, "sentence", "custodial_term", "months"),
     ["/data/sentence/custodial_term/months"]),
    # release.schedule1-notification
    ("release.schedule1-notification", "missing", delete("release", "address", "council_area"),
     ["/data/release/address/council_area"]),
    ("release.schedule1-notification", "unknown-gss-code",
     put("S12000099", "release", "address", "council_area"),
     ["/data/release/address/council_area"]),
    ("release.schedule1-notification", "enum", put("imminent", "release", "type"),
     ["/data/release/type"]),
    ("release.schedule1-notification", "date", put("12/12/2023", "release", "expected_date"),
     ["/data/release/expected_date"]),
    ("release.schedule1-notification", "extra", put("A N Other", "schedule1_offences", 0,
     "victim_name"), ["/data/schedule1_offences/0/victim_name"]),
    ("release.schedule1-notification", "victim-age", put("17", "schedule1_offences", 0,
     "victim_age_category"), ["/data/schedule1_offences/0/victim_age_category"]),
    ("release.schedule1-notification", "postcode", put("g99 9zz", "release", "address",
     "postcode"), ["/data/release/address/postcode"]),
    ("release.schedule1-notification", "no-offences", put([], "schedule1_offences"),
     ["/data/schedule1_offences"]),
    # licence.recall
    ("licence.recall", "missing", delete("custody_status"), ["/data/custody_status"]),
    ("licence.recall", "enum", put("s17(2)", "statutory_basis"), ["/data/statutory_basis"]),
    ("licence.recall", "authority", put("parole-board", "revoking_authority"),
     ["/data/revoking_authority"]),
    ("licence.recall", "date", put("2024-05-20T10:00:00Z", "revocation_date"),
     ["/data/revocation_date"]),
    ("licence.recall", "extra", put("x", "parole_board_member"), ["/data/parole_board_member"]),
    ("licence.recall", "division", put("B", "police_division"), ["/data/police_division"]),
    ("licence.recall", "hdc-basis", put("s17A", "statutory_basis"), ["/data/licence_type"]),
    # mappa.referral
    ("mappa.referral", "missing", delete("category"), ["/data/category"]),
    ("mappa.referral", "uncommenced", put("s10(1)(b)", "category"), ["/data/category"]),
    ("mappa.referral", "category-number", put("category 1", "category"), ["/data/category"]),
    ("mappa.referral", "level", put(4, "level"), ["/data/level"]),
    ("mappa.referral", "date", put("2023-13-01", "referral_date"), ["/data/referral_date"]),
    ("mappa.referral", "extra", put("x", "chair"), ["/data/chair"]),
    ("mappa.referral", "group-mismatch", put("restricted-patient", "category_group"),
     ["/data/category_group"]),
    ("mappa.referral", "orosh-level-1", both(put("s10(1)(e)", "category"),
     put("other-risk-of-serious-harm", "category_group"), put(1, "level")), ["/data/level"]),
    ("mappa.referral", "orosh-needs-risk", both(put("s10(1)(e)", "category"),
     put("other-risk-of-serious-harm", "category_group"), delete("risk_of_serious_harm")),
     ["/data/risk_of_serious_harm"]),
    ("mappa.referral", "council-named", delete("referring_council_area"),
     ["/data/referring_council_area"]),
    # issue 14: the notifications that end statuses and move people
    ("sex-offender.registered", "end-date-when-not-indefinite", put(False, "indefinite"),
     ["/data/requirements_end_date"]),
    ("sex-offender.registered", "indefinite-has-no-end-date",
     put("2033-12-14", "requirements_end_date"), ["/data/indefinite"]),
    ("sex-offender.registered", "address-needs-area", delete("address", "council_area"),
     ["/data/address/council_area"]),
    ("sex-offender.registered", "basis", put("caution", "basis"), ["/data/basis"]),
    ("sex-offender.notification-changed", "address-change-needs-address", delete("address"),
     ["/data/address"]),
    ("sex-offender.notification-changed", "travel-needs-travel", put("foreign-travel", "change"),
     ["/data/travel"]),
    ("sex-offender.notification-changed", "country-code", both(put("foreign-travel", "change"),
     put({"departure_date": "2025-09-01", "destination_country": "Spain"}, "travel")),
     ["/data/travel/destination_country"]),
    ("sex-offender.requirements-ended", "reason", put("moved", "reason"), ["/data/reason"]),
    ("person.address-changed", "unknown-area",
     put("S12000099", "new_address", "council_area"), ["/data/new_address/council_area"]),
    ("person.address-changed", "reporter", put("neighbour", "reported_by"),
     ["/data/reported_by"]),
    ("supervision.started", "order", put("probation", "order_type"), ["/data/order_type"]),
    ("supervision.started", "council", delete("supervising_council_area"),
     ["/data/supervising_council_area"]),
    ("supervision.ended", "reason", put("absconded", "reason"), ["/data/reason"]),
    ("supervision.transferred", "date", put("18/08/2025", "effective_date"),
     ["/data/effective_date"]),
    ("licence.varied", "condition", put([{"type": "be-good"}], "conditions_added"),
     ["/data/conditions_added/0/type"]),
    ("licence.varied", "lists-required", delete("conditions_removed"),
     ["/data/conditions_removed"]),
    ("licence.expired", "licence-type", put("parole-licence", "licence_type"),
     ["/data/licence_type"]),
    ("licence.breach-reported", "no-conditions", put([], "conditions_breached"),
     ["/data/conditions_breached"]),
    ("licence.breach-reported", "recommendation", put("recall-immediately", "recommendation"),
     ["/data/recommendation"]),
    ("court.disposal", "custodial-needs-sentence", delete("sentence"), ["/data/sentence"]),
    ("court.disposal", "court-type", put("supreme-court", "court", "type"),
     ["/data/court/type"]),
    ("court.disposal", "judge-report-flag", delete("trial_judge_report"),
     ["/data/trial_judge_report"]),
    ("parole.decision", "decision", put("defer", "decision"), ["/data/decision"]),
    ("person.died", "reporter", delete("reported_by"), ["/data/reported_by"]),
    ("person.removed-from-scotland", "destination", put("wales", "destination"),
     ["/data/destination"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("event_type", "mutation", "expected"),
    [pytest.param(t, m, e, id=f"{t}-{name}") for t, name, m, e in BODY_CASES],
)
def test_body_problem_is_named(event_type: str, mutation: Mutation, expected: list[str]) -> None:
    raw = example(event_type)
    mutation(raw["data"])
    assert pointers(raw) == expected


def test_registration_rule_is_named() -> None:
    raw = example("sex-offender.registered")
    raw["data"]["indefinite"] = False
    [problem] = rejection(raw).problems
    assert problem.message == (
        "is required but missing (a registration that is not indefinite states when the "
        "requirements end)"
    )


def test_conditional_problem_says_which_rule() -> None:
    raw = example("mappa.referral")
    both(
        put("s10(1)(e)", "category"),
        put("other-risk-of-serious-harm", "category_group"),
        put(1, "level"),
    )(raw["data"])
    [problem] = rejection(raw).problems
    assert problem.message == (
        "must be one of: 2, 3 (other risk of serious harm cases are assessed high or very high "
        "and managed at level 2 or 3)"
    )


# --- unknown types and versions -------------------------------------------------------------


def test_unknown_type() -> None:
    raw = example("custody.admission") | {
        "type": "custody.teleportation",
        "dataschema": "urn:pph:events:custody.teleportation:v1",
    }
    error = rejection(raw)
    assert isinstance(error, UnknownEventType)
    assert [p.pointer for p in error.problems] == ["/type"]
    assert "custody.admission" in error.problems[0].message


def test_unknown_version() -> None:
    raw = example("licence.recall") | {"dataschema": "urn:pph:events:licence.recall:v2"}
    error = rejection(raw)
    assert isinstance(error, UnknownEventType)
    assert [p.pointer for p in error.problems] == ["/dataschema"]
    assert "known versions: 1" in error.problems[0].message


def test_unknown_type_still_reports_the_other_envelope_problems() -> None:
    raw = example("custody.admission") | {"type": "custody.teleportation", "time": "soon"}
    error = rejection(raw)
    assert isinstance(error, UnknownEventType)
    assert [p.pointer for p in error.problems] == ["/time", "/type"]


# --- the shape of the answer ----------------------------------------------------------------


@pytest.mark.parametrize("raw", [[], "custody.admission", None, 42, 1.5, True])
def test_input_that_is_not_an_object(raw: object) -> None:
    error = rejection(raw)
    assert type(error) is InvalidNotification
    [problem] = error.problems
    assert problem.pointer == ""
    assert problem.message.startswith("must be a JSON object")


def test_pointer_tokens_are_escaped() -> None:
    raw = example("custody.admission")
    raw["data"]["a/b~c"] = 1
    raw["identifiers"]["~/"] = "x"
    raw["data"]["offence_categories"] = ["sexual", "sexual"]
    assert pointers(raw) == ["/data/a~1b~0c", "/data/offence_categories", "/identifiers/~0~1"]


def test_every_problem_is_reported_at_once_sorted_by_pointer() -> None:
    raw = example("release.schedule1-notification")
    del raw["id"]
    raw["time"] = "2023-09-04"
    raw["identifiers"]["pnc_id"] = "nope"
    data = raw["data"]
    del data["notifying_agency"]
    del data["release"]["expected_date"]
    data["release"]["address"]["council_area"] = "S12000099"
    data["schedule1_offences"].append({"victim_age_category": "adult"})
    data["release"]["address"]["flat"] = "0/1"
    error = rejection(raw)
    assert [p.pointer for p in error.problems] == [
        "/data/notifying_agency",
        "/data/release/address/council_area",
        "/data/release/address/flat",
        "/data/release/expected_date",
        "/data/schedule1_offences/1/schedule1_paragraph",
        "/data/schedule1_offences/1/victim_age_category",
        "/id",
        "/identifiers/pnc_id",
        "/time",
    ]
    assert error.message.startswith("the notification is not valid: /data/notifying_agency")


def test_problems_never_repeat_the_submitted_value() -> None:
    raw = example("custody.admission")
    raw["identifiers"]["pnc_id"] = "PERSONAL-DATA-1"
    raw["data"]["committing_court"] = "PERSONAL-DATA-2" * 50
    raw["data"]["admission_reason"] = "PERSONAL-DATA-3"
    raw["time"] = "PERSONAL-DATA-4"
    error = rejection(raw)
    assert len(error.problems) == 4
    assert all("PERSONAL" not in p.message for p in error.problems)
    assert "PERSONAL" not in error.message


# --- versions and upcasting -----------------------------------------------------------------


def _versioned_folder(tmp_path: Path) -> Path:
    """A copy of `events/` with two fake later versions of custody.admission:
    v2 renames `sex_offender_notification` to `registered_sex_offender`; v3 adds `wing`."""
    folder = tmp_path / "events"
    shutil.copytree(EVENTS, folder)
    v1 = load(EVENTS / "custody.admission.v1.schema.json")
    v2 = copy.deepcopy(v1)
    v2["$id"] = dataschema_urn("custody.admission", 2)
    v2["properties"]["registered_sex_offender"] = v2["properties"].pop("sex_offender_notification")
    v2["required"] = [
        "registered_sex_offender" if r == "sex_offender_notification" else r for r in v2["required"]
    ]
    v3 = copy.deepcopy(v2)
    v3["$id"] = dataschema_urn("custody.admission", 3)
    v3["properties"]["wing"] = {"type": "string", "description": "Hall or wing."}
    v3["required"].append("wing")
    for version, schema in ((2, v2), (3, v3)):
        path = folder / f"custody.admission.v{version}.schema.json"
        path.write_text(json.dumps(schema), encoding="utf-8")
    return folder


def _to_v2(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    data["registered_sex_offender"] = data.pop("sex_offender_notification")
    return data


def _to_v3(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "wing": "unknown"}


def test_versions_are_read_from_the_folder(tmp_path: Path) -> None:
    versioned = SchemaRegistry.load(_versioned_folder(tmp_path))
    assert versioned.versions("custody.admission") == [1, 2, 3]
    raw = example("custody.admission") | {"dataschema": dataschema_urn("custody.admission", 2)}
    raw["data"] = _to_v2(raw["data"])
    assert versioned.validate(raw).version == 2
    raw["dataschema"] = dataschema_urn("custody.admission", 1)
    with pytest.raises(InvalidNotification) as caught:
        versioned.validate(raw)
    assert [p.pointer for p in caught.value.problems] == [
        "/data/registered_sex_offender",
        "/data/sex_offender_notification",
    ]


def test_upcasters_run_in_order_to_the_latest_version(tmp_path: Path) -> None:
    versioned = SchemaRegistry.load(_versioned_folder(tmp_path))
    calls: list[str] = []

    def recorded(step: str, upcaster: Upcaster) -> Upcaster:
        def upcast(data: dict[str, Any]) -> dict[str, Any]:
            calls.append(step)
            return upcaster(data)

        return upcast

    versioned.register_upcaster("custody.admission", 2, recorded("2->3", _to_v3))
    versioned.register_upcaster("custody.admission", 1, recorded("1->2", _to_v2))
    stored = example("custody.admission")["data"]
    before = copy.deepcopy(stored)

    version, data = versioned.upcast("custody.admission", 1, stored)

    assert calls == ["1->2", "2->3"]
    assert version == 3
    assert data == _to_v3(_to_v2(before))
    assert stored == before, "the stored body must not be modified"
    latest = example("custody.admission") | {"dataschema": dataschema_urn("custody.admission", 3)}
    latest["data"] = dict(data)
    assert versioned.validate(latest).version == 3
    assert versioned.upcast("custody.admission", 3, data) == (3, data)


def test_upcasting_needs_every_step(tmp_path: Path) -> None:
    versioned = SchemaRegistry.load(_versioned_folder(tmp_path))
    versioned.register_upcaster("custody.admission", 1, _to_v2)
    with pytest.raises(LookupError, match="v2 -> v3"):
        versioned.upcast("custody.admission", 1, example("custody.admission")["data"])


def test_upcaster_registration_is_checked(tmp_path: Path) -> None:
    versioned = SchemaRegistry.load(_versioned_folder(tmp_path))
    versioned.register_upcaster("custody.admission", 1, _to_v2)
    with pytest.raises(ValueError, match="already registered"):
        versioned.register_upcaster("custody.admission", 1, _to_v2)
    with pytest.raises(ValueError, match="cannot upcast"):
        versioned.register_upcaster("custody.admission", 3, _to_v2)
    with pytest.raises(ValueError, match="cannot upcast"):
        versioned.register_upcaster("custody.teleportation", 1, _to_v2)


def test_v1_needs_no_upcasting_and_unknown_versions_are_refused() -> None:
    data = example("licence.recall")["data"]
    assert registry().upcast("licence.recall", 1, data) == (1, data)
    with pytest.raises(UnknownEventType):
        registry().upcast("licence.recall", 2, data)
    with pytest.raises(UnknownEventType):
        registry().upcast("custody.teleportation", 1, data)


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("custody.admission.schema.json", "{}", "expected a name like"),
        ("custody.admission.v2.schema.json", "{", "cannot read schema"),
        ("custody.admission.v2.schema.json", "[]", "must be a JSON object"),
        (
            "custody.admission.v2.schema.json",
            '{"$schema": "http://json-schema.org/draft-07/schema#"}',
            "$schema must be",
        ),
        (
            "custody.admission.v2.schema.json",
            '{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": 7}',
            "not a valid JSON Schema",
        ),
        (
            "custody.admission.v2.schema.json",
            '{"$schema": "https://json-schema.org/draft/2020-12/schema", '
            '"$id": "urn:pph:events:custody.admission:v1"}',
            "$id must be",
        ),
        (
            "person.teleported.v1.schema.json",
            '{"$schema": "https://json-schema.org/draft/2020-12/schema", '
            '"$id": "urn:pph:events:person.teleported:v1"}',
            "does not match the body schemas",
        ),
    ],
)
def test_a_broken_folder_fails_loudly(
    tmp_path: Path, name: str, content: str, fragment: str
) -> None:
    folder = tmp_path / "events"
    shutil.copytree(EVENTS, folder)
    (folder / name).write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(fragment)):
        SchemaRegistry.load(folder)


# --- no input crashes the validator ---------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=24,
)
POINTER = re.compile(r"(/([^~/]|~[01])*)*")


@st.composite
def near_valid(draw: st.DrawFn) -> Json:
    """An example with one envelope attribute, or one body field, replaced by anything."""
    raw = example(draw(st.sampled_from(ALL_TYPES)))
    target = raw if draw(st.booleans()) else raw["data"]
    key = draw(st.sampled_from([*sorted(target), "unexpected/~key"]))
    if draw(st.booleans()):
        target[key] = draw(json_values)
    else:
        target.pop(key, None)
    return raw


@settings(max_examples=300, deadline=None, database=None)
@given(st.one_of(json_values, st.dictionaries(st.text(max_size=12), json_values), near_valid()))
def test_no_input_crashes_the_validator(raw: object) -> None:
    problems = None
    try:
        notification = registry().validate(raw)
    except InvalidNotification as error:  # UnknownEventType is one too
        problems = error.problems
    if problems is None:
        assert notification.raw is raw
        return
    assert problems
    assert [p.pointer for p in problems] == sorted(p.pointer for p in problems)
    assert all(POINTER.fullmatch(p.pointer) and p.message for p in problems)
