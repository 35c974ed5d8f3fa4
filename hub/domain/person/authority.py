"""Which source may begin, lower or end each status: the authorities of `statuses.yaml`
(policies/README.md "Statuses"), strongest first, by source namespace."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

#: The namespaces a `source` may have (`urn:pph:<namespace>:...`).
NAMESPACES: Final = (
    "police-scotland",
    "sps",
    "mappa",
    "socialwork",
    "nhs",
    "scottish-ministers",
    "parole-board-scotland",
    "scts",
    "hub",
)
#: In `statuses.yaml`, every source may set the status and the most recent wins.
ANY: Final = "any"


def namespace_of(source: str) -> str:
    """The segment after `urn:pph:` in a notification's `source` ("" if it has none)."""
    parts = source.split(":")
    if len(parts) >= 3 and parts[0] == "urn" and parts[1] == "pph":
        return parts[2]
    return ""


@dataclass(frozen=True, slots=True)
class Authorities:
    """Per status kind, the namespaces that may set it, strongest first; None for `any`."""

    by_kind: Mapping[str, tuple[str, ...] | None] = field(default_factory=dict)

    def ranks(self, kind: str) -> tuple[str, ...] | None:
        if kind not in self.by_kind:
            raise KeyError(f"no authorities are declared for the status `{kind}`")
        return self.by_kind[kind]

    def may_begin(self, kind: str, namespace: str) -> bool:
        """Whether a source of `namespace` may begin (raise) a status of `kind`."""
        ranks = self.ranks(kind)
        return ranks is None or namespace in ranks

    def may_lower(self, kind: str, namespace: str, set_by: str) -> bool:
        """Whether a source of `namespace` may lower, change or end a record `set_by` set: only
        when it ranks at least as high as the setter (any listed source when the setter is
        not listed, as for a record restored by the hub)."""
        ranks = self.ranks(kind)
        if ranks is None:
            return True
        if namespace not in ranks:
            return False
        return set_by not in ranks or ranks.index(namespace) <= ranks.index(set_by)

    def stronger(self, kind: str, first: str, second: str) -> str:
        """The stronger of two namespaces for `kind` (the first when they rank alike)."""
        ranks = self.ranks(kind)
        if ranks is None or second not in ranks:
            return first
        if first not in ranks:
            return second
        return first if ranks.index(first) <= ranks.index(second) else second
