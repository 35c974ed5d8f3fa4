"""The outbox relay against a real event store (SQLite and PostgreSQL) and a real broker:
every event reaches the events topic, each person's in order on one partition; a relay killed
with SIGKILL resumes from its checkpoint and repeats at most the batch it had in hand; a broker
restart while events keep being appended is waited out and caught up."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from asyncio.subprocess import PIPE, STDOUT
from collections.abc import Sequence
from pathlib import Path

import pytest

from hub.domain.notifications import Notification, Publisher, StoredEvent
from hub.infra.audit import SqlAuditLog
from hub.infra.bus_inprocess import InProcessBus
from hub.infra.relay_store import SqlRelayCheckpoints
from hub.infra.store import SqlEventStore, create_event_store
from hub.services.bus import BusUnavailable
from hub.services.relay import CONSUMER, Relay
from tests.conftest import Database
from tests.integration.kafka.bus_contract import IdempotentEffects, consuming
from tests.integration.kafka.conftest import IN_CI, KafkaUnderTest
from tests.integration.kafka.topic_reader import check_order, read_topic
from tests.unit.test_profile import example

ROOT = Path(__file__).resolve().parents[3]
KAFKA_SH = ROOT / "deploy" / "local" / "kafka.sh"
PR2 = Publisher(client_id="pr2-test", agency="sps")
PATIENCE = 180.0
KINDS = ("custody.transfer", "mappa.referral", "risk.assessment-recorded", "person.missing")


def notifications(
    count: int, people: int, seed: int, prefix: str, start: int = 0
) -> list[Notification]:
    rng = random.Random(seed + start)
    return [
        example(
            rng.choice(KINDS),
            id=f"{prefix}-{n}",
            identifiers={"sps_number": str(7_000_000 + rng.randrange(people))},
        )
        for n in range(start, start + count)
    ]


async def append(store: SqlEventStore, batch: Sequence[Notification], chunk: int = 100) -> None:
    for start in range(0, len(batch), chunk):
        await store.append(batch[start : start + chunk], publisher=PR2)


async def all_events(store: SqlEventStore) -> list[StoredEvent]:
    found: list[StoredEvent] = []
    while more := await store.read_all(after=found[-1].position if found else 0):
        found.extend(more)
    return found


async def wait_for_checkpoint(
    checkpoints: SqlRelayCheckpoints, position: int, process: asyncio.subprocess.Process | None
) -> int:
    async with asyncio.timeout(PATIENCE):
        while (checkpoint := await checkpoints.checkpoint(CONSUMER)) < position:
            assert process is None or process.returncode is None, "the relay exited"
            await asyncio.sleep(0.005)
    return checkpoint


@pytest.mark.asyncio
async def test_the_relay_publishes_every_event_in_order_keyed_by_person(
    database: Database, kafka_bus: KafkaUnderTest
) -> None:
    store = create_event_store(database.engine, audit=SqlAuditLog(database.engine))
    await append(store, notifications(400, people=50, seed=1, prefix="order"))
    checkpoints = SqlRelayCheckpoints(database.engine)
    publisher = kafka_bus.publisher()
    relay = Relay(store, checkpoints, publisher, batch_size=64)
    try:
        assert await relay.run_until_idle() == 400
        assert await relay.run_until_idle() == 0, "published twice"
    finally:
        await publisher.close()
    expected = await all_events(store)
    assert await checkpoints.checkpoint(CONSUMER) == expected[-1].position
    found = await read_topic(kafka_bus.bootstrap, kafka_bus.topic, {e.position for e in expected})
    counts = check_order(found, expected)
    assert set(counts.values()) == {1}
    assert len(found) > 1, "all people on one partition"


@pytest.mark.asyncio
async def test_two_relays_on_one_store_take_turns_and_skip_nothing(
    database: Database, kafka_bus: KafkaUnderTest
) -> None:
    store = create_event_store(database.engine, audit=SqlAuditLog(database.engine))
    await append(store, notifications(300, people=30, seed=2, prefix="two"))
    publishers = [kafka_bus.publisher(), kafka_bus.publisher()]
    relays = [
        Relay(store, SqlRelayCheckpoints(database.engine), p, batch_size=25) for p in publishers
    ]
    try:
        await asyncio.gather(*(r.run_until_idle() for r in relays))
    finally:
        for publisher in publishers:
            await publisher.close()
    expected = await all_events(store)
    found = await read_topic(kafka_bus.bootstrap, kafka_bus.topic, {e.position for e in expected})
    counts = check_order(found, expected)
    repeats = sum(n - 1 for n in counts.values())
    assert repeats <= 25 * sum(r.races_lost for r in relays)


def relay_environment(database: Database) -> dict[str, str]:
    settings = database.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update({"HUB_ENVIRONMENT": "development", "HUB_DATA_DIR": str(settings.data_dir)})
    if settings.database_url is not None:
        env["HUB_DATABASE_URL"] = settings.database_url.get_secret_value()
    if settings.database_schema is not None:
        env["HUB_DATABASE_SCHEMA"] = settings.database_schema
    return env


async def start_relay(
    database: Database, bus: KafkaUnderTest, batch_size: int
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.integration.kafka.relay_runner",
        bus.bootstrap, bus.topic, str(bus.partitions), str(batch_size),
        env=relay_environment(database), cwd=ROOT, stdout=PIPE, stderr=STDOUT,
    )  # fmt: skip


@pytest.mark.asyncio
@pytest.mark.slow
async def test_a_relay_killed_with_sigkill_resumes_and_repeats_at_most_its_batch(
    database: Database, kafka_bus: KafkaUnderTest
) -> None:
    batch = 20
    store = create_event_store(database.engine, audit=SqlAuditLog(database.engine))
    await append(store, notifications(1500, people=120, seed=3, prefix="kill"))
    last = await store.last_position()
    checkpoints = SqlRelayCheckpoints(database.engine)

    killed_at = []
    for fraction in (0.25, 0.6):
        process = await start_relay(database, kafka_bus, batch)
        try:
            killed_at.append(await wait_for_checkpoint(checkpoints, int(last * fraction), process))
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGKILL)
            output, _ = await process.communicate()
        assert process.returncode == -signal.SIGKILL, f"the relay exited:\n{output.decode()}"
    assert 0 < killed_at[0] < killed_at[1] < last, f"not killed mid-stream: {killed_at}"

    process = await start_relay(database, kafka_bus, batch)
    try:
        await wait_for_checkpoint(checkpoints, last, process)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()

    expected = await all_events(store)
    found = await read_topic(kafka_bus.bootstrap, kafka_bus.topic, {e.position for e in expected})
    counts = check_order(found, expected)
    repeats = sum(n - 1 for n in counts.values())
    assert repeats <= 2 * batch, f"{repeats} events published twice after two kills"


async def kafka_sh(command: str, bootstrap: str) -> tuple[int, str]:
    host, port = bootstrap.rsplit(":", 1)
    env = {**os.environ, "HUB_KAFKA_HOST": host, "HUB_KAFKA_PORT": port}
    process = await asyncio.create_subprocess_exec(
        str(KAFKA_SH), command, env=env, stdout=PIPE, stderr=STDOUT
    )
    async with asyncio.timeout(PATIENCE):
        output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()


@pytest.mark.asyncio
@pytest.mark.slow
@pytest.mark.serial  # stops the shared broker
async def test_the_relay_catches_up_after_a_broker_restart_while_events_keep_coming(
    database: Database, kafka_bus: KafkaUnderTest
) -> None:
    code, output = await kafka_sh("status", kafka_bus.bootstrap)
    if code != 0:
        message = f"the broker at {kafka_bus.bootstrap} is not one kafka.sh runs: {output}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)

    store = create_event_store(database.engine, audit=SqlAuditLog(database.engine))
    checkpoints = SqlRelayCheckpoints(database.engine)
    publisher = kafka_bus.publisher(request_timeout_ms=5_000)
    relay = Relay(store, checkpoints, publisher, batch_size=50, poll_interval=0.05,
                  retry_interval=0.5)  # fmt: skip
    stop_relay, stop_appending = asyncio.Event(), asyncio.Event()
    appended = 0
    more = asyncio.Event()

    async def keep_appending() -> None:
        nonlocal appended
        while not stop_appending.is_set():
            batch = notifications(5, people=80, seed=4, prefix="restart", start=appended)
            await store.append(batch, publisher=PR2)
            appended += len(batch)
            more.set()
            await asyncio.sleep(0.02)

    async def until_appended(count: int) -> None:
        async with asyncio.timeout(PATIENCE):
            while appended < count:
                more.clear()
                await more.wait()

    relaying = asyncio.create_task(relay.run(stop_relay))
    appending = asyncio.create_task(keep_appending())
    try:
        await wait_for_checkpoint(checkpoints, 100, None)
        code, output = await kafka_sh("stop", kafka_bus.bootstrap)
        assert code == 0, output
        stopped_at = appended
        await until_appended(stopped_at + 150)  # events keep coming while the broker is down
        code, output = await kafka_sh("start", kafka_bus.bootstrap)
        assert code == 0, output
        restarted_at = appended
        await until_appended(restarted_at + 100)
        stop_appending.set()
        await appending
        last = await store.last_position()
        await wait_for_checkpoint(checkpoints, last, None)
    finally:
        stop_appending.set()
        stop_relay.set()
        await asyncio.gather(relaying, appending, return_exceptions=True)
        await publisher.close()
        if (await kafka_sh("status", kafka_bus.bootstrap))[0] != 0:
            await kafka_sh("start", kafka_bus.bootstrap)  # leave the broker up for the others
    relaying.result()  # the relay waited the broker out instead of failing

    expected = await all_events(store)
    assert len(expected) == appended
    found = await read_topic(kafka_bus.bootstrap, kafka_bus.topic, {e.position for e in expected})
    check_order(found, expected)


class FlakyPublisher:
    """Publishes onto an in-process bus, but the broker is away for the calls in `failing`."""

    def __init__(self, bus: InProcessBus, failing: set[int]) -> None:
        self._inner = bus.publisher()
        self._failing = failing
        self.calls = 0

    async def start(self) -> None:
        await self._inner.start()

    async def publish(self, events: Sequence[StoredEvent]) -> None:
        self.calls += 1
        if self.calls in self._failing:
            raise BusUnavailable("the broker is away")
        await self._inner.publish(events)

    async def close(self) -> None:
        await self._inner.close()


@pytest.mark.asyncio
async def test_the_relay_waits_out_an_unavailable_bus_and_skips_nothing(
    database: Database,
) -> None:
    """No broker needed: the relay's own logic on the in-process bus."""
    store = create_event_store(database.engine, audit=SqlAuditLog(database.engine))
    await append(store, notifications(120, people=15, seed=5, prefix="flaky"))
    last = await store.last_position()
    checkpoints = SqlRelayCheckpoints(database.engine)
    bus = InProcessBus(partitions=3)
    publisher = FlakyPublisher(bus, failing={2, 3, 5})
    relay = Relay(store, checkpoints, publisher, batch_size=25, retry_interval=0.01)

    with pytest.raises(BusUnavailable):
        await relay.run_until_idle()
    assert await checkpoints.checkpoint(CONSUMER) == 25, "moved past what was not acknowledged"

    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        await wait_for_checkpoint(checkpoints, last, None)
    finally:
        stop.set()
        await running

    effects = IdempotentEffects()
    async with consuming(bus.consumer("check", poll_interval=0.01), effects.handle):
        await effects.wait_for(set(range(1, last + 1)))
    assert effects.out_of_order == []
    assert set(effects.handed.values()) == {1}
