"""Where the gateway sends each request: writes to the leader, reads to a fresh node.

Writes are retried until the request deadline, re-resolving the leader after a ``not_leader``
answer or a lost connection. Retrying is safe because every command's event ids are fixed
before the first attempt and the store treats a repeated batch as the same write. When the
deadline passes, the answer says whether the outcome is known: 503 when no node ever took the
write, 504 when one did and the answer was lost.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any

from engine.config_model import ClusterConfig
from engine.errors import GateError
from engine.gateway.health import HealthMonitor
from engine.gateway.tcp_pool import NodePool

log = logging.getLogger("gate.gateway.routing")

# Errors a node answers that mean "try elsewhere or later", not "the request is wrong".
_TRANSIENT = frozenset({"not_leader", "unavailable", "stale", "timeout"})


class Router:
    """Routes commands and reads to the nodes of one cluster."""

    def __init__(self, config: ClusterConfig, pool: NodePool, health: HealthMonitor) -> None:
        self.config = config
        self.pool = pool
        self.health = health
        self.deadline = config.gateway.request_timeout
        self._spread = itertools.count()
        # The highest log index this gateway acknowledged: reads without a token of their own
        # wait for it (less freshLag), so even curl users read their writes through a follower.
        self.acked_index = 0
        self.counters = {"writes": 0, "write_retries": 0, "reads": 0, "reads_on_followers": 0}

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
        stretch a failover into seconds. Abandoning the attempt is safe: the retry at the new
        leader carries the same event ids, so the command is written once whatever happened.
        """
        attempt = asyncio.ensure_future(
            self.ask(
                node_id,
                {"op": "propose", "command": command, "timeout": remaining},
                remaining + 0.2,
            )
        )
        try:
            while True:
                moved = self.health.leader_moved()
                await asyncio.wait({attempt, moved}, return_when=asyncio.FIRST_COMPLETED)
                if attempt.done():
                    return attempt.result()
                leader = self.health.leader
                if leader is not None and leader != node_id:
                    raise GateError("timeout", f"{node_id} stopped leading during the write")
        finally:
            if not attempt.done():
                attempt.cancel()

    def _leader_candidates(self, hint: str | None) -> list[str]:
        order: list[str] = []
        for node_id in (hint, self.health.leader):
            if node_id and node_id not in order:
                order.append(node_id)
        return order

    async def write(self, command: dict[str, Any]) -> tuple[Any, int]:
        """Replicate a command through the leader: its result and its log index."""
        self.counters["writes"] += 1
        deadline = time.monotonic() + self.deadline
        hint: str | None = None
        outcome_unknown = False
        last_reason = "no leader is known"
        delay = 0.02
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            targets = self._leader_candidates(hint)
            hint = None
            if not targets:
                await self.health.refresh()
                targets = self._leader_candidates(None)
            for node_id in targets:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    answer = await self._propose_while_leading(node_id, command, remaining)
                    index = int(answer["index"])
                    self.acked_index = max(self.acked_index, index)
                    return answer["result"], index
                except GateError as err:
                    if err.code not in _TRANSIENT:
                        raise
                    last_reason = f"{node_id}: {err.message}"
                    if err.code == "timeout":
                        outcome_unknown = True
                    if err.code == "not_leader":
                        leader = err.details.get("leader")
                        if leader and leader != node_id:
                            hint = leader
                            self.health.note_leader_hint(leader, None)
                except (ConnectionError, OSError) as exc:
                    last_reason = f"{node_id}: {exc or 'connection lost'}"
                    # The command may have reached the leader before the connection dropped.
                    outcome_unknown = True
                except TimeoutError:
                    last_reason = f"{node_id}: no answer in time"
                    outcome_unknown = True
            self.counters["write_retries"] += 1
            if hint is None:
                await self.health.refresh()
                await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, 0.2)
        if outcome_unknown:
            raise GateError(
                "timeout",
                f"the write was not confirmed within {self.deadline:g} s ({last_reason}); "
                "its outcome is unknown: retry with the same event ids",
            )
        raise GateError(
            "unavailable",
            f"no leader could take the write within {self.deadline:g} s ({last_reason})",
        )

    def _read_candidates(self, leader_first: bool = False) -> list[str]:
        fresh = [n for n in self.health.fresh_nodes() if n != self.health.leader]
        if fresh:
            start = next(self._spread) % len(fresh)
            fresh = fresh[start:] + fresh[:start]
        if self.health.leader:
            fresh.insert(0 if leader_first else len(fresh), self.health.leader)
        return fresh

    async def read(
        self, query: dict[str, Any], freshness: dict[str, int], *, wait_ms: int = 0
    ) -> Any:
        """Answer a read from a fresh follower, or from the leader; retried to the deadline.

        ``wait_ms`` makes a forward ``all`` read a long poll (docs/ENGINE.md, the ``read`` op):
        the observers' live tail.  That one asks the leader first: the leader applies an entry
        one message before any follower hears it is committed, and one long poll per store and
        gateway costs it next to nothing.
        """
        self.counters["reads"] += 1
        floor = self.acked_index - self.config.replication.fresh_lag
        if floor > freshness.get("min_index", 0):
            freshness = {**freshness, "min_index": floor}
        deadline = time.monotonic() + self.deadline
        last_reason = "no node is reachable"
        delay = 0.02
        while time.monotonic() < deadline:
            candidates = self._read_candidates(leader_first=wait_ms > 0)
            if not candidates:
                await self.health.refresh()
                candidates = self._read_candidates(wait_ms > 0) or list(self.config.node_ids)
            for node_id in candidates:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                is_leader = node_id == self.health.leader
                try:
                    result = await self.ask(
                        node_id,
                        {"op": "read", "query": query, **freshness, "wait_ms": wait_ms},
                        min(remaining, 2.0 + wait_ms / 1000),
                    )
                except GateError as err:
                    # A lagging follower may not know a store that was just created.
                    if err.code in _TRANSIENT or (err.code == "store_not_found" and not is_leader):
                        last_reason = f"{node_id}: {err.message}"
                        continue
                    raise
                except (ConnectionError, OSError, TimeoutError) as exc:
                    last_reason = f"{node_id}: {exc or 'no answer'}"
                    continue
                if not is_leader:
                    self.counters["reads_on_followers"] += 1
                return result
            await self.health.refresh()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)
        raise GateError("unavailable", f"no node could answer the read ({last_reason})")
