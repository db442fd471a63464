"""Real clusters for tests: a config on free loopback ports, a gateway process, its nodes.

The parts the benchmarks share (free ports, the config, ``RunningCluster``, ``wait_for``) live
in ``bench/lib/cluster.py``; tests import them from here or from there.
"""

from __future__ import annotations

import asyncio
import copy
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.lib.cluster import RunningCluster, free_ports, read_node_all, wait_for, write_config
from bench.lib.cluster import cluster_config as base_config
from bench.lib.cluster import start_cluster as start_cluster_in
from engine.client import GateClient
from engine.cluster_secret import resolve_cluster_secret
from engine.config import load_config
from engine.config_model import ClusterConfig

# Re-exported: the tests' one place to import cluster helpers from.
__all__ = [
    "HandStartedCluster",
    "RunningCluster",
    "cluster_config",
    "free_ports",
    "kill_pid",
    "start_by_hand",
    "start_cluster",
    "start_cluster_async",
    "stop_cluster",
    "wait_for",
    "write_config",
]


def cluster_config(
    directory: Path, nodes: int = 3, *, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A config dict for ``nodes`` nodes on free ports, data under ``directory``, store reg_gh.

    The gateway polls health every 0.2 s (not 1 s) so tests see a node's fall or return soon.
    """
    gateway = {"healthInterval": 0.2, **(extra or {}).get("gateway", {})}
    return base_config(directory, nodes, extra={**(extra or {}), "gateway": gateway})


def kill_pid(pid: int, sig: int = signal.SIGKILL) -> None:
    os.kill(pid, sig)


async def start_cluster_async(
    directory: Path, nodes: int = 3, *, extra: dict[str, Any] | None = None
) -> RunningCluster:
    """Start a cluster and wait until it serves writes."""
    return await start_cluster_in(directory, cluster_config(directory, nodes, extra=extra))


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
        scheme = "https" if self.raw.get("security", {}).get("tls") else "http"
        return f"{scheme}://127.0.0.1:{self.raw['gateway']['http']['port']}"

    def client(self, **kwargs: Any) -> GateClient:
        """A client of the gateway: with ``security.tls``, trusting its CA, showing the
        gateway's own certificate when the cluster asks clients for one."""
        tls = self.raw.get("security", {}).get("tls")
        if tls:
            kwargs = {"ca": tls["ca"], **kwargs}
            if tls.get("clientAuth"):
                kwargs = {"cert": tls["cert"], "key": tls["key"], **kwargs}
        return GateClient(self.url, **kwargs)

    def tcp_port(self, node_id: str) -> int:
        """Where ``node_id`` really listens for TCP."""
        return int(self.raw["nodes"][node_id]["tcp"]["port"])

    @property
    def config(self) -> ClusterConfig:
        return load_config(self.directory / "cluster.yaml")

    @property
    def node_ids(self) -> list[str]:
        return list(self.raw["nodes"])

    async def node_all(self, node_id: str, store: str = "reg_gh") -> list[dict[str, Any]]:
        """Every event of a store as one node holds it, read from that node alone."""
        http = self.raw["nodes"][node_id]["http"]
        url = f"http://{http['host']}:{http['port']}"
        return await read_node_all(url, store, self.config.security.admin_token)

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
        async with cluster.client() as client:
            await wait_for(client.ready, bool, 30, "the gateway to be ready")
        return cluster
    except BaseException:
        for proc in procs.values():
            proc.kill()
            proc.wait()
        raise
