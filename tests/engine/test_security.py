"""Bearer-token auth on the API and HMAC-signed traffic between nodes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from engine.client import GateClient, GateError
from tests.cluster_harness import cluster_config, wait_for, write_config


async def test_token_is_required_on_the_api(make_cluster) -> None:
    cluster = await make_cluster(extra={"security": {"authToken": "s3cret"}})
    async with GateClient(cluster.url, retry_deadline=0) as anonymous:
        with pytest.raises(GateError) as info:
            await anonymous.list_stores()
        assert info.value.code == "unauthorized" and info.value.status == 401
        assert await anonymous.health(), "/health stays open for probes"
    async with GateClient(cluster.url, token="wrong", retry_deadline=0) as wrong:
        with pytest.raises(GateError):
            await wrong.append("reg_gh", "s", [{"event_type": "t", "data": {}}])
    async with GateClient(cluster.url, token="s3cret") as good:
        await good.append("reg_gh", "s", [{"event_type": "t", "data": {}}])
        assert await good.stream_version("reg_gh", "s") == 0
    async with (
        aiohttp.ClientSession() as http,
        http.get(cluster.node_url("node2") + "/api/stores") as resp,
    ):
        assert resp.status == 401, "a node's own API is protected too"


def spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", *args], stdout=out, stderr=subprocess.STDOUT, env=env
        )


async def node_status(port: int) -> dict[str, object]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/status") as r:
        return await r.json()


async def test_node_with_wrong_secret_cannot_replicate(tmp_path: Path) -> None:
    raw = cluster_config(tmp_path, extra={"gateway": {"startsNodes": False}})
    raw["security"] = {"clusterSecret": "right"}
    path = write_config(tmp_path, raw)
    procs = []
    try:
        for node_id in ("node1", "node2", "node3"):
            # node3 gets another secret through the environment, which overrides the file.
            secret = "wrong" if node_id == "node3" else "right"
            env = {**os.environ, "GATE_CLUSTER_SECRET": secret}
            args = ["engine.node.main", "--config", str(path), "--node", node_id]
            procs.append(spawn(args, tmp_path / f"{node_id}.log", env))
        gateway_args = ["engine.gateway.main", "--config", str(path)]
        procs.append(spawn(gateway_args, tmp_path / "gateway.log", dict(os.environ)))
        url = f"http://127.0.0.1:{raw['gateway']['http']['port']}"
        async with GateClient(url) as client:
            await wait_for(client.ready, bool, 20, "the gateway to be ready")
            for i in range(5):
                await client.append("reg_gh", "signed", [{"event_type": "t", "data": {"i": i}}])
        ports = {n: raw["nodes"][n]["http"]["port"] for n in ("node1", "node2", "node3")}
        # node1 and node2 replicate to each other; node3 takes part in nothing.
        await wait_for(
            lambda: node_status(ports["node2"]), lambda s: s["applied_position"] >= 6, 10
        )
        node3 = await node_status(ports["node3"])
        assert node3["applied_position"] == 0 and node3["role"] != "leader"
        assert node3["leader"] is None
        await wait_for(
            lambda: asyncio.sleep(0, (tmp_path / "node3.log").read_text()),
            lambda text: "does not hold this cluster's secret" in text,
            10,
            "node3 to log the frames it refused",
        )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)
