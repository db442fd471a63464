"""Real clusters for tests: a config on free loopback ports, a gateway process, its nodes."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import yaml

from engine.client import EmbeddedCluster, GateClient
from engine.config_model import ClusterConfig

T = TypeVar("T")


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
    directory: Path, nodes: int = 3, *, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A config dict for ``nodes`` nodes on free ports, data under ``directory``."""
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
        "gateway": {
            "startsNodes": True,
            "http": {"host": "127.0.0.1", "port": ports[-1]},
            "healthInterval": 0.2,
        },
        "storage": {"dataDir": str(directory / "data"), "fsync": "always"},
        "stores": ["reg_gh"],
    }
    for section, values in (extra or {}).items():
        if isinstance(values, dict) and isinstance(raw.get(section), dict):
            raw[section] = {**raw[section], **values}
        else:
            raw[section] = values
    return raw


def write_config(directory: Path, raw: dict[str, Any]) -> Path:
    path = directory / "cluster.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@dataclass
class RunningCluster:
    """A started cluster and handy ways to look at it."""

    embedded: EmbeddedCluster
    config_path: Path

    @property
    def url(self) -> str:
        return self.embedded.url

    @property
    def config(self) -> ClusterConfig:
        return self.embedded.config

    def new_client(self, **kwargs: Any) -> GateClient:
        return self.embedded.client(**kwargs)

    def node_url(self, node_id: str) -> str:
        return f"http://{self.config.node(node_id).http.addr}"

    async def node_get(self, node_id: str, path: str) -> Any:
        """GET a path on one node's own HTTP endpoint."""
        async with aiohttp.ClientSession() as http, http.get(self.node_url(node_id) + path) as resp:
            return await resp.json()

    async def node_all(self, node_id: str, store: str = "reg_gh") -> list[dict[str, Any]]:
        """Every event of a store as one node holds it, read from that node alone."""
        events: list[dict[str, Any]] = []
        position = 0
        while True:
            page = await self.node_get(
                node_id, f"/api/stores/{store}/all?from_position={position}&count=1000"
            )
            batch = page["events"]
            if not batch:
                return events
            events.extend(batch)
            position = batch[-1]["position"]

    async def leader(self, timeout: float = 15.0) -> str:
        """The current leader as the gateway sees it (waits for one)."""
        async with self.new_client() as client:
            view = await wait_for(
                lambda: client.cluster(), lambda v: v["leader"] is not None, timeout
            )
        return view["leader"]

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


def kill_pid(pid: int, sig: int = signal.SIGKILL) -> None:
    os.kill(pid, sig)


async def start_cluster_async(
    directory: Path, nodes: int = 3, *, extra: dict[str, Any] | None = None
) -> RunningCluster:
    """Start a cluster and wait until it serves writes."""
    path = write_config(directory, cluster_config(directory, nodes, extra=extra))
    embedded = EmbeddedCluster(path, log_file=directory / "gateway.log")
    await embedded.start()
    return RunningCluster(embedded, path)


def start_cluster(
    directory: Path, nodes: int = 3, *, extra: dict[str, Any] | None = None
) -> RunningCluster:
    """Start a cluster from synchronous code (module fixtures)."""
    return asyncio.run(start_cluster_async(directory, nodes, extra=extra))


def stop_cluster(cluster: RunningCluster) -> None:
    asyncio.run(cluster.embedded.stop())
