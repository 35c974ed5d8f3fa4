"""Verification of the stored audit log against its signed checkpoints, and its export.

The verifier trusts nothing in the database but the signatures: it recomputes every leaf from
the stored canonical entries, every perfect subtree and the root at every checkpoint, and names
the first entry that was changed, removed, inserted or reordered, and the check that failed. An
export (JSON Lines) carries the entries and the signed checkpoints, and
`hub.domain.audit.export_file.verify_export` checks it with nothing but the file and the key."""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from hub.domain.audit.entries import format_timestamp
from hub.domain.audit.export_file import EXPORT_FORMAT, entry_line, line
from hub.domain.audit.held import HeldCheckpoint
from hub.domain.audit.json_text import decode
from hub.domain.audit.records import EntryRow, Leaf, LeafRow, StoredCheckpoint, StoredEntry
from hub.domain.audit.replay import TreeReplay, report
from hub.domain.audit.verification import (
    Failed,
    VerificationFailure,
    VerificationReport,
    key_texts,
    parse_key,
)
from hub.services.audit_ports import AuditSnapshot, AuditTree, HeldCheckpoints
from hub.services.read_ahead import PagesAhead

__all__ = ["AuditVerifier", "ExportSummary"]

#: Below every position and leaf index, even forged ones (the database's BIGINT minimum).
_LOWEST = -(2**63)


class _Entries:
    """The stored entries in position order, a page at a time, each page read while the
    verifier hashes the one before. The verifier walks a page in memory and awaits only when
    it needs the next one; before any other statement on the snapshot it awaits `settle`."""

    def __init__(self, snapshot: AuditSnapshot, page: int) -> None:
        self._pages = PagesAhead(snapshot.entry_rows, _position, after=_LOWEST, limit=page)
        self.buffer: Sequence[EntryRow] = []
        self.next = 0

    async def refill(self) -> None:
        """Called when `next` has reached the end of `buffer`: the next page, if any."""
        self.buffer, self.next = await self._pages.next(), 0
        await self._pages.read_ahead()

    async def settle(self) -> None:
        await self._pages.settle()

    async def close(self) -> None:
        await self._pages.close()


def _position(row: EntryRow) -> int:
    return row[0]


class AuditVerifier:
    """Verifies the stored log against its signed checkpoints and the last checkpoint held
    outside the database, and exports it."""

    def __init__(
        self,
        tree: AuditTree,
        verifier_keys: str | Sequence[str],
        origin: str,
        *,
        held: HeldCheckpoints,
        page_size: int = 5000,
    ) -> None:
        """`verifier_keys`: the key checkpoints are signed with now, first, then any earlier
        keys whose checkpoints must still verify. `held`: the checkpoints and leaf hashes
        published outside the database."""
        self._tree = tree
        self._held = held
        self._verifier_keys = key_texts(verifier_keys)
        self._keys = [parse_key(k) for k in self._verifier_keys]
        self._origin = origin
        self._page = page_size

    async def verify(self, held: HeldCheckpoint | None = None) -> VerificationReport:
        """Recompute every leaf from the stored canonical entries, every stored perfect subtree,
        and the root at every checkpoint; check each checkpoint's signature and its consistency
        with the one before. Stops at the first failure, in log order.

        Then against what the database cannot rewrite: `held` (a checkpoint an operator or a
        recipient kept), or else the latest checkpoint published outside the database. The
        tree must reach its size with its root (else the log was rolled back or rewritten),
        the database must still hold it (else checkpoints were deleted), and every leaf must
        hash as published (else the entry was changed and the stored hashes recomputed)."""
        replay = TreeReplay(self._keys, self._origin)
        last_position = 0
        unsequenced = 0
        if held is None:
            # Before the snapshot: a checkpoint is published only after the database holds it,
            # so the snapshot holds every checkpoint published by now.
            held = await self._held.latest()
        async with self._tree.snapshot() as snapshot:
            try:
                held_size = replay.hold(held) if held is not None else None
                claims = _StoredClaims(snapshot, replay, self._page)
                await claims.feed()
                replay.reach()
                last_position = await self._replay_leaves(snapshot, replay, claims)
                replay.finish()
                if held is not None and held_size is not None:
                    await _check_held_is_stored(snapshot, held, held_size)
            except Failed as failed:
                return report(replay, 0, failed.failure)
            unsequenced = await snapshot.count_entries(last_position)
        return replace(report(replay, unsequenced, None), last_position=last_position or None)

    async def _replay_leaves(
        self, snapshot: AuditSnapshot, replay: TreeReplay, claims: _StoredClaims
    ) -> int:
        """Every leaf in index order against the entries in position order; the position of
        the last leaf's entry.

        The hot loop of `hub audit verify` (a million entries: bench/RESULTS.md): rows stay
        tuples, `Leaf` and `StoredEntry` are built only to name a failure, the leaf hash is
        SHA-256 called directly, and the checkpoints are looked at only when one is due."""
        entries = _Entries(snapshot, self._page)
        try:
            return await self._replay_pages(snapshot, replay, claims, entries)
        finally:
            await entries.close()

    async def _replay_pages(
        self,
        snapshot: AuditSnapshot,
        replay: TreeReplay,
        claims: _StoredClaims,
        entries: _Entries,
    ) -> int:
        columns = _Columns()
        sha256 = hashlib.sha256
        expected, last_position, cursor = 0, 0, _LOWEST
        while True:
            await entries.settle()
            page = await snapshot.leaf_rows(cursor, self._page)
            if not page:
                return last_position
            first = page[0][0]
            cursor = page[-1][0] + 1
            # Only leaves first, first + 1 … can pass the index check below.
            stored_subtrees = await snapshot.completed_subtrees(first, first + len(page) - 1)
            published = await self._held.leaf_hashes(first, len(page))
            for offset, (leaf_index, entry_position, stored_hash) in enumerate(page):
                if leaf_index != expected:
                    raise Failed(_leaf_missing(expected, _leaf(page[offset]), last_position))
                if entry_position <= last_position:
                    raise Failed(_leaf_order(_leaf(page[offset]), last_position))
                if entries.next == len(entries.buffer):
                    await entries.refill()
                if entries.next == len(entries.buffer):
                    raise Failed(_entry_not_in_place(_leaf(page[offset]), None))
                row = entries.buffer[entries.next]
                if row[0] != entry_position:
                    raise Failed(_entry_not_in_place(_leaf(page[offset]), _stored(row)))
                entries.next += 1
                hashed = sha256(b"\x00" + row[3].encode("utf-8")).digest()
                if hashed != stored_hash:
                    leaf, entry = _leaf(page[offset]), _stored(row)
                    await entries.settle()
                    raise Failed(await _leaf_hash_failure(snapshot, leaf, entry, hashed))
                if offset < len(published) and published[offset] != hashed:
                    raise Failed(_published_failure(_leaf(page[offset]), _stored(row)))
                if not columns.agree(row):
                    raise Failed(_columns_failure(_leaf(page[offset]), _stored(row)))
                if replay.needs_claims:
                    await entries.settle()
                    await claims.feed()
                completed = replay.append(hashed)
                if len(completed) > 1:
                    for level, index, node in completed[1:]:
                        _check_subtree(stored_subtrees.get((level, index)), level, index, node)
                if replay.due:
                    replay.reach()
                expected, last_position = leaf_index + 1, entry_position

    async def export(self, path: Path) -> ExportSummary:
        """Write the log as JSON Lines: a header (origin, verifier key, tree size), every signed
        checkpoint, and every entry of the tree as of the latest checkpoint, with its leaf index
        and canonical text. Everything exported is covered by a signed checkpoint."""
        async with self._tree.snapshot() as snapshot:
            latest = await snapshot.latest_checkpoint()
            size = latest.tree_size if latest is not None else 0
            header = {
                "type": "header",
                "format": EXPORT_FORMAT,
                "origin": self._origin,
                "verifier_key": self._verifier_keys[0],
                "previous_verifier_keys": list(self._verifier_keys[1:]),
                "tree_size": size,
                "exported_at": format_timestamp(datetime.now(UTC)),
            }
            out = await asyncio.to_thread(path.open, "w", encoding="utf-8", newline="\n")
            try:
                await _write(out, [line(header)])
                checkpoints, after = 0, -1
                while checkpoint_page := await snapshot.checkpoints(after, self._page):
                    await _write(
                        out,
                        [
                            line({"type": "checkpoint", "tree_size": c.tree_size, "note": c.note})
                            for c in checkpoint_page
                        ],
                    )
                    checkpoints += len(checkpoint_page)
                    after = checkpoint_page[-1].tree_size
                start = 0
                while start < size:
                    page = await snapshot.sequenced(start, min(self._page, size - start))
                    if not page:
                        break
                    await _write(out, [entry_line(e) for e in page])
                    start = page[-1].leaf_index + 1
            finally:
                await asyncio.to_thread(out.close)
        return ExportSummary(path=path, tree_size=size, checkpoints=checkpoints)


@dataclass(frozen=True, slots=True)
class ExportSummary:
    path: Path
    tree_size: int
    checkpoints: int


class _StoredClaims:
    """Feeds the stored checkpoints to a replay, a page at a time, as it needs them."""

    def __init__(self, snapshot: AuditSnapshot, replay: TreeReplay, page: int) -> None:
        self._snapshot = snapshot
        self._replay = replay
        self._page = page
        self._buffer: deque[StoredCheckpoint] = deque()
        self._after = -1
        self._exhausted = False

    async def feed(self) -> None:
        while self._replay.needs_claims:
            if not self._buffer:
                if self._exhausted:
                    self._replay.no_more_claims()
                    return
                found = await self._snapshot.checkpoints(self._after, self._page)
                self._exhausted = len(found) < self._page
                if found:
                    self._after = found[-1].tree_size
                self._buffer.extend(found)
                continue
            stored = self._buffer.popleft()
            self._replay.claim(stored.tree_size, stored.note, stored.root_hash)


def _check_subtree(stored: bytes | None, level: int, index: int, node: bytes) -> None:
    first, last = index << level, ((index + 1) << level) - 1
    if stored is None:
        raise Failed(
            VerificationFailure(
                "subtree_missing",
                f"the stored subtree at level {level}, index {index} (leaves {first}..{last}) "
                "is missing",
                leaf_index=first,
            )
        )
    if stored != node:
        raise Failed(
            VerificationFailure(
                "subtree",
                f"the stored subtree at level {level}, index {index} differs from the one "
                f"recomputed from the entries: an entry among leaves {first}..{last} and its "
                "leaf hash were changed together, or the subtree was",
                leaf_index=first,
            )
        )


async def _leaf_hash_failure(
    snapshot: AuditSnapshot, leaf: Leaf, entry: StoredEntry, hashed: bytes
) -> VerificationFailure:
    where = _where(leaf)
    others = [i for i in await snapshot.leaves_with_hash(hashed) if i != leaf.leaf_index]
    if others:
        message = (
            f"the entry at position {entry.position} is what leaf {others[0]} recorded, not "
            f"{where}: entries were reordered"
        )
    else:
        message = (
            f"the entry at position {entry.position} does not hash to the stored hash of "
            f"{where}: the entry or its leaf hash was changed"
        )
    return VerificationFailure(
        "leaf_hash",
        message,
        leaf_index=leaf.leaf_index,
        position=entry.position,
        entry=entry.entry,
    )


def _where(leaf: Leaf) -> str:
    return f"leaf {leaf.leaf_index} (position {leaf.entry_position})"


def _leaf_missing(expected: int, leaf: Leaf, last_position: int) -> VerificationFailure:
    return VerificationFailure(
        "leaf_missing",
        f"leaf {expected} is missing (the next stored leaf is {leaf.leaf_index}): the entry "
        f"after position {last_position} was removed with its leaf",
        leaf_index=expected,
    )


def _leaf_order(leaf: Leaf, last_position: int) -> VerificationFailure:
    return VerificationFailure(
        "leaf_order",
        f"{_where(leaf)} comes after the leaf of position {last_position}: leaves are out of "
        "position order (entries were reordered)",
        leaf_index=leaf.leaf_index,
        position=leaf.entry_position,
    )


def _entry_not_in_place(leaf: Leaf, entry: StoredEntry | None) -> VerificationFailure:
    """The next stored entry (None: there is none) is not the leaf's."""
    if entry is not None and entry.position < leaf.entry_position:
        return VerificationFailure(
            "entry_inserted",
            f"the entry at position {entry.position} is not in the tree, yet {_where(leaf)} "
            "after it is: the entry was inserted",
            leaf_index=leaf.leaf_index,
            position=entry.position,
            entry=entry.entry,
        )
    return VerificationFailure(
        "entry_missing",
        f"the entry of {_where(leaf)} is missing: it was removed",
        leaf_index=leaf.leaf_index,
        position=leaf.entry_position,
    )


def _published_failure(leaf: Leaf, entry: StoredEntry) -> VerificationFailure:
    """The entry does not hash to its leaf's hash as published outside the database (where it
    was published: the leaves of a checkpoint not yet published have nothing to compare with)."""
    return VerificationFailure(
        "leaf_published",
        f"the entry at position {entry.position} (leaf {leaf.leaf_index}) does not hash to "
        f"the hash of leaf {leaf.leaf_index} published outside the database when it was "
        "checkpointed: the entry was changed and its stored leaf and subtree hashes "
        "recomputed to match",
        leaf_index=leaf.leaf_index,
        position=entry.position,
        entry=entry.entry,
    )


async def _check_held_is_stored(snapshot: AuditSnapshot, held: HeldCheckpoint, size: int) -> None:
    """The database must still hold the checkpoint published outside it (the replay checked
    that the tree reaches it with its root)."""
    found = await snapshot.checkpoints(size - 1, 1)
    if not found or found[0].tree_size != size:
        raise Failed(
            VerificationFailure(
                "external_checkpoint_missing",
                f"the database holds no signed checkpoint of tree size {size}, yet one is held "
                f"outside it ({held.source}): checkpoints were deleted from audit_checkpoints",
                tree_size=size,
            )
        )


class _Columns:
    """The kind and time columns (for queries) must say what the hashed entry says."""

    def __init__(self) -> None:
        # Entries logged together share their time: format it once for them.
        self._moment: datetime | None = None
        self._text = ""

    def agree(self, row: EntryRow) -> bool:
        _, kind, moment, text = row
        try:
            document = decode(text)
            logged_kind, occurred_at = document["kind"], document["occurred_at"]
        except (ValueError, TypeError, KeyError):
            return False
        if logged_kind != kind:
            return False
        if moment != self._moment or moment.tzinfo is not self._moment.tzinfo:
            self._moment, self._text = moment, _timestamp(moment)
        return bool(occurred_at == self._text)


def _columns_failure(leaf: Leaf, entry: StoredEntry) -> VerificationFailure:
    return VerificationFailure(
        "entry_columns",
        f"the kind or time stored beside the entry at position {entry.position} "
        f"(leaf {leaf.leaf_index}) differs from the entry itself: a column was changed",
        leaf_index=leaf.leaf_index,
        position=entry.position,
        entry=entry.entry,
    )


def _leaf(row: LeafRow) -> Leaf:
    return Leaf(*row)


def _stored(row: EntryRow) -> StoredEntry:
    return StoredEntry(*row)


def _timestamp(moment: datetime) -> str:
    """`format_timestamp(moment)`, in C for a time in UTC (as stored times are read): ISO 8601
    with microseconds, the offset `+00:00` written `Z`."""
    if moment.tzinfo is UTC:
        return moment.isoformat(timespec="microseconds")[:-6] + "Z"
    return format_timestamp(moment)


async def _write(out: IO[str], lines: Sequence[str]) -> None:
    await asyncio.to_thread(out.write, "".join(lines))
