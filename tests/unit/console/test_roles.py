"""Hub roles from an ID token's groups claim, and the settings that map them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hub.api.console.roles import HubRole, RoleMap
from hub.settings import Settings

MAP = {
    "hub-dpo": "dpo",
    "hub-operator": "operator",
    "hub-mappa-glasgow": "mappa-coordinator:mappa-glasgow",
}


def test_groups_map_to_hub_roles_and_others_are_ignored() -> None:
    roles = RoleMap("groups", MAP).roles_of({"groups": ["finance", "hub-dpo", "hub-mappa-glasgow"]})
    assert roles == {HubRole("dpo"), HubRole("mappa-coordinator", "mappa-glasgow")}


def test_a_coordinators_role_names_the_region() -> None:
    role = HubRole.parse("mappa-coordinator:mappa-lanarkshire")
    assert role.region == "mappa-lanarkshire"
    assert role.title == "MAPPA co-ordinator, mappa-lanarkshire"


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"groups": None},
        {"groups": {"hub-dpo": True}},
        {"groups": [1, 2]},
        {"roles": ["hub-dpo"]},
    ],
)
def test_a_missing_or_malformed_claim_gives_no_role(claims: dict[str, object]) -> None:
    assert RoleMap("groups", MAP).roles_of(claims) == frozenset()


def test_a_single_string_claim_counts_as_one_group() -> None:
    assert RoleMap("role", MAP).roles_of({"role": "hub-operator"}) == {HubRole("operator")}


def test_an_unknown_hub_role_in_the_settings_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="'hub-admins' to 'admin'"):
        Settings(
            oidc_issuer="https://login.example/realms/pph",
            oidc_client_id="pph-console",
            console_role_map={"hub-admins": "admin"},
        )


def test_the_console_needs_issuer_and_client_together() -> None:
    with pytest.raises(ValidationError, match="must be set together"):
        Settings(oidc_issuer="https://login.example/realms/pph")


def test_a_console_without_a_role_map_is_refused() -> None:
    with pytest.raises(ValidationError, match="HUB_CONSOLE_ROLE_MAP is empty"):
        Settings(oidc_issuer="https://login.example/realms/pph", oidc_client_id="pph-console")


#: A production hub's required settings, the console's among them (each test changes one).
PRODUCTION_CONSOLE = {
    "environment": "production",
    "database_url": "postgresql+asyncpg://hub@db/hub",
    "token_signing_key": "k" * 40,
    "audit_signing_key": "k" * 40,
    "data_kek": "k" * 44,
    "oidc_issuer": "https://login.example/realms/pph",
    "oidc_client_id": "pph-console",
    "console_role_map": MAP,
    "console_agency_claim": "agency",
}


def test_production_needs_the_agency_claim() -> None:
    with pytest.raises(ValidationError, match="HUB_CONSOLE_AGENCY_CLAIM is not set"):
        Settings(**{**PRODUCTION_CONSOLE, "console_agency_claim": None})


def test_production_needs_an_https_issuer() -> None:
    with pytest.raises(ValidationError, match="https:// URL in production"):
        Settings(**{**PRODUCTION_CONSOLE, "oidc_issuer": "http://login.example/realms/pph"})
