"""Where the gateway sends each request: writes to the leader, reads to a fresh node.

Whatever only the leader serves (writes, subscription requests, consumer connections) goes
through ``Router.on_leader``, the one retry on the leader (engine/gateway/leader_retry.py).
Reads are retried here over the fresh nodes, the leader and the others, to the same deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from engine.config_model import ClusterConfig
from engine.gateway.health import ClusterMonitor
from engine.gateway.leader_retry import retry_on_leader
from engine.gateway.proposals import ANSWER_MARGIN, ProposalBatcher
from engine.gateway.tcp_pool import NodePool
from engine.protocol.errors import RETRYABLE, GateError
from engine.protocol.tempo import message_delay

log = logging.getLogger("gate.gateway.routing")

T = TypeVar("T")
# How long a read waits overall for a node to catch up with its freshness once one has answered
# that it is behind: well under a client's timeout (docs/ENGINE.md, "Read-your-writes").
FRESH_WAIT = 1.0


class Router:
    """Routes commands and reads to the nodes of one cluster."""

    def __init__(self, config: ClusterConfig, pool: NodePool, health: ClusterMonitor) -> None:
        self.config = config
        self.pool = pool
        self.health = health
        self._spread = itertools.count()
        # Concurrent writes reach the leader in shared frames (engine/gateway/proposals.py).
        self.proposals = ProposalBatcher(pool)
        # The highest log index this gateway acknowledged: reads without a token of their own
        # wait for it (less freshLag), so even curl users read their writes through a follower.
        self.acked_index = 0
        # Gate's own routing; the requests themselves are counted by their caller, the
        # gateway's handlers (engine/gateway/metrics.py, ``RequestCounts``), on either backend.
        self.counters = {
            "write_retries": 0,
            "reads_on_followers": 0,
            "reads_damaged": 0,  # answers store_damaged, each retried on another node
        }

    @property
    def deadline(self) -> float:
        """Seconds one request may take: the config's, plus a write's round trip to a follower
        and back in slow motion (engine/protocol/tempo.py), so the tempo slows writes down
        without failing them."""
        tempo_round_trip = 2 * message_delay(
            self.health.tempo.scale, self.config.replication.tick_ms / 1000
        )
        return self.config.gateway.request_timeout + tempo_round_trip

    async def ask(self, node_id: str, msg: dict[str, Any], timeout: float) -> Any:
        """One request to one node: its result, or its error raised as a GateError."""
        answer = await self.pool.get(node_id).request(msg, timeout)
        if answer.get("ok"):
            return answer.get("result")
        raise GateError.from_dict(answer.get("error") or {"code": "internal"})

    async def _propose_while_leading(
        self, node_id: str, command: dict[str, Any], remaining: float
    ) -> Any:
        """Propose at ``node_id``, giving up early if the cluster elects another leader.

        A frozen or partitioned old leader never answers; waiting out the whole deadline would
        stretch a failover into seconds.  The new leader announces itself over its TCP link
        (engine/node/leadership.py), which moves ``health.leader`` and ends the wait.
        Abandoning the attempt is safe: the retry at the new leader carries the same event
        ids, so the command is written once whatever happened.
        """
        answer = self.proposals.submit(node_id, command, remaining)
        health = self.health
        moved = health.leader_moved()

        def on_move(_: asyncio.Future[None]) -> None:
            nonlocal moved
            leader = health.leader
            if answer.done():
                return
            if leader is not None and leader != node_id:
                # The outcome is unknown (the old leader may have replicated it); the
                # retry follows ``leader`` at once rather than after a health round.
                answer.set_exception(
                    GateError(
                        "timeout", f"{node_id} stopped leading during the write", leader=leader
                    )
                )
                return
            moved = health.leader_moved()
            moved.add_done_callback(on_move)

        # Callbacks rather than a task racing two futures, and a timer rather than
        # asyncio.timeout: the lighter path for every write.
        moved.add_done_callback(on_move)
        loop = asyncio.get_running_loop()
        timer = loop.call_at(loop.time() + remaining + ANSWER_MARGIN, _time_out, answer)
        try:
            return await answer
        finally:
            timer.cancel()
            moved.remove_done_callback(on_move)
            if not answer.done():
                answer.cancel()

    async def on_leader(
        self,
        attempt: Callable[[str, float], Awaitable[T]],
        *,
        what: str,
        write: bool = False,
        on_retry: Callable[[], None] | None = None,
    ) -> T:
        """``attempt(node_id, remaining)`` on the leader, retried to the request deadline
        (engine/gateway/leader_retry.py): the one way requests reach the leader."""
        return await retry_on_leader(
            attempt, self.health, self.deadline, what=what, write=write, on_retry=on_retry
        )

    async def call_leader(self, msg: dict[str, Any]) -> Any:
        """One request that only the leader serves (subscriptions), retried to the deadline."""
        return await self.on_leader(
            lambda node_id, remaining: self.ask(node_id, msg, min(remaining, 5.0)),
            what="serve the request",
        )

    async def write(self, command: dict[str, Any]) -> tuple[Any, int]:
        """Replicate a command through the leader: its result and its log index."""

        def retried() -> None:
            self.counters["write_retries"] += 1

        answer = await self.on_leader(
            lambda node_id, remaining: self._propose_while_leading(node_id, command, remaining),
            what="take the write",
            write=True,
            on_retry=retried,
        )
        index = int(answer["index"])
        self.acked_index = max(self.acked_index, index)
        return answer["result"], index

    def _read_candidates(self, leader_first: bool) -> list[str]:
        """Where to send a read: one fresh follower, then the leader, then the other followers.

        A follower that is behind says so (``stale``), and the leader is the node most likely
        to have caught up; with ``leader_first`` it goes first.
        """
        fresh = [n for n in self.health.fresh_nodes() if n != self.health.leader]
        if fresh:
            start = next(self._spread) % len(fresh)
            fresh = fresh[start:] + fresh[:start]
        leader = self.health.leader
        if leader is None or leader in self.health.damaged_nodes():
            return fresh
        return [leader, *fresh] if leader_first else [*fresh[:1], leader, *fresh[1:]]

    def _all_nodes(self) -> list[str]:
        """Every node, those the last health round saw up first.

        A frozen node costs a read a timeout only after the live ones have had their turn.
        """
        up = [n["node_id"] for n in self.health.view["nodes"] if n["role"] != "down"]
        return up + [n for n in self.pool.members.node_ids if n not in up]

    async def read(
        self, query: dict[str, Any], freshness: dict[str, int], *, wait_ms: int = 0
    ) -> Any:
        """Answer a read from a fresh follower, or from the leader; retried to the deadline.

        ``freshness`` holds the client's ``min_index`` and ``min_position``; every read also
        carries ``floor_index``, this gateway's last acknowledged write (less freshLag).  Once a
        node has answered that it is behind, the read waits for one to catch up only until
        ``FRESH_WAIT`` after it started, then fails naming how far behind each node is; until
        then it goes on to the request deadline, for the cluster to elect a leader.

        ``wait_ms`` makes a forward ``all`` read a long poll (docs/ENGINE.md, the ``read`` op):
        the observers' live tail.  That one asks the leader first: the leader applies an entry
        one message before any follower hears it is committed, and one long poll per store and
        gateway costs it next to nothing.  So does a read asking for a log index this gateway
        has not seen: only the leader knows whether it exists.
        """
        msg: dict[str, Any] = {"op": "read", "query": query, **freshness, "wait_ms": wait_ms}
        floor = self.acked_index - self.config.replication.fresh_lag
        if floor > 0:
            msg["floor_index"] = floor
        seen = max(self.acked_index, self.health.leader_last_index)
        leader_first = wait_ms > 0 or freshness.get("min_index", 0) > seen
        started = time.monotonic()
        deadline = started + self.deadline
        behind: dict[str, str] = {}  # node -> how far behind the read it is
        failed: dict[str, str] = {}  # node -> why it gave no answer
        damaged: set[str] = set()  # nodes whose copy failed its checks: never asked again
        delay = 0.02
        while time.monotonic() < deadline:
            candidates = self._read_candidates(leader_first)
            if not candidates:
                await self._refresh_before(deadline)
                candidates = self._read_candidates(leader_first) or self._all_nodes()
            if damaged.issuperset(self.pool.members.node_ids):
                break
            for node_id in (n for n in candidates if n not in damaged):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                is_leader = node_id == self.health.leader
                try:
                    result = await self.ask(node_id, msg, min(remaining, 2.0 + wait_ms / 1000))
                except GateError as err:
                    if err.code == "stale":
                        behind[node_id] = err.message
                        failed.pop(node_id, None)
                        deadline = min(deadline, started + FRESH_WAIT)
                        continue
                    if err.code == "store_damaged":
                        # Out of the rotation at once; this read goes on to the other nodes.
                        damaged.add(node_id)
                        failed[node_id] = err.message
                        self.health.note_damaged(node_id, err.message)
                        self.counters["reads_damaged"] += 1
                        continue
                    # A lagging follower may not know a store that was just created.
                    if err.code in RETRYABLE or (err.code == "store_not_found" and not is_leader):
                        failed[node_id] = err.message
                        continue
                    raise
                except (ConnectionError, OSError, TimeoutError) as exc:
                    failed[node_id] = str(exc) or "no answer in time"
                    continue
                if not is_leader:
                    self.counters["reads_on_followers"] += 1
                return result
            await self._refresh_before(deadline)
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.2)
        reasons = list(behind.values()) + [
            f"{node}: {why}" for node, why in failed.items() if node not in behind
        ]
        waited = time.monotonic() - started
        raise GateError(
            "unavailable",
            f"no node could answer the read within {waited:.1f} s: "
            + ("; ".join(reasons) or "no node is reachable"),
        )

    async def _refresh_before(self, deadline: float) -> None:
        """A health round, waited for until ``deadline`` at most: a frozen node holds a round."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await self.health.refresh()


def _time_out(answer: asyncio.Future[Any]) -> None:
    if not answer.done():
        answer.set_exception(TimeoutError())
