"""Webhook delivery: pushing each disclosure to its recipient's subscriptions, signed, at least
once, with retries on a schedule and a dead-letter state an operator can see and replay.

The router writes one job per disclosure and subscription (the transactional outbox). Workers
claim due jobs (a claim lasts `claim_seconds`: a crashed worker's jobs are taken over once it
lapses), send each outside any transaction, and record every attempt and its outcome:

    2xx                      delivered (and the disclosure's first receipt, if it had none)
    410 Gone                 the subscription is disabled; its pending jobs are cancelled
    anything else, timeout,  tried again after the next wait of the retry schedule (give or take
    refused, unreachable     20%); once the schedule is spent, dead

Each job is sent with `webhook-id` = the disclosure id, the same on every retry and replay: the
recipient's idempotency key (Standard Webhooks). Only a send that was not confirmed before a crash
is sent again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
import secrets as random_ids
import socket
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, Protocol

from hub.domain.cloudevents import to_cloudevent
from hub.domain.identity import with_supplied
from hub.domain.notifications import Notification, StoredEvent
from hub.errors import (
    Conflict,
    FieldProblem,
    InvalidInput,
    InvalidRequest,
    NotFound,
    StoreUnavailable,
)
from hub.observability import traces
from hub.services.audit_queries import Principal
from hub.services.ports import EventStore
from hub.services.subscriptions import CannotCarry, native_formats
from hub.services.webhook_payload import LEGACY_PAYLOAD_VERSION, render_json
from hub.services.webhook_rules import retry_delay
from hub.services.webhook_signing import LEGACY_SIGNATURE_SCHEMES, WebhookSigner, sign
from hub.services.worker import WorkerLoop, is_transient

__all__ = [
    "DELIVERY_STATUSES",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryJob",
    "DeliveryQueue",
    "DeliveryService",
    "DeliveryWorker",
    "Finish",
    "JobNotifications",
    "WebhookResponse",
    "WebhookSender",
    "render_json",
    "sign",
]

logger = logging.getLogger("hub.delivery")

DeliveryStatus = Literal["pending", "delivered", "dead", "cancelled"]
DELIVERY_STATUSES: Final = ("pending", "delivered", "dead", "cancelled")
#: delivered | retry | dead | disabled (the receiver answered 410)
AttemptOutcome = Literal["delivered", "retry", "dead", "disabled"]
#: The most of an error (or of a receiver's answer) kept with an attempt.
MAX_ERROR_LENGTH: Final = 500

#: Answers quicker than this count as this quick when sizing a receiver's claims.
MIN_ANSWER_SECONDS: Final = 0.001
#: The most receivers whose answer times a worker keeps (then it starts over).
MAX_RECEIVERS_TIMED: Final = 10_000

#: Renders a redacted notification and its disclosure as a webhook body.
Redactor = Callable[[Notification, Sequence[str]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    """A claimed job: what to send, where, and how often it has been tried."""

    delivery_id: str
    subscription_id: str
    recipient_id: str
    #: Attempts made before this one.
    attempts: int
    url: str
    format: str
    secrets: tuple[str, ...] = field(repr=False)
    subscription_status: str
    # -- the disclosure --
    disclosure_id: str
    source: str
    event_id: str
    event_type: str
    person_id: str
    fields: tuple[str, ...]
    rules: tuple[str, ...]
    purposes: tuple[str, ...]
    legal_bases: tuple[str, ...]
    policy_version: str
    decided_at: datetime
    acknowledge_within_seconds: int | None
    #: The disclosure's number in its recipient's feed.
    recipient_seq: int | None
    #: Identifiers the hub supplied from its person index (a record that follows the person).
    supplied_identifiers: Mapping[str, str] = field(default_factory=dict)
    #: The disclosed notification as stored, when the queue read it with the claim (for a
    #: batch at once); else the worker reads it from the store.
    event: StoredEvent | None = field(default=None, repr=False)
    #: The subscription's body version for the `json` format (`webhook_payload`).
    payload_version: int = LEGACY_PAYLOAD_VERSION
    #: How the subscription wants deliveries signed: `v1` (its secrets), `v1a` (the hub's keys).
    signature_schemes: tuple[str, ...] = LEGACY_SIGNATURE_SCHEMES

    @property
    def acknowledge_by(self) -> datetime | None:
        if self.acknowledge_within_seconds is None:
            return None
        return self.decided_at + timedelta(seconds=self.acknowledge_within_seconds)


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One try at sending a job, as recorded (`delivery_attempts`)."""

    attempt: int
    attempted_at: datetime
    status_code: int | None
    latency_ms: float | None
    outcome: AttemptOutcome
    error: str | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """A webhook job as an operator or its recipient sees it."""

    delivery_id: str
    disclosure_id: str
    subscription_id: str
    recipient_id: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class Finish:
    """What became of a claimed job, recorded in one transaction."""

    status: DeliveryStatus
    #: The attempt made; None when the job was cancelled unsent.
    attempt: DeliveryAttempt | None = None
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    #: Disable the job's subscription, for this reason (and cancel its pending jobs).
    disable_subscription: str | None = None


class DeliveryQueue(Protocol):
    """The webhook outbox (`deliveries`, `delivery_attempts`, `disclosure_receipts`)."""

    async def claim(
        self,
        worker_id: str,
        *,
        now: datetime,
        until: datetime,
        limit: int,
        per_subscription: int | None = None,
        skip: Collection[str] = (),
        room: Mapping[str, int] | None = None,
    ) -> list[DeliveryJob]:
        """Claim up to `limit` due jobs (pending, next attempt due, no live claim) for
        `worker_id` until `until`, committed before anything is sent: at most
        `per_subscription` of any one subscription (of a subscription in `room`, its number
        there instead), none of those in `skip`, each subscription's oldest first. Concurrent
        claimers never get the same job."""
        ...

    async def finish(self, job: DeliveryJob, worker_id: str, finish: Finish) -> bool:
        """Record an outcome: the attempt (always), and the job's new status. A delivery is
        recorded whoever holds the job now; any other outcome only while the job is still
        pending and claimed by `worker_id` (else another worker's outcome stands). Whether the
        job's status was changed."""
        ...

    async def next_claim_expiry(self, now: datetime) -> datetime | None:
        """When the earliest live claim on a due job lapses; None when no due job is claimed."""
        ...

    async def find(
        self,
        *,
        recipient_id: str | None,
        status: str | None,
        limit: int,
        after: str | None,
    ) -> list[Delivery]:
        """Jobs oldest first (of one recipient, or all), after the job `after`."""
        ...

    async def get(self, delivery_id: str) -> Delivery | None: ...

    async def attempts(self, delivery_id: str) -> list[DeliveryAttempt]:
        """The job's attempts, in order."""
        ...

    async def replay(self, delivery_id: str, now: datetime, by: Principal) -> Delivery:
        """Put a dead or cancelled job back as pending, due `now` (its attempts are kept), and
        log who asked (`by`) in the same transaction. `Conflict` when it is neither, or its
        subscription is not active; `NotFound`."""
        ...


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    """How a receiver answered: a status code, or an error that prevented one."""

    status_code: int | None
    latency_ms: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class JobNotifications(Protocol):
    """Word from the database that webhook jobs were queued, by any process (PostgreSQL's
    `LISTEN`): it sets `wakeup`, which the worker's loop waits on. Only shortens the wait: the
    worker polls anyway."""

    @property
    def wakeup(self) -> asyncio.Event: ...

    async def keep_listening(self) -> None:
        """Listen if not listening (reconnecting after a database restart); check now and
        then that the connection still answers. `StoreUnavailable` while it cannot."""
        ...

    async def close(self) -> None: ...


class WebhookSender(Protocol):
    """Sends one signed webhook. Never raises for the receiver's failures: they are answers."""

    async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> WebhookResponse: ...


# -- rendering (`webhook_payload`) and signing (`webhook_signing`) ---------------------------------


JSON_MEDIA_TYPE: Final = "application/json"

#: The built-in format; the agency systems' native formats are registered with the
#: subscriptions (`native_formats`).
JSON_FORMAT: Final = "json"


def _as_json(job: DeliveryJob, redacted: Mapping[str, Any], stored: StoredEvent) -> bytes:
    """The `json` format: from payload version 2 the notification is a CloudEvents 1.0 event
    (`to_cloudevent`: identifiers as `pph*` extensions, an opaque source when the publisher's is
    withheld); version 1 keeps the redacted envelope its subscribers have always read."""
    if job.payload_version == LEGACY_PAYLOAD_VERSION:
        return render_json(job, redacted)
    return render_json(job, to_cloudevent(redacted, stored))


def _now() -> datetime:
    return datetime.now(UTC)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{random_ids.token_hex(4)}"


class DeliveryWorker:
    """Claims due webhook jobs and sends them, up to `concurrency` at a time in all and
    `per_receiver` at a time to any one subscription's receiver, each in its own task: a slow
    receiver holds up only its own jobs. Outcomes are recorded as sends finish (the queue joins
    those that finish together into one transaction); a send's slot is free for the next as soon
    as its answer is in, while its outcome is recorded, and no more is claimed while a batch's
    worth of outcomes waits to be recorded.

    `run_once` sends one batch and waits for it; `run` keeps sending until `stop` is set,
    claiming whenever a slot is free and looking for due jobs every `poll_interval` seconds, or
    at once when `wakeup` is set (by the routing store in this process, or by `notifications`
    for jobs queued by any process).

    A claimed job whose receiver is at its limit waits its turn in the worker, in claim order;
    a receiver with jobs waiting is not claimed for, and at most `batch_size` jobs wait in all.
    How many of one receiver's jobs are claimed at once follows how fast it answers
    (`claim_depth`): `per_receiver` while it is unknown or slow, so that a slow one holds at
    most `per_receiver` sends and as many waiting jobs; more for a fast one (up to
    `batch_size`), as many as it can take well within a claim, so that a backlog for a fast
    receiver is claimed (and its outcomes recorded) in batches rather than a few at a time.
    One whose claim would lapse before its send could end is not sent: its claim lapses and it
    is claimed again, never sent twice at once.
    """

    def __init__(
        self,
        queue: DeliveryQueue,
        store: EventStore,
        sender: WebhookSender,
        redact: Redactor,
        *,
        signer: WebhookSigner,
        retry_schedule: Sequence[float],
        concurrency: int = 16,
        per_receiver: int | None = None,
        batch_size: int = 50,
        poll_interval: float = 1.0,
        claim_seconds: float = 60.0,
        send_timeout: float | None = None,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = _now,
        rng: random.Random | None = None,
        notifications: JobNotifications | None = None,
    ) -> None:
        per_receiver = concurrency if per_receiver is None else per_receiver
        for name, value in (
            ("concurrency", concurrency),
            ("per_receiver", per_receiver),
            ("batch_size", batch_size),
        ):
            if value < 1:
                raise InvalidInput(f"{name} must be at least 1, not {value}")
        for name, seconds in (("poll_interval", poll_interval), ("claim_seconds", claim_seconds)):
            if seconds <= 0:
                raise InvalidInput(f"{name} must be positive, not {seconds}")
        if send_timeout is not None and claim_seconds <= send_timeout:
            # A claim that can lapse while its send is still waiting lets a second worker send
            # the same job at the same time.
            logger.warning(
                "delivery claims (%ss) do not outlast a send (timeout %ss): a job could be sent "
                "twice at once",
                claim_seconds,
                send_timeout,
            )
        self._queue = queue
        self._store = store
        self._sender = sender
        self._redact = redact
        self._signer = signer
        self._schedule = tuple(retry_schedule)
        self._concurrency = concurrency
        self._per_receiver = per_receiver
        self._batch_size = batch_size
        self._send_timeout = timedelta(seconds=send_timeout or 0.0)
        self._notifications = notifications
        self._poll_interval = poll_interval
        self._claim = timedelta(seconds=claim_seconds)
        self.worker_id = worker_id or default_worker_id()
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        #: Jobs being sent or having their outcome recorded.
        self._in_flight: set[asyncio.Task[None]] = set()
        #: What frees a job's receiver slot once its send has ended (before its outcome is
        #: recorded: outcomes are recorded in groups, and the next send need not wait for that).
        self._on_sent: dict[str, Callable[[], None]] = {}
        #: Sends in flight per subscription, and claimed jobs waiting for their receiver (each
        #: with when its claim lapses), in claim order.
        self._sending: dict[str, int] = {}
        self._waiting: dict[str, deque[tuple[DeliveryJob, datetime]]] = {}
        #: Set when there may be room to claim again (a receiver's waiting jobs have all
        #: started, or a slot or an outcome held the last claim back), so that the loop
        #: claims at once; not on every send, each of which would cost a look at the database.
        self._slot_freed = asyncio.Event()
        #: Whether the last step claimed nothing because every slot was taken or a batch of
        #: outcomes waited to be recorded.
        self._held_back = False
        #: How long each receiver (subscription) has taken to answer lately, in seconds.
        self._answer_seconds: dict[str, float] = {}

    # -- running ---------------------------------------------------------------------------------

    async def run_once(self, limit: int | None = None) -> int:
        """Claim and send one batch (at most `limit`, by default the batch size, never more
        than the concurrency), waiting for every send. How many jobs were claimed."""
        size = min(self._batch_size if limit is None else limit, self._concurrency)
        jobs = await self._claim_jobs(size)
        if jobs:
            outcomes = await asyncio.gather(
                *(self.deliver(job) for job in jobs), return_exceptions=True
            )
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
        return len(jobs)

    async def run_until_idle(self) -> int:
        """Send until no job is due, waiting out other workers' claims on due jobs (a crashed
        worker's lapse); jobs waiting for a later retry are left. How many were claimed."""
        total = 0
        while True:
            claimed = await self.run_once()
            total += claimed
            if claimed:
                continue
            now = self._clock()
            lapse = await self._queue.next_claim_expiry(now)
            if lapse is None:
                return total
            await asyncio.sleep(min(max((lapse - now).total_seconds(), 0.05), 60.0))

    def loop(self, wakeup: asyncio.Event | None = None) -> WorkerLoop:
        """This worker in the worker loop: it claims whenever a slot is free, and otherwise
        waits for a send to finish, `wakeup` (or the notifications'), or `poll_interval`
        seconds. An unavailable database is waited out; any other error stops the worker. When
        the loop ends, the sends in flight finish and are recorded."""
        notified = None if self._notifications is None else self._notifications.wakeup
        return WorkerLoop(
            "delivery",
            self._claim_and_send,
            idle_seconds=self._poll_interval,
            wakeups=(wakeup, notified, self._slot_freed),
            on_stop=self._finish_in_flight,
        )

    async def run(self, stop: asyncio.Event, wakeup: asyncio.Event | None = None) -> None:
        """Send until `stop` is set (`loop`)."""
        await self.loop(wakeup).run(stop)

    async def _finish_in_flight(self) -> None:
        # Jobs still waiting are left to their claims' lapse: never sent, they are claimed again.
        self._waiting.clear()
        try:
            if self._in_flight:
                await asyncio.wait(self._in_flight)
                self._reap()
        finally:
            for task in self._in_flight:
                task.cancel()
            if self._in_flight:
                await asyncio.gather(*self._in_flight, return_exceptions=True)
            self._in_flight.clear()
            if self._notifications is not None:
                await self._notifications.close()

    async def _claim_and_send(self) -> bool:
        """Forget finished sends and start waiting jobs whose receivers have room; claim as
        many due jobs as there are free slots and start those whose receivers have room;
        whether every slot asked for was filled (more may be due at once)."""
        if self._notifications is not None:
            await self._notifications.keep_listening()
        self._reap()
        self._start_waiting()
        waiting = sum(len(jobs) for jobs in self._waiting.values())
        wanted = self._batch_size - waiting
        sending = sum(self._sending.values())
        # Every slot busy, or enough waiting, or a batch of outcomes waiting to be recorded:
        # wait for a send to end, or for the database.
        self._held_back = (
            sending >= self._concurrency
            or wanted <= 0
            or len(self._in_flight) - sending >= self._batch_size
        )
        if self._held_back:
            return False
        now = self._clock()
        until = now + self._claim
        # A receiver with jobs waiting gets no more until they are all sent: it holds at most
        # `per_receiver` sending and as many waiting, and a slow one leaves the other slots free.
        full = set(self._waiting)
        jobs = await self._queue.claim(
            self.worker_id,
            now=now,
            until=until,
            limit=wanted,
            per_subscription=self._per_receiver,
            skip=full,
            room=self._room(),
        )
        for job in jobs:
            self._waiting.setdefault(job.subscription_id, deque()).append((job, until))
        self._start_waiting()
        return len(jobs) == wanted

    def claim_depth(self, subscription_id: str) -> int:
        """How many of a receiver's jobs to claim at once: as many as it can answer, at
        `per_receiver` at a time and at the pace of its recent answers, within a quarter of a
        claim (between `per_receiver` and `batch_size`); `per_receiver` for a receiver not yet
        heard from."""
        seconds = self._answer_seconds.get(subscription_id)
        if seconds is None:
            return self._per_receiver
        budget = self._claim.total_seconds() / 4
        fits = int(self._per_receiver * budget / max(seconds, MIN_ANSWER_SECONDS))
        return max(self._per_receiver, min(self._batch_size, fits))

    def _room(self) -> dict[str, int]:
        """The receivers that may have more than `per_receiver` jobs claimed at once."""
        depths = {s: self.claim_depth(s) for s in self._answer_seconds}
        return {s: depth for s, depth in depths.items() if depth > self._per_receiver}

    def _heard(self, subscription_id: str, seconds: float) -> None:
        """A receiver answered (or failed to) in `seconds`: a slower answer than its estimate
        is taken at once (a receiver that slows down, or times out, is claimed for cautiously
        from its next claim), a quicker one moves it a fifth of the way."""
        if len(self._answer_seconds) >= MAX_RECEIVERS_TIMED:
            self._answer_seconds.clear()  # forgotten, not wrong: each starts over at per_receiver
        before = self._answer_seconds.get(subscription_id)
        if before is None or seconds > before:
            self._answer_seconds[subscription_id] = seconds
        else:
            self._answer_seconds[subscription_id] = 0.8 * before + 0.2 * seconds

    def _start_waiting(self) -> None:
        """Start the waiting jobs, in claim order, of each receiver with room, while fewer than
        `concurrency` sends are running in all (jobs waiting for a busy receiver were claimed
        beside others: starting them all when it frees a slot could exceed the limit)."""
        for receiver, waiting in list(self._waiting.items()):
            while (
                waiting
                and self._sending.get(receiver, 0) < self._per_receiver
                and sum(self._sending.values()) < self._concurrency
            ):
                job, claimed_until = waiting.popleft()
                if self._clock() + self._send_timeout >= claimed_until:
                    logger.info(
                        "delivery %s waited out its claim: claimed again later", job.delivery_id
                    )
                    continue
                self._sending[receiver] = self._sending.get(receiver, 0) + 1
                sent = _Once(functools.partial(self._sent, receiver))
                self._on_sent[job.delivery_id] = sent
                task = asyncio.create_task(
                    self.deliver(job), name=f"hub-delivery-{job.delivery_id}"
                )
                self._in_flight.add(task)
                task.add_done_callback(functools.partial(self._done, job.delivery_id, sent))
            if not waiting:
                del self._waiting[receiver]
                self._slot_freed.set()  # the receiver may be claimed for again

    def _sent(self, receiver: str) -> None:
        """A send to `receiver` ended: its slot goes to the next job waiting (the outcome may
        still be being recorded), at once rather than at the loop's next turn."""
        self._sending[receiver] -= 1
        if not self._sending[receiver]:
            del self._sending[receiver]
        self._start_waiting()
        if self._held_back:
            self._slot_freed.set()

    def _done(self, delivery_id: str, sent: Callable[[], None], _task: asyncio.Task[None]) -> None:
        """A job's task ended (its outcome recorded, or not): its slot is free whatever
        happened, and there may be room to claim more."""
        if self._on_sent.get(delivery_id) is sent:
            del self._on_sent[delivery_id]
        sent()
        if self._held_back:
            self._slot_freed.set()

    def _release(self, job: DeliveryJob) -> None:
        """Free the receiver slot of a job whose send has ended (before its outcome is
        recorded); nothing for a job sent outside the worker's loop (`run_once`)."""
        sent = self._on_sent.pop(job.delivery_id, None)
        if sent is not None:
            sent()

    def _reap(self) -> None:
        """Forget finished sends; an unavailable database is waited out (the job's claim
        lapses and it is sent again), anything else stops the worker."""
        for task in [t for t in self._in_flight if t.done()]:
            self._in_flight.discard(task)
            if task.cancelled():
                continue
            error = task.exception()
            if error is not None and is_transient(error):
                logger.warning("delivery outcome not recorded, to be sent again: %s", error)
            elif error is not None:
                raise error

    async def _claim_jobs(self, limit: int) -> list[DeliveryJob]:
        now = self._clock()
        return await self._queue.claim(
            self.worker_id, now=now, until=now + self._claim, limit=limit
        )

    # -- one job ---------------------------------------------------------------------------------

    async def deliver(self, job: DeliveryJob) -> None:
        """Make one attempt at a claimed job and record what came of it, in the trace that
        stored its notification (docs/tracing.md): the webhook's POST is a span of it, and
        carries its `traceparent` to the receiver."""
        with traces.continued(
            "hub.deliver",
            None if job.event is None else job.event.trace_context,
            {
                "hub.event.type": job.event_type,
                "hub.recipient.id": job.recipient_id,
                "hub.delivery.attempt": job.attempts + 1,
            },
        ):
            await self._attempt(job)

    async def _attempt(self, job: DeliveryJob) -> None:
        if job.subscription_status != "active":
            # Queued in the moment the subscription was disabled or deleted.
            await self._queue.finish(
                job,
                self.worker_id,
                Finish(status="cancelled", last_error=f"subscription {job.subscription_status}"),
            )
            return
        attempt = job.attempts + 1
        attempted_at = self._clock()
        try:
            body, media_type = await self._render(job)
        except StoreUnavailable:
            raise  # not the job's fault: its claim lapses and it is tried again, unrecorded
        except Exception as error:
            # A job the hub cannot render is a failed attempt, recorded and retried (and dead in
            # the end, where an operator sees it): never lost, never blocking the others.
            logger.exception("could not render delivery %s", job.delivery_id)
            response = WebhookResponse(None, 0.0, f"the hub could not render it: {error}")
        else:
            headers = self._signer.headers(
                job.disclosure_id,
                attempted_at,
                body,
                secrets=job.secrets,
                schemes=job.signature_schemes,
            )
            headers["content-type"] = media_type
            response = await self._sender.send(job.url, headers, body)
            self._heard(job.subscription_id, response.latency_ms / 1000)
        self._release(job)
        finish = self._judge(job, attempt, attempted_at, response)
        await self._queue.finish(job, self.worker_id, finish)
        logger.debug("delivery %s attempt %d: %s", job.delivery_id, attempt, finish.status)

    async def _render(self, job: DeliveryJob) -> tuple[bytes, str]:
        """The body in the subscription's format and its media type. A disclosure a native
        format cannot carry (`CannotCarry`: a type or body version it lacks) is sent as `json`
        instead: a disclosure is never withheld for its presentation's sake, and the
        Content-Type tells the receiver which it got."""
        stored = job.event or await self._store.get(job.source, job.event_id)
        if stored is None:
            raise NotFound(f"notification {job.event_id} from {job.source} is not in the store")
        redacted = self._redact(
            with_supplied(stored.notification, job.supplied_identifiers), job.fields
        )
        if job.format == JSON_FORMAT:
            return _as_json(job, redacted, stored), JSON_MEDIA_TYPE
        native = native_formats().get(job.format)
        if native is None:
            raise InvalidInput(f"unknown webhook format {job.format!r}")
        try:
            return native.render(redacted), native.media_type
        except CannotCarry as cannot:
            logger.info(
                "delivery %s: %s cannot carry it (%s); sent as json",
                job.delivery_id,
                job.format,
                cannot.message,
            )
            return _as_json(job, redacted, stored), JSON_MEDIA_TYPE

    def _judge(
        self, job: DeliveryJob, attempt: int, attempted_at: datetime, response: WebhookResponse
    ) -> Finish:
        error = _error_text(response, job.secrets)
        latency = round(response.latency_ms, 1)

        def record(outcome: AttemptOutcome) -> DeliveryAttempt:
            return DeliveryAttempt(
                attempt, attempted_at, response.status_code, latency, outcome, error
            )

        if response.ok:
            return Finish(status="delivered", attempt=record("delivered"))
        if response.status_code == 410:
            reason = f"the receiver answered 410 Gone on {attempted_at.isoformat()}"
            return Finish(
                status="cancelled",
                attempt=record("disabled"),
                last_error=error,
                disable_subscription=reason,
            )
        delay = retry_delay(self._schedule, attempt, self._rng)
        if delay is None:
            return Finish(status="dead", attempt=record("dead"), last_error=error)
        return Finish(
            status="pending",
            attempt=record("retry"),
            next_attempt_at=self._clock() + delay,
            last_error=error,
        )


class _Once:
    """Calls `action` the first time it is called, and never again."""

    def __init__(self, action: Callable[[], None]) -> None:
        self._action: Callable[[], None] | None = action

    def __call__(self) -> None:
        action, self._action = self._action, None
        if action is not None:
            action()


def _error_text(response: WebhookResponse, secrets: Sequence[str]) -> str | None:
    if response.ok:
        return None
    parts = []
    if response.status_code is not None:
        parts.append(f"HTTP {response.status_code}")
    if response.error:
        parts.append(response.error)
    text = ": ".join(parts) or "no answer"
    for secret in secrets:  # never kept, whatever a receiver or library echoes back
        text = text.replace(secret, "whsec_[hidden]")
    return text[:MAX_ERROR_LENGTH]


# -- dead letters and replay (the API and CLI) ---------------------------------------------------


class DeliveryService:
    """Webhook jobs as their recipient (or, with `recipient_id=None`, an operator) sees them:
    listed by status, each with its attempts, and dead or cancelled ones replayed."""

    def __init__(self, queue: DeliveryQueue, clock: Callable[[], datetime] = _now) -> None:
        self._queue = queue
        self._clock = clock

    async def find(
        self,
        recipient_id: str | None,
        *,
        status: str | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> list[Delivery]:
        problems = []
        if status is not None and status not in DELIVERY_STATUSES:
            problems.append(
                FieldProblem(
                    "/status", f"unknown status {status!r}; one of {', '.join(DELIVERY_STATUSES)}"
                )
            )
        if limit < 1:
            problems.append(FieldProblem("/limit", "must be at least 1"))
        if after is not None and await self._visible(recipient_id, after) is None:
            problems.append(FieldProblem("/after", f"there is no delivery {after} to start after"))
        if problems:
            raise InvalidRequest(
                "the query is invalid: " + "; ".join(p.message for p in problems), problems
            )
        return await self._queue.find(
            recipient_id=recipient_id, status=status, limit=limit, after=after
        )

    async def get(
        self, recipient_id: str | None, delivery_id: str
    ) -> tuple[Delivery, list[DeliveryAttempt]]:
        delivery = await self._visible(recipient_id, delivery_id)
        if delivery is None:
            raise NotFound(f"there is no delivery {delivery_id}")
        return delivery, await self._queue.attempts(delivery_id)

    async def replay(self, recipient_id: str | None, delivery_id: str, by: Principal) -> Delivery:
        """Send a dead or cancelled job again, now, with the same `webhook-id`; the audit trail
        records that `by` asked for it, in the replay's own transaction."""
        delivery = await self._visible(recipient_id, delivery_id)
        if delivery is None:
            raise NotFound(f"there is no delivery {delivery_id}")
        if delivery.status not in ("dead", "cancelled"):
            raise Conflict(
                f"delivery {delivery_id} is {delivery.status}: only dead or cancelled deliveries "
                "are replayed"
            )
        return await self._queue.replay(delivery_id, self._clock(), by)

    async def _visible(self, recipient_id: str | None, delivery_id: str) -> Delivery | None:
        delivery = await self._queue.get(delivery_id)
        if delivery is None or (recipient_id is not None and delivery.recipient_id != recipient_id):
            return None
        return delivery
