"""A webhook receiver fast enough not to be the benchmark's limit, and a load generator to
measure its own limit.

`serve`: a minimal HTTP/1.1 server on asyncio's protocols (keep-alive, `Content-Length` bodies,
no framework), answering every POST `204 No Content`. Several processes may listen on one port
(`SO_REUSEPORT`: the kernel spreads the connections). Each process writes a line
`<notification id> <time.perf_counter()>` on stdout for every body it receives (perf_counter is
the system's monotonic clock on Linux: comparable between processes on one machine), flushed
every few milliseconds.

`load`: `--count` POSTs of a webhook-sized body to a URL over `--connections` keep-alive
connections, each waiting for its answer before sending the next (as a webhook sender does),
on raw asyncio streams; prints posts a second.

    .venv/bin/python bench/fast_receiver.py serve --port 8081
    .venv/bin/python bench/fast_receiver.py load --port 8081 --count 5000 --connections 16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

_ANSWER = b"HTTP/1.1 204 No Content\r\nserver: bench\r\n\r\n"


def notification_id(body: bytes) -> str:
    """The notification's id in a webhook body (payload version 1 or 2)."""
    decoded = json.loads(body)
    notification: dict[str, str] = decoded.get("data", decoded)["notification"]
    return notification["id"]


class _Receiving(asyncio.Protocol):
    def __init__(self, out: list[str]) -> None:
        self._out = out
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self._buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self._buffer) < end + 4 + length:
                return
            body = self._buffer[end + 4 : end + 4 + length]
            self._buffer = self._buffer[end + 4 + length :]
            arrived = time.perf_counter()
            try:
                self._out.append(f"{notification_id(body)} {arrived}\n")
            except (ValueError, KeyError, TypeError, AttributeError):
                self._out.append(f"- {arrived}\n")
            assert self._transport is not None
            self._transport.write(_ANSWER)


def start() -> tuple[subprocess.Popen[bytes], int]:
    """One `serve` process on a free loopback port, ready: the process and its port. Its
    stdout (a line per body) is read and dropped by a thread, so it never blocks on a full
    pipe. The caller terminates it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    receiver = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
    )
    assert receiver.stdout is not None
    assert receiver.stdout.readline().strip() == b"ready"
    out = receiver.stdout
    threading.Thread(target=lambda: [None for _ in out], daemon=True).start()
    return receiver, port


async def serve(port: int) -> None:
    out: list[str] = []
    loop = asyncio.get_running_loop()
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listening.bind(("127.0.0.1", port))
    listening.listen(1024)
    server = await loop.create_server(lambda: _Receiving(out), sock=listening)
    print("ready", flush=True)
    async with server:
        while True:
            await asyncio.sleep(0.005)
            if out:
                sys.stdout.write("".join(out))
                sys.stdout.flush()
                out.clear()


def _body() -> bytes:
    return json.dumps(
        {"type": "bench", "data": {"notification": {"id": str(uuid.uuid4()), "pad": "x" * 1500}}}
    ).encode()


async def load(port: int, count: int, connections: int) -> float:
    """Posts a second to the receiver on `port`, `connections` at a time."""
    remaining = [count]

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while remaining[0] > 0:
                remaining[0] -= 1
                body = _body()
                writer.write(
                    b"POST /hook HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                    + f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await reader.readuntil(b"\r\n\r\n")
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("serve", "load"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if args.mode == "serve":
        asyncio.run(serve(args.port))
    else:
        print(asyncio.run(load(args.port, args.count, args.connections)))


if __name__ == "__main__":
    main()
