"""The checkpoint directory on a real filesystem: append-only, atomic, read back exactly."""

from __future__ import annotations

import asyncio
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.domain.audit.records import StoredCheckpoint
from hub.errors import StoreError
from hub.infra.checkpoint_dir import CheckpointDirectory


def leaf(n: int) -> bytes:
    return n.to_bytes(32, "big")


def checkpoint(size: int, note: str) -> StoredCheckpoint:
    return StoredCheckpoint(size, bytes(32), note, datetime(2026, 12, 6, tzinfo=UTC))


def test_leaves_published_in_pages_read_back_across_files(tmp_path: Path) -> None:
    directory = CheckpointDirectory(tmp_path / "published")

    async def run() -> None:
        await directory.publish_leaves(0, [leaf(n) for n in range(3)])
        await directory.publish_leaves(3, [leaf(n) for n in range(3, 5)])
        await directory.publish(checkpoint(5, "note 5\n"))
        assert await directory.leaf_hashes(1, 10) == [leaf(n) for n in range(1, 5)]
        assert await directory.leaf_hashes(2, 2) == [leaf(2), leaf(3)]
        assert await directory.leaf_hashes(5, 10) == []  # not published (yet)
        # A gap ends what is returned: nothing is guessed past it.
        await directory.publish_leaves(7, [leaf(7)])
        assert await directory.leaf_hashes(4, 10) == [leaf(4)]
        latest = await directory.latest()
        assert latest is not None
        assert (latest.note, latest.source) == (
            "note 5\n",
            str(directory.path / f"{5:020d}.checkpoint"),
        )

    asyncio.run(run())
    names = sorted(p.name for p in (tmp_path / "published").iterdir())
    assert names == [
        f"{0:020d}-{3:020d}.leaves",
        f"{3:020d}-{5:020d}.leaves",
        f"{5:020d}.checkpoint",
        f"{7:020d}-{8:020d}.leaves",
    ]
    for path in (tmp_path / "published").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_published_file_is_never_replaced(tmp_path: Path) -> None:
    directory = CheckpointDirectory(tmp_path)

    async def run() -> None:
        await directory.publish(checkpoint(8, "the real note\n"))
        await directory.publish(checkpoint(8, "the real note\n"))  # again: nothing to do
        with pytest.raises(StoreError, match="refusing to replace"):
            await directory.publish(checkpoint(8, "another note\n"))
        await directory.publish_leaves(0, [leaf(1)])
        with pytest.raises(StoreError, match="refusing to replace"):
            await directory.publish_leaves(0, [leaf(2)])

    asyncio.run(run())
    assert (tmp_path / f"{8:020d}.checkpoint").read_text() == "the real note\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_an_empty_or_missing_directory_holds_nothing(tmp_path: Path) -> None:
    directory = CheckpointDirectory(tmp_path / "never-created")
    assert asyncio.run(directory.latest()) is None
    assert asyncio.run(directory.leaf_hashes(0, 10)) == []
