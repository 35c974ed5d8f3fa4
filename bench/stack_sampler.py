"""A stack sampler for the benches: where a process's CPU goes, by part of the hub, without
cProfile's distortion (it inflates small calls several times over).

The main thread's stack is sampled on every `interval` of the process's CPU time (`ITIMER_PROF`;
the kernel's tick, 4 ms here, bounds the resolution: take a few thousand pushes). Each sample is
charged to the innermost frame whose file names one of `PARTS`; a stack with no frame of a push
(`pushing`) is a background worker's. Used by `bench/intake_profile.py --sample` (in process)
and `bench/intake.py --sample` (in `hub serve`, through `bench/sampled_serve.py`).
"""

from __future__ import annotations

import collections
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TextIO

ROOT = Path(__file__).resolve().parent.parent

#: The parts a sample is charged to: the innermost frame whose file matches one, in this order.
PARTS = (
    ("driver (asyncpg, aiosqlite)", ("/asyncpg/", "/aiosqlite/", "sqlite3/")),
    ("SQLAlchemy", ("/sqlalchemy/",)),
    ("audit", ("hub/domain/audit/", "hub/infra/audit", "hub/services/audit")),
    ("store", ("hub/infra/store", "hub/infra/visibility", "hub/infra/protection", "hub/infra/db")),
    (
        "validation",
        ("hub/domain/schemas", "hub/domain/notifications", "hub/domain/identity", "jsonschema"),
    ),
    ("intake", ("hub/services/intake", "hub/domain/policy", "hub/services/ingest")),
    ("auth", ("hub/api/security", "hub/auth/", "hub/services/client", "/jwt/", "ratelimit")),
    (
        "HTTP/ASGI",
        ("/fastapi/", "/starlette/", "hub/api/", "/pydantic", "/uvicorn/", "/h11/", "/anyio/"),
    ),
    ("bench client", ("/httpx/", "bench/")),
    ("event loop", ("/asyncio/",)),
)


#: A stack of only these frames is the event loop itself, between tasks (picking the next
#: callback, polling): no task's coroutine and no protocol's callback is on it.
_LOOP_ONLY = ("/asyncio/", "selectors.py", "runpy.py", "<frozen runpy>", "hub/cli/", "bench/")
_BETWEEN_TASKS = "event loop between tasks (any task's)"


class Sampler:
    """Samples the main (event loop) thread's stack on every `interval` of the process's CPU
    time (`ITIMER_PROF`, its signal handled in that thread at the next bytecode): each sample
    stands for the same CPU, and unlike a thread reading `sys._current_frames()`, it is not
    drawn to the calls that release the GIL (a socket's `send`). A sample that finds the loop
    waiting in `epoll` is CPU that another thread used (aiosqlite's, on SQLite)."""

    def __init__(self, interval: float, pushing: Sequence[str]) -> None:
        """`pushing`: what names a push's stack (a frame's file ends with one of them, or
        contains it); a sample whose stack has none is a background worker's."""
        self._interval = interval
        self._pushing = tuple(pushing)
        self.parts: collections.Counter[str] = collections.Counter()
        self.leaves: collections.Counter[str] = collections.Counter()
        self.elsewhere = 0
        #: Per part, the package (directory) of the innermost frame that named it.
        self.libraries: collections.defaultdict[str, collections.Counter[str]] = (
            collections.defaultdict(collections.Counter)
        )
        #: Per part, the innermost frame that named it.
        self.places: collections.defaultdict[str, collections.Counter[str]] = (
            collections.defaultdict(collections.Counter)
        )

    def start(self) -> None:
        signal.signal(signal.SIGPROF, self._sample)
        signal.setitimer(signal.ITIMER_PROF, self._interval, self._interval)

    def stop(self) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, signal.SIG_DFL)

    def _sample(self, _signal: int, frame: FrameType | None) -> None:
        if frame is None:
            return
        code = frame.f_code
        if code.co_name == "select" and code.co_filename.endswith("selectors.py"):
            self.elsewhere += 1
            return
        leaf = f"{_short(code.co_filename)}:{code.co_name}"
        part, pushing, tasked, where = "other", False, False, leaf
        while frame is not None:
            filename = frame.f_code.co_filename
            pushing = pushing or any(marker in filename for marker in self._pushing)
            tasked = tasked or not any(marker in filename for marker in _LOOP_ONLY)
            if part == "other":
                part = next((n for n, ps in PARTS if any(p in filename for p in ps)), "other")
                if part != "other":
                    where = f"{_short(filename)}:{frame.f_code.co_name}"
            frame = frame.f_back
        if not pushing:
            part = "background workers (their own tasks)" if tasked else _BETWEEN_TASKS
        self.leaves[leaf] += 1
        self.parts[part] += 1
        self.places[part][where] += 1
        self.libraries[part][where.split(":")[0].rsplit("/", 1)[0]] += 1

    def report(self, out: TextIO = sys.stdout) -> None:
        busy = sum(self.parts.values())
        if not busy:
            print("sampled: no samples", file=out)
            return
        print(
            f"sampled every {self._interval * 1000:g} ms of CPU: {busy} samples in the loop's "
            f"thread, {self.elsewhere} with it waiting in epoll (another thread's CPU)",
            file=out,
        )
        outside = ("bench client", "background workers (their own tasks)", _BETWEEN_TASKS)
        served = busy - sum(self.parts[part] for part in outside)
        for part, count in self.parts.most_common():
            share = f"{count / served:6.1%} of a push's" if part not in outside else " " * 17
            print(f"  {count / busy:6.1%} {share}  {part}", file=out)
            if len(self.libraries[part]) > 1:
                shares = self.libraries[part].most_common(8)
                print(
                    f"  {'':>25}by package: "
                    + ", ".join(f"{name} {times / busy:.1%}" for name, times in shares),
                    file=out,
                )
            for place, times in self.places[part].most_common(6):
                print(f"  {'':>25}{times / busy:6.1%}  {place}", file=out)
        print("top leaf functions (own time, share of the loop thread's samples):", file=out)
        for leaf, count in self.leaves.most_common(25):
            print(f"  {count / busy:6.1%}  {leaf}", file=out)


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/python3.11/", f"{ROOT}/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename
