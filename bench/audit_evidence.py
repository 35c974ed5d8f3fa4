"""Evidence check benchmark: `EvidenceChecker.check()` (the second half of `hub audit verify`)
over N stored events, each with its collection entry (and one combination entry per new person),
on a fresh database; reports the time taken and the peak memory Python allocated during the
check (tracemalloc), which must stay flat as N grows (the check is paged).

    .venv/bin/python bench/audit_evidence.py [--backend sqlite|postgres] [--events 50000]

Prints figures and asserts nothing about timings.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hub.domain.notifications import Notification, PersonIdentifier, Publisher  # noqa: E402
from hub.infra.audit import SqlAuditLog  # noqa: E402
from hub.infra.audit_evidence import SqlEvidence  # noqa: E402
from hub.infra.db import create_engine, upgrade  # noqa: E402
from hub.infra.store import create_event_store  # noqa: E402
from hub.services.audit_evidence import EvidenceChecker  # noqa: E402
from hub.settings import Settings  # noqa: E402

POSTGRES_URL = "postgresql+asyncpg://hub:hub@127.0.0.1:5432/hub_test"
PUBLISHER = Publisher("client-sps", "sps")


def _notification(n: int) -> Notification:
    return Notification(
        id=str(uuid.uuid4()),
        source="urn:pph:sps:pr2",
        type="custody.transfer",
        version=1,
        time=datetime.now(UTC),
        identifiers=(PersonIdentifier("sps_number", str(1_000_000 + n // 10)),),
        data={"establishment": "HMP Barlinnie", "reason": "bench", "n": n},
    )


async def main(backend: str, count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        schema = None
        if backend == "postgres":
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            settings = Settings(
                environment="test",
                data_dir=Path(folder),
                database_url=SecretStr(POSTGRES_URL),
                database_schema=schema,
            )
            admin = create_engine(
                Settings(
                    environment="test", data_dir=Path(folder), database_url=SecretStr(POSTGRES_URL)
                )
            )
            async with admin.begin() as connection:
                await connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            await admin.dispose()
        else:
            settings = Settings(environment="test", data_dir=Path(folder))
        engine = create_engine(settings)
        try:
            await upgrade(engine, settings)
            store = create_event_store(engine, audit=SqlAuditLog(engine))
            started = time.perf_counter()
            for first in range(0, count, 500):
                batch = [_notification(n) for n in range(first, min(first + 500, count))]
                await store.append(batch, publisher=PUBLISHER)
            print(f"stored {count} events in {time.perf_counter() - started:.1f} s")
            checker = EvidenceChecker(SqlEvidence(engine))
            tracemalloc.start()
            started = time.perf_counter()
            report = await checker.check()
            elapsed = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert report.ok, report.failure
            print(
                f"{backend}: checked {report.events} events and {report.index_entries} index rows "
                f"in {elapsed:.1f} s ({report.index_entries / elapsed:,.0f} entries/s); "
                f"peak Python allocation during the check {peak / 2**20:.1f} MiB"
            )
        finally:
            await engine.dispose()
            if schema is not None:
                admin = create_engine(
                    Settings(
                        environment="test",
                        data_dir=Path(folder),
                        database_url=SecretStr(POSTGRES_URL),
                    )
                )
                async with admin.begin() as connection:
                    await connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                await admin.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--events", type=int, default=50_000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.backend, arguments.events))
