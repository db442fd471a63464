"""What both cluster monitors keep alike: Gate's nodes (``engine.gateway.health``) and JetStream's
servers (``engine.jetstream.monitor``).

The event feed behind ``/api/cluster/events``, the future of the next leader change, one probe
round shared by concurrent callers, and the events of a member going up, down or restarting
(docs/API.md, "Cluster events").  Each monitor probes its own way and builds its own view.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

QUEUE_SIZE = 256  # events a subscriber may lag behind before it loses the oldest


class MonitorCore:
    """The feed, the leader future and the shared rounds; ``_probe_round`` is the monitor's."""

    def __init__(self, *, queue_size: int, log: logging.Logger) -> None:
        self._queue_size = queue_size
        self._log = log
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._moved: asyncio.Future[None] | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._round: asyncio.Task[dict[str, Any]] | None = None
        self._view: dict[str, Any] = {}  # the monitor's own, from its first round on
        self._leader: str | None = None
        self._term = 0
        self._up: dict[str, bool] = {}  # per member, as last published
        self._restarts: dict[str, int] = {}  # per member, the gateway's restarts as published

    @property
    def view(self) -> dict[str, Any]:
        """The latest cluster view (the body of ``GET /api/cluster``)."""
        return self._view

    @property
    def leader(self) -> str | None:
        """The leader's node id, None when no leader is known."""
        return self._leader

    @property
    def term(self) -> int:
        """The leader's term (the highest seen when there is none)."""
        return self._term

    # -- subscribers ---------------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        """A queue receiving every published event; the oldest are dropped when it is full."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        """Stop publishing to ``queue`` (fine if it was never subscribed)."""
        self._subscribers.discard(queue)

    def _publish(self, event: dict[str, Any]) -> None:
        for queue in self._subscribers:
            # A slow subscriber loses its oldest events, never blocks the monitor.
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    # -- leadership ------------------------------------------------------------------------------

    def leader_moved(self) -> asyncio.Future[None]:
        """A future that completes at the next change of leader (shared by all waiters)."""
        if self._moved is None or self._moved.done():
            self._moved = asyncio.get_running_loop().create_future()
        return self._moved

    def _leader_changed(self, leader: str | None, previous: str | None, term: int | None) -> None:
        if self._moved is not None and not self._moved.done():
            self._moved.set_result(None)
        self._publish(
            {"type": "leader_changed", "leader": leader, "previous": previous, "term": term}
        )

    # -- rounds ----------------------------------------------------------------------------------

    async def refresh(self) -> dict[str, Any]:
        """Run one round now (concurrent callers share it) and return the new view."""
        if self._round is None:
            self._round = asyncio.create_task(self._probe_round())
            self._round.add_done_callback(self._round_done)
        return await asyncio.shield(self._round)

    async def _probe_round(self) -> dict[str, Any]:
        raise NotImplementedError

    def _round_done(self, task: asyncio.Task[dict[str, Any]]) -> None:
        self._round = None
        if not task.cancelled():
            task.exception()  # retrieved here; the awaiting callers re-raise it

    async def _stop_rounds(self) -> None:
        task, self._loop_task = self._loop_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        current = self._round
        if current is not None:
            current.cancel()
            await asyncio.gather(current, return_exceptions=True)

    # -- members ---------------------------------------------------------------------------------

    def _note_up_and_restarts(self, entry: dict[str, Any]) -> None:
        """Publish a member's restarts by the gateway and its going up or down."""
        node_id = entry["node_id"]
        restarts = entry["restarts"]
        if restarts > self._restarts.get(node_id, 0):
            # Several restarts between two rounds make one event, with the count they reached.
            self._publish(
                {
                    "type": "node_restarted",
                    "node_id": node_id,
                    "restarts": restarts,
                    "exit_code": entry["exit_code"],
                }
            )
        self._restarts[node_id] = restarts
        up = entry["role"] != "down"
        if self._up.get(node_id) != up:
            self._up[node_id] = up
            self._publish(
                {
                    "type": "node_up" if up else "node_down",
                    "node_id": node_id,
                    "role": entry["role"],
                    "http": entry["http"],
                    "tcp": entry["tcp"],
                }
            )
