"""A minimal webhook receiver for the Public Protection Hub (FastAPI).

It does the five things every receiver must do:

1. verify the Standard Webhooks signature: `v1` (HMAC-SHA256 with the subscription's `whsec_`
   secret) and/or `v1a` (Ed25519 with the hub's `whpk_` public keys);
2. refuse a stale (or future) `webhook-timestamp`, so a captured request cannot be replayed later;
3. handle each disclosure once: `webhook-id` and the disclosure id are kept in SQLite, so a retry,
   a replay or a restart never handles one twice;
4. acknowledge each disclosure through the hub's API (`POST /v1/disclosures/{id}/ack`, with a
   client-credentials token of a client holding `feed:read`);
5. at start, read the pull feed (`GET /v1/feed`) from the last position it saved, to catch up on
   anything that arrived while it was down.

Run it with `PPH_HUB_URL=… PPH_CLIENT_ID=… PPH_CLIENT_SECRET=… PPH_WEBHOOK_SECRET=whsec_…
python receiver.py` (see README.md beside it for every setting).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool


def log(line: str) -> None:
    print(line, flush=True)


# -- 1 and 2: the signature and the timestamp ---------------------------------------------------


class Rejected(Exception):
    """The request was not signed by the hub (or not recently): answer 401, handle nothing."""


@dataclass(frozen=True)
class Verifier:
    #: The subscription's `whsec_…` secret, for `v1` signatures (None: accept only `v1a`).
    secret: bytes | None
    #: The hub's Ed25519 keys (`whpk_…`), for `v1a` signatures.
    public_keys: tuple[Ed25519PublicKey, ...]
    tolerance_seconds: int = 300

    @classmethod
    def of(cls, secret: str | None, public_keys: list[str], tolerance: int) -> Verifier:
        if secret is None and not public_keys:
            raise SystemExit("set PPH_WEBHOOK_SECRET (whsec_…) or PPH_WEBHOOK_PUBLIC_KEYS (whpk_…)")
        return cls(
            secret=None if secret is None else base64.b64decode(secret.removeprefix("whsec_")),
            public_keys=tuple(
                Ed25519PublicKey.from_public_bytes(base64.b64decode(key.removeprefix("whpk_")))
                for key in public_keys
            ),
            tolerance_seconds=tolerance,
        )

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> str:
        """The request's `webhook-id` if one of its signatures is valid; Rejected if not."""
        message_id = headers.get("webhook-id")
        timestamp = headers.get("webhook-timestamp")
        signatures = headers.get("webhook-signature")
        if not message_id or not timestamp or not signatures:
            raise Rejected("missing webhook-id, webhook-timestamp or webhook-signature")
        try:
            sent_at = int(timestamp)
        except ValueError:
            raise Rejected("webhook-timestamp is not a number of seconds") from None
        if abs(now - sent_at) > self.tolerance_seconds:
            raise Rejected(f"webhook-timestamp is more than {self.tolerance_seconds}s from now")
        signed = f"{message_id}.{timestamp}.".encode() + body
        for signature in signatures.split():
            version, _, value = signature.partition(",")
            try:
                raw = base64.b64decode(value, validate=True)
            except ValueError:
                continue
            if version == "v1" and self.secret is not None:
                expected = hmac.new(self.secret, signed, hashlib.sha256).digest()
                if hmac.compare_digest(raw, expected):
                    return message_id
            elif version == "v1a":
                for key in self.public_keys:
                    try:
                        key.verify(raw, signed)
                        return message_id
                    except InvalidSignature:
                        pass
        raise Rejected("no valid signature")


# -- the body: the one place that knows the payload's shape -------------------------------------


@dataclass(frozen=True)
class Disclosure:
    id: str
    event_type: str
    #: The notification (a CloudEvent), with only the fields the recipient was granted.
    notification: dict[str, Any]


def parse_webhook_body(body: bytes) -> Disclosure:
    """Payload version 2 (Standard Webhooks): `{"type", "timestamp", "data": {"disclosure",
    "notification"}}`. Version 1, `{"disclosure", "notification"}`, is what subscriptions made
    before it still receive; it is read too."""
    document = json.loads(body)
    data = document.get("data", document)
    return Disclosure(
        id=data["disclosure"]["id"],
        event_type=data["disclosure"]["event_type"],
        notification=data["notification"],
    )


# -- 3: what was handled, and where the feed was read up to (SQLite) ------------------------------


class State:
    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS seen (message_id TEXT PRIMARY KEY);
            CREATE TABLE IF NOT EXISTS inbox (
                disclosure_id TEXT PRIMARY KEY, event_type TEXT, notification TEXT, via TEXT);
            CREATE TABLE IF NOT EXISTS feed_position (one INTEGER PRIMARY KEY CHECK (one = 1),
                after INTEGER NOT NULL);
            """
        )

    def seen(self, *message_ids: str) -> bool:
        marks = ",".join("?" * len(message_ids))
        query = f"SELECT 1 FROM seen WHERE message_id IN ({marks})"  # noqa: S608 - only marks
        return self._db.execute(query, message_ids).fetchone() is not None

    def mark_seen(self, *message_ids: str) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO seen VALUES (?)", [(message_id,) for message_id in message_ids]
        )

    def store(self, disclosure: Disclosure, via: str) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO inbox VALUES (?, ?, ?, ?)",
            (disclosure.id, disclosure.event_type, json.dumps(disclosure.notification), via),
        )

    def feed_position(self) -> int:
        row = self._db.execute("SELECT after FROM feed_position").fetchone()
        return 0 if row is None else int(row[0])

    def save_feed_position(self, after: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO feed_position VALUES (1, ?)", (after,))


# -- 4 and 5: the hub's API ---------------------------------------------------------------------


class Hub:
    """The hub's API, with a client-credentials token fetched when needed."""

    def __init__(self, url: str, client_id: str, client_secret: str) -> None:
        self._http = httpx.Client(base_url=url, timeout=10)
        self._credentials = (client_id, client_secret)
        self._token = ""
        self._token_expires = 0.0

    def _headers(self) -> dict[str, str]:
        if time.monotonic() > self._token_expires - 30:
            answer = self._http.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=self._credentials
            )
            answer.raise_for_status()
            token = answer.json()
            self._token = token["access_token"]
            self._token_expires = time.monotonic() + token.get("expires_in", 60)
        return {"Authorization": f"Bearer {self._token}", "X-Purpose": "receiving disclosures"}

    def acknowledge(self, disclosure_id: str) -> None:
        answer = self._http.post(f"/v1/disclosures/{disclosure_id}/ack", headers=self._headers())
        answer.raise_for_status()  # 201 the first time, 200 when it was acknowledged already

    def feed_page(self, after: int) -> dict[str, Any]:
        answer = self._http.get("/v1/feed", params={"after": after}, headers=self._headers())
        answer.raise_for_status()
        page: dict[str, Any] = answer.json()
        return page

    def webhook_keys(self) -> list[str]:
        """The hub's published Ed25519 keys (public: no token needed)."""
        answer = self._http.get("/v1/webhook-keys")
        answer.raise_for_status()
        return [key["public_key"] for key in answer.json()["keys"]]


# -- the receiver -------------------------------------------------------------------------------


class Receiver:
    def __init__(self, verifier: Verifier, state: State, hub: Hub) -> None:
        self.verifier = verifier
        self.state = state
        self.hub = hub
        # One disclosure at a time: simple, and enough for one agency's volume.
        self._lock = threading.Lock()

    def handle(self, disclosure: Disclosure, via: str) -> None:
        """Take the disclosure into the agency's system (here: the inbox table), then
        acknowledge it. Both are idempotent, so doing them again after a crash is harmless."""
        self.state.store(disclosure, via)
        self.hub.acknowledge(disclosure.id)
        log(f"processed disclosure={disclosure.id} type={disclosure.event_type} via={via}")

    def on_webhook(self, headers: Mapping[str, str], body: bytes) -> str:
        """`processed` or `duplicate`; Rejected, ValueError (bad body) or httpx.HTTPError."""
        message_id = self.verifier.verify(headers, body, time.time())
        disclosure = parse_webhook_body(body)
        with self._lock:
            if self.state.seen(message_id, disclosure.id):
                self.state.mark_seen(message_id)
                log(f"duplicate webhook-id={message_id} disclosure={disclosure.id}")
                return "duplicate"
            self.handle(disclosure, via="webhook")
            # Marked only once handled and acknowledged: a failure before this is retried.
            self.state.mark_seen(message_id, disclosure.id)
            return "processed"

    def catch_up(self) -> None:
        """Read the feed from the saved position, handling what no webhook brought."""
        after = start = self.state.feed_position()
        new = 0
        while True:
            page = self.hub.feed_page(after)
            with self._lock:
                for item in page["items"]:
                    disclosure = Disclosure(
                        item["disclosure_id"], item["event_type"], item["notification"]
                    )
                    if not self.state.seen(disclosure.id):
                        self.handle(disclosure, via="feed")
                        self.state.mark_seen(disclosure.id)
                        new += 1
                    self.state.save_feed_position(item["seq"])
            after = page["next_after"]
            if after >= page["last_seq"]:
                break
        log(f"caught up from the feed: {new} new, position {start} -> {after}")


def build(environ: Mapping[str, str]) -> Receiver:
    hub = Hub(
        environ.get("PPH_HUB_URL", "http://127.0.0.1:8000"),
        environ["PPH_CLIENT_ID"],
        environ["PPH_CLIENT_SECRET"],
    )
    public_keys = environ.get("PPH_WEBHOOK_PUBLIC_KEYS", "").split()
    if environ.get("PPH_FETCH_WEBHOOK_KEYS", "").lower() == "true":
        public_keys += hub.webhook_keys()
    verifier = Verifier.of(
        environ.get("PPH_WEBHOOK_SECRET") or None,
        public_keys,
        int(environ.get("PPH_TIMESTAMP_TOLERANCE_SECONDS", "300")),
    )
    return Receiver(verifier, State(environ.get("PPH_STATE", "receiver.sqlite3")), hub)


def create_app(receiver: Receiver) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            receiver.catch_up()
        except httpx.HTTPError as error:
            log(f"could not read the feed ({error!r}); will try again at the next start")
        yield

    app = FastAPI(title="PPH webhook receiver", lifespan=lifespan)

    @app.post("/webhook")
    async def webhook(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            outcome = await run_in_threadpool(receiver.on_webhook, request.headers, body)
        except Rejected as rejected:
            log(f"rejected webhook-id={request.headers.get('webhook-id')} reason={rejected}")
            return JSONResponse({"error": str(rejected)}, status_code=401)
        except (ValueError, KeyError, TypeError) as error:
            log(f"unreadable body webhook-id={request.headers.get('webhook-id')}: {error!r}")
            return JSONResponse({"error": "not a disclosure"}, status_code=400)
        except httpx.HTTPError as error:
            # Not acknowledged, so not marked as seen: the hub sends it again later.
            log(f"could not acknowledge ({error!r}); asking the hub to retry")
            return JSONResponse({"error": "try again later"}, status_code=503)
        return JSONResponse({"status": outcome})

    return app


if __name__ == "__main__":
    receiver = build(os.environ)
    port = int(os.environ.get("PPH_RECEIVER_PORT", "8080"))
    uvicorn.run(create_app(receiver), host="127.0.0.1", port=port)
