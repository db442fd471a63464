"""Each node's inside, fresh while the Cluster panel is shown: the gateway's
``/api/cluster/inside`` merged over its cluster view.

The cluster view (``GET /api/cluster``) is as of the gateway's last health round, which at tempo
x1/20 comes every 20 s; an election timer running down over 6-12 s would never be seen.
:class:`InsideFeed` follows ``/api/cluster/inside`` only while someone looks (``watch(True)``),
keeps each node's latest inside, and :func:`merge_inside` lays it over the view's inside columns
(role, term, vote, commit, applied, log span, election timer, the leader's match/next).  Whether
a node is up, who leads and who is fresh stay the view's; a node the feed cannot reach keeps the
view's values.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Mapping
from typing import Any

from console.ops.cluster import ClusterStatus, FollowerProgress, NodeRow
from engine.client import GateClient, GateError


def merge_inside(status: ClusterStatus, inside: Mapping[str, Mapping[str, Any]]) -> ClusterStatus:
    """``status`` with the inside columns of each node in ``inside`` taken from there.

    A node the view has down stays down (the health rounds decide that), and so does one the
    feed has no word of."""
    rows = tuple(
        _merged_row(row, inside[row.node_id])
        if row.node_id in inside and row.role != "down"
        else row
        for row in status.nodes
    )
    return dataclasses.replace(status, nodes=rows)


def _merged_row(row: NodeRow, inside: Mapping[str, Any]) -> NodeRow:
    span = inside.get("log")
    timer = inside.get("election_timer")
    return dataclasses.replace(
        row,
        role=str(inside.get("role") or row.role),
        term=inside.get("term"),
        commit_position=inside.get("commit_position"),
        applied_position=inside.get("applied_position"),
        log_first=span["first_index"] if span else None,
        log_last=span["last_index"] if span else None,
        voted_for=inside.get("voted_for"),
        timer_elapsed_ms=timer["elapsed_ms"] if timer else None,
        timer_timeout_ms=timer["timeout_ms"] if timer else None,
        progress=tuple(
            FollowerProgress(peer, int(pr["match"]), int(pr["next"]), str(pr["state"]))
            for peer, pr in sorted((inside.get("progress") or {}).items())
        ),
    )


class InsideFeed:
    """The nodes' inside while watched; nothing asked otherwise."""

    def __init__(self, client: GateClient) -> None:
        self._client = client
        self._task: asyncio.Task[None] | None = None
        self.nodes: dict[str, dict[str, Any]] = {}  # each node's latest inside, when known
        self.updates = 0  # messages taken so far (the panel redraws on a new one; tests wait)
        self.problem = ""  # why no inside comes, in words ("" while it does)

    @property
    def watching(self) -> bool:
        return self._task is not None

    def watch(self, on: bool) -> None:
        """Follow the nodes' inside (``on``) or stop asking for it."""
        if on and self._task is None:
            self._task = asyncio.create_task(self._follow(), name="nodes-inside")
        elif not on and self._task is not None:
            self._task.cancel()
            self._task = None
            self.nodes = {}  # not kept current any more: the view's values again

    def merged(self, status: ClusterStatus) -> ClusterStatus:
        """``status`` with the fresh inside over it, while watched."""
        return merge_inside(status, self.nodes) if self.nodes else status

    def _connection(self, up: bool, reason: str) -> None:
        if not up:
            self.nodes = {}  # no longer current: the view's values until the feed is back
            self.updates += 1
        self.problem = "" if up else f"reconnecting: {reason}"

    async def _follow(self) -> None:
        messages = self._client.inside(keep_trying=True, on_connection=self._connection)
        try:
            async for message in messages:
                self.problem = ""
                for node, inside in (message.get("nodes") or {}).items():
                    if isinstance(inside, dict):
                        self.nodes[node] = inside
                    else:
                        self.nodes.pop(node, None)  # unreachable: the view's values
                self.updates += 1
        except GateError as exc:
            self.problem = exc.message
        finally:
            with contextlib.suppress(Exception):
                await messages.aclose()  # type: ignore[attr-defined]

    async def stop(self) -> None:
        task, self._task = self._task, None
        self.nodes = {}
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
