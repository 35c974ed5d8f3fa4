"""Group commit for single pushes: concurrent appends of one publisher joined into one
transaction, so that many small writers share one commit (and its fsync) instead of queueing for
one each.

No timer: while a publisher's append is being committed, the pushes that arrive meanwhile wait,
and go together as the next append as soon as it is done; a push that finds nothing in flight is
appended at once. So a lone push waits for nothing, and under load each commit carries every push
that arrived during the one before. Every caller is answered only once the append that holds its
notification has committed. If a joined append fails (one notification's conflict fails the whole
transaction), each of its notifications is appended again on its own, so every caller gets its
own result or its own error, exactly as without grouping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from hub.domain.notifications import AppendResult, Notification, Publisher

#: The store's append of several notifications for one publisher, in one transaction.
Append = Callable[[Sequence[Notification], Publisher], Awaitable[list[AppendResult]]]


@dataclass(slots=True)
class _Waiting:
    notification: Notification
    answer: asyncio.Future[AppendResult] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupedAppends:
    """Single appends joined per publisher while an append of that publisher is in flight."""

    def __init__(self, append: Append, *, max_group: int) -> None:
        if max_group < 1:
            raise ValueError("a group holds at least one notification")
        self._append = append
        self._max_group = max_group
        self._waiting: dict[Publisher, list[_Waiting]] = {}
        #: The flush of each publisher that has one running (kept so it is not collected).
        self._flushing: dict[Publisher, asyncio.Task[None]] = {}

    async def append(self, notification: Notification, publisher: Publisher) -> AppendResult:
        """Append `notification` (committed when this returns) with whatever else `publisher`
        pushes meanwhile."""
        waiting = _Waiting(notification)
        self._waiting.setdefault(publisher, []).append(waiting)
        if publisher not in self._flushing:
            # A task of its own, so that a caller who goes away does not cancel the others.
            self._flushing[publisher] = asyncio.create_task(self._flush(publisher))
        # Shielded: the append goes on (and commits) even if this caller is cancelled.
        return await asyncio.shield(waiting.answer)

    async def _flush(self, publisher: Publisher) -> None:
        try:
            while True:
                queue = self._waiting.get(publisher)
                if not queue:
                    return
                group, self._waiting[publisher] = (
                    queue[: self._max_group],
                    queue[self._max_group :],
                )
                await self._append_group(group, publisher)
        finally:
            del self._flushing[publisher]
            if not self._waiting.get(publisher):
                self._waiting.pop(publisher, None)
            else:  # arrived as this flush ended
                self._flushing[publisher] = asyncio.create_task(self._flush(publisher))

    async def _append_group(self, group: list[_Waiting], publisher: Publisher) -> None:
        try:
            results = await self._append([w.notification for w in group], publisher)
        except Exception as error:
            if len(group) == 1:
                _settle(group[0], error=error)
                return
            # One notification's conflict fails the whole transaction: each on its own, so
            # that each caller gets its own answer.
            for waiting in group:
                try:
                    [result] = await self._append([waiting.notification], publisher)
                except Exception as own_error:
                    _settle(waiting, error=own_error)
                else:
                    _settle(waiting, result=result)
            return
        except BaseException as error:  # cancelled (shutdown): nobody waits forever
            for waiting in group:
                _settle(waiting, error=error)
            raise
        for waiting, result in zip(group, results, strict=True):
            _settle(waiting, result=result)


def _settle(
    waiting: _Waiting, *, result: AppendResult | None = None, error: BaseException | None = None
) -> None:
    if waiting.answer.done():
        return
    if isinstance(error, asyncio.CancelledError):
        waiting.answer.cancel()
    elif error is not None:
        waiting.answer.set_exception(error)
    elif result is not None:
        waiting.answer.set_result(result)
