"""Reading the erasure ledger (an audit export): only crypto-shredding's entries, each key once
named; a missing file is a usage error that destroys nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.domain.audit.entries import AuditEntry, AuditKind
from hub.errors import InvalidInput
from hub.services.erasure_reapply import _shredded_keys, read_ledger


def _line(position: int, entry: AuditEntry) -> str:
    text = entry.canonical_bytes().decode()
    return json.dumps(
        {"type": "entry", "leaf_index": position - 1, "position": position, "entry": text}
    )


def _erasure(details: dict[str, str], rules: tuple[str, ...]) -> AuditEntry:
    return AuditEntry(
        kind=AuditKind.ERASURE,
        occurred_at=datetime(2026, 12, 1, 10, tzinfo=UTC),
        actor="dpo",
        agency="hub",
        person_id="p_1",
        fields=("data.summary",),
        rules=rules,
        outcome="erased",
        details=details,
    )


def test_only_crypto_shredding_entries_are_read(tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    export.write_text(
        "\n".join(
            [
                json.dumps({"type": "header"}),
                _line(1, _erasure({"key_id": "k_1", "reason": "court order"}, ("crypto-shred",))),
                _line(2, _erasure({"position": "7"}, ("retention-7y",))),
                _line(
                    3, _erasure({"review_id": "r_1", "reason": "court order"}, ("crypto-shred",))
                ),
            ]
        )
        + "\n"
    )
    keys = list(_shredded_keys(export))
    assert [(k.holder, k.key_id, k.position) for k in keys] == [
        ("person", "k_1", 1),
        ("conflict", "r_1", 3),
    ]
    assert keys[0].reason == "court order"
    assert keys[0].fields == ("data.summary",)


def test_a_missing_ledger_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"no-such\.jsonl: no such file"):
        read_ledger(tmp_path / "no-such.jsonl", ["key"])
