"""Redaction: a recipient's copy holds only the fields granted to it."""

from __future__ import annotations

from typing import Any

from hub.domain.policy.redaction import covers, envelope, leaf_paths, overlaps, redact, withheld

from .support import bundle, notification

DOCUMENT: dict[str, Any] = {
    "specversion": "1.0",
    "id": "n-1",
    "source": "urn:test",
    "type": "release.schedule1-notification",
    "identifiers": {"sps_number": "1", "pnc_id": "19/1N"},
    "data": {
        "release": {"type": "planned", "address": {"council_area": "S12000049", "lines": ["a"]}},
        "offences": [
            {"paragraph": "4", "victim_age": "16", "description": "x"},
            {"paragraph": "1", "victim_age": "under-13"},
        ],
    },
}


def test_only_id_type_and_specversion_are_kept_without_grants() -> None:
    assert redact(DOCUMENT, []) == {
        "specversion": "1.0",
        "id": "n-1",
        "type": "release.schedule1-notification",
    }


def test_a_nested_grant_keeps_only_that_branch() -> None:
    kept = redact(DOCUMENT, ["data.release.address.council_area", "identifiers.pnc_id"])
    assert kept == {
        "specversion": "1.0",
        "id": "n-1",
        "type": "release.schedule1-notification",
        "identifiers": {"pnc_id": "19/1N"},
        "data": {"release": {"address": {"council_area": "S12000049"}}},
    }


def test_naming_an_object_grants_all_of_it_and_overrides_narrower_grants() -> None:
    for fields in (["data.release"], ["data.release.type", "data.release"]):
        assert redact(DOCUMENT, fields)["data"] == {"release": DOCUMENT["data"]["release"]}


def test_a_grant_through_a_list_keeps_that_field_of_each_item() -> None:
    kept = redact(DOCUMENT, ["data.offences.victim_age"])
    assert kept["data"] == {"offences": [{"victim_age": "16"}, {"victim_age": "under-13"}]}
    assert redact(DOCUMENT, ["data.offences.description"])["data"] == {
        "offences": [{"description": "x"}]
    }


def test_a_grant_of_an_absent_field_adds_nothing() -> None:
    assert "data" not in redact(DOCUMENT, ["data.release.address.postcode"])
    assert "data" not in redact(DOCUMENT, ["data.release.type.deeper"])


def test_the_copy_does_not_share_objects_with_the_notification() -> None:
    kept = redact(DOCUMENT, ["data.release"])
    kept["data"]["release"]["address"]["lines"].append("b")
    assert DOCUMENT["data"]["release"]["address"]["lines"] == ["a"]


def test_withheld_names_what_was_not_granted_as_coarsely_as_possible() -> None:
    assert withheld(DOCUMENT, ["data.release.address"]) == [
        "data.offences",
        "data.release.type",
        "identifiers",
        "source",
    ]
    assert withheld(DOCUMENT, ["data.offences.victim_age", "identifiers", "source"]) == [
        "data.offences.description",
        "data.offences.paragraph",
        "data.release",
    ]


def test_covers_and_overlaps() -> None:
    assert covers("data.release", "data.release.type")
    assert covers("data.release", "data.release")
    assert not covers("data.release", "data.release_type")
    assert not covers("data.release.type", "data.release")
    assert overlaps("data.release.type", "data.release")
    assert not overlaps("data.a", "data.b")


def test_bundle_redact_works_on_the_notification_envelope() -> None:
    release = notification("release.schedule1-notification")
    kept = bundle().redact(release, ["data.release.address.council_area", "time"])
    assert kept == {
        "specversion": "1.0",
        "id": release.id,
        "type": release.type,
        "time": release.time.isoformat(),
        "data": {"release": {"address": {"council_area": "S12000049"}}},
    }
    full = envelope(release)
    assert full["dataschema"] == "urn:pph:events:release.schedule1-notification:v1"
    assert leaf_paths(redact(full, ["data"])) == sorted(
        {"id", "type", "specversion"} | {p for p in leaf_paths(full) if p.startswith("data.")}
    )
