"""The hub roles a signed-in person holds, read from their ID token's groups or roles claim
through the deployment's mapping (`HUB_CONSOLE_ROLE_MAP`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

RoleName = Literal["dpo", "mappa-coordinator", "operator"]

_TITLES: dict[RoleName, str] = {
    "dpo": "Data protection officer",
    "mappa-coordinator": "MAPPA co-ordinator",
    "operator": "Operator",
}


@dataclass(frozen=True, slots=True, order=True)
class HubRole:
    """One role; a MAPPA co-ordinator's is for one region (a directory recipient id)."""

    name: RoleName
    region: str | None = None

    @classmethod
    def parse(cls, text: str) -> HubRole:
        """`dpo`, `operator` or `mappa-coordinator:<region>` (the settings check the form)."""
        if text == "dpo":
            return cls("dpo")
        if text == "operator":
            return cls("operator")
        prefix = "mappa-coordinator:"
        if text.startswith(prefix) and len(text) > len(prefix):
            return cls("mappa-coordinator", text[len(prefix) :])
        raise ValueError(f"not a hub role: {text!r}")

    @property
    def title(self) -> str:
        """How the console names the role to a person."""
        title = _TITLES[self.name]
        return f"{title}, {self.region}" if self.region else title


class RoleMap:
    """From the identity provider's group or role names to hub roles."""

    def __init__(self, claim: str, mapping: Mapping[str, str]) -> None:
        self.claim = claim
        self._mapping = {group: HubRole.parse(role) for group, role in mapping.items()}

    def roles_of(self, claims: Mapping[str, object]) -> frozenset[HubRole]:
        """The hub roles the claim's values give; a claim that is absent or not a list of
        strings gives none (so the person is refused, never granted by accident)."""
        values = claims.get(self.claim)
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list):
            return frozenset()
        return frozenset(
            self._mapping[value]
            for value in values
            if isinstance(value, str) and value in self._mapping
        )
