"""Managed nodes never outlive their gateway, even one killed with SIGKILL."""

from __future__ import annotations

import os
import signal

from tests.cluster_harness import RunningCluster, wait_for


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has exited all the same.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ")[1][0] != "Z"


async def test_nodes_stop_when_their_gateway_is_killed(make_cluster) -> None:
    cluster: RunningCluster = await make_cluster()
    pids = [await cluster.node_pid(n) for n in cluster.config.node_ids]
    gateway = cluster.embedded.process
    assert gateway is not None
    os.kill(gateway.pid, signal.SIGKILL)
    gateway.wait()

    async def survivors() -> list[int]:
        return [pid for pid in pids if alive(pid)]

    await wait_for(survivors, lambda left: not left, 10, "the orphaned nodes to stop")


async def test_clear_deletes_the_data(tmp_path) -> None:
    from engine.client import EmbeddedCluster
    from tests.cluster_harness import cluster_config, write_config

    path = write_config(tmp_path, cluster_config(tmp_path))
    first = EmbeddedCluster(path, log_file=tmp_path / "gateway.log")
    await first.start()
    try:
        async with first.client() as client:
            await client.append("reg_gh", "kept", [{"event_type": "t", "data": {}}])
    finally:
        await first.stop()

    again = EmbeddedCluster(path, log_file=tmp_path / "gateway.log")
    await again.start()
    try:
        async with again.client() as client:
            assert await client.stream_version("reg_gh", "kept") == 0, "data survives a restart"
    finally:
        await again.stop()

    cleared = EmbeddedCluster(path, clear=True, log_file=tmp_path / "gateway.log")
    await cleared.start()
    try:
        async with cleared.client() as client:
            assert await client.stream_version("reg_gh", "kept") == -1
            assert [s["store_id"] for s in await client.list_stores()] == ["reg_gh"]
    finally:
        await cleared.stop()
