"""Console sessions, kept server-side in this process's memory.

Why memory and not the database: a console session is short (minutes idle, hours at most) and
holds nothing that must survive a restart; losing it costs the person one more redirect to their
identity provider, where they are most likely still signed in. It needs no migration and puts no
session rows beside personal data. The price: sessions are per process, so a hub run as several
API processes behind a load balancer needs sticky sessions (or a database store later).

The cookie carries only a random 256-bit session id; the store is keyed by its SHA-256, so a
memory dump gives no cookie that could be replayed. Each session has its own CSRF token, which
every POST must carry in a form field (synchroniser token pattern).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hub.api.console.roles import HubRole

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class SignedInPerson:
    """Who signed in, as their identity provider vouched in the ID token."""

    subject: str
    name: str
    roles: frozenset[HubRole]
    #: The agency they act for (`hub.api.console.agencies`), recorded with what they do.
    agency: str


@dataclass(slots=True)
class ConsoleSession:
    person: SignedInPerson
    csrf_token: str
    #: The ID token, sent back as `id_token_hint` when the person signs out at the provider.
    id_token: str
    started_at: float
    last_seen_at: float


@dataclass(frozen=True, slots=True)
class PendingSignIn:
    """A sign-in sent to the identity provider and not yet come back: what the callback needs
    to check the answer (`state`, `nonce`) and redeem the code (the PKCE verifier)."""

    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    created_at: float


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class SessionStore:
    """Sessions and pending sign-ins, both expiring; expired ones are dropped as they are met
    and swept whenever a new one is made, so the store cannot grow without bound."""

    idle_seconds: float
    max_seconds: float
    #: A pending sign-in must come back within this (the person types their password).
    sign_in_seconds: float = 600.0
    clock: Clock = time.monotonic
    _sessions: dict[str, ConsoleSession] = field(default_factory=dict)
    _pending: dict[str, PendingSignIn] = field(default_factory=dict)

    def open(self, person: SignedInPerson, id_token: str) -> tuple[str, ConsoleSession]:
        """A new session: its id (for the cookie only) and the session."""
        self._sweep()
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        session = ConsoleSession(person, secrets.token_urlsafe(32), id_token, now, now)
        self._sessions[_digest(session_id)] = session
        return session_id, session

    def find(self, session_id: str | None) -> ConsoleSession | None:
        """The live session with this id, its idle time restarted; None if unknown or over."""
        if not session_id:
            return None
        key = _digest(session_id)
        session = self._sessions.get(key)
        if session is None:
            return None
        now = self.clock()
        if self._over(session, now):
            del self._sessions[key]
            return None
        session.last_seen_at = now
        return session

    def close(self, session_id: str | None) -> ConsoleSession | None:
        """Ends the session (sign-out); the session that was, if any."""
        if not session_id:
            return None
        return self._sessions.pop(_digest(session_id), None)

    def begin_sign_in(self, redirect_uri: str) -> tuple[str, PendingSignIn]:
        """A new pending sign-in: a browser-binding id (for a short cookie) and its secrets."""
        self._sweep()
        binding = secrets.token_urlsafe(32)
        pending = PendingSignIn(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            code_verifier=secrets.token_urlsafe(64),
            redirect_uri=redirect_uri,
            created_at=self.clock(),
        )
        self._pending[_digest(binding)] = pending
        return binding, pending

    def finish_sign_in(self, binding: str | None, state: str) -> PendingSignIn | None:
        """The pending sign-in this browser began with this `state`, used up; None when the
        browser began none, it is too old, or the state differs (a forged callback)."""
        if not binding:
            return None
        pending = self._pending.pop(_digest(binding), None)
        if pending is None or self.clock() - pending.created_at > self.sign_in_seconds:
            return None
        if not hmac.compare_digest(pending.state, state):
            return None
        return pending

    def __len__(self) -> int:
        return len(self._sessions)

    def _over(self, session: ConsoleSession, now: float) -> bool:
        return (
            now - session.last_seen_at >= self.idle_seconds
            or now - session.started_at >= self.max_seconds
        )

    def _sweep(self) -> None:
        now = self.clock()
        for key in [k for k, s in self._sessions.items() if self._over(s, now)]:
            del self._sessions[key]
        stale = [k for k, p in self._pending.items() if now - p.created_at > self.sign_in_seconds]
        for key in stale:
            del self._pending[key]


def csrf_matches(session: ConsoleSession, submitted: str | None) -> bool:
    """The form's CSRF token is this session's (compared in constant time)."""
    return bool(submitted) and hmac.compare_digest(session.csrf_token, submitted or "")
