"""The signed-in person as the audit trail's actor: subject and name, readable back by name."""

from __future__ import annotations

from hub.api.console.officer import console_person_name, principal_of
from hub.api.console.roles import HubRole
from hub.api.console.sessions import SignedInPerson
from hub.domain.audit.builders import HUB_ACTOR


def test_the_actor_holds_the_subject_and_the_name_and_the_agency_theirs() -> None:
    person = SignedInPerson("5f1c-subject", "Dana Ogilvie", frozenset({HubRole("dpo")}), "sps")
    principal = principal_of(person)
    assert principal.client_id == "console:5f1c-subject (Dana Ogilvie)"
    assert principal.agency == "sps"
    assert console_person_name(principal.client_id) == "Dana Ogilvie"


def test_control_characters_and_spaces_cannot_forge_the_actor() -> None:
    person = SignedInPerson("a b\nc", "Eve\n(Mallory)\x00", frozenset(), "sps")
    principal = principal_of(person)
    assert principal.client_id == "console:a_bc (Eve (Mallory) )"
    assert console_person_name(principal.client_id) == "Eve (Mallory) "


def test_an_agency_client_or_the_hub_is_not_a_console_person() -> None:
    assert console_person_name("c_0123456789abcdef") is None
    assert console_person_name(HUB_ACTOR) is None
