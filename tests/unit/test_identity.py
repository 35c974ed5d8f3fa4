"""One identity per scheme (`hub.domain.identity`, and the subject index's resolution in
`hub.infra.store._resolve`, which is pure): a second value of a single-valued scheme never links,
whatever the order of the notifications; identifiers that follow the person are supplied only
where granted and missing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.identity import second_values, supplied_identifiers, with_supplied
from hub.domain.notifications import SCHEMES, Notification, PersonIdentifier
from hub.errors import IdentifierConflict
from hub.infra.store import _resolve


def pid(scheme: str, value: str) -> PersonIdentifier:
    return PersonIdentifier(scheme, value)


def admission(*identifiers: PersonIdentifier) -> Notification:
    return Notification(
        id="n-1",
        source="urn:pph:socialwork:S12000049",
        type="risk.assessment-recorded",
        version=1,
        time=datetime(2026, 1, 1, tzinfo=UTC),
        identifiers=identifiers,
        data={},
    )


# -- the declared schemes ---------------------------------------------------------------------


def test_every_scheme_but_social_work_is_one_value_a_person() -> None:
    assert {n for n, s in SCHEMES.items() if s.single_valued and not s.qualified} == {
        "sps_number",
        "pnc_id",
        "cro_number",
        "visor_ref",
        "chi_number",
    }
    assert pid("sps_number", "1").slot == pid("sps_number", "2").slot == "sps_number"
    # One social work client id per council: the GSS code qualifies it.
    glasgow, edinburgh = "S12000049", "S12000036"
    assert pid("sw_client_id", f"{glasgow}:A").slot == pid("sw_client_id", f"{glasgow}:B").slot
    assert pid("sw_client_id", f"{glasgow}:A").slot != pid("sw_client_id", f"{edinburgh}:A").slot
    assert pid("unknown_scheme", "1").slot is None


def test_second_values_names_the_new_identifier_and_what_the_person_holds() -> None:
    held = [pid("sps_number", "1"), pid("pnc_id", "19/1A")]
    [found] = second_values([pid("pnc_id", "19/1A"), pid("sps_number", "2")], held)
    assert (found.new, found.held, found.scheme) == (
        pid("sps_number", "2"),
        pid("sps_number", "1"),
        "sps_number",
    )
    assert "SPS prisoner number" in found.describe()
    assert second_values([pid("sps_number", "1"), pid("cro_number", "1/01A")], held) == []


def test_a_person_who_already_holds_two_values_keeps_them() -> None:
    held = [pid("sps_number", "1"), pid("sps_number", "2")]
    assert second_values([pid("sps_number", "2")], held) == []
    assert [f.new for f in second_values([pid("sps_number", "3")], held)] == [
        pid("sps_number", "3")
    ]


# -- the property: a second single-valued identifier never links -------------------------------

_VALUES = {
    "sps_number": ["1", "2", "3"],
    "pnc_id": ["19/1A", "19/2B"],
    "chi_number": ["0101900001", "0101900002"],
    # Two councils: a person holds one client id per council.
    "sw_client_id": ["S12000049:a", "S12000049:b", "S12000036:a"],
}
# A notification names at most one value of each scheme (its identifiers are a JSON object).
_notification = (
    st.sets(
        st.sampled_from([(s, v) for s, values in _VALUES.items() for v in values]),
        min_size=1,
        max_size=4,
    )
    .filter(lambda pairs: len({s for s, _ in pairs}) == len(pairs))
    .map(lambda pairs: tuple(PersonIdentifier(s, v) for s, v in sorted(pairs)))
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_notification, min_size=1, max_size=12))
def test_a_second_single_valued_identifier_never_links(
    notifications: list[tuple[PersonIdentifier, ...]],
) -> None:
    links: dict[PersonIdentifier, str] = {}
    held: dict[str, set[PersonIdentifier]] = {}
    for identifiers in notifications:
        before_links, before_held = dict(links), {p: set(h) for p, h in held.items()}
        new_people: list[str] = []
        new_links: list[tuple[PersonIdentifier, str]] = []
        refused: IdentifierConflict | None = None
        try:
            person = _resolve(identifiers, links, held, new_people, new_links)
        except IdentifierConflict as conflict:
            refused = conflict
        if refused is not None:
            # Refused: nothing linked, and the reason is one of the two kinds.
            assert (links, held) == (before_links, before_held)
            assert refused.kind in (IdentifierConflict.TWO_PEOPLE, IdentifierConflict.SECOND_VALUE)
            # Both kinds name the schemes to blame (never a value another record holds).
            assert refused.schemes
            assert set(refused.schemes) <= {i.scheme for i in identifiers}
            continue
        assert all(links[i] == person for i in identifiers)
        assert {p for _, p in new_links} <= {person}
    # Every person holds at most one value in each single-valued slot.
    for person, identifiers in held.items():
        slots = [i.slot for i in identifiers if i.slot is not None]
        assert len(slots) == len(set(slots)), (person, identifiers)
        assert {p for i, p in links.items() if i in identifiers} == {person}


# -- records that follow the person ------------------------------------------------------------

HELD = {pid("sps_number", "2000417"), pid("pnc_id", "19/1A"), pid("sw_client_id", "S12000049:X")}


def test_the_granted_sps_number_is_supplied_from_the_person_index() -> None:
    assessment = admission(pid("pnc_id", "19/1A"), pid("sw_client_id", "S12000049:X"))
    granted = ["type", "identifiers.sps_number", "data.summary"]
    assert supplied_identifiers(assessment, granted, HELD) == {"sps_number": "2000417"}
    # Granting the whole identifiers object supplies every single-valued one it lacks.
    assert supplied_identifiers(assessment, ["identifiers"], HELD) == {"sps_number": "2000417"}


@pytest.mark.parametrize(
    ("identifiers", "fields", "held"),
    [
        # Not granted: nothing supplied.
        ((pid("pnc_id", "19/1A"),), ["type", "data.summary"], HELD),
        # The notification has its own: it is not replaced.
        ((pid("sps_number", "9"),), ["identifiers.sps_number"], HELD),
        # The index holds none.
        ((pid("pnc_id", "19/1A"),), ["identifiers.sps_number"], {pid("pnc_id", "19/1A")}),
        # Two values (from before schemes were single-valued): which one is not the hub's guess.
        (
            (pid("pnc_id", "19/1A"),),
            ["identifiers.sps_number"],
            {pid("sps_number", "1"), pid("sps_number", "2")},
        ),
        # A council's client id is never supplied.
        ((pid("pnc_id", "19/1A"),), ["identifiers.sw_client_id"], HELD),
    ],
)
def test_nothing_is_supplied_unless_granted_missing_and_certain(
    identifiers: tuple[PersonIdentifier, ...],
    fields: list[str],
    held: set[PersonIdentifier],
) -> None:
    assert supplied_identifiers(admission(*identifiers), fields, held) == {}


def test_with_supplied_adds_beside_the_notifications_own() -> None:
    assessment = admission(pid("pnc_id", "19/1A"))
    supplied = with_supplied(assessment, {"sps_number": "2000417"})
    assert supplied.identifiers == (pid("pnc_id", "19/1A"), pid("sps_number", "2000417"))
    assert with_supplied(assessment, {}) is assessment
