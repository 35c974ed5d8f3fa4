"""The ViSOR adapter: XML messages in and out, refusing hostile XML."""

from __future__ import annotations

from typing import Any

import pytest
from defusedxml.ElementTree import fromstring
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.adapters import visor
from hub.adapters.base import CannotRender
from hub.adapters.mapping import NativeValue
from hub.domain.policy.redaction import leaf_paths, redact

from .support import (
    SAMPLES,
    assert_codes_cover_schemas,
    native_records,
    parsed,
    sample,
    schemas,
    without_constants,
)

NS = visor.NAMESPACE
SPECS = {spec.native_type: spec for spec in visor.MESSAGES}
BASE_SAMPLES = {
    "NominalRegistration": "nominal-registration.xml",
    "NotificationChange": "notification-change-address.xml",
    "RequirementsEnded": "requirements-ended.xml",
    "MappaReferral": "mappa-referral.xml",
    "MappaLevelChange": "mappa-level-change.xml",
    "RiskAssessment": "risk-assessment.xml",
    "MissingReport": "missing.xml",
    "LocatedReport": "located.xml",
    "RecallReceipt": "recall-receipt.xml",
}
FREE_CODES = frozenset(
    {"RiskAssessment/Measure", "RiskAssessment/OutcomeLevel", "MissingReport/Trigger",
     "RecallReceipt/CustodyStatus", "RecallReceipt/Reasons/Reason", "MappaLevelChange/DecidedBy",
     "MappaReferral/Reason", "NominalRegistration/Basis",
     "NominalRegistration/Address/AccommodationType",
     "NominalRegistration/Address/ChildrenResident",
     "NotificationChange/Address/AccommodationType", "RequirementsEnded/Reason"}
)  # fmt: skip


def _base(kind: str) -> dict[str, NativeValue]:
    root = fromstring(sample("visor", BASE_SAMPLES[kind]))
    record, body, problems = visor._flatten(root)
    assert body == kind
    assert not problems
    return record


def _document(kind: str, record: dict[str, NativeValue]) -> bytes:
    """A native message with `record`'s fields, written the way ViSOR would."""
    spec = SPECS[kind]
    envelope: dict[str, Any] = {"type": spec.event_type, "id": "x", "specversion": "1.0"}
    for fmap in spec.fields:
        if fmap.native in record:
            value = fmap.codec.parse(record[fmap.native], False)
            node = envelope
            *parents, last = fmap.path.split(".")
            for parent in parents:
                node = node.setdefault(parent, {})
            node[last] = value
    return visor.write_message(
        spec, envelope, hub=False, message_id=str(record["Header/MessageId"])
    )


@st.composite
def messages(draw: st.DrawFn, kinds: list[str] | None = None) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(kinds or sorted(BASE_SAMPLES)))
    record = draw(native_records(SPECS[kind], _base(kind), typed=False, free_codes=FREE_CODES))
    return kind, _document(kind, record)


def _only_parsed(records: list[Any]) -> dict[str, Any]:
    [record] = records
    assert record.envelope is not None, record.problems
    return record.envelope  # type: ignore[no-any-return]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(messages([k for k, s in SPECS.items() if s.inbound and s.outbound]))
def test_native_to_canonical_to_native_keeps_every_mapped_field(message: tuple[str, bytes]) -> None:
    kind, document = message
    envelope = _only_parsed(visor.parse(document, schemas()))
    original, _, _ = visor._flatten(fromstring(document))
    rendered, body, _ = visor._flatten(fromstring(visor.render(envelope)))
    assert body == kind
    assert rendered.pop("Header/HubEventId") == envelope["id"]
    assert rendered.pop("Header/HubSource") == visor.SOURCE
    assert rendered.pop("Header/HubSubject") == visor.SUBJECT_PREFIX + original.pop(
        "Header/MessageId"
    )
    assert rendered == original


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(messages(), st.data())
def test_canonical_to_native_to_canonical_is_the_identity_on_granted_fields(
    message: tuple[str, bytes], data: st.DataObject
) -> None:
    envelope = _only_parsed(visor.parse(message[1], schemas()))
    granted = data.draw(st.lists(st.sampled_from(leaf_paths(envelope)), unique=True))
    disclosure = redact(envelope, granted)
    assert visor.read_rendered(visor.render(disclosure)) == without_constants(disclosure)


def test_a_registration_is_a_sex_offender_registration_by_the_police() -> None:
    [envelope] = parsed(visor.parse(sample("visor", "nominal-registration.xml"), schemas()))
    assert envelope["type"] == "sex-offender.registered"
    assert envelope["source"] == "urn:pph:police-scotland:visor"
    assert envelope["data"]["indefinite"] is True
    assert "requirements_end_date" not in envelope["data"]
    assert envelope["data"]["address"]["council_area"] == "S12000049"
    assert envelope["data"]["police_division"] == "G"


def test_a_registration_with_an_end_date_is_not_indefinite() -> None:
    document = sample("visor", "nominal-registration.xml").replace(
        b"<Indefinite>true</Indefinite>",
        b"<RequirementsEndDate>2033-12-13</RequirementsEndDate><Indefinite>true</Indefinite>",
    )
    [record] = visor.parse(document, schemas())
    assert record.outcome == "rejected"
    assert any("/NominalRegistration/Indefinite" in p.field for p in record.problems)
    fixed = document.replace(b"<Indefinite>true</Indefinite>", b"<Indefinite>false</Indefinite>")
    [envelope] = parsed(visor.parse(fixed, schemas()))
    assert envelope["data"]["requirements_end_date"] == "2033-12-13"


def test_a_change_of_address_and_foreign_travel_are_notification_changes() -> None:
    [moved] = parsed(visor.parse(sample("visor", "notification-change-address.xml"), schemas()))
    assert moved["type"] == "sex-offender.notification-changed"
    assert moved["data"]["change"] == "address"
    assert moved["data"]["address"]["council_area"] == "S12000038"
    [travel] = parsed(visor.parse(sample("visor", "notification-change-travel.xml"), schemas()))
    assert travel["data"]["change"] == "foreign-travel"
    assert travel["data"]["travel"] == {
        "departure_date": "2025-10-03",
        "return_date": "2025-10-10",
        "destination_country": "ES",
    }
    assert "address" not in travel["data"]


def test_a_change_of_address_without_the_address_is_refused() -> None:
    document = sample("visor", "notification-change-travel.xml").replace(
        b"<ChangeType>FOREIGN_TRAVEL</ChangeType>", b"<ChangeType>ADDRESS</ChangeType>"
    )
    [record] = visor.parse(document, schemas())
    assert record.outcome == "rejected"
    assert any("address" in p.reason for p in record.problems), record.problems


def test_the_end_of_the_requirements_is_its_own_event() -> None:
    [envelope] = parsed(visor.parse(sample("visor", "requirements-ended.xml"), schemas()))
    assert envelope["type"] == "sex-offender.requirements-ended"
    assert envelope["data"]["reason"] == "discharged-on-review"


def test_a_recall_is_rendered_as_a_recall_notice() -> None:
    [envelope] = parsed(visor.parse(sample("visor", "recall-receipt.xml"), schemas()))
    document = visor.render(envelope)
    assert b"<RecallNotice>" in document
    [record] = visor.parse(document.replace(b"<Header>", b"<Header><MessageId>A1</MessageId>"),
                           schemas())  # fmt: skip
    assert record.outcome == "rejected"
    assert "hub sends" in record.reason


def test_rendered_messages_are_in_the_namespace_and_omit_what_was_not_granted() -> None:
    [envelope] = parsed(visor.parse(sample("visor", "risk-assessment.xml"), schemas()))
    document = visor.render(redact(envelope, ["data.outcome_level", "identifiers.visor_ref"]))
    root = fromstring(document)
    assert root.tag == f"{{{NS}}}Message"
    assert [child.tag.split("}")[1] for child in root] == ["Header", "Nominal", "RiskAssessment"]
    assert b"Summary" not in document
    assert b"PNC" not in document
    assert b"<OutcomeLevel>HIGH</OutcomeLevel>" in document


@pytest.mark.parametrize(
    "hostile",
    [
        pytest.param(
            b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><m>&b;</m>',
            id="entity-expansion",
        ),
        pytest.param(
            b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><m>&x;</m>',
            id="external-entity",
        ),
        pytest.param(
            b'<?xml version="1.0"?><!DOCTYPE m SYSTEM "http://example.invalid/m.dtd"><m/>',
            id="external-dtd",
        ),
        pytest.param(
            b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY % p SYSTEM "http://example.invalid/p">'
            b"%p;]><m/>",
            id="parameter-entity",
        ),
    ],
)
def test_hostile_xml_is_refused_without_being_expanded_or_fetched(hostile: bytes) -> None:
    [record] = visor.parse(hostile, schemas())
    assert record.outcome == "rejected"
    assert "DTD" in record.reason
    assert record.original == hostile


def test_the_schema_shipped_beside_the_adapter_names_every_field() -> None:
    xsd = fromstring((SAMPLES / "visor" / "visor.xsd").read_bytes())
    xs = "{http://www.w3.org/2001/XMLSchema}"
    assert xsd.get("targetNamespace") == NS

    def names(element: Any, prefix: str) -> set[str]:
        found: set[str] = set()
        for child in element.iter(f"{xs}element"):
            if child is element:
                continue
        for sequence in element.findall(f"{xs}complexType/{xs}sequence"):
            for child in sequence.findall(f"{xs}element"):
                path = f"{prefix}/{child.get('name')}" if prefix else str(child.get("name"))
                inner = names(child, path)
                found |= inner or {path}
        return found

    [message] = xsd.findall(f"{xs}element")
    frame = names(message, "")
    bodies: set[str] = set()
    for body in message.findall(f"{xs}complexType/{xs}sequence/{xs}choice/{xs}element"):
        bodies |= names(body, str(body.get("name")))
    declared = frame | bodies
    mapped = {f.native for spec in visor.MESSAGES for f in spec.fields}
    hub = {f"Header/{element}" for element, _ in visor._HUB_FIELDS}
    assert declared == mapped | hub
    for spec in visor.MESSAGES:
        for fmap in spec.fields:
            table = getattr(getattr(fmap.codec, "item", fmap.codec), "table", None)
            if table:
                for code in table:
                    assert (
                        f'value="{code}"'.encode() in (SAMPLES / "visor" / "visor.xsd").read_bytes()
                    ), (fmap.native, code)


def test_every_canonical_value_has_a_visor_code() -> None:
    assert_codes_cover_schemas(visor.MESSAGES)


@pytest.mark.parametrize("event_type", ["custody.admission", "release.schedule1-notification"])
def test_other_types_cannot_be_rendered(event_type: str) -> None:
    with pytest.raises(CannotRender):
        visor.render({"specversion": "1.0", "id": "x", "type": event_type})


def test_a_message_with_two_bodies_is_refused() -> None:
    document = sample("visor", "located.xml").replace(
        b"</Message>", b"<MissingReport><Trigger>OTHER</Trigger></MissingReport></Message>"
    )
    [record] = visor.parse(document, schemas())
    assert record.outcome == "rejected"
    assert any("one body" in p.reason for p in record.problems)


def test_a_repeated_element_is_refused() -> None:
    document = sample("visor", "located.xml").replace(
        b"<Outcome>ARRESTED</Outcome>", b"<Outcome>ARRESTED</Outcome><Outcome>OTHER</Outcome>"
    )
    [record] = visor.parse(document, schemas())
    assert record.field == "/Message/LocatedReport/Outcome"
    assert "appears 2 times" in record.reason
