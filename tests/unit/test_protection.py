"""The sensitive fields derived from the schemas, and the sealing of one field: a round trip,
and a ciphertext bound to its event and its place (moved elsewhere it does not open)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import SecretStr

from hub.domain.protection import (
    MARKER,
    AesGcmKek,
    SensitiveFields,
    UnreadableField,
    key_ids_in,
    new_data_key,
    open_fields,
    seal_fields,
    sensitive_paths,
)
from hub.settings import PROJECT_ROOT, Settings

EVENTS = PROJECT_ROOT / "events"
SOURCE = "urn:pph:sps:pr2:hmp-barlinnie"

EXPECTED = {
    "custody.liberation": {"data.licence.conditions[].detail"},
    "custody.temporary-release": {"data.conditions[].detail"},
    "custody.transfer": {"data.reason_detail"},
    "health.information-shared": {
        "data.summary",
        "data.consent.recorded_by",
        "data.harm_prevention_justification.text",
        "data.harm_prevention_justification.authorised_by",
    },
    "licence.recall": {"data.reason_detail"},
    "mappa.level-changed": {"data.reason_detail"},
    "mappa.referral": {"data.reason_detail"},
    "person.located": {"data.circumstances"},
    "person.missing": {"data.circumstances"},
    "release.schedule1-notification": {"data.schedule1_offences[].description"},
    "risk.assessment-recorded": {"data.summary"},
    "licence.varied": {"data.conditions_added[].detail", "data.conditions_removed[].detail"},
    "licence.breach-reported": {"data.conditions_breached[].detail", "data.risk_summary"},
    "parole.decision": {"data.conditions[].detail"},
    "sex-offender.notification-changed": {"data.detail"},
    "sex-offender.requirements-ended": {"data.detail"},
}


def the_schemas() -> SensitiveFields:
    pairs = []
    for path in sorted(EVENTS.glob("*.v*.schema.json")):
        if path.name.startswith("envelope."):
            continue
        event_type = path.name.removesuffix(".schema.json").rsplit(".v", 1)[0]
        pairs.append((event_type, json.loads(path.read_text(encoding="utf-8"))))
    return SensitiveFields.from_schemas(pairs)


def test_the_derived_fields_are_health_strings_and_free_text() -> None:
    fields = the_schemas()

    assert {t: set(p) for t, p in fields.by_type.items()} == EXPECTED
    # Codes, dates and patterned identifiers are never sealed: routing and policy read them.
    assert fields.of("disclosure.overdue") == frozenset()
    assert "data.category" not in fields.of("health.information-shared")


def test_refs_and_conditional_branches_are_followed() -> None:
    schema = {
        "$defs": {"note": {"type": "string", "maxLength": 600}},
        "properties": {
            "a": {"$ref": "#/$defs/note"},
            "b": {"type": "string", "maxLength": 600, "pattern": "^x"},
            "c": {"type": "string", "maxLength": 499},
        },
        "allOf": [{"if": {}, "then": {"properties": {"d": {"type": "string", "maxLength": 500}}}}],
    }

    assert sensitive_paths("any.type", schema) == {"data.a", "data.d"}


def body() -> dict[str, Any]:
    return {
        "release": {"type": "possible"},
        "schedule1_offences": [
            {"schedule1_paragraph": "4", "description": "first offence"},
            {"schedule1_paragraph": "5", "description": "second offence"},
        ],
        "summary": "a summary",
    }


def sealed(key: bytes, event_id: str = "e-1", key_id: str = "dk_1") -> dict[str, Any]:
    return seal_fields(
        body(),
        ["data.summary", "data.schedule1_offences[].description"],
        source=SOURCE,
        event_id=event_id,
        key_id=key_id,
        key=key,
    )


def test_a_sealed_body_opens_to_the_plaintext_and_holds_none_of_it() -> None:
    key = new_data_key()
    stored = sealed(key)

    text = json.dumps(stored)
    assert "a summary" not in text
    assert "first offence" not in text
    assert stored["summary"][MARKER].startswith("v1:dk_1:")
    assert stored["release"] == {"type": "possible"}
    assert key_ids_in(stored) == {"dk_1"}
    assert open_fields(stored, source=SOURCE, event_id="e-1", keys={"dk_1": key}) == body()


def test_sealing_leaves_the_body_it_was_given_as_it_was() -> None:
    # Only the containers on the way to a sealed value are copied: the rest is shared.
    given = body()
    stored = seal_fields(
        given,
        ["data.summary", "data.schedule1_offences[].description", "data.absent.summary"],
        source=SOURCE,
        event_id="e-1",
        key_id="dk_1",
        key=new_data_key(),
    )
    assert given == body()
    assert stored["release"] is given["release"]
    assert stored["schedule1_offences"] is not given["schedule1_offences"]
    assert all(MARKER in o["description"] for o in stored["schedule1_offences"])
    again = seal_fields(
        stored, ["data.summary"], source=SOURCE, event_id="e-1", key_id="dk_2", key=new_data_key()
    )
    assert again == stored  # a sealed value is not sealed twice


def test_a_destroyed_key_erases_its_fields_and_leaves_the_rest() -> None:
    stored = sealed(new_data_key())

    opened = open_fields(stored, source=SOURCE, event_id="e-1", keys={"dk_1": None})

    assert opened == {
        "release": {"type": "possible"},
        "schedule1_offences": [{"schedule1_paragraph": "4"}, {"schedule1_paragraph": "5"}],
    }


def test_a_ciphertext_moved_to_another_field_does_not_open() -> None:
    key = new_data_key()
    stored = sealed(key)
    offences = stored["schedule1_offences"]
    offences[0]["description"], offences[1]["description"] = (
        offences[1]["description"],
        offences[0]["description"],
    )

    with pytest.raises(UnreadableField, match=r"data.schedule1_offences\[0\].description"):
        open_fields(stored, source=SOURCE, event_id="e-1", keys={"dk_1": key})


def test_a_ciphertext_moved_to_another_event_does_not_open() -> None:
    key = new_data_key()
    other = sealed(key, event_id="e-2")
    stored = sealed(key)
    stored["summary"] = other["summary"]

    with pytest.raises(UnreadableField, match=r"data\.summary"):
        open_fields(stored, source=SOURCE, event_id="e-1", keys={"dk_1": key})


def test_a_changed_ciphertext_or_the_wrong_key_does_not_open() -> None:
    key = new_data_key()
    stored = sealed(key)
    marker = stored["summary"][MARKER]
    stored["summary"] = {MARKER: marker[:-4] + ("AAAA" if not marker.endswith("AAAA") else "BBBB")}

    with pytest.raises(UnreadableField):
        open_fields(stored, source=SOURCE, event_id="e-1", keys={"dk_1": key})
    with pytest.raises(UnreadableField):
        open_fields(sealed(key), source=SOURCE, event_id="e-1", keys={"dk_1": new_data_key()})


def test_the_key_encryption_key_binds_the_wrapping_to_person_and_key_id() -> None:
    kek = AesGcmKek("kek-a", new_data_key())
    data_key = new_data_key()
    wrapped = kek.wrap(data_key, person_id="p_1", key_id="dk_1")

    assert kek.unwrap(wrapped, person_id="p_1", key_id="dk_1") == data_key
    with pytest.raises(UnreadableField):
        kek.unwrap(wrapped, person_id="p_2", key_id="dk_1")
    with pytest.raises(UnreadableField):
        kek.unwrap(wrapped, person_id="p_1", key_id="dk_2")
    with pytest.raises(UnreadableField, match="kek-b"):
        AesGcmKek("kek-b", new_data_key()).unwrap(wrapped, person_id="p_1", key_id="dk_1")
    assert "kek-a" in repr(kek)
    assert data_key.hex() not in repr(kek)


def test_production_refuses_to_start_without_a_key_encryption_key() -> None:
    with pytest.raises(ValueError, match="HUB_DATA_KEK"):
        Settings(
            environment="production",
            database_url=SecretStr("postgresql+asyncpg://hub@db/hub"),
            token_signing_key=SecretStr("a real pem"),
            audit_signing_key=SecretStr("a real pem"),
        )
