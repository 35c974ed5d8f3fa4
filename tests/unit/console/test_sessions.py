"""Console sessions: short, server-side, with a CSRF token, and pending sign-ins bound to the
browser that began them."""

from __future__ import annotations

from hub.api.console.roles import HubRole
from hub.api.console.sessions import SessionStore, SignedInPerson, csrf_matches

PERSON = SignedInPerson("subject-1", "Dana Ogilvie", frozenset({HubRole("dpo")}), "sps")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def store(clock: Clock) -> SessionStore:
    return SessionStore(idle_seconds=60, max_seconds=300, sign_in_seconds=30, clock=clock)


def test_a_session_is_found_by_its_id_and_ended_by_sign_out() -> None:
    sessions = store(Clock())
    session_id, session = sessions.open(PERSON, "id-token")
    assert sessions.find(session_id) is session
    assert sessions.close(session_id) is session
    assert sessions.find(session_id) is None


def test_an_unknown_or_absent_id_finds_nothing() -> None:
    sessions = store(Clock())
    sessions.open(PERSON, "id-token")
    assert sessions.find("not-a-session") is None
    assert sessions.find(None) is None
    assert sessions.find("") is None


def test_a_session_ends_when_idle_too_long() -> None:
    clock = Clock()
    sessions = store(clock)
    session_id, _ = sessions.open(PERSON, "id-token")
    clock.now += 61
    assert sessions.find(session_id) is None
    assert len(sessions) == 0


def test_use_keeps_a_session_alive_but_not_beyond_its_maximum() -> None:
    clock = Clock()
    sessions = store(clock)
    session_id, _ = sessions.open(PERSON, "id-token")
    for _ in range(5):
        clock.now += 50
        assert sessions.find(session_id) is not None
    clock.now += 50  # 300 s after it began: over the maximum, though used 50 s ago
    assert sessions.find(session_id) is None


def test_the_store_keeps_only_the_ids_digest() -> None:
    sessions = store(Clock())
    session_id, _ = sessions.open(PERSON, "id-token")
    assert session_id not in sessions._sessions


def test_csrf_token_must_be_the_sessions_own() -> None:
    sessions = store(Clock())
    _, session = sessions.open(PERSON, "id-token")
    _, other = sessions.open(PERSON, "id-token")
    assert csrf_matches(session, session.csrf_token)
    assert not csrf_matches(session, other.csrf_token)
    assert not csrf_matches(session, None)
    assert not csrf_matches(session, "")


def test_a_pending_sign_in_is_used_once_by_the_browser_that_began_it() -> None:
    sessions = store(Clock())
    binding, pending = sessions.begin_sign_in("http://localhost/console/callback")
    other_binding, _ = sessions.begin_sign_in("http://localhost/console/callback")
    assert sessions.finish_sign_in(other_binding, pending.state) is None  # another browser
    assert sessions.finish_sign_in(binding, pending.state) is pending
    assert sessions.finish_sign_in(binding, pending.state) is None  # already used


def test_a_pending_sign_in_with_a_forged_state_is_refused_and_used_up() -> None:
    sessions = store(Clock())
    binding, pending = sessions.begin_sign_in("http://localhost/console/callback")
    assert sessions.finish_sign_in(binding, "forged") is None
    assert sessions.finish_sign_in(binding, pending.state) is None


def test_a_pending_sign_in_expires() -> None:
    clock = Clock()
    sessions = store(clock)
    binding, pending = sessions.begin_sign_in("http://localhost/console/callback")
    clock.now += 31
    assert sessions.finish_sign_in(binding, pending.state) is None


def test_each_pending_sign_in_has_its_own_secrets() -> None:
    sessions = store(Clock())
    _, first = sessions.begin_sign_in("http://localhost/console/callback")
    _, second = sessions.begin_sign_in("http://localhost/console/callback")
    assert {first.state, first.nonce, first.code_verifier}.isdisjoint(
        {second.state, second.nonce, second.code_verifier}
    )
    assert 43 <= len(first.code_verifier) <= 128  # RFC 7636 section 4.1
