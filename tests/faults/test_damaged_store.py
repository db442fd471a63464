"""A damaged store file on a follower and on the leader: never a 5xx, never a wrong record.

The issue's repro (#24, point 2) on a real cluster: 2 KB flipped in the middle of a node's
``stores/reg_gh.db`` (the node stopped, damaged, started again), or the file cut to half its
size under the running node.  Reads through the gateway, each sent once (no client retry), must
all answer 200 with exactly the records written; the damaged nodes answer ``store_damaged``
(503, retryable), which the gateway retries on another node, and leave the read rotation,
shown with the reason in ``/api/cluster``.  The nodes run with ``storage.repair: manual``: with
``auto`` they would rebuild themselves at once (tests/faults/test_self_repair.py); here the
damaged node keeps running without the damaged store, and refuses to start on it again, with one
line naming the file and the command that repairs it (exit status 76).
"""

from __future__ import annotations

import os
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from engine.client import GateClient
from engine.gateway.supervisor import logs_dir
from engine.protocol.errors import GateError
from tests.cluster_harness import RunningCluster, wait_for

MakeCluster = Callable[..., Awaitable[RunningCluster]]
STORE = "reg_gh"
STREAMS = 36
EVENTS_PER_STREAM = 25
PAGE = 30


async def _write(client: GateClient, rng: random.Random) -> None:
    for s in range(STREAMS):
        events = [
            {
                "event_id": f"ev-{s}-{k}",
                "event_type": "temperature_measured:v1",
                "data": {"sensor": s, "k": k, "note": "".join(rng.choices("abcdef", k=250))},
            }
            for k in range(EVENTS_PER_STREAM)
        ]
        await client.append(STORE, f"greenhouse-{s}", events)


def _store_file(cluster: RunningCluster, node_id: str) -> Path:
    return cluster.config.node_data_dir(node_id) / "stores" / f"{STORE}.db"


async def _view(client: GateClient) -> dict[str, Any]:
    return await client.cluster()


def _node(view: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n for n in view["nodes"] if n["node_id"] == node_id)


async def _applied_everywhere(cluster: RunningCluster, client: GateClient) -> None:
    """Every node has applied what the leader has (read from their status, not their stores:
    a read would warm the SQLite cache the damage must not hide behind)."""

    async def applied() -> set[int]:
        return {
            (await cluster.node_get(n, "/status"))["applied_position"]
            for n in cluster.config.node_ids
        }

    await wait_for(applied, lambda s: len(s) == 1, 20, "every node to apply the writes")


def _flip_middle(path: Path, rng: random.Random) -> None:
    size = path.stat().st_size
    offset = rng.randrange(size // 3, 2 * size // 3)
    with path.open("r+b") as f:
        f.seek(offset)
        chunk = f.read(2048)
        f.seek(offset)
        f.write(bytes(b ^ 0xFF for b in chunk))


async def _restart(cluster: RunningCluster, client: GateClient, node_id: str) -> None:
    """Stop the node (its store checkpointed whole into the file), start it and wait until it
    is up."""
    await client.node_action(node_id, "stop")
    await wait_for(
        lambda: _view(client), lambda v: _node(v, node_id)["role"] == "down", 20, "the stop"
    )
    await client.node_action(node_id, "start")
    await wait_for(
        lambda: _view(client),
        lambda v: _node(v, node_id)["role"] != "down" and v["leader"] is not None,
        30,
        f"{node_id} to come back",
    )


def _truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


async def _read_everything(client: GateClient, expected: list[dict[str, Any]]) -> list[str]:
    """Every stream and every $all page through the gateway, each request sent once.

    Returns what went wrong: an error answer, or a page that is not what was written."""
    wrong: list[str] = []
    by_stream: dict[str, list[dict[str, Any]]] = {}
    for e in expected:
        by_stream.setdefault(e["stream_id"], []).append(e)

    async def once(path: str, params: dict[str, Any]) -> Any:
        try:
            return await client.request_once("GET", path, params)
        except GateError as err:
            wrong.append(f"GET {path} {params}: {err.code} {err.message}")
            return None

    for stream, events in sorted(by_stream.items()):
        page = await once(f"/api/stores/{STORE}/streams/{stream}/events", {"count": 1000})
        if page is not None and page["events"] != events:
            wrong.append(f"stream {stream}: wrong records")
    for start in range(0, len(expected), PAGE):
        page = await once(f"/api/stores/{STORE}/all", {"from_position": start, "count": PAGE})
        if page is not None and page["events"] != expected[start : start + PAGE]:
            wrong.append(f"$all from {start}: wrong records")
    return wrong


async def _own_reads(cluster: RunningCluster, node_id: str, expected: list[dict[str, Any]]) -> int:
    """Read the store page by page from the node's own HTTP endpoint: each answer is the right
    page or a 503 ``store_damaged``; returns how many were refused."""
    refused = 0
    url = cluster.node_url(node_id)
    async with aiohttp.ClientSession() as http:
        for start in range(0, len(expected), PAGE):
            params = {"from_position": start, "count": PAGE}
            async with http.get(f"{url}/api/stores/{STORE}/all", params=params) as resp:
                body = await resp.json()
            if resp.status == 503:
                assert body["error"]["code"] == "store_damaged", body
                refused += 1
            else:
                assert resp.status == 200, body
                assert body["events"] == expected[start : start + PAGE]
    return refused


@pytest.mark.parametrize("damage", ["flipped", "truncated"])
async def test_a_damaged_store_on_a_follower_and_the_leader(
    make_cluster: MakeCluster, damage: str
) -> None:
    cluster = await make_cluster(extra={"storage": {"repair": "manual"}})
    rng = random.Random(24)
    async with cluster.new_client() as client:
        await _write(client, rng)
        await _applied_everywhere(cluster, client)
        leader = await cluster.leader()
        follower, sound = (n for n in cluster.config.node_ids if n != leader)
        expected = await cluster.node_all(sound, STORE)
        assert len(expected) == STREAMS * EVENTS_PER_STREAM

        # Under the running nodes, once their restarts have put the whole store in the file (a
        # node started on a damaged file fails its check at start: self-repair's case).
        await _restart(cluster, client, follower)
        await _restart(cluster, client, leader)
        # Accepted once the current leader hears from the restarted node.
        await wait_for(
            lambda: client.transfer_leadership(leader), bool, 20, f"a transfer to {leader}"
        )
        await wait_for(
            lambda: _view(client),
            lambda v: (
                v["leader"] == leader
                and all(n["fresh"] or n["role"] == "leader" for n in v["nodes"])
            ),
            30,
            f"{leader} to lead again with every node fresh",
        )
        for node_id in (follower, leader):
            path = _store_file(cluster, node_id)
            _truncate(path) if damage == "truncated" else _flip_middle(path, rng)

        for _ in range(3):  # the follower reads rotate: each node gets its turn
            wrong = await _read_everything(client, expected)
            assert not wrong, "\n".join(wrong)

        view = await client.cluster()
        assert "reg_gh" in (_node(view, follower)["damaged"] or ""), view
        assert _node(view, sound)["damaged"] is None
        assert not _node(view, follower)["fresh"]

        # The leader: the gateway reads from it only when no follower can answer; its own
        # endpoint shows it refuses what it cannot vouch for, and the gateway sees it.
        assert await _own_reads(cluster, leader, expected) > 0
        view = await wait_for(
            lambda: _view(client),
            lambda v: bool(_node(v, leader)["damaged"]),
            10,
            "the gateway to see the leader damaged",
        )
        # Only the sound follower is left for reads; they are all still right.
        wrong = await _read_everything(client, expected)
        assert not wrong, "\n".join(wrong)
        for node_id in (follower, leader):
            lines = (await client.node_log(node_id))["lines"]
            damaged = [line["text"] for line in lines if line["kind"] == "damaged"]
            assert len(damaged) == 1 and damaged[0].startswith("store reg_gh damaged ("), lines

        # With storage.repair: manual, a restart on the damaged store is refused: one line
        # naming the file and the command that repairs it, exit status 76 (the supervisor
        # tries again later, and is refused again).
        await client.node_action(follower, "stop")
        await wait_for(
            lambda: _view(client), lambda v: _node(v, follower)["role"] == "down", 20, "the stop"
        )
        await client.node_action(follower, "start")
        view = await wait_for(
            lambda: _view(client),
            lambda v: _node(v, follower)["exit_code"] == 76,
            30,
            f"{follower} to refuse its damaged store",
        )
        log_file = logs_dir(cluster.config) / f"{follower}.log"
        refusals = [line for line in log_file.read_text().splitlines() if "--repair" in line]
        assert refusals, log_file.read_text()[-2000:]
        assert f"stores/{STORE}.db" in refusals[-1] and "Traceback" not in log_file.read_text()
        wrong = await _read_everything(client, expected)
        assert not wrong, "\n".join(wrong)
