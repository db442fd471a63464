"""Rounds of asking the nodes that run only while someone watches (the message trace, the
nodes' inside): the part :class:`~engine.gateway.trace.TraceHub` and
:class:`~engine.gateway.inside.InsideHub` share.

The first watcher starts the rounds, the last one to leave stops them, so nobody watching costs
the nodes nothing.  Each round's result goes to every watcher's bounded queue; a watcher that
falls behind loses its oldest results, never holds a backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Generic, TypeVar

log = logging.getLogger("gate.gateway.watched")

T = TypeVar("T")


class WatchedRounds(Generic[T]):
    """Calls :meth:`poll` every ``pace`` seconds while anyone watches; hands each watcher what
    it answered.  Subclasses say what a round asks (:meth:`poll`) and what a new watch resets
    (:meth:`starting`)."""

    name = "watched rounds"  # the task's name, and what a failed round's log line says

    def __init__(self, *, pace: float, queued: int) -> None:
        self.pace = pace
        self._queued = queued
        self._watchers: set[asyncio.Queue[T]] = set()
        self._task: asyncio.Task[None] | None = None

    @property
    def watched(self) -> bool:
        return bool(self._watchers)

    def watch(self) -> asyncio.Queue[T]:
        """A new watcher's queue; the first one starts the rounds."""
        queue: asyncio.Queue[T] = asyncio.Queue(self._queued)
        self._watchers.add(queue)
        if self._task is None:
            self.starting()
            self._task = asyncio.create_task(self._run(), name=self.name)
        return queue

    def unwatch(self, queue: asyncio.Queue[T]) -> None:
        """The watcher of ``queue`` left; the last one stops the rounds."""
        self._watchers.discard(queue)
        if not self._watchers and self._task is not None:
            self._task.cancel()
            self._task = None

    def starting(self) -> None:
        """Rounds start again after nobody watched: forget what the last ones saw."""

    async def poll(self) -> T:
        """One round."""
        raise NotImplementedError

    def hand(self, queue: asyncio.Queue[T], result: T) -> None:
        """Put ``result`` in ``queue``, its oldest result out when it is full."""
        if queue.full():
            queue.get_nowait()
        queue.put_nowait(result)

    async def _run(self) -> None:
        while True:
            try:
                result = await self.poll()
            except Exception:
                # A round that fails is logged and the next one tried: watchers keep watching.
                log.exception("a round of the %s failed", self.name)
            else:
                for queue in self._watchers:
                    self.hand(queue, result)
            await asyncio.sleep(self.pace)

    async def close(self) -> None:
        """Stop the rounds (gateway shutdown)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
