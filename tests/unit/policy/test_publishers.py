"""The publisher binding (issue 13, finding 11): which unit a publisher may name, by directory."""

from __future__ import annotations

import json
from functools import cache

import pytest

from hub.domain.policy import Directory, PolicyBundle
from hub.domain.policy.publishers import BINDINGS, unbound_fields
from hub.settings import PROJECT_ROOT

from .support import ROOT, schemas


@cache
def scotland() -> Directory:
    """The directory the hub ships with."""
    return PolicyBundle.load(ROOT / "policies" / "scotland", schemas()).directory


CASES = [
    # (agency, event type, body fields, refused pointers)
    ("hmp-barlinnie", "custody.admission", {"establishment": "hmp-barlinnie"}, []),
    (
        "hmp-barlinnie",
        "custody.admission",
        {"establishment": "hmp-shotts"},
        ["/data/establishment"],
    ),
    # Where the person came from is someone else by design.
    (
        "hmp-barlinnie",
        "custody.admission",
        {"establishment": "hmp-barlinnie", "previous_establishment": "hmp-perth"},
        [],
    ),
    ("sps", "custody.admission", {"establishment": "hmp-shotts"}, []),  # headquarters: national
    (
        "hmp-perth",
        "custody.transfer",
        {"from_establishment": "hmp-barlinnie", "to_establishment": "hmp-perth"},
        [],
    ),
    (
        "hmp-perth",
        "custody.transfer",
        {"from_establishment": "hmp-barlinnie", "to_establishment": "hmp-shotts"},
        ["/data/from_establishment", "/data/to_establishment"],
    ),
    ("hmp-perth", "release.schedule1-notification", {"notifying_establishment": "hmp-perth"}, []),
    (
        "hmp-perth",
        "release.schedule1-notification",
        {"notifying_establishment": "hmp-barlinnie"},
        ["/data/notifying_establishment"],
    ),
    ("sw-glasgow-city", "mappa.referral", {"referring_council_area": "S12000049"}, []),
    ("sw-glasgow-city", "mappa.referral", {"referring_council_area": "S12000046"}, []),  # former
    (
        "sw-glasgow-city",
        "mappa.referral",
        {"referring_council_area": "S12000036"},
        ["/data/referring_council_area"],
    ),
    ("sw-glasgow-city", "mappa.referral", {}, []),  # a police referral names no council
    ("mappa-glasgow", "mappa.level-changed", {"mappa_area": "S12000036"}, ["/data/mappa_area"]),
    ("nhs-lothian", "health.information-shared", {"health_board": "nhs-lothian"}, []),
    (
        "nhs-lothian",
        "health.information-shared",
        {"health_board": "nhs-greater-glasgow-and-clyde"},
        ["/data/health_board"],
    ),
    ("nobody-registered", "custody.admission", {"establishment": "hmp-shotts"}, []),
    # issue 14: social work speaks for the supervision it holds
    ("sw-glasgow-city", "supervision.started", {"supervising_council_area": "S12000049"}, []),
    (
        "sw-glasgow-city",
        "supervision.started",
        {"supervising_council_area": "S12000038"},
        ["/data/supervising_council_area"],
    ),
    (
        "sw-renfrewshire",
        "supervision.ended",
        {"supervising_council_area": "S12000049"},
        ["/data/supervising_council_area"],
    ),
    (
        "sw-glasgow-city",
        "supervision.transferred",
        {"from_council_area": "S12000049", "to_council_area": "S12000038"},
        [],
    ),
    (
        "sw-renfrewshire",
        "supervision.transferred",
        {"from_council_area": "S12000049", "to_council_area": "S12000038"},
        [],
    ),
    (
        "sw-fife",
        "supervision.transferred",
        {"from_council_area": "S12000049", "to_council_area": "S12000038"},
        ["/data/from_council_area", "/data/to_council_area"],
    ),
    (
        "sw-fife",
        "licence.breach-reported",
        {"supervising_council_area": "S12000049"},
        ["/data/supervising_council_area"],
    ),
    ("sw-fife", "licence.expired", {"licence_type": "parole"}, []),  # no council named
    ("sw-fife", "licence.expired", {"supervising_council_area": "S12000047"}, []),
    # The Scottish Ministers are national: they name whichever council supervises.
    ("scottish-ministers", "licence.varied", {"supervising_council_area": "S12000049"}, []),
    # A council may report a move to anywhere; SCTS and the Parole Board are national.
    ("sw-glasgow-city", "person.address-changed", {"reported_by": "local-authority"}, []),
    ("scts", "court.disposal", {"receiving_establishment": "hmp-barlinnie"}, []),
    ("parole-board-scotland", "parole.decision", {"supervising_council_area": "S12000049"}, []),
]


@pytest.mark.parametrize(("agency", "event_type", "data", "refused"), CASES)
def test_a_publisher_may_name_only_its_own_unit(
    agency: str, event_type: str, data: dict[str, str], refused: list[str]
) -> None:
    problems = unbound_fields(event_type, data, agency, scotland())
    assert sorted(p.pointer for p in problems) == refused


def test_every_bound_field_exists_in_its_body_schema() -> None:
    for event_type, bindings in BINDINGS.items():
        path = PROJECT_ROOT / "events" / f"{event_type}.v1.schema.json"
        properties = json.loads(path.read_text(encoding="utf-8"))["properties"]
        for binding in bindings:
            assert set(binding.fields) <= properties.keys(), event_type
