"""Long work shows a sign of life on a terminal and nothing when its output is piped."""

from __future__ import annotations

import io

from hub.cli.progress import working


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_sees_what_is_being_done_then_a_cleared_line() -> None:
    terminal = Terminal()
    with working("verifying the audit log", stream=terminal, interval=0.01):
        pass
    shown = terminal.getvalue()
    assert "verifying the audit log… 0 s" in shown
    assert shown.endswith("\r\x1b[K")


def test_a_pipe_sees_nothing() -> None:
    pipe = io.StringIO()
    with working("verifying the audit log", stream=pipe, interval=0.01):
        pass
    assert pipe.getvalue() == ""
