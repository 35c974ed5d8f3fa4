"""The agency a person signed in to the console acts for, as the audit trail records it beside
their name: the ID token claim a deployment names (`HUB_CONSOLE_AGENCY_CLAIM`), holding an
organisation id of the directory (`GET /v1/directory`) or `hub-operator`. A person whose token
names no agency, or one the hub does not know, is refused: an entry must say whose officer
read the record. Without the setting (development only) the identity provider's issuer stands
in for the agency, as before the claim existed."""

from __future__ import annotations

from collections.abc import Collection, Mapping


class AgencyClaim:
    """Reads the agency from a verified ID token's claims."""

    def __init__(self, claim: str | None, *, issuer: str, known: Collection[str]) -> None:
        self.claim = claim
        self._issuer = issuer
        self._known = frozenset(known)

    def agency_of(self, claims: Mapping[str, object]) -> str | None:
        """The agency the claim names, if the hub knows it; None when it is absent, not one
        value, or unknown (the person is refused, never filed under a guess)."""
        if self.claim is None:
            return self._issuer
        value = claims.get(self.claim)
        if isinstance(value, list) and len(value) == 1:
            value = value[0]  # a provider may send a single-valued attribute as a list
        if not isinstance(value, str) or value not in self._known:
            return None
        return value
