"""Crypto-shredding re-applied after a restore (`hub db reapply-erasures`, docs/backup-restore.md).

Erasing a person destroys their data keys in the database (`hub persons erase`). A backup taken
before the erasure still holds those keys wrapped under the key-encryption key, which lives
outside the database and is not rolled back: restoring it would make the erased data readable
again. The erasures are not lost, though: each destroyed key has an erasure entry in the audit
log, and `hub audit export` writes the log, signed, to a file kept outside the database. That
export is the erasure ledger: this reads its crypto-shredding entries and destroys again every
key they name that the restored database still holds, with an erasure entry each.

Only the keys named are destroyed, never "every key of the person": data that arrived for the
person after their erasure is sealed under a new key, which must stay readable.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

from hub.domain.audit.entries import parse_timestamp
from hub.domain.audit.export_file import verify_export
from hub.domain.protection import CRYPTO_SHRED_RULE
from hub.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class ShreddedKey:
    """One data key destroyed by crypto-shredding, as the audit log recorded it."""

    #: "person": a person's data key (`key_id`); "conflict": an identifier conflict's own key
    #: (`review_id`).
    holder: Literal["person", "conflict"]
    key_id: str
    person_id: str
    erased_at: datetime
    fields: tuple[str, ...]
    reason: str
    #: The position of the original erasure entry in the log the ledger was exported from.
    position: int


@dataclass(frozen=True, slots=True)
class ReapplyReport:
    """What re-applying a ledger did."""

    #: Keys the restored database still held: destroyed now, an erasure entry each.
    destroyed: tuple[ShreddedKey, ...]
    #: Keys the database already held destroyed (the backup postdates the erasure, or this ran).
    already_destroyed: int
    #: Keys the database never held (created after the backup was taken): nothing to destroy.
    absent: int

    def as_json(self) -> dict[str, object]:
        return {
            "destroyed": [
                {
                    "person_id": k.person_id,
                    "key_id": k.key_id,
                    "holder": k.holder,
                    "erased_at": k.erased_at.isoformat(),
                    "ledger_position": k.position,
                }
                for k in self.destroyed
            ],
            "already_destroyed": self.already_destroyed,
            "absent": self.absent,
        }


class KeyShredder(Protocol):
    """Destroys the named keys still live, each with its erasure entry, in one transaction."""

    async def destroy_again(
        self, keys: Sequence[ShreddedKey], *, actor: str, at: datetime
    ) -> ReapplyReport: ...


def read_ledger(path: Path, trusted_keys: Sequence[str]) -> list[ShreddedKey]:
    """The crypto-shredding entries of an audit export (`hub audit export`), oldest first,
    once the export verifies against the hub's trusted verifier keys: a file that does not (a
    different hub's, edited, truncated) is refused, so that no one can make the hub destroy
    keys by handing it a file."""
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file (give an export written by `hub audit export`)")
    report = verify_export(path, list(trusted_keys))
    if not report.ok:
        failure = report.failure
        raise InvalidInput(
            f"{path} does not verify against this hub's audit keys, so no key was destroyed: "
            f"{failure.message if failure is not None else 'unknown failure'}"
        )
    return list(_shredded_keys(path))


def _shredded_keys(path: Path) -> Iterator[ShreddedKey]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record.get("type") != "entry":
                continue
            entry = json.loads(record["entry"])
            if entry.get("kind") != "erasure" or CRYPTO_SHRED_RULE not in entry.get("rules", []):
                continue
            details = entry.get("details") or {}
            holder: Literal["person", "conflict"]
            if "key_id" in details:
                holder, key_id = "person", details["key_id"]
            elif "review_id" in details:
                holder, key_id = "conflict", details["review_id"]
            else:  # pragma: no cover - every crypto-shredding entry names its key
                continue
            yield ShreddedKey(
                holder=holder,
                key_id=str(key_id),
                person_id=str(entry["person_id"]),
                erased_at=parse_timestamp(entry["occurred_at"]),
                fields=tuple(entry.get("fields", ())),
                reason=str(details.get("reason", "")),
                position=int(record["position"]),
            )


class ErasureReapplier:
    """Re-destroys, in a restored database, the keys an erasure ledger says were destroyed."""

    def __init__(self, shredder: KeyShredder, trusted_keys: Sequence[str]) -> None:
        self._shredder = shredder
        self._trusted_keys = tuple(trusted_keys)

    async def reapply(self, ledger: Path, *, actor: str, at: datetime) -> ReapplyReport:
        keys = await asyncio.to_thread(read_ledger, ledger, self._trusted_keys)
        return await self._shredder.destroy_again(keys, actor=actor, at=at)
