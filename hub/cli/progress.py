"""A sign of life on long work (verify, export, ingest, rebuild, retention): `what… 12 s` on
stderr, redrawn every second, when stderr is a terminal; nothing at all when it is piped or
redirected, so that logs and scripts see only the result.

It counts time, not items: the services report no count while they work. It runs in a thread,
so that it keeps ticking while the event loop is busy with CPU-bound work (a Merkle tree).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

#: Erase the line the indicator drew (carriage return, then ANSI "erase to end of line").
_CLEAR = "\r\x1b[K"


@contextmanager
def working(what: str, stream: TextIO | None = None, interval: float = 1.0) -> Iterator[None]:
    """Show `what… N s` on `stream` (default stderr) while the body runs, if it is a terminal."""
    out = sys.stderr if stream is None else stream
    if not out.isatty():
        yield
        return
    done = threading.Event()
    started = time.monotonic()

    def draw() -> None:
        while True:
            out.write(f"{_CLEAR}{what}… {int(time.monotonic() - started)} s")
            out.flush()
            if done.wait(interval):
                return

    ticker = threading.Thread(target=draw, name="hub-progress", daemon=True)
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join()
        out.write(_CLEAR)
        out.flush()
