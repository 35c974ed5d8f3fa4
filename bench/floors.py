"""The floors of essential work: the CPU each piece of work the hub must do costs per unit (per
notification, decision, webhook, audit entry, request), measured alone in one process with the
hub's own functions on real inputs, and summed per path into the Python floor of that path,
beside the budget per unit that issue 19's goals leave on this 2-core machine.

Inputs: `bench/policy.py`'s realistic mix (the notifications of `events/examples`, varied over
many people, each pushed by the agency that owns its source), the Scotland bundle
(`policies/scotland`) and the event schemas (`events/`). No database: what the database does
per unit is in the other benches.

Pieces (each: one warm-up pass, then `--repeats` passes; the median of the passes' process CPU
per unit, `time.process_time`, and of their wall clock, `time.perf_counter`):

- HTTP: one POST of a notification through uvicorn (the hub's own h11 protocol, and httptools)
  to a no-op FastAPI route, in a server process of its own: the server's CPU per request
  (psutil), the clients in this process; the same route called in process through ASGI alone;
  the access token checked (`TokenService.verify`, first sight and remembered).
- Intake: the body parsed (`safe_json.loads`, one notification and a batch of 100), validated
  (`SchemaRegistry.validate`), its source and fields checked against the publisher
  (`source_belongs_to`, `unbound_fields`), its identity keys (`key`, `second_values`), its
  content hash (`Notification.content_hash`: canonical JSON + SHA-256), its events row
  (`hub.infra.store.event_rows`), its collection entry (`CollectionEntries`, one per append
  and one per batch of 100) and combination entry.
- Router: the profile fold (`apply`, `as_context`), Cedar alone for one event's candidates
  (`cedarpy.is_authorized_batch`, and `is_authorized` once per candidate), the policy engine for
  one notification (`PolicyBundle.evaluate` with its decision cache off and warm), the router's
  `decide()` over the mix (in memory: fold, engine with a fresh cache, records that follow the
  person, disclosure and denial records), the decision rows and their audit entries, the
  profile rows.
- Delivery: the view redacted (`PolicyBundle.redact`), the body (`to_cloudevent`,
  `render_json`), signed (`WebhookSigner.headers`: v1 HMAC-SHA256 and v1a Ed25519), POSTed
  (`HttpWebhookSender` to `bench/fast_receiver.py` in a process of its own: this process's
  CPU), and its delivery entry.
- Audit: every entry encoded as the append writes it (`canonical_bytes`, `index_facts`) and
  sequenced (leaf hash, `Frontier.append`); verification of each (leaf hash, Merkle frontier,
  the decode of the kind and time columns, the evidence of its row: `logged_facts`,
  `compare_row`).
- Import: the line parsed (`json.loads`, as `hub import` does), then as intake.

Then per path (intake single, intake batch, router, delivery, import, verify) the units of each
piece one unit of the path needs (counted on the mix: decisions per event, combinations per
event, …) and the sum: the Python floor of the path's essential work with the hub's functions.

    PYTHONPATH=. .venv/bin/python bench/floors.py [--events 500] [--repeats 5]
        [--requests 2000] [--sends 2000] [--json FILE]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cedarpy
import psutil
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Request, Response

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import fast_receiver  # noqa: E402
import policy as bench_policy  # noqa: E402

from hub.auth.keys import generate_pem, signing_key_from_pem  # noqa: E402
from hub.auth.tokens import TokenService  # noqa: E402
from hub.domain import safe_json  # noqa: E402
from hub.domain.audit import builders  # noqa: E402
from hub.domain.audit.collected import CollectionEntries  # noqa: E402
from hub.domain.audit.entries import AuditEntry, format_timestamp  # noqa: E402
from hub.domain.audit.evidence import (  # noqa: E402
    RowEvidence,
    compare_row,
    index_facts,
    logged_facts,
)
from hub.domain.audit.json_text import decode  # noqa: E402
from hub.domain.audit.merkle import Frontier, leaf_hash  # noqa: E402
from hub.domain.cloudevents import to_cloudevent  # noqa: E402
from hub.domain.identity import second_values, with_supplied  # noqa: E402
from hub.domain.notifications import (  # noqa: E402
    Notification,
    PersonIdentifier,
    Publisher,
    StoredEvent,
)
from hub.domain.person import PersonProfile, apply  # noqa: E402
from hub.domain.policy import PolicyBundle  # noqa: E402
from hub.domain.policy.cedar import ACTION_TYPE, PRINCIPAL_TYPE, RESOURCE_TYPE  # noqa: E402
from hub.domain.policy.engine import read_bundle_files  # noqa: E402
from hub.domain.policy.publishers import unbound_fields  # noqa: E402
from hub.domain.schemas import SchemaRegistry, _fast_valid  # noqa: E402
from hub.infra import routing as routing_store  # noqa: E402
from hub.infra import store as event_store  # noqa: E402
from hub.infra.webhooks import HttpWebhookSender  # noqa: E402
from hub.services.delivery import DeliveryJob  # noqa: E402
from hub.services.intake import source_belongs_to  # noqa: E402
from hub.services.routing import decide  # noqa: E402
from hub.services.webhook_payload import render_json  # noqa: E402
from hub.services.webhook_signing import WebhookSigner, WebhookSigningKey  # noqa: E402

HERE = Path(__file__).resolve().parent
BUNDLE_DIR = ROOT / "policies/scotland"
#: Notifications in one batch push and one routing batch (the router's default).
BATCH = 100
#: Webhooks and requests in flight at once (as the delivery bench and the intake bench's clients).
IN_FLIGHT = 16
CLIENTS = 8
PATHS = ("intake single", "intake batch", "router", "delivery", "import", "verify")

#: Each path's goal (issue 19) as a rate on this 2-core machine, and the budget of CPU per unit
#: it leaves: all of it on one core, or both cores' worth (the database included either way).
#: The rates a ratio goal names are the raw figures measured on the quiet machine
#: (bench/RESULTS.md): batches 0.5 x 34,744 rows/s (asyncpg executemany), import 0.3 x 36,273
#: rows/s (COPY); intake single is the goal's own "<= 1 ms of server CPU a push".
GOALS: dict[str, tuple[str, float | None, float]] = {
    # path: (goal, rate per second or None, budget µs when no rate)
    "intake single": ("<= 1 ms server CPU a push", None, 1000.0),
    "intake batch": (">= 0.5 x raw batch insert = 17,372 /s", 17_372.0, 0.0),
    "router": (">= 2,000 events/s", 2_000.0, 0.0),
    "delivery": ("drain >= 1,000 webhooks/s", 1_000.0, 0.0),
    "import": (">= 0.3 x raw COPY = 10,882 rows/s", 10_882.0, 0.0),
    "verify": ("10^6 entries < 15 s = 66,667 /s", 66_667.0, 0.0),
}
#: What each path costs now, from bench/RESULTS.md (quiet machine, 14:50-15:01 UTC,
#: session 14's merged tree; PostgreSQL): µs of CPU per unit.
CURRENT: dict[str, str] = {
    "intake single": "1,340-1,570 server CPU/push",
    "intake batch": "380 server CPU/event",
    "router": "1,347-1,518 router CPU/event",
    "delivery": "1,530-2,190 worker CPU/webhook",
    "import": "420 CPU/row",
    "verify": "16.2 (verifier) / 40.5 (CLI) CPU/entry",
}


# -- measuring -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """One pass: how many units, the CPU they took and the wall clock."""

    units: int
    cpu: float
    wall: float


@dataclass(slots=True)
class Piece:
    key: str
    label: str
    unit: str
    #: One pass; its sample. Called once to warm up, then once per repeat.
    run: Callable[[], Sample]
    note: str = ""
    cpu_us: list[float] = field(default_factory=list)
    wall_us: list[float] = field(default_factory=list)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpu_us) if self.cpu_us else float("nan")

    @property
    def wall(self) -> float:
        return statistics.median(self.wall_us) if self.wall_us else float("nan")


def timed(action: Callable[[], int]) -> Callable[[], Sample]:
    """A pass of `action` (which returns how many units it did), timed in this process."""

    def run() -> Sample:
        cpu, wall = time.process_time(), time.perf_counter()
        units = action()
        return Sample(units, time.process_time() - cpu, time.perf_counter() - wall)

    return run


def measure(piece: Piece, repeats: int) -> None:
    piece.run()  # warm-up
    for _ in range(repeats):
        sample = piece.run()
        piece.cpu_us.append(sample.cpu / sample.units * 1e6)
        piece.wall_us.append(sample.wall / sample.units * 1e6)


# -- the inputs ------------------------------------------------------------------------------


@dataclass
class Inputs:
    """The mix, validated, filed under people, folded and decided once, as the hub would."""

    schemas: SchemaRegistry
    bundle: PolicyBundle
    bundle_files: Mapping[str, bytes]
    raw: list[dict[str, Any]]
    bodies: list[str]
    lines: list[str]
    notifications: list[Notification]
    publishers: list[Publisher]
    person_ids: list[str]
    #: Identifiers each person held before each event (what the append reads), per event.
    held_before: list[set[PersonIdentifier]]
    #: Whether each event linked an identifier (a combination entry), and brought a new person.
    linked: list[list[PersonIdentifier]]
    new_person: list[bool]
    stored: list[StoredEvent]
    contexts: list[dict[str, Any]]
    profiles_before: list[PersonProfile | None]
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


def prepare(events: int) -> Inputs:
    schemas = SchemaRegistry.load(ROOT / "events")
    files = read_bundle_files(BUNDLE_DIR)
    bundle = PolicyBundle.from_files(files, schemas, origin=str(BUNDLE_DIR))
    raw = bench_policy.realistic_mix(events)
    bodies = [json.dumps(r, ensure_ascii=False) for r in raw]
    notifications = [schemas.validate(json.loads(b)) for b in bodies]
    people = bench_policy.People()
    publishers, person_ids = [], []
    held: dict[str, set[PersonIdentifier]] = {}
    held_before, linked, new_person = [], [], []
    versions: dict[str, int] = {}
    stored: list[StoredEvent] = []
    profiles: dict[str, PersonProfile] = {}
    contexts, profiles_before = [], []
    now = datetime.now(UTC)
    for position, n in enumerate(notifications, start=1):
        agency = bench_policy.owner_of(n.source, bundle.directory)
        publisher = Publisher(f"{agency}-system", agency)
        person = people.of({i.scheme: i.value for i in n.identifiers})
        before = held.setdefault(person, set())
        held_before.append(set(before))
        new_person.append(not before)
        linked.append([i for i in n.identifiers if i not in before])
        before.update(n.identifiers)
        versions[person] = versions.get(person, 0) + 1
        publishers.append(publisher)
        person_ids.append(person)
        stored.append(StoredEvent(position, person, versions[person], n, now, publisher))
        profiles_before.append(profiles.get(person))
        profiles[person] = apply(profiles.get(person), n, position, person, bundle.statuses)
        contexts.append(profiles[person].as_context(as_of=n.time))
    return Inputs(
        schemas=schemas,
        bundle=bundle,
        bundle_files=files,
        raw=raw,
        bodies=bodies,
        lines=[json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in raw],
        notifications=notifications,
        publishers=publishers,
        person_ids=person_ids,
        held_before=held_before,
        linked=linked,
        new_person=new_person,
        stored=stored,
        contexts=contexts,
        profiles_before=profiles_before,
        now=now,
    )


class MemoryStreams:
    """The two reads `decide()` makes of the event store (the streams of people received into
    an establishment), answered from the mix in memory."""

    def __init__(self, stored: Sequence[StoredEvent]) -> None:
        self._streams: dict[str, list[StoredEvent]] = {}
        for event in stored:
            self._streams.setdefault(event.person_id, []).append(event)

    async def read_streams(self, person_ids: Any) -> dict[str, list[StoredEvent]]:
        return {p: self._streams[p] for p in person_ids if p in self._streams}

    async def read_stream(self, person_id: str, after_version: int = 0) -> list[StoredEvent]:
        return [e for e in self._streams.get(person_id, []) if e.stream_version > after_version]


class CountingPolicy:
    """The bundle, counting `evaluate` calls (what the router asks of the engine)."""

    def __init__(self, bundle: PolicyBundle) -> None:
        self.bundle = bundle
        self.calls = 0
        self.statuses = bundle.statuses

    def evaluate(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.bundle.evaluate(*args, **kwargs)


# -- the pieces ------------------------------------------------------------------------------


def intake_pieces(inp: Inputs, counts: dict[str, float]) -> list[Piece]:
    schemas, directory = inp.schemas, inp.bundle.directory
    raws = [json.loads(b) for b in inp.bodies]
    batch_bodies = [
        json.dumps(inp.raw[i : i + BATCH], ensure_ascii=False)
        for i in range(0, len(inp.raw), BATCH)
    ]
    hashes = [n.content_hash() for n in inp.notifications]

    def parse_single() -> int:
        for body in inp.bodies:
            safe_json.loads(body, what="the body")
        return len(inp.bodies)

    def parse_batch() -> int:
        items = 0
        for body in batch_bodies:
            parsed = safe_json.loads(body, what="the body")
            assert isinstance(parsed, list)
            items += len(parsed)
        return items

    def parse_line() -> int:
        for line in inp.lines:
            json.loads(line)
        return len(inp.lines)

    def validate() -> int:
        for raw in raws:
            schemas.validate(raw)
        return len(raws)

    fast = [
        (schemas._fast_envelope, schemas._fast_bodies[(n.type, n.version)], raw)
        for n, raw in zip(inp.notifications, raws, strict=True)
    ]

    def validate_fast() -> int:
        for envelope, body, raw in fast:
            assert _fast_valid(envelope, raw)
            assert _fast_valid(body, raw["data"])
        return len(fast)

    def publisher_check() -> int:
        for n, publisher in zip(inp.notifications, inp.publishers, strict=True):
            assert source_belongs_to(n.source, publisher.agency, directory)
            assert not unbound_fields(n.type, n.data, publisher.agency, directory)
        return len(inp.notifications)

    def identity() -> int:
        for n, held in zip(inp.notifications, inp.held_before, strict=True):
            _ = n.key
            second_values(n.identifiers, held)
        return len(inp.notifications)

    def content_hash() -> int:
        for n in inp.notifications:
            n.content_hash()
        return len(inp.notifications)

    def planned(index: int) -> Any:
        # `hub.infra.store._Planned` is private: built here as the append builds it.
        return event_store._Planned(inp.notifications[index], hashes[index], inp.person_ids[index])

    plans = [planned(i) for i in range(len(inp.notifications))]

    def event_row() -> int:
        versions: dict[str, int] = {}
        for index, (plan, publisher) in enumerate(zip(plans, inp.publishers, strict=True)):
            [row] = event_store.event_rows([plan], [None], versions, publisher, inp.now)
            row["position"] = index + 1
            plan.row = row
        return len(plans)

    event_row()  # the rows the collection entries bind

    def collection(per: int) -> Callable[[], int]:
        def run() -> int:
            entries = CollectionEntries()
            for index, plan in enumerate(plans):
                if index % per == 0:
                    entries = CollectionEntries()
                entries.collection(
                    plan.notification,
                    person_id=plan.person_id,
                    position=index + 1,
                    publisher=inp.publishers[index],
                    at=inp.now,
                    stored=plan.row,
                )
            return len(plans)

        return run

    linking = [i for i, linked in enumerate(inp.linked) if linked]

    def combination() -> int:
        for index in linking:
            builders.combination(
                inp.notifications[index],
                person_id=inp.person_ids[index],
                linked=inp.linked[index],
                new_person=inp.new_person[index],
                publisher=inp.publishers[index],
                at=inp.now,
            )
        return len(linking)

    counts["combinations/event"] = len(linking) / len(inp.notifications)
    return [
        Piece(
            "parse", "JSON parse of a body (safe_json.loads)", "notification", timed(parse_single)
        ),
        Piece(
            "parse_batch",
            "JSON parse of a batch of 100 (safe_json.loads)",
            "item",
            timed(parse_batch),
        ),
        Piece("parse_line", "JSON parse of an import line (json.loads)", "line", timed(parse_line)),
        Piece(
            "validate",
            "schema validation + Notification (SchemaRegistry.validate)",
            "notification",
            timed(validate),
        ),
        Piece(
            "validate_fast",
            "  of which the compiled validators (jsonschema_rs)",
            "notification",
            timed(validate_fast),
            note="SchemaRegistry's private _fast_envelope, _fast_bodies, _fast_valid",
        ),
        Piece(
            "publisher",
            "source and fields against the publisher",
            "notification",
            timed(publisher_check),
        ),
        Piece("identity", "identity keys (key, second_values)", "notification", timed(identity)),
        Piece(
            "content_hash",
            "content hash (canonical JSON + SHA-256)",
            "notification",
            timed(content_hash),
        ),
        Piece(
            "event_row",
            "events row (store.event_rows)",
            "notification",
            timed(event_row),
            note="built with the store's private _Planned",
        ),
        Piece(
            "collection_single",
            "collection entry, one per append",
            "entry",
            timed(collection(1)),
        ),
        Piece(
            "collection_batch",
            "collection entry, one batch of 100",
            "entry",
            timed(collection(BATCH)),
        ),
        Piece("combination", "combination entry", "entry", timed(combination)),
    ]


def router_pieces(inp: Inputs, counts: dict[str, float]) -> tuple[list[Piece], list[Any]]:
    bundle = inp.bundle
    # Cedar's policy sets and entities, as `CedarPolicies.decide` uses them (private attributes
    # of the engine: read, not changed).
    cedar = bundle._cedar
    entities = cedar._entities
    requests: list[tuple[Any, list[dict[str, Any]]]] = []
    for n, context in zip(inp.notifications, inp.contexts, strict=True):
        evaluation, _ = bundle._evaluate(n, context, None)
        candidates = [d.recipient_id for d in evaluation.decisions]
        if n.type not in cedar._sets or not candidates:
            continue
        view = bundle.decision_view(n, context)
        text = json.dumps(view)
        requests.append(
            (
                cedar._sets[n.type][0],
                [
                    {
                        "principal": {"type": PRINCIPAL_TYPE, "id": r},
                        "action": {"type": ACTION_TYPE, "id": n.type},
                        "resource": {"type": RESOURCE_TYPE, "id": n.id},
                        "context": text,
                    }
                    for r in candidates
                ],
            )
        )
    candidates_total = sum(len(r) for _, r in requests)

    def cedar_batch() -> int:
        for policy_set, batch in requests:
            for result in cedarpy.is_authorized_batch(batch, policy_set, entities):
                assert not result.diagnostics.errors
        return len(inp.notifications)

    def cedar_single() -> int:
        for policy_set, batch in requests:
            for request in batch:
                assert not cedarpy.is_authorized(request, policy_set, entities).diagnostics.errors
        return candidates_total

    def fold() -> int:
        for index, event in enumerate(inp.stored):
            profile = apply(
                inp.profiles_before[index],
                event.notification,
                event.position,
                event.person_id,
                bundle.statuses,
            )
            profile.as_context(as_of=event.notification.time)
        return len(inp.stored)

    def engine_cold() -> int:
        for n, context in zip(inp.notifications, inp.contexts, strict=True):
            bundle._evaluate(n, context, None)
        return len(inp.notifications)

    for n, context in zip(inp.notifications, inp.contexts, strict=True):
        bundle.evaluate(n, context)  # every view remembered

    def engine_warm() -> int:
        for n, context in zip(inp.notifications, inp.contexts, strict=True):
            bundle.evaluate(n, context)
        return len(inp.notifications)

    streams = MemoryStreams(inp.stored)
    batches = [inp.stored[i : i + BATCH] for i in range(0, len(inp.stored), BATCH)]
    decided_batches: list[Any] = []

    def router_decide() -> Sample:
        # A fresh bundle (and so an empty decision cache) per pass: the mix's own repeats hit.
        policy = CountingPolicy(
            PolicyBundle.from_files(inp.bundle_files, inp.schemas, origin=str(BUNDLE_DIR))
        )
        profiles: dict[str, PersonProfile] = {}
        decided_batches.clear()
        cpu, wall = time.process_time(), time.perf_counter()
        for batch in batches:
            decided_batches.append(
                asyncio.run(decide(policy, streams, batch, profiles, inp.now))  # type: ignore[arg-type]
            )
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        counts["evaluate calls/event"] = policy.calls / len(inp.stored)
        return Sample(len(inp.stored), cpu, wall)

    router_decide()
    disclosures = sum(len(d.disclosures) for d in decided_batches)
    denials = sum(len(d.denials) for d in decided_batches)
    proposals = sum(len(d.proposals) for d in decided_batches)
    counts["candidates/event (Cedar requests)"] = candidates_total / len(inp.notifications)
    counts["disclosures/event"] = disclosures / len(inp.stored)
    counts["denials/event"] = denials / len(inp.stored)
    counts["proposals/event"] = proposals / len(inp.stored)
    counts["decisions/event"] = (disclosures + denials) / len(inp.stored)
    counts["people/routing batch event"] = sum(
        len({e.person_id for e in b}) for b in batches
    ) / len(inp.stored)

    def decision_entries() -> int:
        done = 0
        for decided in decided_batches:
            # The routing store's private row builders and entry list (measured as they are).
            disclosure_rows = [routing_store._disclosure_row(d) for d in decided.disclosures]
            denial_rows = [routing_store._denial_row(d) for d in decided.denials]
            routing_store._audit_entries(
                decided.disclosures, disclosure_rows, decided.denials, denial_rows
            )
            done += len(disclosure_rows) + len(denial_rows)
        return done

    final_profiles: list[PersonProfile] = []
    seen: dict[str, PersonProfile] = {}
    for event in inp.stored:
        seen[event.person_id] = apply(
            seen.get(event.person_id),
            event.notification,
            event.position,
            event.person_id,
            bundle.statuses,
        )
    final_profiles = list(seen.values())

    def profile_rows() -> int:
        for profile in final_profiles:
            routing_store._profile_row(profile, inp.now)
        return len(final_profiles)

    first_batches = list(decided_batches)
    return [
        Piece("fold", "profile fold (apply + as_context)", "event", timed(fold)),
        Piece(
            "cedar_batch",
            "Cedar, one event's candidates (is_authorized_batch)",
            "event",
            timed(cedar_batch),
            note="the engine's private policy sets and entities",
        ),
        Piece(
            "cedar_single",
            "Cedar, one request (is_authorized)",
            "decision",
            timed(cedar_single),
        ),
        Piece(
            "engine_cold",
            "policy engine, one notification, cache off",
            "evaluation",
            timed(engine_cold),
            note="PolicyBundle._evaluate (private): evaluate without its cache",
        ),
        Piece(
            "engine_warm",
            "policy engine, one notification, cache warm",
            "evaluation",
            timed(engine_warm),
        ),
        Piece(
            "decide",
            "router decide() in memory (fold, engine, records)",
            "event",
            router_decide,
            note="fresh bundle per pass: the mix's own cache hits",
        ),
        Piece(
            "decision_entries",
            "decision row + audit entry (disclosure/denial)",
            "decision",
            timed(decision_entries),
            note="hub.infra.routing's private _disclosure_row, _denial_row, _audit_entries",
        ),
        Piece("profile_row", "profile row (to_json)", "profile", timed(profile_rows)),
    ], first_batches


def audit_pieces(
    inp: Inputs, entries: list[AuditEntry], rows: list[Mapping[str, Any]]
) -> list[Piece]:
    texts = [e.canonical_bytes().decode("utf-8") for e in entries]

    def encode() -> int:
        for entry in entries:
            entry.canonical_bytes().decode("utf-8")
            index_facts(entry)
        return len(entries)

    def sequence() -> int:
        frontier = Frontier()
        for text in texts:
            frontier.append(leaf_hash(text.encode("utf-8")))
        return len(texts)

    sha256 = hashlib.sha256

    def verify_leaf() -> int:
        for text in texts:
            sha256(b"\x00" + text.encode("utf-8")).digest()
        return len(texts)

    leaves = [leaf_hash(t.encode("utf-8")) for t in texts]

    def verify_merkle() -> int:
        frontier = Frontier()
        for leaf in leaves:
            frontier.append(leaf)
        return len(leaves)

    moments = [e.occurred_at for e in entries]

    def verify_columns() -> int:
        # `_Columns.agree` (private in hub.services.audit_verify), as it does it: the decode,
        # the kind, the time formatted once for the entries that share it.
        last: datetime | None = None
        formatted = ""
        for entry, text, moment in zip(entries, texts, moments, strict=True):
            document = decode(text)
            assert document["kind"] == entry.kind.value
            if moment != last:
                last, formatted = moment, format_timestamp(moment)
            assert document["occurred_at"] == formatted
        return len(texts)

    bound = [(t, r) for t, r in zip(texts, rows, strict=True) if r]

    def verify_evidence() -> int:
        for text, row in bound:
            evidence = RowEvidence.from_entry(logged_facts(text))
            assert evidence is not None
            assert compare_row(evidence, row) is None
        return len(bound)

    return [
        Piece(
            "audit_encode", "audit entry encoded (canonical bytes, index)", "entry", timed(encode)
        ),
        Piece(
            "audit_sequence",
            "audit entry sequenced (leaf hash, frontier)",
            "entry",
            timed(sequence),
        ),
        Piece("verify_leaf", "verify: leaf hash (SHA-256)", "entry", timed(verify_leaf)),
        Piece("verify_merkle", "verify: Merkle frontier", "entry", timed(verify_merkle)),
        Piece(
            "verify_columns",
            "verify: decode, kind and time columns",
            "entry",
            timed(verify_columns),
            note="as audit_verify's private _Columns.agree",
        ),
        Piece(
            "verify_evidence",
            "verify: row evidence (logged_facts, compare_row)",
            "entry with a row",
            timed(verify_evidence),
        ),
    ]


def the_entries(
    inp: Inputs, decided_batches: Any
) -> tuple[list[AuditEntry], list[Mapping[str, Any]]]:
    """Collection entries of the mix (with their rows) and the router's decision entries."""
    entries: list[AuditEntry] = []
    rows: list[Mapping[str, Any]] = []
    collections = CollectionEntries()
    versions: dict[str, int] = {}
    for index, n in enumerate(inp.notifications):
        if index % BATCH == 0:
            collections = CollectionEntries()
        plan = event_store._Planned(n, n.content_hash(), inp.person_ids[index])
        [row] = event_store.event_rows([plan], [None], versions, inp.publishers[index], inp.now)
        row["position"] = index + 1
        entries.append(
            collections.collection(
                n,
                person_id=inp.person_ids[index],
                position=index + 1,
                publisher=inp.publishers[index],
                at=inp.now,
                stored=row,
            )
        )
        rows.append(row)
    return entries, rows


def delivery_pieces(inp: Inputs, decided_batches: Any) -> list[Piece]:
    bundle = inp.bundle
    by_position = {e.position: e for e in inp.stored}
    disclosures = [d for decided in decided_batches for d in decided.disclosures]
    key = WebhookSigningKey(_ed25519_key(), "active")
    signer = WebhookSigner([key])
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    jobs = [
        replace(
            _job_like(d),
            delivery_id=f"w_{i}",
            subscription_id="s_1",
            secrets=(secret,),
            acknowledge_within_seconds=None
            if d.acknowledge_within is None
            else int(d.acknowledge_within.total_seconds()),
            recipient_seq=i + 1,
            supplied_identifiers=d.supplied_identifiers,
            event=by_position[d.event_position],
            signature_schemes=("v1", "v1a"),
        )
        for i, d in enumerate(disclosures)
    ]
    redacted = [
        bundle.redact(with_supplied(j.event.notification, j.supplied_identifiers), j.fields)  # type: ignore[union-attr]
        for j in jobs
    ]
    bodies = [
        render_json(j, to_cloudevent(r, j.event)) for j, r in zip(jobs, redacted, strict=True)
    ]  # type: ignore[arg-type]

    def redact() -> int:
        for job in jobs:
            assert job.event is not None
            bundle.redact(
                with_supplied(job.event.notification, job.supplied_identifiers), job.fields
            )
        return len(jobs)

    def payload() -> int:
        for job, view in zip(jobs, redacted, strict=True):
            assert job.event is not None
            render_json(job, to_cloudevent(view, job.event))
        return len(jobs)

    def sign(schemes: tuple[str, ...]) -> Callable[[], int]:
        def run() -> int:
            for job, body in zip(jobs, bodies, strict=True):
                signer.headers(
                    job.disclosure_id, inp.now, body, secrets=job.secrets, schemes=schemes
                )
            return len(jobs)

        return run

    def delivery_entry() -> int:
        for job in jobs:
            builders.delivery(
                disclosure_id=job.disclosure_id,
                person_id=job.person_id,
                event_id=job.event_id,
                source=job.source,
                recipient_id=job.recipient_id,
                fields=job.fields,
                channel="webhook",
                state="delivered",
                at=inp.now,
                details={"attempt": 1, "status_code": 204},
            )
        return len(jobs)

    sizes = [len(b) for b in bodies]
    print(
        f"webhooks: {len(jobs)} disclosures of the mix, body median {statistics.median(sizes):.0f} "
        "bytes"
    )
    return [
        Piece("redact", "view redacted (PolicyBundle.redact)", "webhook", timed(redact)),
        Piece("payload", "body (to_cloudevent, render_json)", "webhook", timed(payload)),
        Piece("sign_v1", "signature v1 (HMAC-SHA256, one secret)", "webhook", timed(sign(("v1",)))),
        Piece("sign_v1a", "signature v1a (Ed25519, one key)", "webhook", timed(sign(("v1a",)))),
        Piece("delivery_entry", "delivery audit entry", "entry", timed(delivery_entry)),
    ]


def _ed25519_key() -> Any:
    return Ed25519PrivateKey.generate()


def token_pieces() -> list[Piece]:
    key = signing_key_from_pem(generate_pem())
    service = TokenService(
        key,
        issuer="https://hub.test",
        audience="https://hub.test/v1",
        lifetime_seconds=3600,
    )
    tokens = [
        service.issue(client_id=f"client-{i}", agency="sps", scopes=["events:publish"]).access_token
        for i in range(200)
    ]

    def first_sight() -> int:
        fresh = TokenService(
            key,
            issuer="https://hub.test",
            audience="https://hub.test/v1",
            lifetime_seconds=3600,
        )
        for token in tokens:
            fresh.verify(token)
        return len(tokens)

    def remembered() -> int:
        for _ in range(10):
            for token in tokens:
                service.verify(token)
        return 10 * len(tokens)

    remembered()
    return [
        Piece(
            "token_first",
            f"access token verified, first sight ({service.algorithm})",
            "request",
            timed(first_sight),
        ),
        Piece("token_remembered", "access token checked, remembered", "request", timed(remembered)),
    ]


# -- HTTP ------------------------------------------------------------------------------------


def noop_app() -> FastAPI:
    # (Request and Response are imported at module level: FastAPI resolves the annotations,
    # strings here, in the module's globals.)
    app = FastAPI()

    @app.post("/v1/events", status_code=201)
    async def push(request: Request) -> Response:
        # The body read as the hub's `read_json` reads it (streamed), then nothing.
        async for _ in request.stream():
            pass
        return Response(status_code=201)

    return app


def serve(protocol: str) -> None:
    """The no-op app under uvicorn on a port of its own, which it prints."""
    import uvicorn

    http: Any = protocol
    if protocol == "hub-h11":
        from hub.api.tls import ClientCertificateH11Protocol

        http = ClientCertificateH11Protocol
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        noop_app(), log_config=None, log_level="warning", access_log=False, http=http
    )
    print(sock.getsockname()[1], flush=True)
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


async def _post_all(port: int, body: bytes, count: int, connections: int) -> None:
    """`count` POSTs of `body` over `connections` keep-alive connections, each waiting for its
    answer before sending the next (raw asyncio streams: the least client CPU)."""
    head = (
        f"POST /v1/events HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode()
    left = [count]

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while left[0] > 0:
                left[0] -= 1
                writer.write(head + body)
                status = await reader.readline()
                assert status.startswith(b"HTTP/1.1 201"), status
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if length:
                    await reader.readexactly(length)
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(connections)))


def http_piece(protocol: str, body: bytes, requests: int, what: str = "") -> Piece:
    """The server's CPU per request (psutil), its process started once."""
    server: subprocess.Popen[bytes] | None = None
    port = 0

    def run() -> Sample:
        nonlocal server, port
        if server is None:
            server = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "serve", protocol],
                stdout=subprocess.PIPE,
            )
            assert server.stdout is not None
            port = int(server.stdout.readline())
            _wait_for(port)
        process = psutil.Process(server.pid)
        before, wall = process.cpu_times(), time.perf_counter()
        asyncio.run(_post_all(port, body, requests, CLIENTS))
        after, wall = process.cpu_times(), time.perf_counter() - wall
        cpu = (after.user + after.system) - (before.user + before.system)
        return Sample(requests, cpu, wall)

    def stop() -> None:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)

    piece = Piece(
        f"http_{protocol.replace('-', '_')}{'_batch' if what else ''}",
        f"HTTP POST{' of a ' + what if what else ''}, no-op route ({protocol}; server CPU)",
        "request",
        run,
        note=f"{CLIENTS} keep-alive clients",
    )
    _STOPS.append(stop)
    return piece


def _wait_for(port: int) -> None:
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


_STOPS: list[Callable[[], None]] = []


def asgi_piece(body: bytes, requests: int) -> Piece:
    """The same route called in process through ASGI alone (no HTTP parsing, no sockets)."""
    app = noop_app()
    headers = [
        (b"host", b"127.0.0.1"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]

    async def one() -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/events",
            "raw_path": b"/v1/events",
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        async def send(message: Mapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                assert message["status"] == 201

        await app(scope, receive, send)

    async def all_of_them() -> None:
        for _ in range(requests):
            await one()

    def run() -> int:
        asyncio.run(all_of_them())
        return requests

    return Piece("asgi", "ASGI call of the no-op route, in process", "request", timed(run))


def sender_piece(body: bytes, sends: int) -> Piece:
    """`HttpWebhookSender` POSTing to `bench/fast_receiver.py` (its own process): this process's
    CPU per send, `IN_FLIGHT` at a time."""
    receiver: subprocess.Popen[bytes] | None = None
    port = 0

    class PinnedResolver:
        async def resolve(self, host: str, port: int) -> list[str]:
            return ["127.0.0.1"]

    async def all_of_them() -> None:
        sender = HttpWebhookSender(
            timeout=30.0,
            resolver=PinnedResolver(),
            allow_private=True,
            require_https=False,
            max_connections=IN_FLIGHT,
        )
        numbers = iter(range(sends))

        async def worker() -> None:
            for n in numbers:
                headers = {"webhook-id": f"d_{n}", "content-type": "application/json"}
                answer = await sender.send(f"http://hooks.test:{port}/hook", headers, body)
                assert answer.ok, answer

        try:
            await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        finally:
            await sender.aclose()

    def run() -> Sample:
        nonlocal receiver, port
        if receiver is None:
            receiver, port = fast_receiver.start()
        cpu, wall = time.process_time(), time.perf_counter()
        asyncio.run(all_of_them())
        return Sample(sends, time.process_time() - cpu, time.perf_counter() - wall)

    def stop() -> None:
        if receiver is not None:
            receiver.terminate()
            receiver.wait(timeout=30)

    _STOPS.append(stop)
    return Piece(
        "webhook_post",
        "webhook POST (HttpWebhookSender; client CPU)",
        "webhook",
        run,
        note=f"{IN_FLIGHT} in flight, new connections each pass",
    )


# -- the paths -------------------------------------------------------------------------------


def units(counts: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """How many of each piece one unit of each path needs (pieces not named: none)."""
    c = counts["combinations/event"]
    decisions = counts["decisions/event"]
    entries_event = 1 + c
    return {
        "intake single": {
            "http_hub_h11": 1,
            "token_remembered": 1,
            "parse": 1,
            "validate": 1,
            "publisher": 1,
            "identity": 1,
            "content_hash": 1,
            "event_row": 1,
            "collection_single": 1,
            "combination": c,
            "audit_encode": entries_event,
            "audit_sequence": entries_event,
        },
        "intake batch": {
            "http_hub_h11_batch": 1 / BATCH,
            "token_remembered": 1 / BATCH,
            "parse_batch": 1,
            "validate": 1,
            "publisher": 1,
            "identity": 1,
            "content_hash": 1,
            "event_row": 1,
            "collection_batch": 1,
            "combination": c,
            "audit_encode": entries_event,
            "audit_sequence": entries_event,
        },
        "router": {
            "decide": 1,
            "decision_entries": decisions,
            "profile_row": counts["people/routing batch event"],
            "audit_encode": decisions,
            "audit_sequence": decisions,
        },
        "delivery": {
            "redact": 1,
            "payload": 1,
            "sign_v1": 1,
            "sign_v1a": 1,
            "webhook_post": 1,
            "delivery_entry": 1,
            "audit_encode": 1,
            "audit_sequence": 1,
        },
        "import": {
            "parse_line": 1,
            "validate": 1,
            "identity": 1,
            "content_hash": 1,
            "event_row": 1,
            "collection_batch": 1,
            "combination": c,
            "audit_encode": entries_event,
            "audit_sequence": entries_event,
        },
        "verify": {
            "verify_leaf": 1,
            "verify_merkle": 1,
            "verify_columns": 1,
            "verify_evidence": counts["entries binding a row"],
        },
    }


def budget(path: str) -> tuple[float, float]:
    """(one core, two cores) of CPU per unit at the goal's rate, µs."""
    _, rate, fixed = GOALS[path]
    if rate is None:
        return fixed, fixed
    return 1e6 / rate, 2e6 / rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    serve_parser = sub.add_parser("serve", help="(internal) the no-op app under uvicorn")
    serve_parser.add_argument("protocol", choices=["hub-h11", "httptools"])
    parser.add_argument("--events", type=int, default=500, help="notifications in the mix")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes of each piece")
    parser.add_argument("--requests", type=int, default=3000, help="HTTP requests a pass")
    parser.add_argument("--sends", type=int, default=2000, help="webhook POSTs a pass")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.protocol)
        return

    started = time.perf_counter()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        f", load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    inp = prepare(args.events)
    counts: dict[str, float] = {}
    pieces = intake_pieces(inp, counts)
    router, decided_batches = router_pieces(inp, counts)
    pieces += router
    entries, rows = the_entries(inp, decided_batches)
    # The decision entries with the rows they bind (`DecisionEntries`, as the routing store's
    # `_audit_entries` makes them, without its reordering).
    for decided in decided_batches:
        made = builders.DecisionEntries()
        for disclosure in decided.disclosures:
            row = routing_store._disclosure_row(disclosure)
            entries.append(made.disclosure(disclosure, row))
            rows.append(row)
        for denial in decided.denials:
            row = routing_store._denial_row(denial)
            entries.append(made.denial(denial, row))
            rows.append(row)
    # The log's entries per event: collection, combination (no row), decisions, one delivery
    # entry per disclosure (no row); the share of them that bind a row.
    logged = 1 + counts["combinations/event"] + counts["decisions/event"]
    logged += counts["disclosures/event"]
    counts["audit entries/event"] = logged
    counts["entries binding a row"] = (1 + counts["decisions/event"]) / logged
    pieces += audit_pieces(inp, entries, rows)
    pieces += delivery_pieces(inp, decided_batches)
    pieces += token_pieces()
    body = inp.bodies[0].encode("utf-8")
    batch_body = json.dumps(inp.raw[:BATCH], ensure_ascii=False).encode("utf-8")
    webhook_body = render_json_sample(inp, decided_batches)
    pieces += [
        http_piece("hub-h11", body, args.requests),
        http_piece("hub-h11", batch_body, max(1, args.requests // 10), what="batch of 100"),
        http_piece("httptools", body, args.requests),
        asgi_piece(body, max(1, args.requests // 2)),
        sender_piece(webhook_body, args.sends),
    ]
    print(
        f"mix: {len(inp.notifications)} notifications, {len(set(inp.person_ids))} people; "
        + ", ".join(f"{k} {v:.2f}" for k, v in counts.items()),
        flush=True,
    )
    try:
        for piece in pieces:
            measure(piece, args.repeats)
    finally:
        for stop in _STOPS:
            stop()
    per_path = units(counts)
    report(pieces, per_path, counts, args, time.perf_counter() - started)


def render_json_sample(inp: Inputs, decided_batches: Any) -> bytes:
    """A webhook body of the mix's median size, for the sender."""
    bodies: list[bytes] = []
    by_position = {e.position: e for e in inp.stored}
    for decided in decided_batches:
        for d in decided.disclosures[:5]:
            event = by_position[d.event_position]
            view = inp.bundle.redact(event.notification, d.fields)
            job = _job_like(d)
            bodies.append(render_json(job, to_cloudevent(view, event)))
    bodies.sort(key=len)
    return bodies[len(bodies) // 2]


def _job_like(d: Any) -> DeliveryJob:
    """A webhook job for the disclosure `d`, as the delivery worker claims one (no secrets)."""
    return DeliveryJob(
        delivery_id="w",
        subscription_id="s",
        recipient_id=d.recipient_id,
        attempts=0,
        url="http://hooks.test/hook",
        format="json",
        secrets=(),
        subscription_status="active",
        disclosure_id=d.disclosure_id,
        source=d.source,
        event_id=d.event_id,
        event_type=d.event_type,
        person_id=d.person_id,
        fields=d.fields,
        rules=d.rules,
        purposes=d.purposes,
        legal_bases=d.legal_bases,
        policy_version=d.policy_version,
        decided_at=d.decided_at,
        acknowledge_within_seconds=None,
        recipient_seq=1,
        payload_version=2,
    )


def report(
    pieces: Sequence[Piece],
    per_path: Mapping[str, Mapping[str, float]],
    counts: Mapping[str, float],
    args: argparse.Namespace,
    elapsed: float,
) -> None:
    short = {
        "intake single": "single",
        "intake batch": "batch",
        "router": "router",
        "delivery": "deliv.",
        "import": "import",
        "verify": "verify",
    }
    print(
        f"\nCPU per unit: median of {args.repeats} passes (process_time; the HTTP rows: the "
        "server's CPU); units of each piece per unit of each path"
    )
    header = f"{'piece':58} {'per':>10} {'µs CPU':>8} {'µs wall':>8}"
    header += "".join(f" {short[p]:>7}" for p in PATHS)
    print(header)
    for piece in pieces:
        line = f"{piece.label[:58]:58} {piece.unit[:10]:>10} {piece.cpu:>8.1f} {piece.wall:>8.1f}"
        for path in PATHS:
            n = per_path[path].get(piece.key)
            line += f" {'':>7}" if n is None else f" {n:>7.2f}"
        print(line)
    by_key = {p.key: p for p in pieces}
    sums = {path: sum(by_key[k].cpu * n for k, n in per_path[path].items()) for path in PATHS}
    print(
        f"{'floor: sum, µs CPU per unit of the path':87}"
        + "".join(f" {sums[p]:>7.0f}" for p in PATHS)
    )
    print(
        "\npath           floor µs   goal budget µs (1-2 cores)   "
        "goal; current (quiet, 14:50-15:01)"
    )
    for path in PATHS:
        low, high = budget(path)
        goal = GOALS[path][0]
        spread = f"{low:,.0f}" if low == high else f"{low:,.0f}-{high:,.0f}"
        print(f"{path:14} {sums[path]:>8.0f}   {spread:>26}   {goal}; {CURRENT[path]}")
    raw_cedar = (
        by_key["fold"].cpu
        + by_key["cedar_batch"].cpu * counts.get("evaluate calls/event", 1.0)
        + sum(by_key[k].cpu * n for k, n in per_path["router"].items() if k != "decide")
    )
    print(
        f"router floor with the fold and Cedar alone in place of decide(): {raw_cedar:.0f} µs/event"
    )
    print(f"notes: {'; '.join(f'{p.key}: {p.note}' for p in pieces if p.note)}")
    print(f"took {elapsed:.0f} s")
    if args.json:
        document = {
            "bench": "floors",
            "at": datetime.now(UTC).isoformat(),
            "machine": {
                "arch": platform.machine(),
                "cores": os.cpu_count(),
                "python": platform.python_version(),
                "load_average": os.getloadavg(),
            },
            "events": args.events,
            "repeats": args.repeats,
            "counts": dict(counts),
            "pieces": [
                {
                    "key": p.key,
                    "label": p.label,
                    "unit": p.unit,
                    "cpu_us": p.cpu,
                    "wall_us": p.wall,
                    "cpu_us_passes": p.cpu_us,
                    "note": p.note,
                }
                for p in pieces
            ],
            "paths": {
                path: {
                    "units": dict(per_path[path]),
                    "floor_us": sums[path],
                    "budget_us": list(budget(path)),
                    "goal": GOALS[path][0],
                    "current": CURRENT[path],
                }
                for path in PATHS
            },
            "router_floor_cedar_alone_us": raw_cedar,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
