"""Two consumer processes share the events topic as one group; one is killed with SIGKILL in
the middle of the stream. Every event is still handled at least once, its effect recorded
exactly once and in each person's order, and only the killed member's uncommitted work is
handled twice."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
from asyncio.subprocess import PIPE, STDOUT
from pathlib import Path

import pytest

from tests.integration.kafka.bus_contract import PATIENCE, interleaved, publish
from tests.integration.kafka.conftest import KafkaUnderTest

ROOT = Path(__file__).resolve().parents[3]


def count(db: Path, query: str, *args: object) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db, timeout=60) as connection:
        try:
            return int(connection.execute(query, args).fetchone()[0])
        except sqlite3.OperationalError:  # the member has not made its tables yet
            return 0


async def start_member(bus: KafkaUnderTest, db: Path, name: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.integration.kafka.consumer_runner",
        bus.bootstrap, bus.topic, f"{bus.topic}.workers", str(bus.partitions), str(db), name,
        cwd=ROOT, stdout=PIPE, stderr=STDOUT,
    )  # fmt: skip


@pytest.mark.asyncio
@pytest.mark.slow
async def test_a_member_killed_mid_stream_loses_nothing_and_repeats_no_effect(
    kafka_bus: KafkaUnderTest, tmp_path: Path
) -> None:
    events = interleaved(persons=60, per_person=12)
    await publish(kafka_bus, events)
    db = tmp_path / "effects.sqlite"
    doomed = await start_member(kafka_bus, db, "doomed")
    survivor = await start_member(kafka_bus, db, "survivor")
    try:
        async with asyncio.timeout(PATIENCE):
            while not (
                count(db, "SELECT count(*) FROM handed WHERE member = ?", "doomed") >= 100
                and count(db, "SELECT count(*) FROM handed WHERE member = ?", "survivor") > 0
            ):
                assert doomed.returncode is None, "a member exited"
                assert survivor.returncode is None, "a member exited"
                await asyncio.sleep(0.01)
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
        async with asyncio.timeout(PATIENCE):
            while count(db, "SELECT count(*) FROM applied") < len(events):
                assert survivor.returncode is None, "the surviving member exited"
                await asyncio.sleep(0.1)
    finally:
        for process in (doomed, survivor):
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        outputs = [(await p.communicate())[0].decode() for p in (doomed, survivor)]
    assert doomed.returncode == -signal.SIGKILL
    assert survivor.returncode == 0, outputs[1]

    with sqlite3.connect(db) as connection:
        applied = dict(connection.execute("SELECT position, member FROM applied").fetchall())
        handed = connection.execute("SELECT position, member FROM handed").fetchall()
        out_of_order = connection.execute("SELECT * FROM out_of_order").fetchall()
    assert set(applied) == {e.position for e in events}, "every event's effect, exactly once"
    assert out_of_order == [], "each person's events in order"
    assert {"doomed", "survivor"} == set(applied.values()), "the work was shared"
    times: dict[int, int] = {}
    for position, _ in handed:
        times[position] = times.get(position, 0) + 1
    repeated = {p for p, n in times.items() if n > 1}
    by_doomed = {p for p, member in handed if member == "doomed"}
    assert repeated <= by_doomed, "only work the killed member had not committed is repeated"
