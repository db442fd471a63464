"""Reads that no wait can serve are refused at once; a wait for a lagging node is capped.

A read that asks for a write the cluster never acknowledged (``min_index`` past the leader's
log, ``min_position`` past its store), of a store that does not exist, or with a bad parameter is
answered at once, not after the request deadline; a read no node has caught up with gets a 503
within a second that says how far behind each node is.
"""

from __future__ import annotations

import re
import time
from typing import Any

import aiohttp
import pytest

from tests.cluster_harness import RunningCluster, wait_for

BIG = 10**12


async def timed_get(base: str, path: str) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    async with aiohttp.ClientSession() as http, http.get(base + path) as resp:
        body = await resp.json()
    return resp.status, body, time.monotonic() - started


async def last_index(cluster: RunningCluster) -> int:
    async with cluster.new_client() as client:
        await client.append("reg_gh", "fresh", [{"event_type": "t:v1", "data": {}}])
        return client.last_index


@pytest.mark.parametrize(
    "path",
    [
        "/api/stores/reg_gh/all",
        "/api/stores/reg_gh/streams/fresh/events",
        "/api/stores/reg_gh",
        "/api/stores",
    ],
)
async def test_a_min_index_past_the_log_is_a_400_at_once(
    cluster: RunningCluster, path: str
) -> None:
    index = await last_index(cluster)
    status, body, seconds = await timed_get(cluster.url, f"{path}?min_index={index + BIG}")
    assert status == 400, body
    message = body["error"]["message"]
    assert f"min_index {index + BIG}" in message
    assert "last index" in message
    assert seconds < 1.0


async def test_a_min_position_past_the_store_is_a_400_at_once(cluster: RunningCluster) -> None:
    await last_index(cluster)
    status, body, seconds = await timed_get(
        cluster.url, f"/api/stores/reg_gh/all?min_position={BIG}"
    )
    assert status == 400, body
    assert f"min_position {BIG}" in body["error"]["message"]
    assert "last position" in body["error"]["message"]
    assert seconds < 1.0


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        (f"/api/stores/nope/all?min_index={BIG}", 404, "nope"),
        (f"/api/stores/nope/all?min_position={BIG}", 404, "nope"),
        (f"/api/stores/nope/streams?min_index={BIG}", 404, "nope"),
        (f"/api/stores/reg_gh/streams/$bad/events?min_index={BIG}", 400, "stream"),
        (f"/api/stores/reg_gh/all?count=0&min_index={BIG}", 400, "count"),
        (f"/api/stores/reg_gh/all?direction=up&min_position={BIG}", 400, "direction"),
    ],
)
async def test_what_no_wait_can_fix_is_refused_before_waiting(
    cluster: RunningCluster, path: str, status: int, says: str
) -> None:
    answer, body, seconds = await timed_get(cluster.url, path)
    assert answer == status, body
    assert says in body["error"]["message"]
    assert seconds < 1.0


async def test_reads_within_the_log_still_wait_for_the_write(cluster: RunningCluster) -> None:
    index = await last_index(cluster)
    status, body, _ = await timed_get(
        cluster.url, f"/api/stores/reg_gh/streams/fresh/events?min_index={index}"
    )
    assert status == 200, body
    assert body["events"]


async def node_role(cluster: RunningCluster, node_id: str) -> str:
    async with cluster.new_client() as client:
        view = await client.cluster()
    return next(n["role"] for n in view["nodes"] if n["node_id"] == node_id)


async def wait_role(cluster: RunningCluster, node_id: str, down: bool, timeout: float) -> None:
    await wait_for(
        lambda: node_role(cluster, node_id),
        lambda role: (role == "down") == down,
        timeout,
        f"{node_id} {'down' if down else 'up'} in the cluster view",
    )


async def test_a_read_no_node_caught_up_with_is_a_503_naming_how_far_behind(
    make_cluster: Any,
) -> None:
    cluster: RunningCluster = await make_cluster()
    leader = await cluster.leader()
    lagging, other = [n for n in cluster.config.node_ids if n != leader]
    async with cluster.new_client() as client:
        await client.append("reg_gh", "lag", [{"event_type": "t:v1", "data": {"n": 1}}])
        first = client.last_index
        await cluster.wait_applied(first, timeout=10)
        # The lagging node misses the next write; then every node that has it freezes.
        await client.node_action(lagging, "stop")
        await wait_role(cluster, lagging, True, 15)
        await client.append("reg_gh", "lag", [{"event_type": "t:v1", "data": {"n": 2}}])
        wanted = client.last_index
        try:
            for node in (leader, other):
                await client.node_action(node, "pause")
            for node in (leader, other):
                await wait_role(cluster, node, True, 15)
            await client.node_action(lagging, "start")
            await wait_role(cluster, lagging, False, 30)

            status, body, seconds = await timed_get(
                cluster.url, f"/api/stores/reg_gh/streams/lag/events?min_index={wanted}"
            )
        finally:
            for node in (leader, other):
                await client.node_action(node, "resume")
    assert status == 503, body
    message = body["error"]["message"]
    assert f"{lagging} has applied " in message and f" of {wanted}" in message, message
    assert not re.search(r":\s*(;|$)", message), f"a reason is empty: {message}"
    assert seconds < 1.8, (seconds, message)
