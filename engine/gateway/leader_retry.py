"""The gateway's one retry on the leader: every request that only the leader can serve.

Writes, subscription requests and consumer connections go through ``retry_on_leader`` (by way of
``Router.on_leader``): it sends to the leader the health monitor knows, follows a ``not_leader``
hint at once, and otherwise refreshes the cluster view and backs off, until the deadline.  An
answer whose code is not in ``RETRYABLE`` is the request's own answer and goes back as it is.

When the deadline passes the error says whether the outcome is known: ``timeout`` (504) when a
write may have been taken and its answer was lost, ``unavailable`` (503) otherwise.  Retrying a
write is safe because its event ids are fixed before the first attempt and the store treats a
repeated batch as the same write.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from engine.protocol.errors import RETRYABLE, GateError
from engine.protocol.framing import FrameError

T = TypeVar("T")

FIRST_DELAY = 0.02
MAX_DELAY = 0.2
# A connection refused, lost or cut in the middle of a frame: the request may have been taken.
LOST = (ConnectionError, OSError, TimeoutError, EOFError, FrameError)


class LeaderView(Protocol):
    """What the retry needs of the health monitor: who leads, hints, and a fresh look."""

    @property
    def leader(self) -> str | None: ...

    def note_leader_hint(self, node_id: str, term: int | None = None) -> None: ...

    async def refresh(self) -> Any: ...

    def leader_moved(self) -> asyncio.Future[None]: ...


async def _unless(moved: asyncio.Future[None], wait: Awaitable[Any]) -> None:
    """Await ``wait``, or give it up as soon as ``moved`` completes."""
    task = asyncio.ensure_future(wait)
    try:
        await asyncio.wait({task, moved}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()  # a shared health round goes on: refresh() shields it
    if task.done() and not task.cancelled():
        task.result()  # its error, if any, is the caller's


async def retry_on_leader(
    attempt: Callable[[str, float], Awaitable[T]],
    view: LeaderView,
    timeout: float,
    *,
    what: str,
    write: bool = False,
    on_retry: Callable[[], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """``attempt(node_id, remaining_seconds)`` on the leader until it answers or ``timeout``.

    ``what`` ends the message of a failure ("no leader could {what} ..."); ``write`` makes a lost
    answer leave the outcome unknown (``timeout``).  ``on_retry`` is told of each failed attempt
    that is tried again.
    """
    deadline = clock() + timeout
    hint: str | None = None
    reason = "no leader is known"
    outcome_unknown = False
    delay = FIRST_DELAY
    while (remaining := deadline - clock()) > 0:
        target = hint or view.leader
        hint = None
        if target is not None:
            try:
                return await attempt(target, remaining)
            except GateError as err:
                if err.code not in RETRYABLE:
                    raise
                reason = f"{target}: {err.message}"
                outcome_unknown |= err.code == "timeout"
                # not_leader names the leader when the node knows it; so does the timeout of
                # a write abandoned because another node leads now (Router.write).
                leader = err.details.get("leader")
                if isinstance(leader, str) and leader and leader != target:
                    hint = leader
                    view.note_leader_hint(leader)
            except LOST as exc:
                lost = "no answer in time" if isinstance(exc, TimeoutError) else "connection lost"
                reason = f"{target}: {str(exc) or lost}"
                outcome_unknown = True
            if on_retry is not None:
                on_retry()
            if hint is None and view.leader not in (None, target):
                hint = view.leader  # announced while the attempt ran: go there at once
        if hint is None:
            # No better idea than the monitor's: look again, and give the cluster time to
            # elect; a leader announced meanwhile (engine/node/leadership.py) ends the wait,
            # even while a frozen node holds the round.
            moved = view.leader_moved()
            await _unless(moved, view.refresh())
            if not moved.done():
                await _unless(moved, sleep(min(delay, max(0.0, deadline - clock()))))
            delay = min(delay * 2, MAX_DELAY)
    if write and outcome_unknown:
        raise GateError(
            "timeout",
            f"the write was not confirmed within {timeout:g} s ({reason}); "
            "its outcome is unknown: retry with the same event ids",
        )
    raise GateError("unavailable", f"no leader could {what} within {timeout:g} s ({reason})")
