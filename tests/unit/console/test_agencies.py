"""The agency a console user acts for, from their ID token: a known id or a refusal."""

from __future__ import annotations

from hub.api.console.agencies import AgencyClaim

ISSUER = "https://login.example/realms/pph"
KNOWN = ("sps", "mappa-lanarkshire", "hub-operator")


def test_the_claim_names_a_known_agency() -> None:
    claim = AgencyClaim("agency", issuer=ISSUER, known=KNOWN)
    assert claim.agency_of({"agency": "sps"}) == "sps"
    assert claim.agency_of({"agency": ["mappa-lanarkshire"]}) == "mappa-lanarkshire"


def test_an_absent_unknown_or_ambiguous_agency_is_none() -> None:
    claim = AgencyClaim("agency", issuer=ISSUER, known=KNOWN)
    assert claim.agency_of({}) is None
    assert claim.agency_of({"agency": "sps-typo"}) is None
    assert claim.agency_of({"agency": ["sps", "hub-operator"]}) is None
    assert claim.agency_of({"agency": 7}) is None
    assert claim.agency_of({"agency": ""}) is None


def test_without_the_setting_the_issuer_stands_in() -> None:
    assert AgencyClaim(None, issuer=ISSUER, known=KNOWN).agency_of({}) == ISSUER
