"""Helpers for the receiver examples' tests: each example run as its own process, the Java one
built with Maven first, requests signed as the hub signs them (the `standardwebhooks` library for
`v1`, Ed25519 for `v1a`), and a stand-in for the hub's API for the tests that need no hub."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from standardwebhooks import Webhook

from tests.e2e.conftest import free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "receivers"
JAVA_JAR = EXAMPLES / "java" / "target" / "pph-receiver.jar"
KINDS = ["python", "java"]


def build_java() -> None:
    """`mvn package` (the first build resolves Gson and the plugins from Maven Central; later
    ones work offline). Without Maven or a JDK the Java tests are skipped, except in CI."""
    if shutil.which("mvn") is None or shutil.which("java") is None:
        if os.environ.get("CI"):
            raise AssertionError("CI runs the Java receiver: install a JDK 17 and Maven")
        pytest.skip("the Java receiver needs a JDK 17 and Maven (apt-get install maven)")
    done = subprocess.run(
        ["mvn", "-q", "-B", "package"],
        cwd=EXAMPLES / "java",
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def command(kind: str) -> list[str]:
    if kind == "python":
        return [sys.executable, str(EXAMPLES / "python" / "receiver.py")]
    return ["java", "-jar", str(JAVA_JAR)]


@dataclass
class ReceiverProcess:
    """One example receiver, started and stopped as an agency would run it."""

    kind: str
    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    def start(self) -> None:
        assert self.process is None
        env = {**os.environ, **self.env, "PPH_RECEIVER_PORT": str(self.port)}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command(self.kind), env=env, stdout=log, stderr=log)
        # It reads the feed before it listens: once it answers, it has caught up.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the receiver exited:\n{self.log.read_text()}")
            try:
                httpx.get(self.url, timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"the receiver did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def lines(self, prefix: str) -> list[str]:
        """Its log lines that start with `prefix` (`processed`, `duplicate`, `rejected`…)."""
        return [line for line in self.log.read_text().splitlines() if line.startswith(prefix)]

    def wait_for(self, prefix: str, containing: str = "", within: float = 60.0) -> str:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for line in self.lines(prefix):
                if containing in line:
                    return line
            time.sleep(0.1)
        raise AssertionError(f"no line {prefix!r} with {containing!r}:\n{self.log.read_text()}")


@contextmanager
def running(receiver: ReceiverProcess) -> Iterator[ReceiverProcess]:
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


# -- signing as the hub does ----------------------------------------------------------------------


def v2_body(disclosure_id: str, seq: int = 1) -> bytes:
    """A webhook body in payload version 2 (the shared contract of issue 18)."""
    decided = "2026-12-06T12:00:00+00:00"
    return json.dumps(
        {
            "type": "release.schedule1-notification",
            "timestamp": decided,
            "data": {
                "disclosure": {
                    "id": disclosure_id,
                    "recipient_seq": seq,
                    "event_type": "release.schedule1-notification",
                    "decided_at": decided,
                },
                "notification": {"specversion": "1.0", "type": "release.schedule1-notification"},
            },
        }
    ).encode()


def signed_headers(
    body: bytes,
    message_id: str,
    *,
    secret: str | None = None,
    key: Ed25519PrivateKey | None = None,
    at: datetime | None = None,
) -> dict[str, str]:
    """Standard Webhooks headers: `v1` by the `standardwebhooks` library, `v1a` by Ed25519."""
    at = at or datetime.now(UTC)
    timestamp = str(int(at.timestamp()))
    signatures = []
    if secret is not None:
        signatures.append(Webhook(secret).sign(message_id, at, body.decode()))
    if key is not None:
        signed = f"{message_id}.{timestamp}.".encode() + body
        signatures.append("v1a," + base64.b64encode(key.sign(signed)).decode())
    return {
        "webhook-id": message_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
    }


def public_key(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "whpk_" + base64.b64encode(raw).decode()


# -- a stand-in for the hub's API, for the tests of verification alone ----------------------------


@dataclass
class StandInHub:
    """Answers what a receiver asks of the hub (a token, acknowledgements, the feed) and
    records the acknowledgements; `ack_status` lets a test make them fail."""

    feed: list[dict[str, Any]] = field(default_factory=list)
    acks: list[str] = field(default_factory=list)
    ack_status: int = 201
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def stand_in_hub() -> Iterator[StandInHub]:
    hub = StandInHub()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, document: object) -> None:
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/oauth/token":
                self._answer(200, {"access_token": "token", "expires_in": 300})
            elif self.path.startswith("/v1/disclosures/") and self.path.endswith("/ack"):
                if hub.ack_status < 300:
                    hub.acks.append(self.path.split("/")[3])
                self._answer(hub.ack_status, {})
            else:
                self._answer(404, {})

        def do_GET(self) -> None:
            if self.path.startswith("/v1/feed"):
                after = int(self.path.partition("after=")[2] or 0)
                items = [item for item in hub.feed if item["seq"] > after]
                last = max((item["seq"] for item in hub.feed), default=0)
                next_after = items[-1]["seq"] if items else after
                self._answer(200, {"items": items, "next_after": next_after, "last_seq": last})
            else:
                self._answer(404, {})

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hub.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
