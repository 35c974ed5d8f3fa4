"""The checkpoint directory: every signed checkpoint of the audit log, published outside the
database, append-only (`hub.services.audit_ports.CheckpointPublisher` and `HeldCheckpoints`).

Each checkpoint of tree size N is (at least) two files, written in this order, each atomically (a
temporary file in the directory, flushed, then hard-linked to its name, which fails if the name
exists, so nothing is ever replaced) and then the directory flushed:

    <start:020d>-<end:020d>.leaves  the 32-byte hashes of leaves start..end-1, concatenated
    <N:020d>.checkpoint             the C2SP signed note, exactly as stored in the database

`start` is where the leaves published before end (a file holds at most a page of leaves, so
one checkpoint may add several), so the `.leaves` files tile the tree: `hub audit verify`
compares every entry's recomputed leaf hash with the one published here and names the exact
entry an insider changed, even after recomputing every stored hash.

Checkpoints and leaf hashes are public (roots and hashes of the log, no personal data): files
are 0644. The directory guards the log only if the database role and those who hold it cannot
rewrite it: in production, mount storage they cannot write (an object-lock/WORM bucket, a
volume on another host written only by the hub's OS user).
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import uuid
from collections.abc import Sequence
from pathlib import Path

from hub.domain.audit.held import HeldCheckpoint
from hub.domain.audit.merkle import HASH_SIZE
from hub.domain.audit.records import StoredCheckpoint
from hub.errors import StoreError, StoreUnavailable

__all__ = ["CheckpointDirectory"]

_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint$")
_LEAVES = re.compile(r"^(\d{20})-(\d{20})\.leaves$")
_FILE_MODE = 0o644
_DIR_MODE = 0o755


class CheckpointDirectory:
    """Publishes checkpoints to, and reads them back from, one append-only directory."""

    def __init__(self, path: Path) -> None:
        self._path = path
        #: (first leaf, end, file name) of the `.leaves` files seen, read again on a miss.
        self._ranges: list[tuple[int, int, str]] = []

    @property
    def path(self) -> Path:
        return self._path

    # -- publishing ------------------------------------------------------------------------------

    async def latest(self) -> HeldCheckpoint | None:
        """The published checkpoint of the largest tree size, if any."""
        return await asyncio.to_thread(self._latest)

    async def publish_leaves(self, first_leaf: int, leaf_hashes: Sequence[bytes]) -> None:
        """Publish the hashes of leaves `first_leaf`, `first_leaf + 1` …. A file already there
        with the same content is left alone; with other content, `StoreError`."""
        if leaf_hashes:
            end = first_leaf + len(leaf_hashes)
            name = f"{first_leaf:020d}-{end:020d}.leaves"
            await asyncio.to_thread(self._publish, name, b"".join(leaf_hashes))

    async def publish(self, checkpoint: StoredCheckpoint) -> None:
        """Publish the signed checkpoint, after the hashes of its leaves (as above)."""
        name = f"{checkpoint.tree_size:020d}.checkpoint"
        await asyncio.to_thread(self._publish, name, checkpoint.note.encode("utf-8"))

    def _publish(self, name: str, content: bytes) -> None:
        try:
            self._path.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
            self._write_once(name, content)
        except OSError as error:
            raise StoreUnavailable(
                f"cannot publish the audit checkpoint to {self._path}: {error}"
            ) from error

    def _write_once(self, name: str, content: bytes) -> None:
        final = self._path / name
        temporary = self._path / f".{name}.{uuid.uuid4().hex}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
        try:
            try:
                os.write(descriptor, content)
                os.fchmod(descriptor, _FILE_MODE)  # whatever the umask
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            try:
                os.link(temporary, final)
            except FileExistsError:
                if final.read_bytes() != content:
                    raise StoreError(
                        f"{final} is already published with other content: refusing to replace "
                        "a published checkpoint; run `hub audit verify`"
                    ) from None
                return
        finally:
            temporary.unlink(missing_ok=True)
        self._sync_directory()

    def _sync_directory(self) -> None:
        descriptor = os.open(self._path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        except OSError as error:  # pragma: no cover - some filesystems cannot sync a directory
            if error.errno not in (errno.EINVAL, errno.EBADF):
                raise
        finally:
            os.close(descriptor)

    # -- reading back ----------------------------------------------------------------------------

    def _names(self) -> list[str]:
        try:
            return os.listdir(self._path)
        except FileNotFoundError:
            return []

    def _latest(self) -> HeldCheckpoint | None:
        sizes = [int(m.group(1)) for n in self._names() if (m := _CHECKPOINT.match(n))]
        if not sizes:
            return None
        path = self._path / f"{max(sizes):020d}.checkpoint"
        return HeldCheckpoint(path.read_text(encoding="utf-8"), str(path))

    async def leaf_hashes(self, start: int, limit: int) -> list[bytes]:
        """The published hashes of leaves `start`, `start + 1` … (at most `limit`), as far as
        they were published without a gap: fewer, or none, where nothing was published."""
        return await asyncio.to_thread(self._leaf_hashes, start, limit)

    def _leaf_hashes(self, start: int, limit: int) -> list[bytes]:
        # The verifier asks page by page: list the directory again only when a page is not
        # covered by the files already seen.
        if not any(first <= start < end for first, end, _ in self._ranges):
            self._ranges = sorted(
                (int(m.group(1)), int(m.group(2)), name)
                for name in self._names()
                if (m := _LEAVES.match(name))
            )
        found: list[bytes] = []
        wanted = start
        for first, end, name in self._ranges:
            if len(found) >= limit:
                break
            if not first <= wanted < end:
                continue
            count = min(end - wanted, limit - len(found))
            with (self._path / name).open("rb") as leaves:
                leaves.seek((wanted - first) * HASH_SIZE)
                data = leaves.read(count * HASH_SIZE)
            whole = len(data) - len(data) % HASH_SIZE
            found += [data[i : i + HASH_SIZE] for i in range(0, whole, HASH_SIZE)]
            if whole < count * HASH_SIZE:
                break  # a truncated file: what is there, and no more
            wanted += count
        return found
