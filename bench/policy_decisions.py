"""Policy decisions: how fast a loaded bundle decides who receives a notification.

The bundle is loaded (and its Cedar policy set parsed) once; then each example notification is
evaluated over and over with a profile under which most rules apply. Prints decisions/s and µs
per decision (one candidate recipient decided), µs per evaluated notification, the Cedar share,
and the cost of `explain` and `redact`. Asserts nothing.

    .venv/bin/python bench/policy_decisions.py [--bundle PATH] [--seconds 2]

Default bundle: the policy engine's unit-test fixture (tests/unit/policy/fixtures/bundle).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.domain.notifications import Notification  # noqa: E402
from hub.domain.policy import PolicyBundle  # noqa: E402
from hub.domain.schemas import SchemaRegistry  # noqa: E402

PROFILE: dict[str, Any] = {
    "schedule1": True,
    "custody_status": "in-custody",
    "home_area": "S12000049",
    "release_area": "S12000049",
    "supervising_area": "S12000049",
    "mappa_level": 2,
    "mappa_area": "S12000049",
    "on_licence": True,
    "orosh": True,
    "sex_offender_registered": True,
}


def timed(function: Callable[[], Any], seconds: float) -> tuple[int, float]:
    """Call `function` repeatedly for about `seconds`; (calls, elapsed)."""
    calls, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(50):
            function()
        calls += 50
        now = time.perf_counter()
        if now >= deadline:
            return calls, now - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundle", type=Path, default=ROOT / "tests/unit/policy/fixtures/bundle")
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()

    schemas = SchemaRegistry.load(ROOT / "events")
    start = time.perf_counter()
    bundle = PolicyBundle.load(args.bundle, schemas)
    load_ms = (time.perf_counter() - start) * 1000
    print(f"{platform.machine()}, Python {platform.python_version()}")
    print(
        f"bundle {bundle.name} ({args.bundle}): {len(bundle.rules)} rules, "
        f"{len(bundle.directory.recipients)} recipients, loaded in {load_ms:.0f} ms"
    )

    examples: list[Notification] = []
    for path in sorted((ROOT / "events/examples").glob("*.json")):
        examples.append(schemas.validate(json.loads(path.read_text("utf-8"))))

    print(
        f"\n{'event type':34} {'cand.':>5} {'perm.':>5} {'µs/event':>9} {'µs/decision':>12} "
        f"{'decisions/s':>12} {'cedar µs':>9}"
    )
    total_decisions = total_time = 0.0
    for notification in examples:
        evaluation = bundle.evaluate(notification, PROFILE)
        candidates = len(evaluation.decisions)
        if not candidates:
            continue
        calls, elapsed = timed(partial(bundle.evaluate, notification, PROFILE), args.seconds)
        view = bundle.decision_view(notification, PROFILE)
        ids = [d.recipient_id for d in evaluation.decisions]
        decide = partial(bundle._cedar.decide, notification, view, ids)
        cedar_calls, cedar_elapsed = timed(decide, args.seconds / 2)
        per_event = elapsed / calls * 1e6
        per_decision = per_event / candidates
        total_decisions += calls * candidates
        total_time += elapsed
        print(
            f"{notification.type:34} {candidates:>5} {len(evaluation.permitted):>5} "
            f"{per_event:>9.1f} {per_decision:>12.1f} {1e6 / per_decision:>12.0f} "
            f"{cedar_elapsed / cedar_calls * 1e6:>9.1f}"
        )
    if total_time:
        print(
            f"\noverall: {total_decisions / total_time:.0f} decisions/s, "
            f"{total_time / total_decisions * 1e6:.1f} µs per decision"
        )

    release = max(examples, key=lambda n: len(bundle.evaluate(n, PROFILE).decisions))
    calls, elapsed = timed(lambda: bundle.explain(release, PROFILE), args.seconds / 2)
    print(f"explain ({release.type}): {elapsed / calls * 1e6:.0f} µs")
    fields = bundle.evaluate(release, PROFILE).permitted[0].fields
    calls, elapsed = timed(lambda: bundle.redact(release, fields), args.seconds / 2)
    print(f"redact ({len(fields)} fields): {elapsed / calls * 1e6:.1f} µs")


if __name__ == "__main__":
    main()
