"""The live verdict: what this console's producers got acknowledged, read back from every node.

The producers tell :class:`VerdictMonitor` of each acknowledged batch; once a second it reads
from every member node, through that node's own read-only HTTP API (``GateClient`` on the
address the cluster view gives; the gateway would pick one fresh node instead), only the events
after what it read last, and hands both to the fault tests' checker
(``engine.client.checker.LiveChecker``).  :func:`verdict_text` is the line both front ends
show: ``checked 12,345 acked · 0 lost · 0 duplicated · order ok``, or the first violation.
On a JetStream cluster the nats-servers answer no Gate reads: the store is read through the
gateway instead (one reader, which JetStream's stream leader answers).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from console.ops.cluster import ClusterStatus
from console.ops.session import SessionError
from engine.client import GateClient, GateError
from engine.client.checker import KEEP, LiveChecker, LiveVerdict

PAGE = 1000  # events per read
MAX_PAGES = 10  # reads per node and round: a node far behind catches up over a few rounds
NodeClients = Callable[[str], GateClient]  # a client of the node at this host:port
GATEWAY = "gateway"  # the one reader on a JetStream cluster, in the checker's words


class VerdictMonitor:
    """Checks the producers' acknowledged appends against every node, a round per ``interval``.

    ``status`` answers the latest cluster view (the health monitor's), which names the members
    and their HTTP addresses; ``node_client`` makes a client of one node's address (no retries,
    a short timeout: a node that is down or paused is skipped until a later round).
    """

    def __init__(
        self,
        client: GateClient,
        store: str,
        status: Callable[[], ClusterStatus | None],
        node_client: NodeClients,
        *,
        interval: float = 1.0,
        keep: int = KEEP,
    ) -> None:
        self.client = client
        self.store = store
        self.status = status
        self.node_client = node_client
        self.interval = interval
        self.keep = keep
        self.checker: LiveChecker | None = None
        self.rounds = 0  # rounds done (tests wait on it)
        # The last round could read no node (e.g. --connect to a gateway whose nodes listen on
        # another machine's loopback): nothing is being checked, and the line says so.
        self.unreadable = False
        self._clients: dict[str, GateClient] = {}  # by node address
        self._task: asyncio.Task[None] | None = None

    @property
    def latest(self) -> LiveVerdict | None:
        """The verdict so far; None before any producer started."""
        return None if self.checker is None else self.checker.verdict()

    async def begin(self) -> None:
        """Before the first producer starts: fix where the checked span begins (the store's
        last position now) and start the rounds.  Later calls do nothing."""
        if self.checker is not None:
            return
        try:
            origin = int((await self.client.get_store(self.store))["last_position"] or 0)
        except GateError:
            # No read answered (a failover, no store yet): start where this client last wrote,
            # at or below the store's end, so no acknowledgement can fall before the origin.
            origin = self.client.last_positions.get(self.store, 0)
        self.checker = LiveChecker(origin, keep=self.keep)
        self._task = asyncio.create_task(self._run(), name="verdict monitor")

    def record(
        self, stream: str, events: Sequence[Mapping[str, Any]], version: int, position: int
    ) -> None:
        """A producer's batch was acknowledged (``domain.greenhouse.producer.AckListener``)."""
        if self.checker is not None:
            self.checker.acked(stream, events, version, position)

    async def round(self) -> None:
        """Read what is new on every member node and check it."""
        checker, status = self.checker, self.status()
        if checker is None or status is None:
            return
        if status.jetstream:
            # nats-servers answer no Gate reads: the store is read back through the gateway,
            # whose reads JetStream's stream leader answers (docs/ENGINE.md, "JetStream backend").
            checker.members([GATEWAY])
            self.unreadable = not await self._read(checker, GATEWAY, self.client)
            self.rounds += 1
            return
        checker.members(node.node_id for node in status.nodes)
        readable = [(n.node_id, n.http_addr) for n in status.nodes if n.http_addr != "-"]
        read = await asyncio.gather(
            *(self._read_node(checker, node_id, addr) for node_id, addr in readable)
        )
        self.unreadable = not any(read)
        self.rounds += 1

    async def _read_node(self, checker: LiveChecker, node_id: str, addr: str) -> bool:
        """Read what is new on one node; False when it did not answer."""
        client = self._clients.get(addr)
        if client is None:
            try:
                client = self._clients[addr] = self.node_client(addr)
            except SessionError:  # e.g. TLS files that cannot be used: nothing to read with
                return False
        return await self._read(checker, node_id, client)

    async def _read(self, checker: LiveChecker, node_id: str, client: GateClient) -> bool:
        """Read what is new for ``node_id`` with ``client``; False when it did not answer."""
        for _ in range(MAX_PAGES):
            try:
                events = await client.read_all(self.store, checker.cursor(node_id), count=PAGE)
            except GateError:
                return False  # down, paused, or without the store yet: a later round reads it
            checker.observe(node_id, events)
            if len(events) < PAGE:
                break
        return True

    async def _run(self) -> None:
        while True:
            await self.round()
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        """Stop the rounds and close the node clients."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.close()


def verdict_text(verdict: LiveVerdict | None, unreadable: bool = False) -> tuple[str, bool]:
    """The verdict line and whether all is well; empty before any producer started.
    ``unreadable``: no node answered the last round (``VerdictMonitor.unreadable``)."""
    if verdict is None:
        return "", True
    if verdict.first is not None:
        return f"✗ {verdict.first.text()}", False
    text = (
        f"checked {verdict.checked:,} acked · {verdict.lost:,} lost"
        f" · {verdict.duplicated:,} duplicated · order ok"
    )
    if unreadable:
        return f"{text} · no node answers its own reads", False
    return text, True
