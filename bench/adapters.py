"""Adapter benchmark: records per second of each inbound parser, and its peak memory.

For each native format, a synthetic input of N records (default 100,000) is made from the shipped
samples (`adapters/<name>/samples/`, every record given a new native id and person number), then
parsed with the real schemas: PR2 movement extract (one file), PR2 JSON messages, ViSOR XML
messages, social work CSV export (one file) and social work JSON messages (N documents each).
Every record must come out parsed; the run fails loudly otherwise.

    .venv/bin/python bench/adapters.py [--records 100000] [--no-memory]

Each parser is timed twice: as the runners will call it (every envelope checked against the
hub's schemas, as intake does), and with a registry that checks nothing, to show the adapter's
own share. Peak memory is measured in a separate pass under `tracemalloc` over
`--memory-records` records (Python allocations while parsing, results kept, input excluded),
so it does not slow the timed passes. Prints figures; asserts nothing else.

Then the full ingest into PostgreSQL (`--ingest-records`, default the same N; `--no-ingest` to
skip): a fresh schema, migrated, and the hub's composition root (`bootstrap.running`), each input
written to disk and ingested as `hub adapter <name> ingest` does it (`hub.cli.adapter.ingest_file`:
read, parse, schema check, publish through the intake service in batches of 200 with the
subject index and the audit trail, every record accounted for). The PR2 extract and the social
work export are one file each; ViSOR messages are one file per message (as they arrive in a
drop folder), so each is its own transaction. The database is `BENCH_POSTGRES_URL` (default
the one `deploy/local/postgres.sh start` creates); the schema is dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import re
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from pydantic import SecretStr  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from hub import bootstrap  # noqa: E402
from hub.adapters import ADAPTERS, pr2, socialwork, visor  # noqa: E402
from hub.adapters.base import AdapterRecord  # noqa: E402
from hub.cli.adapter import ingest_file  # noqa: E402
from hub.domain.schemas import SchemaRegistry  # noqa: E402
from hub.infra import db  # noqa: E402
from hub.services.ingest import IngestService  # noqa: E402
from hub.settings import Settings  # noqa: E402

PG_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+asyncpg://hub:hub@127.0.0.1:5432/hub_test"
)

SAMPLES = ROOT / "adapters"
Parse = Callable[[], list[AdapterRecord]]


def _sample(adapter: str, name: str) -> bytes:
    return (SAMPLES / adapter / "samples" / name).read_bytes()


def pr2_extract(records: int) -> bytes:
    """An extract of `records` movements, cycling through the sample movements."""
    lines = _sample("pr2", "movements-2024-05-01.psv").decode().splitlines()
    header, body = lines[0], lines[1:-1]
    out = [header]
    for i in range(records):
        cells = body[i % len(body)].split("|")
        cells[2] = f"MV-B-{i:08d}"  # MOVEMENT_ID
        cells[5] = str(3000000 + i)  # SPS_NUMBER
        out.append("|".join(cells))
    out.append(f"TRL|{records}")
    return ("\n".join(out) + "\n").encode()


def _renumbered(documents: list[bytes], pattern: bytes, records: int) -> list[bytes]:
    """`records` copies of the documents, each with a new id in place of `pattern`'s group."""
    regex = re.compile(pattern)
    out = []
    for i in range(records):
        document = documents[i % len(documents)]
        out.append(regex.sub(rb"\g<1>" + f"B{i:08d}".encode(), document, count=1))
    return out


def pr2_messages(records: int) -> list[bytes]:
    names = ["movement-liberation.json", "movement-recall-admission.json"]
    documents = [_sample("pr2", name) for name in names]
    return _renumbered(documents, rb'("MOVEMENT_ID": "MV-)[0-9-]+', records)


def visor_messages(records: int) -> list[bytes]:
    names = [
        "nominal-registration.xml",
        "mappa-level-change.xml",
        "mappa-referral.xml",
        "risk-assessment.xml",
        "missing.xml",
        "located.xml",
        "recall-receipt.xml",
    ]
    documents = [_sample("visor", name) for name in names]
    return _renumbered(documents, rb"(<MessageId>VMSG-)[0-9-]+", records)


def socialwork_messages(records: int) -> list[bytes]:
    names = [
        "mappa-referral.json",
        "schedule1-notification.json",
        "risk-assessment.json",
        "home-background-report.json",
    ]
    documents = [_sample("socialwork", name) for name in names]
    return _renumbered(documents, rb'("recordId": "[A-Z]+-[A-Z0-9]+-)[0-9-]+', records)


def socialwork_export(records: int) -> bytes:
    messages = [socialwork.flatten_message(json.loads(d)) for d in socialwork_messages(records)]
    return socialwork.build_export(messages)


class _Unchecked(SchemaRegistry):
    """A registry that accepts every envelope: to time the adapter without the schema check."""

    def validate(self, raw: object) -> Any:
        return None


UNCHECKED: SchemaRegistry
MEMORY_RECORDS = 20_000


def _timed(parse: Parse, records: int, label: str) -> float:
    gc.collect()
    started = time.perf_counter()
    result = parse()
    elapsed = time.perf_counter() - started
    rejected = [r for r in result if r.outcome != "parsed"]
    if len(result) != records or rejected:
        raise SystemExit(f"{label}: {len(rejected)} of {len(result)} rejected: {rejected[:1]}")
    return elapsed


def run(
    label: str,
    unit: str,
    size: int,
    parse: Callable[[SchemaRegistry, int], list[AdapterRecord]],
    records: int,
    schemas: SchemaRegistry,
    memory: bool,
) -> None:
    checked = _timed(lambda: parse(schemas, records), records, label)
    unchecked = _timed(lambda: parse(UNCHECKED, records), records, label)
    peak = ""
    if memory:
        gc.collect()
        tracemalloc.start()
        kept = parse(schemas, MEMORY_RECORDS)
        peak = f"{tracemalloc.get_traced_memory()[1] / 2**20:.0f} MiB"
        tracemalloc.stop()
        del kept
    print(
        f"| {label} | {unit} | {size / 2**20:.1f} MiB | {records / checked:,.0f} "
        f"| {checked:.1f} s | {records / unchecked:,.0f} | {peak} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--memory-records", type=int, default=20_000)
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass")
    parser.add_argument(
        "--ingest-records", type=int, help="records per adapter for the ingest (default: N)"
    )
    parser.add_argument(
        "--ingest-visor-records",
        type=int,
        help="ViSOR messages (a file each) to ingest (default: --ingest-records; 0: skip)",
    )
    parser.add_argument("--no-ingest", action="store_true", help="skip the PostgreSQL ingest")
    parser.add_argument("--no-parsers", action="store_true", help="skip the parser figures")
    args = parser.parse_args()
    n, memory = args.records, not args.no_memory
    global MEMORY_RECORDS
    MEMORY_RECORDS = min(args.memory_records, n)
    schemas = SchemaRegistry.load(ROOT / "events")
    global UNCHECKED
    UNCHECKED = _Unchecked.load(ROOT / "events")
    print(f"{platform.machine()}, Python {platform.python_version()}, {n:,} records per format")
    if not args.no_parsers:
        parsers(n, schemas, memory)
    if not args.no_ingest:
        records = args.ingest_records or n
        visor_records = records if args.ingest_visor_records is None else args.ingest_visor_records
        asyncio.run(ingest_postgres(records, visor_records))


def parsers(n: int, schemas: SchemaRegistry, memory: bool) -> None:
    print("(peak memory: Python allocations while parsing, results kept; input excluded)\n")
    print("| parser | input | size | records/s | time | records/s without schema check "
          f"| peak memory ({MEMORY_RECORDS:,} records) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")

    extract = pr2_extract(n)
    run("pr2 extract", "one file", len(extract),
        lambda s, k: pr2.parse_extract(extract if k == n else pr2_extract(k), s),
        n, schemas, memory)  # fmt: skip

    messages = pr2_messages(n)
    run("pr2 JSON messages", f"{n:,} documents", sum(map(len, messages)),
        lambda s, k: [r for m in messages[:k] for r in pr2.parse_message(m, s)],
        n, schemas, memory)  # fmt: skip

    messages = visor_messages(n)
    run("visor XML messages", f"{n:,} documents", sum(map(len, messages)),
        lambda s, k: [r for m in messages[:k] for r in visor.parse(m, s)],
        n, schemas, memory)  # fmt: skip

    export = socialwork_export(n)
    run("socialwork CSV export", "one file", len(export),
        lambda s, k: socialwork.parse_export(export if k == n else socialwork_export(k), s),
        n, schemas, memory)  # fmt: skip

    messages = socialwork_messages(n)
    run("socialwork JSON messages", f"{n:,} documents", sum(map(len, messages)),
        lambda s, k: [r for m in messages[:k] for r in socialwork.parse_message(m, s)],
        n, schemas, memory)  # fmt: skip


# -- the full ingest into PostgreSQL -------------------------------------------------------------


def _write_inputs(
    folder: Path, records: int, visor_records: int
) -> list[tuple[str, str, list[Path]]]:
    """Each adapter's input on disk: (label, adapter, files)."""
    folder.mkdir(parents=True)
    extract = folder / "pr2-extract.psv"
    extract.write_bytes(pr2_extract(records))
    export = folder / "socialwork-export.csv"
    export.write_bytes(socialwork_export(records))
    inputs = [
        ("pr2 extract (one file)", "pr2", [extract]),
        ("socialwork CSV export (one file)", "socialwork", [export]),
    ]
    if visor_records:
        drop = folder / "visor"
        drop.mkdir()
        messages = []
        for i, message in enumerate(visor_messages(visor_records)):
            path = drop / f"visor-{i:08d}.xml"
            path.write_bytes(message)
            messages.append(path)
        inputs.append((f"visor XML messages ({visor_records:,} files)", "visor", messages))
    return inputs


async def _admin(statement: str) -> None:
    admin = create_async_engine(PG_URL)
    try:
        async with admin.begin() as connection:
            await connection.execute(sa.text(statement))
    finally:
        await admin.dispose()


async def ingest_postgres(records: int, visor_records: int) -> None:
    print(f"\nFull ingest into PostgreSQL ({records:,} records; ViSOR {visor_records:,})\n")
    print("| adapter input | records | accepted | time | records/s end to end |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="bench-adapters-") as temporary:
        folder = Path(temporary)
        inputs = _write_inputs(folder / "inputs", records, visor_records)
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        await _admin(f'CREATE SCHEMA "{schema}"')
        try:
            settings = Settings(
                environment="development",
                data_dir=folder / "data",
                database_url=SecretStr(PG_URL),
                database_schema=schema,
            )
            engine = db.create_engine(settings)
            try:
                await db.upgrade(engine, settings)
            finally:
                await engine.dispose()
            async with bootstrap.running(settings) as container:
                service = IngestService(
                    container.intake,
                    container.store,
                    container.schemas,
                    container.policy.directory,
                    batch_size=min(settings.max_batch_size, 200),
                )
                for label, name, files in inputs:
                    gc.collect()
                    started = time.perf_counter()
                    reports = [
                        await ingest_file(service, ADAPTERS[name], file, dry_run=False)
                        for file in files
                    ]
                    elapsed = time.perf_counter() - started
                    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
                    for done in reports:
                        if not done.report.complete:
                            raise SystemExit(f"{label}: {done.report.summary()}")
                        for outcome, count in done.report.counts().items():
                            counts[outcome] += count
                    total = sum(counts.values())
                    if total != (visor_records if name == "visor" else records):
                        raise SystemExit(f"{label}: {counts}")
                    if counts["rejected"]:
                        raise SystemExit(f"{label}: {counts}")
                    print(
                        f"| {label} | {total:,} | {counts['accepted']:,} | {elapsed:.1f} s "
                        f"| {total / elapsed:,.0f} |",
                        flush=True,
                    )
        finally:
            await _admin(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
