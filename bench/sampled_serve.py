"""`hub serve` with the stack sampler (`bench/stack_sampler.py`) in its process, for
`bench/intake.py --sample`: SIGUSR1 starts a sample, SIGUSR2 ends it and appends its report to
the file `BENCH_SAMPLE_FILE` names. Sampled every `BENCH_SAMPLE_MS` ms of CPU.

    python bench/sampled_serve.py serve --port 18000
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stack_sampler import Sampler

from hub.cli import main

#: A request's stack holds uvicorn's protocol (the ASGI app runs in its task); a group of
#: single pushes is appended in a task of its own.
PUSHING = ("/uvicorn/", "intake_group.py")


def install() -> None:
    interval = float(os.environ.get("BENCH_SAMPLE_MS", "1")) / 1000
    report = Path(os.environ["BENCH_SAMPLE_FILE"])
    running: list[Sampler] = []

    def begin(_signal: int, _frame: FrameType | None) -> None:
        sampler = Sampler(interval, PUSHING)
        running.append(sampler)
        sampler.start()

    def end(_signal: int, _frame: FrameType | None) -> None:
        if running:
            sampler = running.pop()
            sampler.stop()
            with report.open("a") as out:
                sampler.report(out)

    signal.signal(signal.SIGUSR1, begin)
    signal.signal(signal.SIGUSR2, end)


if __name__ == "__main__":
    install()
    sys.argv[0] = "hub"
    sys.exit(main())
