"""The audit export file (JSON Lines: a header, the signed checkpoints, the entries) and its
offline verification with nothing but the file and the hub's verifier key(s)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from hub.domain.audit.checkpoint import VerifierKey
from hub.domain.audit.merkle import leaf_hash
from hub.domain.audit.records import SequencedEntry
from hub.domain.audit.replay import TreeReplay, report
from hub.domain.audit.verification import (
    Failed,
    VerificationFailure,
    VerificationReport,
    key_texts,
    parse_key,
)

__all__ = ["EXPORT_FORMAT", "entry_line", "line", "verify_export"]

logger = logging.getLogger("hub.audit")

#: The first line of an export names its format; a later incompatible change is a new name.
EXPORT_FORMAT = "pph-audit-export/1"


def line(record: Mapping[str, object]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def entry_line(entry: SequencedEntry) -> str:
    return line(
        {
            "type": "entry",
            "leaf_index": entry.leaf_index,
            "position": entry.position,
            "entry": entry.entry,
        }
    )


def verify_export(path: Path, verifier_keys: str | Sequence[str]) -> VerificationReport:
    """Verify an export with nothing but the file and the hub's verifier key(s) — the current
    one and any earlier ones after a rotation: recompute the tree from the entries, check every
    checkpoint's signature with one of the keys, its root, and its consistency with the one
    before. Stops at the first failure, in log order."""
    keys = [parse_key(k) for k in key_texts(verifier_keys)]
    with path.open(encoding="utf-8") as lines, path.open(encoding="utf-8") as claim_lines:
        records = _records(lines)
        try:
            header = _header(next(records, None), keys)
        except Failed as failed:
            return VerificationReport(0, 0, None, 0, failed.failure)
        replay = TreeReplay(keys, header["origin"])
        claims = _file_claims(claim_lines)
        try:
            _feed_file_claims(replay, claims)
            replay.reach()
            expected, last_position = 0, 0
            for number, record in records:
                if record.get("type") != "entry":
                    continue
                leaf_index, position, entry = _entry_fields(number, record)
                if leaf_index != expected:
                    raise Failed(
                        VerificationFailure(
                            "leaf_missing",
                            f"line {number}: leaf {leaf_index} follows leaf {expected - 1}; leaf "
                            f"{expected} is missing (removed), or the lines were reordered",
                            leaf_index=expected,
                            position=position,
                        )
                    )
                if position <= last_position:
                    raise Failed(
                        VerificationFailure(
                            "leaf_order",
                            f"line {number}: leaf {leaf_index} has position {position}, not after "
                            f"the position {last_position} of the leaf before it",
                            leaf_index=leaf_index,
                            position=position,
                        )
                    )
                _feed_file_claims(replay, claims)
                replay.append(leaf_hash(entry.encode("utf-8")))
                replay.reach()
                expected, last_position = leaf_index + 1, position
            replay.finish()
            if replay.size != header["tree_size"]:
                raise Failed(
                    VerificationFailure(
                        "export_format",
                        f"the header says {header['tree_size']} entries, the file holds "
                        f"{replay.size}",
                        leaf_index=replay.size,
                    )
                )
        except Failed as failed:
            return report(replay, 0, failed.failure)
    return report(replay, 0, None)


def _records(lines: IO[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for every line; a line that is not a JSON object fails."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            raise Failed(
                VerificationFailure("export_format", f"line {number} is not JSON: {error}")
            ) from error
        if not isinstance(record, dict):
            raise Failed(VerificationFailure("export_format", f"line {number} is not an object"))
        yield number, record


def _header(
    first: tuple[int, dict[str, Any]] | None, keys: Sequence[VerifierKey]
) -> dict[str, Any]:
    if first is None:
        raise Failed(VerificationFailure("export_format", "the file is empty"))
    _, header = first
    if header.get("type") != "header" or header.get("format") != EXPORT_FORMAT:
        raise Failed(
            VerificationFailure(
                "export_format", f"line 1 is not a {EXPORT_FORMAT} header: not an audit export"
            )
        )
    if not isinstance(header.get("origin"), str) or type(header.get("tree_size")) is not int:
        raise Failed(VerificationFailure("export_format", "the header has no origin or size"))
    named = header.get("verifier_key")
    given = [[key.name, key.key_id.hex()] for key in keys]
    if isinstance(named, str) and named.split("+", 2)[:2] not in given:
        logger.warning("the export names verifier key %s; checking with the keys given", named)
    return header


def _file_claims(lines: IO[str]) -> Iterator[tuple[int, str]]:
    for number, record in _records(lines):
        if record.get("type") != "checkpoint":
            continue
        tree_size, note = record.get("tree_size"), record.get("note")
        if type(tree_size) is not int or not isinstance(note, str):
            raise Failed(
                VerificationFailure(
                    "export_format", f"line {number}: a checkpoint has a tree_size and a note"
                )
            )
        yield tree_size, note


def _feed_file_claims(replay: TreeReplay, claims: Iterator[tuple[int, str]]) -> None:
    while replay.needs_claims:
        claim = next(claims, None)
        if claim is None:
            replay.no_more_claims()
            return
        replay.claim(*claim)


def _entry_fields(number: int, record: Mapping[str, Any]) -> tuple[int, int, str]:
    leaf_index, position, entry = (
        record.get("leaf_index"),
        record.get("position"),
        record.get("entry"),
    )
    if type(leaf_index) is not int or type(position) is not int or not isinstance(entry, str):
        raise Failed(
            VerificationFailure(
                "export_format",
                f"line {number}: an entry has a leaf_index, a position and its canonical text",
            )
        )
    return leaf_index, position, entry
