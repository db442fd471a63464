"""Real clusters for tests: a config on free loopback ports, a gateway process, its nodes."""

from __future__ import annotations

import asyncio
import copy
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import yaml

from engine.client import EmbeddedCluster, GateClient
from engine.cluster_secret import resolve_cluster_secret
from engine.config import load_config
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


@dataclass
class HandStartedCluster:
    """Nodes and a gateway (``startsNodes: false``) started one by one, each its own process."""

    directory: Path
    raw: dict[str, Any]
    procs: dict[str, subprocess.Popen[bytes]]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.raw['gateway']['http']['port']}"

    def tcp_port(self, node_id: str) -> int:
        """Where ``node_id`` really listens for TCP."""
        return int(self.raw["nodes"][node_id]["tcp"]["port"])

    def log(self, process: str) -> str:
        return (self.directory / f"{process}.log").read_text(errors="replace")

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            proc.wait(10)


async def start_by_hand(
    directory: Path, raw: dict[str, Any], routes: dict[str, dict[str, int]] | None = None
) -> HandStartedCluster:
    """Start the nodes of ``raw`` and a gateway that does not start them; wait for writes.

    ``routes[process][node_id] = port`` makes ``process`` (``"gateway"`` or a node id) reach
    ``node_id``'s TCP endpoint at ``port`` (a relay of the test's) while ``node_id`` itself
    listens where ``raw`` says: each process reads its own copy of the config.  The cluster
    secret is the one of the config, or the secret file, made here as a gateway would.
    """
    raw = {**raw, "gateway": {**raw.get("gateway", {}), "startsNodes": False}}
    resolve_cluster_secret(load_config(write_config(directory, raw)), create=True)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for process in (*raw["nodes"], "gateway"):
            own = copy.deepcopy(raw)
            for node_id, port in (routes or {}).get(process, {}).items():
                assert node_id != process, "a node listens where the config says"
                own["nodes"][node_id]["tcp"]["port"] = port
            path = directory / f"{process}.yaml"
            path.write_text(yaml.safe_dump(own, sort_keys=False))
            module = "engine.gateway.main" if process == "gateway" else "engine.node.main"
            args = ["--config", str(path)] + ([] if process == "gateway" else ["--node", process])
            with open(directory / f"{process}.log", "wb") as out:
                procs[process] = subprocess.Popen(
                    [sys.executable, "-m", module, *args], stdout=out, stderr=subprocess.STDOUT
                )
        cluster = HandStartedCluster(directory, raw, procs)
        async with GateClient(cluster.url) as client:
            await wait_for(client.ready, bool, 30, "the gateway to be ready")
        return cluster
    except BaseException:
        for proc in procs.values():
            proc.kill()
            proc.wait()
        raise
