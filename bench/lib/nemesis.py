"""Fault testing on real processes: a write workload, a nemesis, and a checker.

- :class:`Workload` runs N sequential writers (plus an open-loop prober that issues a fresh
  write every few milliseconds) through the gateway and records every attempt's outcome:
  acknowledged (with its position), failed definitively (every try answered 503), or unknown.
- :class:`Nemesis` SIGKILLs, SIGSTOPs and stops leaders and followers, restarts them (or lets
  the gateway restart a node SIGKILLed behind its back, with ``gateway.restart: on-failure``),
  cuts a node off from its peers (isolate, heal), makes its links drop every message, lose and
  repeat some, or lag (link faults, both ways), hands leadership over and wipes a follower's
  data (it comes back by snapshot), and measures the write unavailability after each fault:
  from the fault to the first acknowledged write that was issued after it.
- :func:`converge` reads every node's own ``$all`` once they agree, for the checker
  (``engine.client.checker.check_histories``, which the consoles' live verdict shares) to
  judge: a diff of what is missing, duplicated or divergent where.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import orjson

from bench.lib.cluster import RunningCluster, free_ports
from bench.lib.percentiles import nearest_rank
from engine.client import GateClient, GateError
from engine.client.checker import CONCURRENT, Attempt, event_digest
from engine.client.results import NodeView

Clock = Callable[[], float]
Log = Callable[[str], None]

EVENT_TYPE = "fault_probe:v1"
PROBER = CONCURRENT  # the writer number of the prober's attempts

# -- the workload ---------------------------------------------------------------------------

# The errors of every HTTP exchange of the append running in the current task.
_exchange_errors: ContextVar[list[GateError] | None] = ContextVar("exchange_errors", default=None)


class TrackingClient(GateClient):
    """A ``GateClient`` that remembers each failed exchange of the current task's call.

    The client retries 503 and 504 answers internally, so its final error alone cannot say
    whether an earlier try may have written (a 504 followed by a 503 is not a clean failure).
    """

    async def _once(
        self, method: str, path: str, body: Any = None, params: Mapping[str, Any] | None = None
    ) -> Any:
        try:
            return await super()._once(method, path, body, params)
        except GateError as exc:
            seen = _exchange_errors.get()
            if seen is not None:
                seen.append(exc)
            raise


def _definitive(errors: Sequence[GateError]) -> bool:
    """True when no exchange may have written: each was a 503 answer from the gateway.

    A transport failure also surfaces as ``unavailable``, but the request may have been sent;
    those carry the aiohttp exception as ``__context__``, a gateway's 503 body does not.
    """
    return bool(errors) and all(e.code == "unavailable" and e.__context__ is None for e in errors)


class Workload:
    """Writers appending unique events through the gateway, recording every outcome."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        store: str = "reg_gh",
        writers: int = 4,
        first_writer: int = 0,
        streams: int = 3,
        max_batch: int = 3,
        seed: int = 0,
        retry_deadline: float = 3.0,
        think: float = 0.005,
        probe_interval: float | None = 0.05,
        max_probes_in_flight: int = 200,
        clock: Clock = time.monotonic,
    ) -> None:
        self.url = url
        self.token = token
        self.store = store
        self.writers = writers
        self.first_writer = first_writer  # writers are numbered from here (their event ids too)
        self.streams = streams
        self.max_batch = max_batch
        self.seed = seed
        self.retry_deadline = retry_deadline
        self.think = think
        self.probe_interval = probe_interval
        self.max_probes_in_flight = max_probes_in_flight
        self.clock = clock
        self.attempts: list[Attempt] = []  # in the order they started
        self._finished: list[Attempt] = []  # in the order they finished
        self._changed = asyncio.Condition()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._probes: set[asyncio.Task[None]] = set()

    def _client(self) -> TrackingClient:
        return TrackingClient(self.url, token=self.token, retry_deadline=self.retry_deadline)

    def start(self) -> None:
        """Start the writers and the prober (call from a running event loop)."""
        self._tasks = [
            asyncio.create_task(self._writer(w), name=f"writer-{w}")
            for w in range(self.first_writer, self.first_writer + self.writers)
        ]
        if self.probe_interval:
            self._tasks.append(asyncio.create_task(self._prober(), name="prober"))

    async def stop(self) -> None:
        """Stop issuing writes and wait for every attempt in flight to get its outcome."""
        self._stopping.set()
        await asyncio.gather(*self._tasks)
        await asyncio.gather(*self._probes)

    async def _writer(self, writer: int) -> None:
        rng = random.Random(f"{self.seed}-writer-{writer}")
        async with self._client() as client:
            seq = 0
            while not self._stopping.is_set():
                stream = f"fault-{rng.randrange(self.streams)}"
                await self._attempt(client, writer, seq, stream, rng.randint(1, self.max_batch))
                seq += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.think)

    async def _prober(self) -> None:
        # Open loop: a fresh write every interval whatever the others wait for, so the first
        # write issued after a fault exists even while every writer hangs on an older one.
        assert self.probe_interval is not None
        async with self._client() as client:
            seq = 0
            while not self._stopping.is_set():
                if len(self._probes) < self.max_probes_in_flight:
                    task = asyncio.create_task(self._attempt(client, PROBER, seq, "fault-probe", 1))
                    self._probes.add(task)
                    task.add_done_callback(self._probes.discard)
                    seq += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.probe_interval)
            # The probes in flight still use this client: let them finish before it closes.
            await asyncio.gather(*self._probes)

    async def _attempt(
        self, client: GateClient, writer: int, seq: int, stream: str, size: int
    ) -> None:
        ids = tuple(f"w{writer}-s{seq}-e{k}" for k in range(size))
        events = [
            {"event_id": event_id, "event_type": EVENT_TYPE, "data": _payload(writer, seq, k)}
            for k, event_id in enumerate(ids)
        ]
        digests = tuple(event_digest(e) for e in events)
        attempt = Attempt(writer, seq, stream, ids, started=self.clock(), digests=digests)
        self.attempts.append(attempt)
        errors: list[GateError] = []
        _exchange_errors.set(errors)
        try:
            result = await client.append(self.store, stream, events, "any")
        except GateError as exc:
            attempt.outcome = "failed" if _definitive(errors) else "unknown"
            attempt.error = f"{exc.code}: {exc.message}"
        else:
            attempt.outcome = "ack"
            attempt.position = int(result["position"])
            attempt.version = int(result["version"])
        attempt.finished = self.clock()
        self._finished.append(attempt)
        async with self._changed:
            self._changed.notify_all()

    async def wait_ack_after(self, since: float, timeout: float) -> float | None:
        """Seconds from ``since`` to the first acknowledgement of a write issued at or after
        it (None if there is none within ``timeout``); looks back at what already happened."""
        cursor = 0
        found: Attempt | None = None

        def acked() -> bool:
            nonlocal cursor, found
            # Attempts finish in list order, so the first match is the earliest acknowledgement.
            while cursor < len(self._finished):
                attempt = self._finished[cursor]
                cursor += 1
                if attempt.outcome == "ack" and attempt.started >= since:
                    found = attempt
                    return True
            return False

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(acked)
        if found is None or found.finished is None:
            return None
        return found.finished - since

    async def wait_acked(self, count: int, timeout: float) -> None:
        """Wait until ``count`` writes are acknowledged (AssertionError after ``timeout``)."""

        def enough() -> bool:
            return sum(1 for a in self._finished if a.outcome == "ack") >= count

        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(enough)
        except TimeoutError:
            raise AssertionError(
                f"{count} writes not acknowledged within {timeout:g} s: {self.counts()}"
            ) from None

    def counts(self) -> Counter[str]:
        """How many attempts ended each way."""
        return Counter(a.outcome for a in self.attempts)


def _payload(writer: int, seq: int, k: int) -> dict[str, int]:
    return {"writer": writer, "seq": seq, "k": k}


# -- node status and leaders ----------------------------------------------------------------


class NodeProbe:
    """Each node's own ``/status``, with a short timeout so a paused node cannot hang us."""

    def __init__(self, cluster: RunningCluster, timeout: float = 0.4) -> None:
        self.cluster = cluster
        self.members = list(cluster.node_ids)  # the nodes to look at (membership may change)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def status(self, node_id: str) -> dict[str, Any] | None:
        """The node's status, or None if it does not answer in time."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.get(self.cluster.node_url(node_id) + "/status") as resp:
                return orjson.loads(await resp.read()) if resp.status == 200 else None
        except (aiohttp.ClientError, OSError, TimeoutError, orjson.JSONDecodeError):
            return None

    async def statuses(self, exclude: str | None = None) -> dict[str, dict[str, Any] | None]:
        """Every node's status (None for a node that does not answer), but ``exclude``'s."""
        ids = [n for n in self.members if n != exclude]
        found = await asyncio.gather(*(self.status(n) for n in ids))
        return dict(zip(ids, found, strict=True))


def serving_leader(statuses: Mapping[str, Mapping[str, Any] | None]) -> str | None:
    """The node that leads and serves in the highest term any node reports, if there is one."""
    live = {n: s for n, s in statuses.items() if s is not None}
    if not live:
        return None
    top = max(int(s["term"]) for s in live.values())
    leaders = [
        n for n, s in live.items() if s["role"] == "leader" and s["serving"] and s["term"] == top
    ]
    return leaders[0] if len(leaders) == 1 else None


@dataclass
class LeaderHistory:
    """Who claimed to lead in which term, from node statuses and gateway views."""

    claims: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))

    def observe_statuses(self, statuses: Mapping[str, Mapping[str, Any] | None]) -> None:
        """Note every node that reports itself leader."""
        for node_id, status in statuses.items():
            if status is not None and status.get("role") == "leader":
                self.claims[int(status["term"])].add(node_id)

    def observe_view(self, view: Mapping[str, Any]) -> None:
        """Note the leaders of one cluster view (``GET /api/cluster`` or a feed message)."""
        for node in view.get("nodes", []):
            if node.get("role") == "leader" and node.get("term") is not None:
                self.claims[int(node["term"])].add(node["node_id"])

    def conflicts(self) -> dict[int, set[str]]:
        """Terms in which more than one node claimed to lead (Raft allows none)."""
        return {term: nodes for term, nodes in self.claims.items() if len(nodes) > 1}


# -- the nemesis ----------------------------------------------------------------------------

# kind -> (which node, what is done to it)
# The link faults of each action: (drop, delayMs, duplicate).
LINK_FAULTS: dict[str, tuple[float, int, float]] = {
    "drop": (1.0, 0, 0.0),
    "lossy": (0.3, 0, 0.05),
    "slow": (0.0, 200, 0.0),
}
# Actions after which a leader target is replaced (a lossy or slow leader may well lead on).
_DEPOSING = ("kill", "kill_pid", "stop", "pause", "isolate", "drop")
FAULTS: dict[str, tuple[str, str]] = {
    "kill_leader": ("leader", "kill"),  # SIGKILL through the gateway's supervisor
    "kill_leader_pid": ("leader", "kill_pid"),  # SIGKILL with os.kill on the pid from /status
    "stop_leader": ("leader", "stop"),  # graceful: SIGTERM
    "pause_leader": ("leader", "pause"),  # SIGSTOP past the election timeout, then SIGCONT
    "kill_follower": ("follower", "kill"),
    "stop_follower": ("follower", "stop"),
    "pause_follower": ("follower", "pause"),
    # Every Raft link cut both ways (in the node), for pause_for seconds, then healed.
    "isolate_leader": ("leader", "isolate"),
    "isolate_follower": ("follower", "isolate"),
    # Link faults (POST /api/cluster/links) on every link to and from the node, both ways, for
    # pause_for seconds, then cleared: every message dropped (a partition made of link
    # faults), 30% dropped and 5% repeated (lossy), or each one 200 ms late (slow).
    "drop_leader": ("leader", "drop"),
    "lossy_leader": ("leader", "lossy"),
    "lossy_follower": ("follower", "lossy"),
    "slow_follower": ("follower", "slow"),
    "transfer_leader": ("follower", "transfer"),  # leadership handed over to a follower
    # Stopped, its data directory deleted, started: it can only catch up by snapshot.
    "wipe_follower": ("follower", "wipe"),
    # A new node added (a learner, promoted once caught up), then a follower removed.
    "replace_follower": ("follower", "replace"),
}


@dataclass(slots=True)
class FaultRecord:
    """One injected fault and what was measured."""

    kind: str
    node: str
    at: float  # seconds since the nemesis started
    old_leader: str
    old_term: int  # the leader's term when the fault was injected
    new_leader: str | None = None
    election_s: float | None = None  # fault -> a new leader serves (leader faults)
    unavailable_s: float | None = None  # fault -> first acknowledged write issued after it
    recovered_s: float | None = None  # fault -> the node is back and caught up
    snapshot_installed: bool = False  # the node caught up by installing the leader's snapshot

    def describe(self) -> str:
        """One line for the fault log."""
        parts = [f"t={self.at:7.2f}s {self.kind:<15} {self.node}"]
        if self.new_leader is not None:
            parts.append(f"leader {self.old_leader} -> {self.new_leader} in {_s(self.election_s)}")
        parts.append(f"write unavailability {_s(self.unavailable_s)}")
        parts.append(f"rejoined in {_s(self.recovered_s)}")
        if self.snapshot_installed:
            parts.append("by snapshot")
        return ", ".join(parts)


def _s(seconds: float | None) -> str:
    return "NONE" if seconds is None else f"{seconds:.3f} s"


class Nemesis:
    """Injects process faults into a running cluster, one at a time, and heals them."""

    def __init__(
        self,
        cluster: RunningCluster,
        workload: Workload,
        *,
        rng: random.Random | None = None,
        pause_for: float = 1.5,
        timeout: float = 15.0,
        log: Log = print,
        clock: Clock = time.monotonic,
    ) -> None:
        self.cluster = cluster
        self.workload = workload
        self.rng = rng or random.Random(0)
        self.pause_for = pause_for
        self.timeout = timeout
        self.log = log
        self.clock = clock
        self.probe = NodeProbe(cluster)
        self.history = LeaderHistory()
        self.records: list[FaultRecord] = []
        self.origin = clock()
        self._client = cluster.new_client(retry_deadline=0)
        self._watch: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Nemesis:
        self._watch = asyncio.create_task(self._watch_leaders(), name="leader-watch")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        await self.probe.close()
        await self._client.close()

    async def _watch_leaders(self) -> None:
        # Sampled all along, so two leaders of one term would be seen even between faults.
        while True:
            self.history.observe_statuses(await self.probe.statuses())
            with contextlib.suppress(GateError):
                self.history.observe_view(await self._client.cluster())
            await asyncio.sleep(0.1)

    async def _poll(self, what: str, fetch: Callable[[], Awaitable[Any]], timeout: float) -> Any:
        """Poll the async ``fetch`` until it returns something truthy; fail after ``timeout``."""
        deadline = self.clock() + timeout
        while True:
            value = await fetch()
            if value:
                return value
            if self.clock() > deadline:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
            await asyncio.sleep(0.05)

    async def leader(self, *, exclude: str | None = None, timeout: float | None = None) -> str:
        """The serving leader (other than ``exclude``), once there is one."""

        async def fetch() -> str | None:
            # Leave the excluded node out: a frozen one would only slow each poll down.
            return serving_leader(await self.probe.statuses(exclude))

        what = "a serving leader" + (f" other than {exclude}" if exclude else "")
        return await self._poll(what, fetch, self.timeout if timeout is None else timeout)

    async def rejoined(self, node_id: str, timeout: float | None = None) -> None:
        """Wait until ``node_id`` is a follower (or leader) that applied what the leader had
        committed when the wait began."""
        leader = await self.leader(timeout=timeout)
        leader_status = await self.probe.status(leader)
        target = int(leader_status["commit_position"]) if leader_status else 0

        async def fetch() -> bool:
            status = await self.probe.status(node_id)
            return (
                status is not None
                and status["role"] in ("follower", "leader")
                and int(status["applied_position"]) >= target
            )

        await self._poll(
            f"{node_id} to rejoin", fetch, self.timeout if timeout is None else timeout
        )

    async def _node_view(self, node_id: str) -> NodeView | None:
        """``node_id``'s entry in the gateway's cluster view (None when it does not answer)."""
        try:
            view = await self._client.cluster()
        except GateError:
            return None
        return next((n for n in view["nodes"] if n["node_id"] == node_id), None)

    async def _reaped(self, node_id: str) -> bool:
        # After an os.kill behind its back, the supervisor must see the exit before "start".
        node = await self._node_view(node_id)
        return node is not None and node["pid"] is None

    async def _restarted(self, node_id: str, restarts: int) -> bool:
        node = await self._node_view(node_id)
        return node is not None and node["restarts"] > restarts

    async def _heal_kill_pid(self, node_id: str, restarts: int) -> None:
        """Bring back a node SIGKILLed behind the supervisor's back: with ``gateway.restart:
        on-failure`` the supervisor restarts it by itself; with ``never`` it is started."""
        if self.cluster.config.gateway.restart == "on-failure":
            await self._poll(
                f"the supervisor to restart {node_id}",
                lambda: self._restarted(node_id, restarts),
                self.timeout,
            )
            return
        await self._poll(
            f"the supervisor to see {node_id} exit", lambda: self._reaped(node_id), self.timeout
        )
        await self._client.node_action(node_id, "start")

    async def _installs(self, node_id: str) -> tuple[int | None, int]:
        """The node's pid and how many snapshot installs its node log shows ((None, 0) when it
        does not answer within 5 s); the log starts empty with each process."""
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
            status = await asyncio.wait_for(self.cluster.node_get(node_id, "/status"), 5)
            log = await asyncio.wait_for(self.cluster.node_get(node_id, "/log?limit=1000"), 5)
            installed = [
                line
                for line in log["lines"]
                if line["kind"] == "snapshot" and "installed" in line["text"]
            ]
            return int(status["pid"]), len(installed)
        return None, 0

    async def _wipe(self, node_id: str) -> None:
        """Stop ``node_id`` and delete its data directory (it is started again as it heals)."""
        status = await self.probe.status(node_id)
        await self._client.node_action(node_id, "stop")

        async def gone() -> bool:
            # Its process ended, not only its state turned "stopped": a closing node still
            # removes its WAL files.
            node = await self._node_view(node_id)
            if node is None or node["state"] not in ("stopped", "exited"):
                return False
            if status is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(status["pid"]), 0)
                    return False
            return True

        await self._poll(f"{node_id} to stop", gone, self.timeout)
        shutil.rmtree(self.cluster.config.node_data_dir(node_id))

    async def _replace(self, node_id: str) -> str:
        """Add a new node, wait until it is a voter, then remove ``node_id``; the new node."""
        new = f"node{len(self.cluster.node_ids) + 1}"
        http, tcp = free_ports(2)
        await self._client.add_node(new, http=("127.0.0.1", http), tcp=("127.0.0.1", tcp))
        self.cluster.added[new] = f"127.0.0.1:{http}"
        self.probe.members.append(new)

        async def voter() -> bool:
            node = await self._node_view(new)
            return node is not None and node["voter"] and node["role"] == "follower"

        await self._poll(f"{new} promoted to voter", voter, 4 * self.timeout)
        await self._client.remove_node(node_id)
        self.probe.members.remove(node_id)

        async def removed() -> bool:
            node = await self._node_view(node_id)
            return node is None or node["state"] in ("stopped", "exited")

        await self._poll(f"{node_id} removed", removed, self.timeout)
        return new

    async def inject(self, kind: str) -> FaultRecord:
        """Inject one fault, measure it, heal it and wait until the cluster is whole again."""
        role, action = FAULTS[kind]
        leader = await self.leader()
        leader_status = await self.probe.status(leader)
        if role == "leader":
            target = leader
        else:
            target = self.rng.choice([n for n in self.probe.members if n != leader])
        pid = restarts = 0
        added = ""
        installs_before = await self._installs(target)
        if action == "kill_pid":
            pid = int((await self.probe.status(target) or {})["pid"])
            view = await self._node_view(target)
            restarts = 0 if view is None else view["restarts"]
        since = self.clock()
        if action == "kill_pid":
            os.kill(pid, signal.SIGKILL)
        elif action == "isolate":
            await self._client.isolate(target)
        elif action in LINK_FAULTS:
            await self._link_faults(target, *LINK_FAULTS[action])
        elif action == "transfer":
            await self._client.transfer_leadership(target)
        elif action == "wipe":
            await self._wipe(target)
        elif action == "replace":
            added = await self._replace(target)
        else:
            await self._client.node_action(target, action)
        record = FaultRecord(
            kind,
            target,
            at=since - self.origin,
            old_leader=leader,
            old_term=int(leader_status["term"]) if leader_status else 0,
        )
        if (role == "leader" and action in _DEPOSING) or action == "transfer":
            record.new_leader = await self.leader(exclude=leader)
            record.election_s = self.clock() - since
        record.unavailable_s = await self.workload.wait_ack_after(since, self.timeout)
        if action in ("pause", "isolate", *LINK_FAULTS):
            # Frozen (or cut off) past the election timeout: for a leader, waiting on its
            # successor above ensures that; the hold keeps a follower from heartbeats as long.
            hold = since + self.pause_for - self.clock()
            if hold > 0:
                await asyncio.sleep(hold)
            if action == "pause":
                await self._client.node_action(target, "resume")
            elif action == "isolate":
                await self._client.heal(target)
            else:
                await self._client.clear_link_faults(frm=target)
                await self._client.clear_link_faults(to=target)
        elif action == "kill_pid":
            await self._heal_kill_pid(target, restarts)
        elif action not in ("transfer", "replace"):  # after a transfer the old leader follows
            await self._client.node_action(target, "start")
        if action == "replace":
            target = added  # the node that must catch up is the new one
        await self.rejoined(target)
        record.recovered_s = self.clock() - since
        pid_after, installs = await self._installs(target)
        if pid_after == installs_before[0]:  # the same process: count only the new installs
            installs -= installs_before[1]
        record.snapshot_installed = installs > 0
        self.records.append(record)
        self.log(record.describe())
        return record

    async def _link_faults(self, target: str, drop: float, delay_ms: int, dup: float) -> None:
        """The same fault on every link of ``target``, both ways, each with its own seed."""
        for peer in self.probe.members:
            if peer == target:
                continue
            for frm, to in ((target, peer), (peer, target)):
                seed = self.rng.randrange(2**31)
                await self._client.set_link_fault(
                    frm, to, drop=drop, delay_ms=delay_ms, duplicate=dup, seed=seed
                )

    async def run(self, kinds: Iterable[str], gap: float) -> list[FaultRecord]:
        """Inject ``kinds`` in order, letting the workload run ``gap`` seconds between them."""
        done = []
        for kind in kinds:
            await asyncio.sleep(gap)
            done.append(await self.inject(kind))
        return done

    async def heal(self) -> None:
        """Resume and start every node (whatever state it is in) and wait until all rejoin."""
        for node_id in self.probe.members:
            await self._client.node_action(node_id, "resume")
            await self._client.node_action(node_id, "start")
        for node_id in self.probe.members:
            await self._client.heal(node_id)
        await self._client.clear_link_faults()
        for node_id in self.probe.members:
            await self.rejoined(node_id)


def unavailability_summary(records: Sequence[FaultRecord]) -> str:
    """Write unavailability per fault kind (max and nearest-rank p50), and the leader kills' max."""
    by_kind: dict[str, list[float]] = defaultdict(list)
    missing: Counter[str] = Counter()
    for rec in records:
        if rec.unavailable_s is None:
            missing[rec.kind] += 1
        else:
            by_kind[rec.kind].append(rec.unavailable_s)
    lines = ["write unavailability (fault -> first acknowledged write issued after it):"]
    for kind in sorted(set(by_kind) | set(missing)):
        values = by_kind[kind]
        figures = (
            f"max {max(values):.3f} s, p50 {nearest_rank(sorted(values), 0.5):.3f} s"
            if values
            else "no figures"
        )
        lost = f", {missing[kind]} with no write acknowledged in time" if missing[kind] else ""
        lines.append(f"  {kind:<15} n={len(values) + missing[kind]:<3} {figures}{lost}")
    kills = leader_kill_figures(records)
    if kills:
        lines.append(f"  leader kills: max {max(kills):.3f} s (goal: under 1 s)")
    return "\n".join(lines)


def leader_kill_figures(records: Sequence[FaultRecord]) -> list[float]:
    """Unavailability after each SIGKILL of a leader (through the gateway or by pid)."""
    return [
        r.unavailable_s
        for r in records
        if r.kind in ("kill_leader", "kill_leader_pid") and r.unavailable_s is not None
    ]


# -- reading the nodes for the checker ------------------------------------------------------


class NodeReader(Protocol):
    """A cluster whose nodes can each be read alone (RunningCluster, a hand-started one)."""

    @property
    def node_ids(self) -> list[str]: ...

    async def node_all(self, node_id: str, store: str = ...) -> list[dict[str, Any]]: ...


async def converge(
    cluster: NodeReader,
    attempts: Sequence[Attempt],
    timeout: float,
    store: str = "reg_gh",
    nodes: Sequence[str] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Every node's own ``$all`` once all ``nodes`` (default: the config's and those added)
    hold the same events, including every acknowledged one; after ``timeout``, the last
    reading (for the checker to explain)."""
    node_ids = list(nodes) if nodes is not None else cluster.node_ids
    acked = {i for a in attempts if a.outcome == "ack" for i in a.event_ids}
    deadline = time.monotonic() + timeout
    last: dict[str, list[dict[str, Any]]] | None = None
    while True:
        with contextlib.suppress(aiohttp.ClientError, OSError):
            last = {n: await cluster.node_all(n, store) for n in node_ids}
            reference = next(iter(last.values()))
            ids = {e["event_id"] for e in reference}
            if acked <= ids and all(h == reference for h in last.values()):
                return last
        if time.monotonic() > deadline:
            if last is None:
                raise AssertionError(f"no node answered its $all within {timeout:g} s")
            return last
        await asyncio.sleep(0.2)
