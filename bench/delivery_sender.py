"""The webhook sender alone: CPU per POST of `HttpWebhookSender` to one `bench/fast_receiver.py`
process, `--in-flight` at a time, after 100 to warm up. Prints figures; asserts nothing. Run it
with PYTHONPATH set to the tree to measure (before/after: interleave two trees).

    .venv/bin/python bench/delivery_sender.py [--count 3000] [--in-flight 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import fast_receiver  # bench/: the script's own directory is on sys.path

from hub.infra.webhooks import HttpWebhookSender


class PinnedResolver:
    async def resolve(self, host: str, port: int) -> list[str]:
        return ["127.0.0.1"]


async def run(count: int, in_flight: int) -> None:
    receiver, port = fast_receiver.start()  # started once, before anything is timed
    sender = HttpWebhookSender(
        timeout=30.0,
        resolver=PinnedResolver(),
        allow_private=True,
        require_https=False,
        max_connections=in_flight,
    )
    body = json.dumps({"notification": {"id": "x", "pad": "y" * 1500}}).encode()

    async def one(n: int) -> None:
        headers = {"webhook-id": f"d_{n}", "content-type": "application/json"}
        answer = await sender.send(f"http://hooks.test:{port}/hook", headers, body)
        assert answer.ok, answer

    try:
        for n in range(100):
            await one(n)
        numbers = iter(range(count))

        async def worker() -> None:
            for n in numbers:
                await one(n)

        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await sender.aclose()
        receiver.terminate()
    print(f"{cpu / count * 1e6:.0f} µs of CPU per send, {count / wall:.0f} sends/s (wall)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--in-flight", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(run(args.count, args.in_flight))


if __name__ == "__main__":
    main()
