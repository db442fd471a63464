"""Real clusters on loopback: a config on free ports, a gateway process starting its nodes.

The benchmarks and the tests start clusters the same way (``tests/cluster_harness.py`` builds
on this module): a config with free loopback ports, ``EmbeddedCluster`` for the gateway and node
processes, and a ``RunningCluster`` to look at them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
import yaml

from bench.lib.driver import Request, Scenario, sample_events
from engine.client import EmbeddedCluster, GateClient
from engine.client.results import ClusterView
from engine.config import load_config
from engine.config_model import ClusterConfig
from engine.tls import client_context, make_dev_certs

T = TypeVar("T")
BENCH_STORE = "bench"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports that were free a moment ago on 127.0.0.1."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def cluster_config(
    directory: Path,
    nodes: int = 3,
    *,
    stores: tuple[str, ...] = ("reg_gh",),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A config dict for ``nodes`` nodes on free ports, data under ``directory``, fsync always.

    ``extra`` sections are merged into the default ones key by key (a non-dict replaces).
    """
    ports = free_ports(2 * nodes + 1)
    raw: dict[str, Any] = {
        "nodes": {
            f"node{i + 1}": {
                "role": "master" if i == 0 else "slave",
                "http": {"enabled": True, "host": "127.0.0.1", "port": ports[2 * i]},
                "tcp": {"enabled": True, "host": "127.0.0.1", "port": ports[2 * i + 1]},
            }
            for i in range(nodes)
        },
        "gateway": {"startsNodes": True, "http": {"host": "127.0.0.1", "port": ports[-1]}},
        "storage": {"dataDir": str(directory / "data"), "fsync": "always"},
        "stores": list(stores),
    }
    for section, values in (extra or {}).items():
        if isinstance(values, dict) and isinstance(raw.get(section), dict):
            raw[section] = {**raw[section], **values}
        else:
            raw[section] = values
    return raw


def bench_config(directory: Path, nodes: int = 3, fsync: str = "always") -> dict[str, Any]:
    """The benchmarks' cluster: store ``bench``, majority quorum, ``fsync`` spelled out."""
    return cluster_config(
        directory,
        nodes,
        stores=(BENCH_STORE,),
        extra={
            "storage": {"dataDir": str(directory / "data"), "fsync": fsync},
            "replication": {"writeQuorum": "majority"},
        },
    )


def dev_tls_section(directory: Path, raw: dict[str, Any]) -> dict[str, Any]:
    """``security.tls`` for ``raw`` from dev certificates made under ``directory/certs``."""
    certs = make_dev_certs(directory / "certs", load_config(write_config(directory, raw)))
    return {
        "ca": str(certs.ca),
        "cert": str(certs.gateway.cert),
        "key": str(certs.gateway.key),
        "nodes": {n: {"cert": str(own.cert), "key": str(own.key)} for n, own in certs.nodes},
    }


def write_config(directory: Path, raw: dict[str, Any]) -> Path:
    """Write ``raw`` as ``directory/cluster.yaml``."""
    path = directory / "cluster.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


async def read_node_all(
    node_url: str, store: str, token: str | None = None
) -> list[dict[str, Any]]:
    """Every event of ``store`` as the node at ``node_url`` holds it, read from it alone
    (``token``: a bearer token that may read it)."""
    events: list[dict[str, Any]] = []
    position = 0
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession(headers=headers) as http:
        while True:
            url = f"{node_url}/api/stores/{store}/all?from_position={position}&count=1000"
            async with http.get(url) as resp:
                resp.raise_for_status()  # e.g. a node still catching up: store_not_found
                page = await resp.json()
            batch = page["events"]
            if not batch:
                return events
            events.extend(batch)
            position = batch[-1]["position"]


@dataclass
class RunningCluster:
    """A started cluster and handy ways to look at it."""

    embedded: EmbeddedCluster
    config_path: Path
    # HTTP addresses (host:port) of nodes added at run time (POST /api/cluster/nodes).
    added: dict[str, str] = field(default_factory=dict)

    @property
    def node_ids(self) -> list[str]:
        """The config's nodes, then those added at run time."""
        return [*self.config.node_ids, *self.added]

    @property
    def url(self) -> str:
        return self.embedded.url

    @property
    def config(self) -> ClusterConfig:
        return self.embedded.config

    @property
    def gateway_pid(self) -> int:
        """The gateway's process id (it started the nodes)."""
        assert self.embedded.process is not None, "a RunningCluster has been started"
        return self.embedded.process.pid

    def new_client(self, **kwargs: Any) -> GateClient:
        return self.embedded.client(**kwargs)

    def node_url(self, node_id: str) -> str:
        scheme = "https" if self.config.security.tls else "http"
        if node_id in self.added:
            return f"{scheme}://{self.added[node_id]}"
        return f"{scheme}://{self.config.node(node_id).http.addr}"

    async def node_get(self, node_id: str, path: str) -> Any:
        """GET a path on one node's own HTTP endpoint (over TLS with ``security.tls``)."""
        token = self.config.security.admin_token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        options = self.embedded.tls_options
        tls = client_context(**options) if options else True
        async with (
            aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(ssl=tls)) as http,
            http.get(self.node_url(node_id) + path) as resp,
        ):
            return await resp.json()

    async def node_all(self, node_id: str, store: str = "reg_gh") -> list[dict[str, Any]]:
        """Every event of a store as one node holds it, read from that node alone."""
        return await read_node_all(self.node_url(node_id), store, self.config.security.admin_token)

    async def leader(self, timeout: float = 15.0) -> str:
        """The current leader as the gateway sees it (waits for one)."""
        async with self.new_client() as client:
            view = await wait_for(
                lambda: client.cluster(), lambda v: v["leader"] is not None, timeout
            )
        leader = view["leader"]
        if leader is None:  # wait_for answers only a view with a leader
            raise RuntimeError("the gateway named no leader")
        return leader

    async def wait_applied(
        self, index: int, nodes: Iterable[str] | None = None, timeout: float = 30.0
    ) -> None:
        """Wait until each of ``nodes`` (default: every configured node) applied ``index``."""

        def applied(status: Any) -> bool:
            return bool(status["applied_position"] >= index)

        for node in self.node_ids if nodes is None else nodes:
            await wait_for(
                functools.partial(self.node_get, node, "/status"),
                applied,
                timeout,
                f"{node} to apply {index}",
            )

    async def node_pid(self, node_id: str) -> int:
        """The process id of a node, from its own status."""
        return int((await self.node_get(node_id, "/status"))["pid"])


async def wait_for(
    fetch: Callable[[], Awaitable[T]],
    ok: Callable[[T], bool],
    timeout: float,
    what: str = "condition",
) -> T:
    """Poll ``fetch`` until ``ok(value)``; fail with the last value after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = await fetch()
            if ok(last):
                return last
        except Exception as exc:  # the cluster may be mid-failover while we poll
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {what}; last: {last!r}"
            )
        await asyncio.sleep(0.05)


async def start_cluster(directory: Path, raw: dict[str, Any]) -> RunningCluster:
    """Write ``raw`` into ``directory``, start the cluster and wait until it serves writes."""
    path = write_config(directory, raw)
    embedded = EmbeddedCluster(path, log_file=directory / "gateway.log")
    await embedded.start()
    return RunningCluster(embedded, path)


@contextlib.asynccontextmanager
async def temporary_cluster(
    parent: str | None,
    nodes: int = 3,
    fsync: str = "always",
    *,
    keep: bool = False,
    tls: bool = False,
) -> AsyncIterator[RunningCluster]:
    """A benchmark cluster (``bench_config``) in a temporary directory, removed unless ``keep``.

    ``tls``: with ``security.tls``, from dev certificates made in that directory.
    """
    directory = Path(tempfile.mkdtemp(prefix="gate-bench-", dir=parent))
    try:
        raw = bench_config(directory, nodes, fsync)
        if tls:
            raw["security"] = {"tls": dev_tls_section(directory, raw)}
        cluster = await start_cluster(directory, raw)
        try:
            yield cluster
        finally:
            await cluster.embedded.stop()
    finally:
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)


def process_ids(view: ClusterView, url: str, gateway_pid: int | None) -> dict[str, int]:
    """The processes whose CPU we can measure: this one, the gateway, local nodes.

    ``view`` is the gateway's ``GET /api/cluster``; nodes are measured only on this machine.
    """
    pids = {"client": os.getpid()}
    if gateway_pid is not None:
        pids["gateway"] = gateway_pid
    if urlsplit(url).hostname in _LOOPBACK:
        for node in view["nodes"]:
            pid = node.get("pid")
            if pid:
                pids[f"{node['node_id']} ({node['role']})"] = pid
    return pids


class GateTarget:
    """The cluster under test, the shared client and the appends of the scenarios."""

    def __init__(self, client: GateClient, store: str, seed: int) -> None:
        self.client = client
        self.store = store
        self.pool = sample_events(seed)
        self.appended = 0  # events acknowledged, warm-up included (for the sanity check)

    def request_for(self, scenario: Scenario, phase: str) -> Request:
        """The append one worker of ``scenario`` repeats; each worker has its own stream."""
        pool, size, batch = self.pool, len(self.pool), scenario.batch
        prefix = f"bench-{int(time.time())}-{phase}-{scenario.key}"

        async def request(worker: int, seq: int) -> None:
            start = (seq * batch + worker) % size
            events = [pool[(start + k) % size] for k in range(batch)]
            await self.client.append(self.store, f"{prefix}-{worker}", events, "any")
            self.appended += batch

        return request

    async def send(self, stream: str, event_id: str, i: int) -> None:
        """Append one small event and wait for its acknowledgement (the latency workload)."""
        event = {"event_id": event_id, "event_type": "t:v1", "data": {"i": i}}
        await self.client.append(self.store, stream, [event], "any")

    async def feed(self, stream: str, ready: asyncio.Event) -> AsyncIterator[str]:
        """The event ids an observer WebSocket of ``stream`` receives, once it is live."""
        async for message in self.client.observe(self.store, {"by_stream": f"${stream}"}):
            if message["type"] == "live":
                ready.set()
            elif message["type"] == "events":
                for event in message["events"]:
                    yield str(event["event_id"])
