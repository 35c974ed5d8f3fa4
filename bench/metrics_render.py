"""`/metrics` of a seeded hub: the server's CPU per scrape, and what the page holds (issue 19).

Runs `hub serve` (router and delivery off) on a PostgreSQL schema already seeded, e.g. one kept
by `bench/growth.py --keep`, from each source tree given (`--trees`, alternately, `--rounds`
times: the old tree and the new one interleaved on the same busy machine). In each round, once
the server's CPU is still:

- idle: 20 scrapes with nothing changing between them (what a Prometheus scraping an idle hub
  costs);
- busy: 20 scrapes, before each of which `--touch` counter rows (`metric_counters`) gain a count,
  as the router's decisions would add (what a scrape costs while the hub works: the changed
  series cannot come from a cache); then 20 before each of which every row gains one (the
  worst case: every series changed). The bench's schema is changed: use a kept copy.

It prints, per tree and round, the server's CPU ms per scrape (idle, busy, all changed), the
last page's bytes and lines, and for the first round the lines per metric family of the last page
(the largest first); then the medians per tree, with the first page's bytes and lines (before
the bench changed any row: the touches make the overdue gauge count in every series). Prints
figures; asserts nothing.

    BENCH_POSTGRES_DSN=postgresql://hub_owner:hub_owner@127.0.0.1:5432/hub_test \\
        .venv/bin/python bench/metrics_render.py --schema bench_xxxxxxxx \\
        --trees /tmp/old,/work/wt/new [--rounds 3] [--touch 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from intake import Server  # noqa: E402
from policy import hub_env, sql  # noqa: E402

SCRAPES = 20
#: `--touch` for "every counter row changed".
ALL = 0
FAMILY = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*?)(_bucket|_sum|_count|_total|_created)?[{ ]")

TOUCH_SQL = """
    UPDATE metric_counters SET count = count + 1, seconds = seconds + 1.0
    WHERE (recipient_id, event_type, series, le) IN (
        SELECT recipient_id, event_type, series, le FROM metric_counters
        WHERE le <> '' ORDER BY random() LIMIT $1)
"""

TOUCH_ALL_SQL = "UPDATE metric_counters SET count = count + 1, seconds = seconds + 1.0"


async def until_idle(server: Server, quiet: float = 0.02, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        before = server.cpu_seconds()
        await asyncio.sleep(0.5)
        if server.cpu_seconds() - before < quiet or time.monotonic() > deadline:
            return


async def one_round(tree: Path, schema: str, port: int, touch: int) -> dict[str, object]:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    # The audit workers off: the seeding's checkpoint key went with its data directory.
    env = hub_env(
        data_dir,
        schema,
        HUB_ROUTER_ENABLED="false",
        HUB_DELIVERY_ENABLED="false",
        HUB_AUDIT_ENABLED="false",
    )
    env["PYTHONPATH"] = str(tree)
    server = Server(env, port)
    # `python -m` puts the working directory first on the path: start it in the tree.
    here = Path.cwd()
    os.chdir(tree)
    try:
        await asyncio.to_thread(server.start)
    finally:
        os.chdir(here)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
            page = (await http.get("/metrics")).text
            first_bytes, first_lines = len(page.encode()), len(page.splitlines())
            await until_idle(server)
            cpu = server.cpu_seconds()
            for _ in range(SCRAPES):
                page = (await http.get("/metrics")).text
            idle = (server.cpu_seconds() - cpu) / SCRAPES * 1000
            busy_ms = []
            for changed in (touch, ALL):
                used = 0.0
                for _ in range(SCRAPES):
                    if changed == ALL:
                        await sql(TOUCH_ALL_SQL, schema=schema)
                    else:
                        await sql(TOUCH_SQL, changed, schema=schema)
                    cpu = server.cpu_seconds()
                    page = (await http.get("/metrics")).text
                    used += server.cpu_seconds() - cpu
                busy_ms.append(used / SCRAPES * 1000)
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(data_dir, ignore_errors=True)
    lines = [line for line in page.splitlines() if line and not line.startswith("#")]
    families: Counter[str] = Counter()
    for line in lines:
        match = FAMILY.match(line)
        families[match.group(1) if match else line] += 1
    return {
        "idle_ms": idle,
        "busy_ms": busy_ms[0],
        "all_ms": busy_ms[1],
        "bytes": len(page.encode()),
        "lines": len(page.splitlines()),
        "first_bytes": first_bytes,
        "first_lines": first_lines,
        "samples": len(lines),
        "families": families,
    }


async def main(args: argparse.Namespace, trees: list[Path]) -> None:
    print(f"# load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    results: dict[Path, list[dict[str, object]]] = {t: [] for t in trees}
    port = 18900 + os.getpid() % 90
    for number in range(args.rounds):
        for tree in trees:
            result = await one_round(tree, args.schema, port, args.touch)
            results[tree].append(result)
            print(
                f"round {number + 1} {tree}: idle {result['idle_ms']:.1f} ms, busy "
                f"{result['busy_ms']:.1f} ms, all changed {result['all_ms']:.1f} ms "
                f"CPU/scrape; {result['bytes']:,} bytes, "
                f"{result['lines']:,} lines ({result['samples']:,} samples)",
                flush=True,
            )
            if number == 0:
                families = result["families"]
                assert isinstance(families, Counter)
                for name, n in families.most_common(12):
                    print(f"    {n:>7,}  {name}")
    print(f"# load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        f"\n| tree | idle: CPU ms/scrape | {args.touch} rows changed | every row changed "
        "| bytes (first scrape) | lines (first scrape) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for tree, rows in results.items():
        figures = [
            statistics.median(float(str(r[name])) for r in rows)
            for name in ("idle_ms", "busy_ms", "all_ms")
        ]
        cells = " | ".join(f"{x:.1f}" for x in figures)
        print(f"| {tree} | {cells} | {rows[0]['first_bytes']:,} | {rows[0]['first_lines']:,} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schema", required=True, help="a seeded PostgreSQL schema")
    parser.add_argument("--trees", required=True, help="source trees, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--touch", type=int, default=20, help="counter rows changed per scrape")
    arguments = parser.parse_args()
    asyncio.run(main(arguments, [Path(t).resolve() for t in arguments.trees.split(",")]))
