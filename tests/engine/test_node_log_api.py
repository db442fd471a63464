"""A node's log of why things happen, end to end on real processes: the node's own
``GET /log``, the gateway's ``GET /api/cluster/nodes/{id}/log`` and ``GateClient.node_log``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from engine.client import GateClient, GateError
from tests.cluster_harness import RunningCluster, wait_for


def _texts(page: dict[str, Any]) -> list[str]:
    return [line["text"] for line in page["lines"]]


async def _error(client: GateClient, node_id: str, **params: Any) -> GateError:
    try:
        await client.node_log(node_id, **params)
    except GateError as exc:
        return exc
    raise AssertionError(f"node_log({node_id!r}, {params}) did not fail")


async def test_a_restarted_follower_and_its_catch_up_in_the_logs(
    make_cluster: Callable[..., Awaitable[RunningCluster]],
) -> None:
    cluster = await make_cluster()
    leader = await cluster.leader()
    follower = next(n for n in cluster.config.node_ids if n != leader)
    async with cluster.new_client() as client:
        # The elected leader's own words, through the gateway and on the node itself.
        page = await wait_for(
            lambda: client.node_log(leader),
            lambda p: any(t.startswith("became leader for term") for t in _texts(p)),
            10,
            "the leader's election in its log",
        )
        assert page["node_id"] == leader and page["missed"] == 0
        assert _texts(page)[0] == "started with an empty log (a new node)"
        assert [line["seq"] for line in page["lines"]] == list(range(1, len(page["lines"]) + 1))
        own = await cluster.node_get(leader, "/log?limit=1000")
        assert _texts(own)[: len(page["lines"])] == _texts(page)

        # Paging: after the first line, one at a time.
        second = await client.node_log(leader, after=1, limit=1)
        assert second["lines"] == page["lines"][1:2]

        # The follower first replicates a write, so the leader streams to it (a follower
        # killed before it answered the leader's first append is only probed: it would never
        # be "unanswered", and a loaded machine showed that race).
        await client.append("reg_gh", "log-test", [{"event_type": "t", "data": {"i": -1}}])
        committed = (await cluster.node_get(leader, "/status"))["commit_position"]
        await cluster.wait_applied(committed, [follower], timeout=10)

        # The follower goes, writes go on without it, it comes back behind and catches up.
        await client.node_action(follower, "kill")
        await wait_for(
            lambda: _error(client, follower), lambda e: e.code == "unavailable", 10, "503"
        )
        down = await _error(client, follower)
        assert down.status == 503
        assert down.message == f"{follower} does not answer (down, paused or unreachable)"
        mark = (await client.node_log(leader))["last_seq"]
        for i in range(100):
            await client.append("reg_gh", "log-test", [{"event_type": "t", "data": {"i": i}}])
        await client.node_action(follower, "start")
        back = await wait_for(
            lambda: client.node_log(follower),
            lambda p: any(t.startswith("following leader") for t in _texts(p)),
            20,
            "the restarted follower's log",
        )
        assert _texts(back)[0].startswith("started with its log up to index ")
        caught = await wait_for(
            lambda: client.node_log(leader, after=mark),
            lambda p: any(t.startswith(f"{follower} caught up at index") for t in _texts(p)),
            20,
            "the leader's word that the follower caught up",
        )
        # How it got there: probed again after its appends went unanswered.
        assert any(t.startswith(f"no answer from {follower}") for t in _texts(caught)), _texts(
            caught
        )


async def test_bad_requests_are_one_clear_error(cluster: RunningCluster) -> None:
    async with cluster.new_client() as client:
        unknown = await _error(client, "node9")
        assert (unknown.status, unknown.code) == (404, "node_not_found")
        assert unknown.message == "no node 'node9' in this cluster"
        too_many = await _error(client, "node1", limit=5000)
        assert (too_many.status, too_many.message) == (
            400,
            "limit must be a whole number from 1 to 1000",
        )
    async with aiohttp.ClientSession() as http:
        url = cluster.url + "/api/cluster/nodes/node1/log?after=-1"
        async with http.get(url) as resp:
            body = await resp.json()
        assert resp.status == 400
        assert body["error"]["message"] == "query parameter 'after' must be at least 0, got -1"
        async with http.get(cluster.node_url("node1") + "/log?limit=abc") as resp:
            body = await resp.json()
        assert resp.status == 400
        assert (
            body["error"]["message"] == "query parameter 'limit' must be a whole number, got 'abc'"
        )
