"""What stops a command becomes one line and its exit status; a bug keeps its traceback."""

from __future__ import annotations

import argparse
import os

import pytest

from hub.cli import exits
from hub.cli.running import connection_failure, run_command
from hub.errors import BusUnavailable, NotFound
from hub.settings import Settings

PASSWORD = "pw-Zebra-9931"


@pytest.fixture(autouse=True)
def _settings(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in list(os.environ):
        if name.upper().startswith("HUB_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("HUB_KAFKA_SASL_PASSWORD", PASSWORD)


def _command(error: BaseException) -> argparse.Namespace:
    async def run(args: argparse.Namespace, settings: Settings) -> int:
        raise error

    return argparse.Namespace(run=run)


def test_unreachable_brokers_are_named_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    failure = BusUnavailable(f"Kafka failed while connecting: timed out (password {PASSWORD})")
    assert run_command(_command(failure)) == exits.UNAVAILABLE
    err = capsys.readouterr().err
    assert err.startswith(
        "error: cannot reach Kafka at kafka-1:9092,kafka-2:9092 (HUB_KAFKA_BOOTSTRAP): "
    )
    assert len(err.splitlines()) == 1
    assert PASSWORD not in err


def test_a_hub_error_is_its_message_and_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(_command(NotFound("no client cl_x"))) == exits.NOT_FOUND
    assert capsys.readouterr().err == "error: no client cl_x\n"


def test_a_bug_keeps_its_traceback() -> None:
    with pytest.raises(ZeroDivisionError):
        run_command(_command(ZeroDivisionError("a bug")))


def test_a_refused_connection_is_recognised_through_what_wraps_it() -> None:
    class InvalidPasswordError(Exception):
        sqlstate = "28P01"

    class DBAPIError(Exception):
        def __init__(self, orig: BaseException) -> None:
            super().__init__("wrapped")
            self.orig = orig

    refused = DBAPIError(InvalidPasswordError('password authentication failed for user "hub"'))
    assert connection_failure(refused) == (
        'InvalidPasswordError: password authentication failed for user "hub"'
    )
    assert connection_failure(ValueError("not a connection")) is None
    wrapping = RuntimeError("while connecting")
    wrapping.__cause__ = _raised_in("asyncpg.connect_utils", ConnectionRefusedError(111, "refused"))
    assert connection_failure(wrapping) == "ConnectionRefusedError: [Errno 111] refused"


def test_a_file_or_pipe_error_outside_the_drivers_is_not_the_database() -> None:
    assert connection_failure(_raised_in("hub.cli.audit", FileNotFoundError(2, "no"))) is None
    assert connection_failure(_raised_in("asyncpg.protocol", BrokenPipeError(32, "pipe"))) is None


def _raised_in(module: str, error: Exception) -> Exception:
    """`error`, raised by code of `module` (as a driver raises it), and caught."""
    namespace: dict[str, object] = {"__name__": module, "error": error}
    exec("def fail():\n    raise error\n", namespace)
    fail = namespace["fail"]
    assert callable(fail)
    try:
        fail()
    except Exception as caught:
        return caught
    raise AssertionError("not raised")
