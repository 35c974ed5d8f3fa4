"""What the audit trail records when an operator changes an agency client: who changed which
client, how, and the scopes it holds afterwards. Never a secret, its hash or a key (only how
many public keys a `private_key_jwt` client holds)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from hub.domain.audit.entries import AuditEntry, AuditKind, JsonValue

#: The `outcome` of each change (`client-<change>`).
CHANGES = ("registered", "disabled", "enabled", "scopes-changed", "secret-rotated", "keys-replaced")


def client_changed(
    *,
    change: str,
    client_id: str,
    client_agency: str,
    scopes: Collection[str],
    auth_method: str,
    actor: str,
    agency: str,
    at: datetime,
    keys: int = 0,
) -> AuditEntry:
    """An operator `actor` (of `agency`) registered or changed client `client_id`."""
    if change not in CHANGES:
        raise ValueError(f"unknown client change {change!r}")
    details: dict[str, JsonValue] = {
        "client_id": client_id,
        "client_agency": client_agency,
        "scopes": sorted(scopes),
        "auth_method": auth_method,
    }
    if keys:
        details["keys"] = keys
    return AuditEntry(
        kind=AuditKind.ALTERATION,
        occurred_at=at,
        actor=actor,
        agency=agency,
        outcome=f"client-{change}",
        details=details,
    )
