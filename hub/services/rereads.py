"""Which re-reads of a disclosure are logged: the first by a client, for one purpose, in each
window of time.

A disclosure's first read is its delivery, logged with its receipt. Every later read is a
consultation; logging each one made the audit trail grow with how often a client re-paged its
feed (twenty re-pages of a 405-item feed doubled the database) rather than with what it read.
So a re-read is logged the first time a client reads that disclosure for that purpose in a
window (`HUB_FEED_REREAD_AUDIT_WINDOW_SECONDS`); its entry says that repeats within the window
are not logged again. The memory is this process's and bounded: a restart, another process, or
an old key forgotten only ever logs a read again, never hides one.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Final, TypeVar

__all__ = ["MAX_REMEMBERED", "RereadWindow"]

#: How many (client, purpose, disclosure) reads are remembered at most; beyond it the oldest are
#: forgotten (and so logged again when re-read).
MAX_REMEMBERED: Final = 200_000

K = TypeVar("K", bound=Hashable)


class RereadWindow:
    """Remembers when each key (client, purpose, disclosure) was last logged."""

    def __init__(
        self,
        seconds: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_remembered: int = MAX_REMEMBERED,
    ) -> None:
        if seconds < 0:
            raise ValueError(f"seconds must be 0 or more, not {seconds}")
        if max_remembered < 1:
            raise ValueError(f"max_remembered must be at least 1, not {max_remembered}")
        self.seconds = seconds
        self._clock = clock
        self._max = max_remembered
        #: key -> when its read was logged, oldest first.
        self._logged: OrderedDict[Hashable, float] = OrderedDict()
        self._lock = threading.Lock()

    def unlogged(self, keys: Iterable[K]) -> list[K]:
        """The keys whose read has not been logged within the window (with a window of 0 seconds,
        every key): these must be logged now."""
        now = self._clock()
        with self._lock:
            self._forget_expired(now)
            return [k for k in keys if k not in self._logged]

    def logged(self, keys: Iterable[Hashable]) -> None:
        """Record that these keys' reads were logged (call it only once the entries are
        written: a failed write must leave them to be logged at the next read)."""
        if self.seconds == 0:
            return
        now = self._clock()
        with self._lock:
            for key in keys:
                self._logged.pop(key, None)
                self._logged[key] = now
            while len(self._logged) > self._max:
                self._logged.popitem(last=False)

    def _forget_expired(self, now: float) -> None:
        while self._logged:
            key, at = next(iter(self._logged.items()))
            if now - at < self.seconds:
                return
            del self._logged[key]
