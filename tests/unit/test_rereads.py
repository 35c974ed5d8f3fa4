"""Which re-reads of a disclosure are logged (`hub.services.rereads`): once per key per window,
only after the write, and a forgotten key is logged again rather than hidden."""

from __future__ import annotations

import pytest

from hub.services.rereads import RereadWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_logged_once_per_window() -> None:
    clock = Clock()
    window = RereadWindow(60, clock=clock)
    keys = [("cl_a", "purpose", "d_1"), ("cl_a", "purpose", "d_2")]
    assert window.unlogged(keys) == keys
    # Not yet written: still to be logged (a failed write must not hide the read).
    assert window.unlogged(keys) == keys
    window.logged(keys)
    assert window.unlogged(keys) == []
    # Another client, or another purpose, is another read.
    assert window.unlogged([("cl_b", "purpose", "d_1"), ("cl_a", "other", "d_1")]) == [
        ("cl_b", "purpose", "d_1"),
        ("cl_a", "other", "d_1"),
    ]
    clock.now += 60
    assert window.unlogged(keys) == keys


def test_a_zero_window_logs_every_read() -> None:
    window = RereadWindow(0)
    window.logged(["k"])
    assert window.unlogged(["k"]) == ["k"]


def test_memory_is_bounded_and_a_forgotten_key_is_logged_again() -> None:
    window = RereadWindow(3600, max_remembered=2)
    window.logged(["a", "b", "c"])
    assert window.unlogged(["a", "b", "c"]) == ["a"]


def test_nonsense_is_refused() -> None:
    with pytest.raises(ValueError, match="seconds"):
        RereadWindow(-1)
    with pytest.raises(ValueError, match="max_remembered"):
        RereadWindow(1, max_remembered=0)
